"""Checkpoints of randomly initialised weights, in each paper model's real format.

The published weights of OpenL3, PANNs and CLAP cannot be downloaded
everywhere (the tests and benchmarks run offline), and neither the shapes
of the rows nor the speed of a model depend on the values of its weights.
Each saver here builds the model's real network with random weights (seeded,
so the file is the same on every run), saves it as the published checkpoint
is laid out and under the published file name, and returns its path; the
model's own ``load(weights=path)`` then reads it like the real one:

- ``openl3``: the ``torchopenl3`` network's state dict
  (``torchopenl3_mel128_music_512.pth.tar``, ~20 MB);
- ``panns``: ``{"iteration", "model": Cnn14 state dict}``
  (``Cnn14_mAP=0.431.pth``, ~330 MB);
- ``clap``: ``{"model": CLAP state dict}`` with the audio encoder under
  ``audio_encoder.`` and a few text-side entries, GPT-2 left out
  (``CLAP_weights_2023.pth``, ~120 MB).

Usage::

    from aesens.models import get_model
    from aesens.models.random_weights import save_random_weights

    path = save_random_weights("panns", folder)
    model = get_model("panns", device="cpu", weights=str(path))
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from aesens.errors import AesensError


def save_openl3(folder: Path) -> Path:
    """Random ``PytorchOpenl3(music, mel128, 512)`` weights, as torchopenl3 publishes them."""
    import torch
    from torchopenl3.models import PytorchOpenl3

    from aesens.models import openl3

    torch.manual_seed(0)
    path = Path(folder) / openl3.WEIGHTS.filename
    torch.save(PytorchOpenl3("music", "mel128", 512).state_dict(), path)
    return path


def save_panns(folder: Path) -> Path:
    """Random Cnn14 weights in the layout of ``Cnn14_mAP=0.431.pth``."""
    import torch

    from aesens.models import panns

    torch.manual_seed(0)
    path = Path(folder) / panns.WEIGHTS.filename
    network = panns.cnn14_class()(**panns.CNN14_ARGS)
    torch.save({"iteration": 0, "model": network.state_dict()}, path)
    return path


def save_clap(folder: Path) -> Path:
    """msclap's format: ``{"model": CLAP state dict}`` (GPT-2 text weights left out)."""
    import torch

    from aesens.models import clap

    torch.manual_seed(0)
    path = Path(folder) / clap.WEIGHTS.filename
    encoder = clap.build_audio_encoder()
    state = {f"{clap.STATE_PREFIX}{key}": value for key, value in encoder.state_dict().items()}
    state.update({"caption_encoder.projection.linear1.weight": torch.randn(1024, 768),
                  "caption_encoder.projection.linear2.weight": torch.randn(1024, 1024),
                  "logit_scale": torch.tensor(np.log(1 / 0.07))})
    torch.save({"model": state}, path)
    return path


#: Model name -> saver writing its random-weight checkpoint into a folder.
SAVERS: dict[str, Callable[[Path], Path]] = {"openl3": save_openl3, "panns": save_panns,
                                             "clap": save_clap}


def save_random_weights(model: str, folder: Path) -> Path:
    """Save a random-weight checkpoint of ``model`` (openl3, panns or clap) into ``folder``.

    Raises
    ------
    AesensError
        If ``model`` takes no weights file.
    """
    if model not in SAVERS:
        raise AesensError(f"{model!r} has no weights file; random weights exist for "
                          f"{', '.join(SAVERS)}")
    return SAVERS[model](Path(folder))
