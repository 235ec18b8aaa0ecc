"""A hand-crafted baseline: per-clip statistics of MFCCs (librosa).

One row per clip: the mean and standard deviation over time of
:data:`N_MFCC` MFCCs of the mono down-mix at the file's native rate
(40 dimensions). It needs no weights and shows what a classic feature
does under the same effects.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import version

import librosa
import numpy as np

from aesens.models import map_clips, to_mono

#: Number of cepstral coefficients.
N_MFCC = 20
#: Mel bands, FFT size and hop (samples at 44.1 kHz; scaled for other rates).
N_MELS, N_FFT, HOP = 64, 2048, 512
REFERENCE_RATE = 44100


class MfccModel:
    """Clip-level MFCC mean and standard deviation."""

    name = "mfcc"
    frame_level = False
    sample_rate = REFERENCE_RATE
    dim = 2 * N_MFCC

    def __init__(self, device: str = "cpu", batch_size: int = 32) -> None:
        self.device = "cpu"
        self.batch_size = batch_size

    def embed(self, batch: Sequence[np.ndarray], sample_rate: int) -> list[np.ndarray]:
        """Embed clips of float32 ``(channels, samples)`` audio; one row each."""
        return map_clips(lambda clip: self._embed_clip(clip, sample_rate), batch)

    @staticmethod
    def _embed_clip(clip: np.ndarray, sample_rate: int) -> np.ndarray:
        scale = sample_rate / REFERENCE_RATE
        n_fft = int(2 ** round(np.log2(N_FFT * scale)))
        mono = to_mono(clip)
        if len(mono) < n_fft:
            mono = np.pad(mono, (0, n_fft - len(mono)))
        mfcc = librosa.feature.mfcc(y=mono, sr=sample_rate, n_mfcc=N_MFCC, n_mels=N_MELS,
                                    n_fft=n_fft, hop_length=n_fft // 4)
        return np.concatenate([mfcc.mean(axis=1), mfcc.std(axis=1)])[None, :].astype(np.float32)

    def metadata(self) -> dict[str, str | int | float]:
        """Model description stored next to the features."""
        return {"model": f"MFCC mean+std ({N_MFCC} coefficients, {N_MELS} mels)",
                "library": "librosa", "library_version": version("librosa"),
                "weights": "none", "sample_rate": "native", "device": "cpu"}


def load(device: str = "cpu", batch_size: int = 32, weights: str | None = None) -> MfccModel:
    """Build the MFCC baseline."""
    return MfccModel(device=device, batch_size=batch_size)
