"""Embedding models behind one small interface, and their registry.

A model is an object with ``name``, ``sample_rate`` (the rate it expects),
``frame_level`` (several rows per file, keys repeated, or one row per file),
``dim`` and ``embed(batch, sample_rate) -> list of (rows, dim) arrays``.
``embed`` receives float32 ``(channels, samples)`` audio at its native rate
and does its own down-mixing and resampling, as each library did in the
published experiment (with the shared helpers of
:mod:`aesens.models.preprocessing`). ``metadata()`` returns the attributes
stored next to the features (model, library and version, weights hash,
sample rate, hop, device).

A model may give several embeddings from one call (an ``hf`` encoder's
every hidden layer, ``--layer all``): it then has ``outputs``, the names
they are stored under, ``embed_outputs(batch, sample_rate) -> {name: list
of arrays}`` and ``metadata(output)`` (:class:`MultiOutputModel`). The
extraction stages handle both kinds through :func:`output_names`,
:func:`embed_outputs` and :func:`output_metadata`; a :class:`ModelSpec`
knows its output names before its model is built (``outputs``).

A model module may define ``SETTINGS_ATTRIBUTES``, a dict of the settings
its rows depend on (e.g. OpenL3's framing); they are stored with the
features, and an embedding stored with other values (or none) is not taken
as complete by the extraction stages, which then redo it.

Adding a model is one entry in :data:`MODELS`: a name mapped to the dotted
path of a loader ``load(device=..., batch_size=..., weights=...)``. Loaders
are imported lazily so that a model's heavy libraries are only needed when
it is used. Besides its entries, :data:`MODELS` holds every canonical
name of the two open families: ``hf`` (``hf+facebook--wav2vec2-base``,
:mod:`aesens.models.hf_names`; the models: :mod:`aesens.models.hf`) and
``hear`` (``hear+hearbaseline.torchcrepe``, any module of the HEAR 2021 API,
:mod:`aesens.models.hear_names`; the models: :mod:`aesens.models.hear`);
:func:`canonical_name` turns ``hf:facebook/wav2vec2-base`` and
``hear:hearbaseline.torchcrepe`` into that form.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from aesens.errors import AesensError
from aesens.models import hear_names, hf_names

#: The name modules of the open families (``hf:<model id>``, ``hear:<module>``), each with
#: ``PREFIX`` (canonical names), ``INPUT_PREFIXES``, ``canonical_name`` and ``loader_path``.
FAMILIES = (hf_names, hear_names)


def _family(name: object):
    """The name module of the family ``name`` is spelled in (any input prefix), or None."""
    if isinstance(name, str):
        for family in FAMILIES:
            if name.startswith(family.INPUT_PREFIXES):
                return family
    return None


@runtime_checkable
class EmbeddingModel(Protocol):
    """What the extraction stages need from an embedding model."""

    name: str
    sample_rate: int
    frame_level: bool
    dim: int

    def embed(self, batch: Sequence[np.ndarray], sample_rate: int) -> list[np.ndarray]:
        """Embed a batch of float32 ``(channels, samples)`` clips recorded at ``sample_rate``.

        Returns one float32 ``(rows, dim)`` array per clip (one row for
        clip-level models).
        """
        ...

    def metadata(self) -> dict[str, str | int | float]:
        """Attributes describing the model, stored next to its features."""
        ...


@runtime_checkable
class MultiOutputModel(Protocol):
    """A model that gives several embeddings, each stored under its own name, from one call."""

    name: str
    sample_rate: int
    frame_level: bool
    dim: int
    #: Names the embeddings are stored under, in the order they are computed.
    outputs: tuple[str, ...]

    def embed_outputs(self, batch: Sequence[np.ndarray],
                      sample_rate: int) -> dict[str, list[np.ndarray]]:
        """Every output of a batch: name -> one float32 ``(rows, dim)`` array per clip."""
        ...

    def metadata(self, output: str | None = None) -> dict[str, str | int | float]:
        """Attributes stored next to the features of ``output``."""
        ...


def output_names(model: ModelSpec | EmbeddingModel | MultiOutputModel) -> tuple[str, ...]:
    """The names a model's embeddings are stored under (its own name for a one-output model)."""
    return tuple(getattr(model, "outputs", None) or (model.name,))


def embed_outputs(model: EmbeddingModel | MultiOutputModel, batch: Sequence[np.ndarray],
                  sample_rate: int) -> dict[str, list[np.ndarray]]:
    """Every embedding of a batch, by stored name, from one call of the model."""
    if hasattr(model, "embed_outputs"):
        return model.embed_outputs(batch, sample_rate)
    return {model.name: list(model.embed(batch, sample_rate))}


def output_metadata(model: EmbeddingModel | MultiOutputModel, output: str) -> dict:
    """The attributes stored next to the features of one of the model's outputs."""
    return model.metadata(output) if hasattr(model, "embed_outputs") else model.metadata()


def is_model(name: object) -> bool:
    """Whether ``name`` is a model: an entry of :data:`MODELS` or a canonical ``hf`` or ``hear``
    name (:func:`aesens.models.hf_names.canonical_name`,
    :func:`aesens.models.hear_names.canonical_name`). Other spellings of these names are
    not: pass them through :func:`canonical_name`."""
    if name in MODELS:
        return True
    family = _family(name)
    if family is None or not name.startswith(family.PREFIX):
        return False
    try:
        return family.canonical_name(name) == name
    except AesensError:
        return False


def loader_path(name: str) -> str:
    """The ``"module:loader"`` of a model (:func:`is_model`); ``KeyError`` if it is none.

    A canonical ``hf`` or ``hear`` name's loader is resolved by
    :mod:`aesens.models.hf` or :mod:`aesens.models.hear`.
    """
    if name in MODELS:
        return MODELS[name]
    if is_model(name):
        return _family(name).loader_path(name)
    raise KeyError(name)


#: Model name -> ``"module:loader"``; the loader builds the model.
MODELS: dict[str, str] = {
    "crepe": "aesens.models.crepe:load",
    "crepe_full": "aesens.models.crepe:load_full",
    "mfcc": "aesens.models.mfcc:load",
    "openl3": "aesens.models.openl3:load",
    "panns": "aesens.models.panns:load",
    "clap": "aesens.models.clap:load",
}


def canonical_name(name: str) -> str:
    """The name an embedding is stored under: ``hf`` and ``hear`` names canonical, others unchanged.

    Raises
    ------
    AesensError
        For a malformed ``hf`` or ``hear`` name.
    """
    family = _family(name)
    return name if family is None else family.canonical_name(name)


def known_names() -> str:
    """The embedding names for messages: the registry's entries and the hf and hear patterns."""
    return ", ".join([*MODELS, "hf:<model id>", "hear:<module>"])


def resolve_device(device: str = "auto") -> str:
    """Map ``auto`` to ``cuda`` when a GPU is visible, else ``cpu``; check the others."""
    if device not in ("auto", "cpu", "cuda") and not device.startswith("cuda:"):
        raise AesensError(f"unknown device {device!r}; use auto, cpu or cuda")
    try:
        import torch
    except ImportError:
        if device.startswith("cuda"):
            raise AesensError("--device cuda needs PyTorch with CUDA; install it or use "
                              "--device cpu") from None
        return "cpu"
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise AesensError("--device cuda was asked for but no CUDA GPU is visible; "
                          "use --device cpu or auto")
    return device


@dataclass(frozen=True)
class ModelSpec:
    """How to build an embedding model: small, picklable, and loadable in any process.

    Attributes
    ----------
    name : str
        Embedding name (the group under ``irmas/``).
    loader : str
        ``"module:function"`` building the model, as in :data:`aesens.models.MODELS`.
    device : str
        ``auto``, ``cpu`` or ``cuda``, resolved where the model is built.
    batch_size : int
        Clips per forward pass.
    weights : str or None
        Weights file, for models that need one.
    tf32 : bool
        On a CUDA GPU, let cuDNN compute convolutions in TF32 (faster, about
        5e-4 relative difference) rather than in full float32 as the
        paper's T4 did (the default). Set in the process that builds the
        model.
    outputs : tuple of str
        Names the model's embeddings are stored under, when it gives several
        (``hf`` ``+all``: one per layer); empty: its :attr:`name` alone.
    """

    name: str
    loader: str
    device: str = "auto"
    batch_size: int = 32
    weights: str | None = None
    tf32: bool = False
    outputs: tuple[str, ...] = ()

    @classmethod
    def for_name(cls, name: str, device: str = "auto", batch_size: int = 32,
                 weights: str | None = None, tf32: bool = False) -> ModelSpec:
        """The spec of a model registered in :data:`aesens.models.MODELS` (any hf/hear spelling)."""
        name = canonical_name(name)
        if not is_model(name):
            raise AesensError(f"unknown embedding {name!r}; choose one of {known_names()}")
        family = _family(name)
        outputs = (family.output_names(name, weights)
                   if hasattr(family, "output_names") else (name,))
        return cls(name, loader_path(name), device, batch_size, weights, tf32,
                   outputs if outputs != (name,) else ())

    def build(self) -> EmbeddingModel:
        """Import the loader and build the model (prefer :func:`loaded_model`, which caches)."""
        module_name, function_name = self.loader.split(":")
        loader = getattr(importlib.import_module(module_name), function_name)
        device = resolve_device(self.device)
        if device.startswith("cuda"):
            import torch

            torch.backends.cudnn.allow_tf32 = self.tf32
        return loader(device=device, batch_size=self.batch_size, weights=self.weights)


def get_model(name: str, device: str = "auto", batch_size: int = 32,
              weights: str | None = None) -> EmbeddingModel:
    """Build a registered embedding model (uncached; :func:`loaded_model` caches per process).

    Parameters
    ----------
    name : str
        A key of :data:`MODELS`, or an ``hf`` or ``hear`` name in any
        spelling (``hf:facebook/wav2vec2-base``, ``hear:hearbaseline.torchcrepe``).
    device : str
        ``auto``, ``cpu`` or ``cuda``.
    batch_size : int
        Clips (or frames, for frame-level models) per forward pass.
    weights : str, optional
        Path of a weights file for models that need one.

    Raises
    ------
    AesensError
        For an unknown name, or when the model's library or weights are missing.
    """
    return ModelSpec.for_name(name, device=device, batch_size=batch_size, weights=weights).build()


_LOADED_MODELS: dict[ModelSpec, EmbeddingModel] = {}
_LOAD_LOCK = threading.Lock()


def loaded_model(spec: ModelSpec) -> EmbeddingModel:
    """The model of a spec, built on first use in this process and kept for later units."""
    with _LOAD_LOCK:
        if spec not in _LOADED_MODELS:
            _LOADED_MODELS[spec] = spec.build()
        return _LOADED_MODELS[spec]


def settings_attributes(model: ModelSpec | EmbeddingModel) -> dict:
    """The model module's ``SETTINGS_ATTRIBUTES`` (none: ``{}``), read without building it."""
    module_name = (model.loader.split(":")[0] if isinstance(model, ModelSpec)
                   else type(model).__module__)
    return dict(getattr(importlib.import_module(module_name), "SETTINGS_ATTRIBUTES", {}))
