"""Any Python module implementing the HEAR 2021 API: the ``hear`` family of embeddings.

The embeddings are named ``hear:<module>[+timestamp]``
(:mod:`aesens.models.hear_names`); each name's loader is an attribute of
this module (:func:`__getattr__`). The module must define
``load_model(model_file_path)``, ``get_scene_embeddings(audio, model)`` and
``get_timestamp_embeddings(audio, model)``, and its model ``sample_rate``,
``scene_embedding_size`` and ``timestamp_embedding_size``
(https://hearbenchmark.com/hear-api.html).

The model is run as the HEAR benchmark's evaluation kit
(``heareval.embeddings.task_embeddings.Embedding``) runs it:
``load_model(--weights)`` (no argument without ``--weights``), a model that
is a ``torch.nn.Module`` moved to ``--device`` (not put in eval mode: the
API leaves that to the module), the audio a float32 tensor
``(n_clips, n_samples)`` on that device, both functions called under
``torch.no_grad()``. A model that is no ``torch.nn.Module`` gets its audio
on the CPU.

Input: channels averaged, then resampled to the model's ``sample_rate`` with
soxr HQ (the evaluation kit's tasks were resampled beforehand to each
model's rate). Clips are batched by length, up to ``batch_size`` at a time,
so no clip is padded or trimmed.

Output: ``+scene`` (the default) stores ``get_scene_embeddings``, one row of
``scene_embedding_size`` per clip; ``+timestamp`` stores the embeddings of
``get_timestamp_embeddings``, one row of ``timestamp_embedding_size`` per
timestamp, the file's key repeated (as OpenL3); the timestamps themselves
are checked (one per row) but not stored. The metadata records the module,
the distribution that installs it and its version, and the weights file and
its SHA-256 when one is given.

Modules that import ``torchaudio`` import where it does not load (no build
matches the pinned torch): :func:`aesens.models._compat.stub_torchaudio`
stands in for it, and fails only if the module calls it.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from aesens.errors import AesensError
from aesens.models._compat import stub_torchaudio
from aesens.models.hear_names import LOADER_PREFIX, PREFIX, HearName, parse_name
from aesens.models.preprocessing import indices_by_length, map_clips, resample, to_mono
from aesens.models.torch_model import TorchModel
from aesens.models.weights import file_sha256

#: The functions a HEAR module defines.
API_FUNCTIONS = ("load_model", "get_scene_embeddings", "get_timestamp_embeddings")
#: The attributes of a HEAR model.
MODEL_ATTRIBUTES = ("sample_rate", "scene_embedding_size", "timestamp_embedding_size")
#: Packages whose models take TensorFlow tensors, which this family does not pass.
TENSORFLOW_MODULES = ("tensorflow", "keras", "tf_keras")
#: What the resampling uses, recorded in the metadata.
RESAMPLER = "soxr HQ"


def __getattr__(attribute: str) -> Callable[..., HearModel]:
    """The loader of one ``hear`` name (``load+<canonical name without hear+>``)."""
    if not attribute.startswith(LOADER_PREFIX):
        raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")
    hear_name = parse_name(PREFIX + attribute[len(LOADER_PREFIX):])

    def loader(device: str = "cpu", batch_size: int = 32,
               weights: str | None = None) -> HearModel:
        return load(hear_name.name, device=device, batch_size=batch_size, weights=weights)

    return loader


def _detail(error: BaseException) -> str:
    """An exception as one short line: its type and message."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:200]}" if text else type(error).__name__


def import_hear_module(module_name: str) -> ModuleType:
    """Import a module and check that it defines the HEAR API's functions.

    Raises
    ------
    AesensError
        One line naming what is missing: the module, a library it imports,
        or the API functions it lacks; or why its import failed.
    """
    stub_torchaudio()
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            raise AesensError(f"hear:{module_name}: no module named {missing!r}; install the "
                              "package that provides it (HEAR packages pinned to old libraries: "
                              "pip install --no-deps <package>)") from None
        raise AesensError(f"hear:{module_name}: importing it failed: it needs the module "
                          f"{missing!r}, which is not installed; install it") from None
    except Exception as error:  # a module may fail on import in any way
        raise AesensError(f"hear:{module_name}: importing it failed ({_detail(error)})") from None
    lacking = [name for name in API_FUNCTIONS if not callable(getattr(module, name, None))]
    if lacking:
        raise AesensError(f"hear:{module_name} does not implement the HEAR 2021 API: it lacks "
                          f"{', '.join(lacking)} (needs {', '.join(API_FUNCTIONS)})")
    return module


@functools.cache
def _distributions() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def module_provenance(module: ModuleType) -> tuple[str, str]:
    """The distribution that installs a module and its version.

    Returns
    -------
    tuple of str
        ``(distribution, version)``: the distribution providing the module's
        top-level package (``importlib.metadata``), else the top-level
        package itself; its version, else the package's ``__version__``,
        else ``"unknown"``.
    """
    top = module.__name__.partition(".")[0]
    for distribution in _distributions().get(top, []):
        try:
            return distribution, importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            continue
    package = importlib.import_module(top)
    return top, str(getattr(package, "__version__", "unknown"))


def _as_array(value: Any, what: str) -> np.ndarray:
    """A returned tensor as a numpy array (torch tensors detached and brought to the CPU)."""
    detach = getattr(value, "detach", None)
    if detach is not None:
        value = detach().cpu().numpy()
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as error:
        raise AesensError(f"{what} returned {type(value).__name__}, not an array "
                          f"({_detail(error)})") from None


class HearModel(TorchModel):
    """A HEAR 2021 module's model behind the embedding interface.

    Parameters
    ----------
    hear_name : HearName
        Module and output.
    module : module
        The imported HEAR module.
    model : object
        What its ``load_model`` returned.
    device : str
        Torch device of the model (when it is a ``torch.nn.Module``) and its input.
    batch_size : int
        Clips per call.
    weights : Path or None
        What ``load_model`` was given.

    Raises
    ------
    AesensError
        If the model lacks an attribute of the API.
    """

    def __init__(self, hear_name: HearName, module: ModuleType, model: Any, device: str,
                 batch_size: int, weights: Path | None) -> None:
        import torch

        self.hear_name = hear_name
        self.name = hear_name.name
        self.module = module
        where = f"hear:{hear_name.module}"
        lacking = [name for name in MODEL_ATTRIBUTES if not hasattr(model, name)]
        if lacking:
            raise AesensError(f"{where}: its model ({type(model).__name__}) lacks "
                              f"{', '.join(lacking)}, which the HEAR 2021 API requires")
        if any(cls.__module__.startswith(TENSORFLOW_MODULES) for cls in type(model).__mro__):
            raise AesensError(f"{where}: its model ({type(model).__name__}) is a TensorFlow "
                              "model; the hear embeddings pass torch tensors, as the HEAR API's "
                              "PyTorch modules take them: use a PyTorch module")
        values = {name: getattr(model, name) for name in MODEL_ATTRIBUTES}
        if not all(isinstance(value, int | np.integer) and not isinstance(value, bool)
                   and value > 0 for value in values.values()):
            raise AesensError(f"{where}: its model's {values} must be positive integers")
        is_torch = isinstance(model, torch.nn.Module)
        super().__init__(device if is_torch else "cpu", batch_size)
        # As the HEAR evaluation kit: moved to the device, left in the mode load_model chose.
        self.model = model.to(self.device) if is_torch else model
        self.sample_rate = int(values["sample_rate"])
        self.frame_level = hear_name.output == "timestamp"
        self.dim = int(values["timestamp_embedding_size" if self.frame_level
                              else "scene_embedding_size"])
        self.weights = weights
        self._sha256 = file_sha256(weights) if weights is not None and weights.is_file() else ""
        self.distribution, self.version = module_provenance(module)

    def preprocess(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """Channel mean, then soxr HQ to the model's rate: a float32 1-D signal."""
        return resample(to_mono(audio), sample_rate, self.sample_rate)

    def forward(self, signals: np.ndarray) -> np.ndarray:
        """The module's rows ``(clips, rows, dim)`` of equal-length signals ``(clips, samples)``."""
        import torch

        where = f"hear:{self.hear_name.module}"
        audio = torch.tensor(signals, dtype=torch.float32, device=self.device)
        n_clips, n_samples = signals.shape
        function = "get_timestamp_embeddings" if self.frame_level else "get_scene_embeddings"
        try:
            with torch.no_grad():
                returned = getattr(self.module, function)(audio, self.model)
        except Exception as error:  # the module's own code may fail in any way
            raise AesensError(f"{where}: {function} failed on {n_clips} clip(s) of {n_samples} "
                              f"samples at {self.sample_rate} Hz ({_detail(error)})") from None
        what = f"{where}: {function}"
        if self.frame_level:
            if not isinstance(returned, tuple | list) or len(returned) != 2:
                raise AesensError(f"{what} returned {type(returned).__name__}, not "
                                  "(embeddings, timestamps)")
            rows = _as_array(returned[0], what)
            timestamps = _as_array(returned[1], what)
            if rows.ndim != 3 or timestamps.shape != (n_clips, rows.shape[1]):
                raise AesensError(f"{what} gave embeddings {rows.shape} and timestamps "
                                  f"{timestamps.shape} for {n_clips} clips; the HEAR API wants "
                                  "(clips, timestamps, size) and (clips, timestamps)")
            if rows.shape[1] == 0:
                raise AesensError(f"{what} gave no timestamp for clips of {n_samples} samples "
                                  f"at {self.sample_rate} Hz; use longer clips")
        else:
            rows = _as_array(returned, what)
            if rows.ndim != 2 or len(rows) != n_clips:
                raise AesensError(f"{what} gave an array {rows.shape} for {n_clips} clips; the "
                                  "HEAR API wants (clips, size)")
            rows = rows[:, None, :]
        if rows.shape[-1] != self.dim:
            size = "timestamp" if self.frame_level else "scene"
            raise AesensError(f"{what} gave rows of {rows.shape[-1]} values but the model's "
                              f"{size}_embedding_size is {self.dim}")
        return rows

    def embed(self, batch: Sequence[np.ndarray], sample_rate: int) -> list[np.ndarray]:
        """Embed float32 ``(channels, samples)`` clips; ``(rows, dim)`` float32 per clip."""
        if not batch:
            return []
        signals = map_clips(lambda audio: self.preprocess(audio, sample_rate), batch)
        by_length = indices_by_length(signals)
        rows: list[np.ndarray | None] = [None] * len(signals)
        for indices in by_length.values():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start:start + self.batch_size]
                out = self.forward(np.stack([signals[i] for i in chunk]))
                for index, clip_rows in zip(chunk, out, strict=True):
                    rows[index] = np.ascontiguousarray(clip_rows, dtype=np.float32)
        return rows

    def metadata(self) -> dict[str, str | int | float]:
        """Model description stored next to the features."""
        return {
            "model": f"hear:{self.hear_name.module} ({type(self.model).__name__})",
            "module": self.hear_name.module,
            "library": self.distribution,
            "library_version": self.version,
            "sample_rate": self.sample_rate,
            "output": self.hear_name.output,
            "input": f"channel mean, {RESAMPLER} to {self.sample_rate} Hz, float32 tensor "
                     "(clips, samples) of equal-length clips",
            "weights": self.weights.name if self.weights is not None else "none (load_model())",
            "weights_sha256": self._sha256,
            "device": self.device,
        }


def load(name: str, device: str = "cpu", batch_size: int = 32,
         weights: str | None = None) -> HearModel:
    """Build a ``hear`` embedding model.

    Parameters
    ----------
    name : str
        ``hear:<module>[+scene|+timestamp]``.
    device : str
        Torch device of a model that is a ``torch.nn.Module``.
    batch_size : int
        Clips per call of the module's functions.
    weights : str, optional
        Passed to ``load_model`` as ``model_file_path`` (must exist); without
        it ``load_model()`` is called with no argument.

    Raises
    ------
    AesensError
        If PyTorch is missing, the module cannot be imported or lacks the
        API, ``weights`` does not exist, or ``load_model`` fails.
    """
    hear_name = parse_name(name)
    try:
        import torch  # noqa: F401  (the HEAR API passes torch tensors)
    except ImportError:
        raise AesensError("the hear embeddings need PyTorch: pip install torch") from None
    module = import_hear_module(hear_name.module)
    path = None
    if weights:
        path = Path(weights).expanduser()
        if not path.exists():
            raise AesensError(f"--weights {path} does not exist; give the model file that "
                              f"hear:{hear_name.module}'s load_model expects")
    try:
        model = module.load_model(str(path)) if path is not None else module.load_model()
    except Exception as error:  # the module's own code may fail in any way
        argument = repr(str(path)) if path is not None else ""
        raise AesensError(f"hear:{hear_name.module}: load_model({argument}) failed "
                          f"({_detail(error)})") from None
    return HearModel(hear_name, module, model, device, batch_size, path)
