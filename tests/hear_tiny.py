"""A tiny module implementing the HEAR 2021 API, for the tests of ``hear:<module>`` embeddings.

16 kHz input; timestamp embeddings are 8 fixed random projections of the
log power spectrum of 25-ms Hann frames every 10 ms (centred: the first
frame is centred on sample 0); the scene embedding is the mean and the
standard deviation of a clip's timestamp embeddings (16 values). The model
is a ``torch.nn.Module`` whose projection is a buffer, so that ``--device``
moves it. ``load_model(path)`` reads the projection from a ``.npy`` file.
"""

from __future__ import annotations

import numpy as np
import torch

SAMPLE_RATE = 16000
FRAME = 400
HOP = 160
N_BINS = FRAME // 2 + 1
TIMESTAMP_SIZE = 8


class TinyHearModel(torch.nn.Module):
    """A log spectrum followed by a fixed random projection."""

    sample_rate = SAMPLE_RATE
    timestamp_embedding_size = TIMESTAMP_SIZE
    scene_embedding_size = 2 * TIMESTAMP_SIZE

    def __init__(self, projection: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("projection", torch.as_tensor(projection, dtype=torch.float32))
        self.register_buffer("window", torch.hann_window(FRAME))

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """``(clips, frames, 8)`` of float32 ``(clips, samples)`` on the model's device."""
        padded = torch.nn.functional.pad(audio, (FRAME // 2, FRAME // 2))
        frames = padded.unfold(-1, FRAME, HOP) * self.window
        power = torch.fft.rfft(frames).abs() ** 2
        return torch.log(power + 1e-6) @ self.projection


def load_model(model_file_path: str = "") -> TinyHearModel:
    """The model; its projection from ``model_file_path`` (``.npy``) or seeded random values."""
    if model_file_path:
        projection = np.load(model_file_path)
    else:
        projection = np.random.default_rng(0).standard_normal((N_BINS, TIMESTAMP_SIZE)) / 50
    return TinyHearModel(projection)


def get_timestamp_embeddings(audio: torch.Tensor,
                             model: TinyHearModel) -> tuple[torch.Tensor, torch.Tensor]:
    """Embeddings ``(clips, frames, 8)`` and their centres in milliseconds ``(clips, frames)``."""
    if audio.ndim != 2:
        raise ValueError("audio must be (n_sounds, n_samples)")
    embeddings = model(audio)
    timestamps = torch.arange(embeddings.shape[1], device=audio.device) * (1000.0 * HOP
                                                                            / SAMPLE_RATE)
    return embeddings, timestamps.expand(len(audio), -1)


def get_scene_embeddings(audio: torch.Tensor, model: TinyHearModel) -> torch.Tensor:
    """Mean and standard deviation over the timestamps: ``(clips, 16)``."""
    embeddings, _ = get_timestamp_embeddings(audio, model)
    return torch.cat([embeddings.mean(dim=1), embeddings.std(dim=1)], dim=1)
