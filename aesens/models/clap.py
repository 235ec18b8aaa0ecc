"""Microsoft CLAP (2023) audio embeddings: one 1024-d row per clip, as in the paper.

The paper used ``msclap.CLAP(version='2023').get_audio_embeddings(files)``,
which returns the audio encoder's projection (HTSAT, 768-d, projected to
1024-d through ``Projection``'s layer norm), *not* L2-normalised (only
``compute_similarity`` normalises). Its preprocessing
(``CLAPWrapper.load_audio_into_tensor``), reproduced by :func:`preprocess`:

1. load the file as ``(channels, samples)`` float32, resample to 44.1 kHz if
   needed;
2. ``reshape(-1)``: the channels are concatenated end to end (a 3-s stereo
   file becomes 6 s of signal), not averaged;
3. exactly 7 s: shorter signals (IRMAS: 6 s) are tiled and cut to 7 s;
   longer ones are cropped to 7 s at a random start in the library, at the
   *centre* here, so that reruns give the same rows.

Resampling (never needed for IRMAS, which is 44.1 kHz) is msclap's
``torchaudio.transforms.Resample(sample_rate, 44100)``, reproduced with torch
by :func:`~aesens.models.preprocessing.sinc_resample` (torchaudio has no build
for ``torch==2.13.0``).

Only the audio encoder is built: ``msclap.CLAP`` always loads GPT-2 from the
hub and ``import msclap`` imports torchaudio, transformers and
huggingface_hub. ``msclap/models/clap.py`` is imported without the package
``__init__`` (transformers stubbed; it is only used by the text encoder), the
``AudioEncoder`` is built with the values of ``configs/config_2023.yml``, and
the ``audio_encoder.*`` part of the checkpoint's ``model`` state dict is
loaded; a missing key is an error.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from aesens.errors import AesensError
from aesens.models._compat import import_submodule, stub_modules
from aesens.models.preprocessing import map_clips, sinc_resample
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

#: Rate of the audio encoder (``sampling_rate`` in config_2023.yml).
SAMPLE_RATE = 44100
#: Clip length fed to the encoder, in seconds (``duration``).
DURATION = 7
#: Samples per clip.
CLIP_SAMPLES = DURATION * SAMPLE_RATE
#: Size of the projected embedding (``d_proj``).
DIM = 1024
#: ``AudioEncoder`` arguments, as ``msclap.CLAP`` passes them from config_2023.yml.
ENCODER_ARGS = {"audioenc_name": "HTSAT", "d_in": 768, "d_out": DIM, "sample_rate": SAMPLE_RATE,
                "window_size": 1024, "hop_size": 320, "mel_bins": 64, "fmin": 50, "fmax": 8000,
                "classes_num": 527}
#: The 2023 checkpoint (hub repo ``microsoft/msclap``).
WEIGHTS = WeightsFile(model="clap", filename="CLAP_weights_2023.pth",
                      url="https://huggingface.co/microsoft/msclap/resolve/main/"
                          "CLAP_weights_2023.pth",
                      env_var="AESENS_CLAP_WEIGHTS")
#: Prefix of the audio encoder's entries in the checkpoint.
STATE_PREFIX = "audio_encoder."
#: How to install the library (msclap's own pins want torchaudio and numpy<2).
INSTALL = "pip install 'aesens[clap]' && pip install --no-deps msclap==1.3.4"


def preprocess(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """msclap's ``load_audio_into_tensor`` on an in-memory clip, with a centred long-clip crop.

    Parameters
    ----------
    audio : numpy.ndarray
        ``(channels, samples)`` (or 1-D) audio.
    sample_rate : int
        Its rate.

    Returns
    -------
    numpy.ndarray
        float32 signal of :data:`CLIP_SAMPLES` samples.
    """
    signal = sinc_resample(np.atleast_2d(audio), sample_rate, SAMPLE_RATE).reshape(-1)
    if CLIP_SAMPLES >= len(signal):
        repeats = int(np.ceil(CLIP_SAMPLES / len(signal)))
        return np.tile(signal, repeats)[:CLIP_SAMPLES]
    start = (len(signal) - CLIP_SAMPLES) // 2
    return signal[start:start + CLIP_SAMPLES]


def audio_encoder_class() -> type:
    """msclap's ``AudioEncoder`` class, imported without the package ``__init__``.

    Raises
    ------
    AesensError
        If msclap or one of the audio encoder's dependencies is not installed.
    """
    try:
        import torchlibrosa  # noqa: F401  (imported here so it is never stubbed)

        with stub_modules("transformers"):
            module = import_submodule("msclap", "models.clap")
    except ImportError as error:
        raise AesensError(f"the clap embedding needs {error.name or 'msclap'}: {INSTALL}") from None
    return module.AudioEncoder


def build_audio_encoder() -> torch.nn.Module:
    """A new ``AudioEncoder`` with the 2023 arguments (random weights)."""
    with warnings.catch_warnings():  # HTSAT calls torch.meshgrid without indexing=
        warnings.filterwarnings("ignore", message="torch.meshgrid", category=UserWarning)
        return audio_encoder_class()(**ENCODER_ARGS)


def _hub_cache_paths() -> list[Path]:
    """Where ``huggingface_hub`` keeps the checkpoint: every snapshot's copy.

    With none, the pattern itself is returned, so that the missing-weights
    message shows where it was looked for.
    """
    hub = os.environ.get("HF_HUB_CACHE") or Path(
        os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface") / "hub"
    snapshots = Path(hub) / "models--microsoft--msclap" / "snapshots"
    return sorted(snapshots.glob(f"*/{WEIGHTS.filename}")) or [snapshots / "*" / WEIGHTS.filename]


class ClapModel(WeightedModel):
    """Clip-level CLAP audio embeddings of ``network``, msclap's ``AudioEncoder``.

    Built by :func:`load`, with :class:`WeightedModel`'s parameters.
    """

    name = "clap"
    sample_rate = SAMPLE_RATE
    frame_level = False
    dim = DIM

    def embed(self, batch: Sequence[np.ndarray], sample_rate: int) -> list[np.ndarray]:
        """Embed float32 ``(channels, samples)`` clips; one 1024-d row each."""
        if not batch:
            return []
        clips = np.stack(map_clips(lambda audio: preprocess(audio, sample_rate), batch))
        rows = self.forward_chunks(lambda chunk: self.network(chunk)[0], clips)
        return list(rows[:, None, :])

    def metadata(self) -> dict[str, str | int | float]:
        """Model description stored next to the features."""
        return {
            "model": "Microsoft CLAP 2023 (HTSAT audio encoder, projection)",
            "library": "msclap",
            "library_version": library_version("msclap"),
            "sample_rate": SAMPLE_RATE,
            "config": json.dumps(ENCODER_ARGS),
            "input": f"torchaudio-style sinc resampling to 44.1 kHz, channels concatenated, "
                     f"tiled to {DURATION} s, longer clips centre-cropped",
            **self.provenance(),
        }


def load(device: str = "cpu", batch_size: int = 32, weights: str | None = None) -> ClapModel:
    """Build the CLAP 2023 audio encoder with its checkpoint.

    Parameters
    ----------
    device : str
        Torch device.
    batch_size : int
        Clips per forward pass.
    weights : str, optional
        Path of ``CLAP_weights_2023.pth``; else ``$AESENS_CLAP_WEIGHTS``, else
        the huggingface hub cache (where msclap downloads it), else torch's
        checkpoint cache (where ``AESENS_ALLOW_DOWNLOAD=1`` puts it).

    Raises
    ------
    AesensError
        If the library or the checkpoint is missing, or the checkpoint lacks
        audio-encoder weights.
    """
    audio_encoder_class()  # a missing library is reported before missing weights
    import torch.hub

    download = Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS.filename
    path = resolve_weights(WEIGHTS, weights, [*_hub_cache_paths(), download], download)
    state = load_checkpoint(path, WEIGHTS)
    encoder = build_audio_encoder()
    audio_state = {key[len(STATE_PREFIX):]: value for key, value in state.items()
                   if key.startswith(STATE_PREFIX)}
    missing = load_state_dict(encoder, audio_state, path, WEIGHTS, "the CLAP audio encoder",
                              strict=False)
    if missing:
        raise AesensError(f"{path} lacks {len(missing)} CLAP audio-encoder weights (e.g. "
                          f"{STATE_PREFIX}{missing[0]}); it is not {WEIGHTS.filename}: download "
                          f"it from {WEIGHTS.url}")
    return ClapModel(encoder, device, batch_size, path)
