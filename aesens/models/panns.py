"""PANNs Cnn14 embeddings: one 2048-d row per clip, as in the paper.

The paper used ``panns_inference``: ``librosa.load(path, sr=32000,
mono=True)`` then ``AudioTagging(checkpoint_path=...).inference(audio)``,
keeping the ``embedding`` output of ``Cnn14(sample_rate=32000,
window_size=1024, hop_size=320, mel_bins=64, fmin=50, fmax=14000,
classes_num=527)`` with the checkpoint ``Cnn14_mAP=0.431.pth``. Here the clip
is averaged to mono (as ``mono=True``), resampled to 32 kHz with soxr's high
quality (librosa's default ``soxr_hq``) and cut or zero-padded to librosa's
length ``ceil(n * 32000 / sr)``
(:func:`~aesens.models.preprocessing.librosa_resample`), and run through the
library's own ``Cnn14`` class with the checkpoint's ``model`` state dict
loaded strictly, as ``AudioTagging`` does. The ``Cnn14`` file is imported
without the package ``__init__``, whose ``config`` module downloads a labels
file into HOME (see :mod:`._compat`).

Clips of equal length are batched together (no padding), so a batch gives
the same rows as one clip at a time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from aesens.errors import AesensError
from aesens.models._compat import import_submodule, stub_modules
from aesens.models.preprocessing import indices_by_length, librosa_resample, map_clips, to_mono
from aesens.models.weights import (
    WeightedModel,
    WeightsFile,
    library_version,
    load_checkpoint,
    load_state_dict,
    resolve_weights,
)

#: Input rate of Cnn14.
SAMPLE_RATE = 32000
#: Size of the ``embedding`` output.
DIM = 2048
#: Cnn14 arguments, as ``panns_inference.AudioTagging`` builds it.
CNN14_ARGS = {"sample_rate": 32000, "window_size": 1024, "hop_size": 320, "mel_bins": 64,
              "fmin": 50, "fmax": 14000, "classes_num": 527}
#: The checkpoint of the paper (Zenodo record 3987831).
WEIGHTS = WeightsFile(model="panns", filename="Cnn14_mAP=0.431.pth",
                      url="https://zenodo.org/record/3987831/files/Cnn14_mAP%3D0.431.pth",
                      env_var="AESENS_PANNS_WEIGHTS")
#: How to install the library.
INSTALL = "pip install 'aesens[panns]'"


def cnn14_class() -> type:
    """The ``Cnn14`` class of ``panns_inference.models``, imported without side effects.

    ``matplotlib.pyplot`` (imported by that file, unused by ``Cnn14``) is
    stubbed unless already imported, since importing matplotlib creates
    folders in HOME.

    Raises
    ------
    AesensError
        If panns_inference or one of its dependencies is not installed.
    """
    try:
        import torchlibrosa  # noqa: F401  (imported here so it is never stubbed)

        with stub_modules("matplotlib", "matplotlib.pyplot"):
            module = import_submodule("panns_inference", "models")
    except ImportError as error:
        raise AesensError(f"the panns embedding needs {error.name or 'panns_inference'}: "
                          f"{INSTALL}") from None
    return module.Cnn14


class PannsModel(WeightedModel):
    """Clip-level PANNs embeddings of ``network``, a ``Cnn14``.

    Built by :func:`load`, with :class:`WeightedModel`'s parameters.
    """

    name = "panns"
    sample_rate = SAMPLE_RATE
    frame_level = False
    dim = DIM

    def embed(self, batch: Sequence[np.ndarray], sample_rate: int) -> list[np.ndarray]:
        """Embed float32 ``(channels, samples)`` clips; one 2048-d row each."""
        clips = map_clips(
            lambda audio: librosa_resample(to_mono(audio), sample_rate, SAMPLE_RATE), batch)
        by_length = indices_by_length(clips)
        rows: list[np.ndarray] = [np.empty((0, DIM), np.float32)] * len(clips)
        for indices in by_length.values():
            embeddings = self.forward_chunks(lambda chunk: self.network(chunk, None)["embedding"],
                                             np.stack([clips[i] for i in indices]))
            for index, embedding in zip(indices, embeddings, strict=True):
                rows[index] = embedding[None, :]
        return rows

    def metadata(self) -> dict[str, str | int | float]:
        """Model description stored next to the features."""
        return {
            "model": "PANNs Cnn14",
            "library": "panns_inference",
            "library_version": library_version("panns-inference"),
            "sample_rate": SAMPLE_RATE,
            "config": json.dumps(CNN14_ARGS),
            "input": "channel mean, soxr HQ to 32 kHz, librosa's length "
                     "(librosa.load sr=32000 mono=True)",
            **self.provenance(),
        }


def load(device: str = "cpu", batch_size: int = 32, weights: str | None = None) -> PannsModel:
    """Build Cnn14 with the paper's checkpoint.

    Parameters
    ----------
    device : str
        Torch device.
    batch_size : int
        Clips per forward pass.
    weights : str, optional
        Path of ``Cnn14_mAP=0.431.pth``; else ``$AESENS_PANNS_WEIGHTS``, else
        ``~/panns_data/Cnn14_mAP=0.431.pth`` (where panns_inference keeps it).

    Raises
    ------
    AesensError
        If the library or the checkpoint is missing, or the checkpoint does
        not fit Cnn14.
    """
    cnn14 = cnn14_class()
    cache = Path.home() / "panns_data" / WEIGHTS.filename
    path = resolve_weights(WEIGHTS, weights, [cache], download_to=cache)
    state = load_checkpoint(path, WEIGHTS)
    network = cnn14(**CNN14_ARGS)
    load_state_dict(network, state, path, WEIGHTS, "Cnn14")
    return PannsModel(network, device, batch_size, path)
