"""Pretrained weights files: where they are looked for, their opt-in download, loading, provenance.

A model's weights file is taken from, in order:

1. the ``weights`` argument (command line ``--weights PATH``);
2. the model's environment variable (e.g. ``AESENS_PANNS_WEIGHTS``);
3. the places where the model's own library keeps it (e.g.
   ``~/panns_data/Cnn14_mAP=0.431.pth``).

When it is in none of them it is downloaded only if the environment variable
``AESENS_ALLOW_DOWNLOAD=1`` asks for it; otherwise an :class:`AesensError`
names the missing file and its URL. Nothing is written anywhere unless a
download was asked for.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aesens.errors import AesensError
from aesens.models.torch_model import TorchModel

if TYPE_CHECKING:
    import torch

#: Environment variable that allows downloading missing weights (value ``1``).
ALLOW_DOWNLOAD_ENV = "AESENS_ALLOW_DOWNLOAD"


@dataclass(frozen=True)
class WeightsFile:
    """A published weights file.

    Attributes
    ----------
    model : str
        Embedding name, used in messages.
    filename : str
        The published file name.
    url : str
        Where to download it.
    env_var : str
        Environment variable holding a path to it.
    """

    model: str
    filename: str
    url: str
    env_var: str


def resolve_weights(spec: WeightsFile, weights: str | os.PathLike | None,
                    cache_paths: Sequence[Path], download_to: Path) -> Path:
    """Find a model's weights file, or download it when that is explicitly allowed.

    Parameters
    ----------
    spec : WeightsFile
        The file looked for.
    weights : path, optional
        Explicit path (the loader's ``weights`` argument); must exist.
    cache_paths : sequence of Path
        The library's usual locations, tried in order after the environment variable.
    download_to : Path
        Where a download is saved (when ``AESENS_ALLOW_DOWNLOAD=1``).

    Returns
    -------
    Path
        An existing file.

    Raises
    ------
    AesensError
        If an explicit path does not exist, or the file is found nowhere and
        downloading is not allowed or fails.
    """
    for source, value in (("--weights", weights), (spec.env_var, os.environ.get(spec.env_var))):
        if value:
            path = Path(value).expanduser()
            if not path.is_file():
                raise AesensError(f"{spec.model} weights file {path} (from {source}) does not "
                                  f"exist; download {spec.filename} from {spec.url}")
            return path
    for path in cache_paths:
        if path.is_file():
            return path
    if os.environ.get(ALLOW_DOWNLOAD_ENV) != "1":
        raise AesensError(f"{spec.model} weights {spec.filename} not found (looked in "
                          f"{', '.join(str(p) for p in cache_paths)}); download it from "
                          f"{spec.url} and pass --weights PATH or set {spec.env_var}, or set "
                          f"{ALLOW_DOWNLOAD_ENV}=1 to download it")
    return _download(spec, download_to)


def _download(spec: WeightsFile, target: Path) -> Path:
    import torch.hub

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(spec.url, str(target), progress=True)
    except OSError as error:  # urllib's URLError is an OSError
        raise AesensError(f"could not download {spec.url} to {target} ({error}); download "
                          f"{spec.filename} by hand and pass --weights PATH") from None
    return target


def load_checkpoint(path: Path, spec: WeightsFile, key: str | None = "model") -> dict[str, Any]:
    """Read a PyTorch checkpoint on the CPU and return its state dict.

    Published checkpoints hold more than tensors (the PANNs one keeps its
    sampler's numpy state), which ``weights_only=True`` refuses; they are
    read as their libraries read them (``weights_only=False``), so pass only
    files from the URLs named in the docs.

    Parameters
    ----------
    path : Path
        The checkpoint.
    spec : WeightsFile
        What it should be, for the error message.
    key : str, optional
        Entry of the checkpoint dict holding the state dict (``None``: the
        file is the state dict).

    Raises
    ------
    AesensError
        If the file cannot be read or lacks ``key``.
    """
    import torch

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # torch raises many types for damaged files
        raise AesensError(f"{path} is not a readable PyTorch checkpoint ({type(error).__name__}: "
                          f"{error}); download {spec.filename} again from {spec.url}") from None
    if key is not None:
        if not isinstance(checkpoint, dict) or key not in checkpoint:
            raise AesensError(f"{path} has no {key!r} entry, so it is not {spec.filename}; "
                              f"download it from {spec.url}")
        checkpoint = checkpoint[key]
    return checkpoint


def load_state_dict(network: torch.nn.Module, state: dict[str, Any], path: Path,
                    spec: WeightsFile, network_name: str, strict: bool = True) -> list[str]:
    """Load a checkpoint's state dict into its network, refusing one that does not fit.

    Parameters
    ----------
    network : torch.nn.Module
        The network built with the published arguments.
    state : dict
        Its state dict, from :func:`load_checkpoint`.
    path : Path
        The checkpoint, for the error message.
    spec : WeightsFile
        What it should be, for the error message.
    network_name : str
        The network, as the error message names it (e.g. ``"Cnn14"``).
    strict : bool
        As ``torch.nn.Module.load_state_dict``: whether missing and
        unexpected keys are errors too.

    Returns
    -------
    list of str
        The network's keys that ``state`` lacks (always empty when ``strict``).

    Raises
    ------
    AesensError
        If ``state`` does not fit the network.
    """
    try:
        return network.load_state_dict(state, strict=strict).missing_keys
    except RuntimeError as error:  # shape mismatches (and, when strict, other keys)
        detail = " ".join(str(error).split())[:300]
        raise AesensError(f"{path} does not fit {network_name} ({detail}); it is not "
                          f"{spec.filename}: download it from {spec.url}") from None


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1-MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class WeightedModel(TorchModel):
    """A model loaded from a weights file, whose name and SHA-256 go into its metadata.

    Parameters
    ----------
    network : torch.nn.Module or None
        The network with its weights loaded, kept as ``network`` on the
        device in eval mode (``None`` for a model that runs no PyTorch
        network).
    device : str
        Torch device.
    batch_size : int
        Clips (or frames) per forward pass.
    weights : Path
        The weights file that was loaded.
    """

    def __init__(self, network: torch.nn.Module | None, device: str, batch_size: int,
                 weights: Path) -> None:
        super().__init__(device, batch_size)
        self.network = None if network is None else self.on_device(network)
        self.weights = weights
        self._sha256 = file_sha256(weights)

    def provenance(self) -> dict[str, str]:
        """Weights file name and SHA-256, and the device: part of every model's metadata."""
        return {"weights": self.weights.name, "weights_sha256": self._sha256,
                "device": self.device}


def library_version(distribution: str) -> str:
    """Installed version of a distribution, or ``"unknown"``."""
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "unknown"
