"""OpenL3 embeddings (mel128, music, 512-d): one row per 1-s frame every 0.1 s, as in the paper.

The paper called ``openl3.get_audio_embedding(audio, sr, model=model,
verbose=False, batch_size=32)`` on each file as soundfile reads it, with the
library defaults ``hop_size=0.1`` and ``center=True``: channels averaged,
resampled to 48 kHz with resampy's ``kaiser_best``, half a frame of zeros
added in front and behind (centring), 1-s frames every 0.1 s: 26 frames for
a 3-s excerpt. The framing (``center``, ``hop_seconds``) is a settings
attribute (:data:`SETTINGS_ATTRIBUTES`): embeddings written with another
framing are not taken as complete and are redone.

Two back ends, the one used being recorded in :meth:`metadata`:

- ``openl3`` (the official TensorFlow package, the paper's exact code), used
  when it is installed and no weights file is given; its weights ship inside
  the package.
- ``torchopenl3`` (a PyTorch port with converted weights), used otherwise.
  The audio goes through the same steps: channel mean in float64, resampy
  ``kaiser_best`` to 48 kHz (done here rather than in
  ``torchopenl3.utils.preprocess_audio_batch``, which would log a warning per
  call), then that function's centring, padding and framing, then
  ``PytorchOpenl3``. The weights file ``torchopenl3_mel128_music_512.pth.tar``
  is resolved as in :mod:`aesens.models.weights` (torch's checkpoint cache is
  where torchopenl3 downloads it).

Frames of all clips of a batch go through the network together, in chunks
of ``batch_size`` frames; each frame is processed independently, so this
equals one clip at a time.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from aesens.errors import AesensError
from aesens.models.preprocessing import map_clips
from aesens.models.weights import (
    WeightedModel,
    WeightsFile,
    library_version,
    load_checkpoint,
    load_state_dict,
    resolve_weights,
)

if TYPE_CHECKING:
    import torch

#: OpenL3's input rate.
SAMPLE_RATE = 48000
#: Embedding size.
DIM = 512
#: Hop between frames, in seconds.
HOP_SECONDS = 0.1
#: The paper's arguments of ``openl3.get_audio_embedding`` (besides ``batch_size``).
OPENL3_ARGS = {"content_type": "music", "input_repr": "mel128", "embedding_size": DIM,
               "hop_size": HOP_SECONDS, "center": True}
#: The framing, stored with the features and required of an embedding to count as complete.
SETTINGS_ATTRIBUTES = {"center": True, "hop_seconds": HOP_SECONDS}
#: torchopenl3's converted weights for these arguments.
WEIGHTS = WeightsFile(model="openl3", filename="torchopenl3_mel128_music_512.pth.tar",
                      url="https://github.com/torchopenl3/torchopenl3-models/raw/master/"
                          "torchopenl3_mel128_music_512.pth.tar",
                      env_var="AESENS_OPENL3_WEIGHTS")
#: How to install the PyTorch port (its own pins want resampy<0.3, which fails on numpy 2).
INSTALL = "pip install 'aesens[openl3]' && pip install --no-deps torchopenl3==1.0.1"


class _OpenL3Base(WeightedModel):
    """What both back ends share."""

    name = "openl3"
    sample_rate = SAMPLE_RATE
    frame_level = True
    dim = DIM
    library = ""

    def metadata(self) -> dict[str, str | int | float]:
        """Model description stored next to the features."""
        return {
            "model": "OpenL3 (mel128, music, 512)",
            "library": self.library,
            "library_version": library_version(self.library),
            "sample_rate": SAMPLE_RATE,
            "config": json.dumps(OPENL3_ARGS),
            **SETTINGS_ATTRIBUTES,
            **self.provenance(),
        }


class OfficialOpenL3(_OpenL3Base):
    """OpenL3 through the official ``openl3`` package (TensorFlow picks the device)."""

    library = "openl3"

    def __init__(self, batch_size: int) -> None:
        try:
            import openl3
        except ImportError as error:
            raise AesensError(f"the openl3 package is installed but does not import ({error}); "
                              "fix its TensorFlow install or uninstall it to use torchopenl3"
                              ) from None
        self._openl3 = openl3
        args = OPENL3_ARGS
        self._model = openl3.models.load_audio_embedding_model(
            args["input_repr"], args["content_type"], args["embedding_size"])
        weights = Path(openl3.models.get_audio_embedding_model_path(args["input_repr"],
                                                                    args["content_type"]))
        super().__init__(None, "tensorflow", batch_size, weights)

    def embed(self, batch: Sequence[np.ndarray], sample_rate: int) -> list[np.ndarray]:
        """Embed float32 ``(channels, samples)`` clips; one 512-d row per frame."""
        audios = [np.asarray(audio, dtype=np.float64).T for audio in batch]
        embeddings, _ = self._openl3.get_audio_embedding(
            audios, [sample_rate] * len(audios), model=self._model,
            batch_size=self.batch_size, verbose=False, **OPENL3_ARGS)
        return [np.asarray(rows, dtype=np.float32) for rows in embeddings]


class TorchOpenL3(_OpenL3Base):
    """OpenL3 through the ``torchopenl3`` PyTorch port.

    Parameters
    ----------
    device : str
        Torch device.
    batch_size : int
        Frames per forward pass.
    weights : Path
        ``torchopenl3_mel128_music_512.pth.tar`` or a file of the same format.
    """

    library = "torchopenl3"

    def __init__(self, device: str, batch_size: int, weights: Path) -> None:
        try:
            import resampy
            import torchopenl3.utils
            from torchopenl3.models import PytorchOpenl3
        except ImportError as error:
            raise AesensError(f"the openl3 embedding needs {error.name or 'torchopenl3'}: "
                              f"{INSTALL}") from None
        self._resampy = resampy
        self._frame = torchopenl3.utils.preprocess_audio_batch
        network = PytorchOpenl3(content_type=OPENL3_ARGS["content_type"],
                                input_repr=OPENL3_ARGS["input_repr"], embedding_size=DIM)
        load_state_dict(network, load_checkpoint(weights, WEIGHTS, key=None), weights, WEIGHTS,
                        "torchopenl3's network")
        super().__init__(network, device, batch_size, weights)

    def frames(self, audio: np.ndarray, sample_rate: int) -> torch.Tensor:
        """The 1-s frames of one clip, a float32 tensor ``(frames, 1, 48000)``."""
        import torch

        mono = np.asarray(audio, dtype=np.float64)
        mono = mono.mean(axis=0) if mono.ndim == 2 else mono
        if sample_rate != SAMPLE_RATE:
            mono = self._resampy.resample(mono, sr_orig=sample_rate, sr_new=SAMPLE_RATE,
                                          filter="kaiser_best")
        return self._frame(torch.from_numpy(mono)[None, :], SAMPLE_RATE,
                           center=OPENL3_ARGS["center"], hop_size=HOP_SECONDS).to(torch.float32)

    def embed(self, batch: Sequence[np.ndarray], sample_rate: int) -> list[np.ndarray]:
        """Embed float32 ``(channels, samples)`` clips; one 512-d row per frame."""
        import torch

        if not batch:
            return []
        frames = map_clips(lambda audio: self.frames(audio, sample_rate), batch)
        rows = self.forward_chunks(self.network, torch.cat(frames))
        return np.split(rows, np.cumsum([len(f) for f in frames])[:-1])


def load(device: str = "cpu", batch_size: int = 32, weights: str | None = None) -> _OpenL3Base:
    """Build OpenL3 (mel128, music, 512).

    Parameters
    ----------
    device : str
        Torch device (torchopenl3 only).
    batch_size : int
        Frames per forward pass (the paper: 32).
    weights : str, optional
        torchopenl3 weights file; else ``$AESENS_OPENL3_WEIGHTS``. Giving one
        selects torchopenl3; without one the official ``openl3`` package is
        used when installed, else torchopenl3 with the weights in torch's
        checkpoint cache.

    Raises
    ------
    AesensError
        If neither library is installed, or torchopenl3's weights are missing
        or do not fit.
    """
    if not weights and not os.environ.get(WEIGHTS.env_var) and importlib.util.find_spec("openl3"):
        return OfficialOpenL3(batch_size)
    if importlib.util.find_spec("torchopenl3") is None:
        raise AesensError(f"the openl3 embedding needs torchopenl3 (or the official openl3 "
                          f"package): {INSTALL}")
    try:
        import torch.hub
    except ImportError:
        raise AesensError(f"the openl3 embedding needs PyTorch: {INSTALL}") from None
    cache = Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS.filename
    path = resolve_weights(WEIGHTS, weights, [cache], download_to=cache)
    return TorchOpenL3(device, batch_size, path)
