"""Extraction stages 2A.1 (original audio) and 2A.2 (effected audio), as work units.

The work of one setting (an effect at a grid rank, or the original audio)
is cut into work units of consecutive dataset files (:class:`WorkUnit`).
:func:`run_unit` is all a unit does: read its files, apply the effect in
memory (effected audio never touches disk), embed the clips in batches with
each model of the unit and return the features and keys
(:class:`UnitResult`); it writes nothing. An executor
(:mod:`aesens.extraction.executor`) runs the units, in this process or on a Dask
cluster, and streams their results back to :func:`extract`, the one writer:
once every shard of a setting is back it writes the setting's file
atomically (``embeddings/embeddings_<effect>_<param>.h5``, original audio:
``embeddings/embeddings.h5``, under ``irmas/<embedding>/``) with rows in
the dataset's file order. Shards hold whole batches, so every batch, and
therefore every row, is the same bit for bit whatever the executor and
shard size.

Effected audio follows the published scripts by default
(:data:`~aesens.effects.PUBLISHED`): each effected clip goes through the
16-bit WAV round trip the published files did (:mod:`aesens.effects.roundtrip`),
and a stateful effect (the reverb) streams every file of a setting in
dataset order through one chain, as the published script's one board did.
In this process the units of a setting run in order and continue one
chain, and settings run at once in the executor's lanes (their model calls
take turns), so that one setting's serial chain leaves no core idle; on a
cluster a unit starts from the chain's state at its first file, computed by
an effect-only pass over the files before it (:func:`iter_work_units`; the
passes of several settings run at once). The audio is the same whatever
the shard size, batch size or executor.
:data:`~aesens.effects.FLOAT` processes every file fresh, in float.

Inside a unit, the next batches are read and effected in threads while the
models embed the current one (:mod:`aesens.extraction.batches`). Models given
as :class:`ModelSpec` are built once per process and kept, so a Dask worker
loads each model once for all its units.

Settings (:class:`~aesens.extraction.setting.Setting`) whose file already holds
a complete embedding for exactly the dataset's files, computed under the same
settings attributes, are skipped, so an interrupted run resumes where it
stopped; an embedding computed under other settings is redone, and a setting
file that cannot be read is set aside and redone (:mod:`aesens.extraction.output`).
Nothing non-finite is written: files with NaN or infinite samples are refused
when read (a skip list leaves them out and is recorded as the
``skipped_files`` attribute), and so are NaN or infinite features. The output
folder is checked for writing before any work.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from aesens import safe_files
from aesens.effects.filters import MIN_KERNEL_CLIPS
from aesens.effects.paper import ReverbChain
from aesens.errors import AesensError, raise_if_interrupted
from aesens.extraction.batches import prepared_batches
from aesens.extraction.executor import Executor, InProcessExecutor, iterated_ahead
from aesens.extraction.output import (
    is_complete,
    set_aside_damaged_file,
    skipped_attributes,
    write_setting,
)
from aesens.extraction.setting import Setting, expected_attributes
from aesens.models import (
    EmbeddingModel,
    ModelSpec,
    embed_outputs,
    loaded_model,
    output_metadata,
    output_names,
)

#: Files per work unit (rounded up to whole batches).
DEFAULT_SHARD_SIZE = 512

#: Model calls of work units running at once in this process (an in-process executor's
#: lanes) take turns: each call has the cores to itself, as when units run one at a time,
#: while the other units read and effect their next batches.
_MODEL_CALLS = threading.Lock()


class _OneBlasThread:
    """BLAS limited to one thread while any work unit of this process runs.

    threadpoolctl's limits are process-wide: units that overlap share one
    limit, set by the first to start and lifted by the last to end (or by a
    caller holding it around them all).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._units = 0
        self._limits: threadpool_limits | None = None

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        with self._lock:
            if self._units == 0:
                self._limits = threadpool_limits(limits=1, user_api="blas")
            self._units += 1
        try:
            yield
        finally:
            with self._lock:
                self._units -= 1
                if self._units == 0:
                    self._limits.restore_original_limits()
                    self._limits = None


_ONE_BLAS_THREAD = _OneBlasThread()


@dataclass(frozen=True)
class WorkUnit:
    """One setting over one shard of consecutive dataset files, with the models to run.

    Attributes
    ----------
    setting_index : int
        Position of the setting in the list given to :func:`extract`.
    setting : Setting
        The effect setting.
    shard_index : int
        Position of the shard in the setting's file list.
    files : tuple of Path
        The shard's files, in dataset order.
    models : tuple
        :class:`ModelSpec` (built once per process) or, in this process
        only, ready :class:`~aesens.models.EmbeddingModel` objects.
    batch_size : int
        Files per model call.
    prepare_threads : int
        Threads reading and effecting batches ahead of the models.
    chain : ReverbChain or None
        For a stateful effect under the published semantics, the chain as
        it stands before the shard's first file (``None``: a fresh chain,
        right for the first shard).
    chain_in_order : bool
        The units of the setting share ``chain`` and run one after the
        other in shard order in this process: the unit continues the chain
        object itself (left where the previous unit stopped) instead of a
        copy.
    """

    setting_index: int
    setting: Setting
    shard_index: int
    files: tuple[Path, ...]
    models: tuple[ModelSpec | EmbeddingModel, ...]
    batch_size: int = 32
    prepare_threads: int = 1
    chain: ReverbChain | None = None
    chain_in_order: bool = False


@dataclass
class UnitResult:
    """What a work unit sends back to the writer.

    Attributes
    ----------
    setting_index, shard_index : int
        Which unit this is.
    n_files : int
        Files embedded.
    embeddings : dict
        Embedding name -> ``(features (rows, dim) float32, keys (rows,) str)``;
        a model with several outputs (:func:`aesens.models.output_names`) has
        one entry per output.
    attributes : dict
        Embedding name -> metadata stored next to its features.
    settings_attributes : dict
        Embedding name -> the settings attributes of :func:`expected_attributes`.
    """

    setting_index: int
    shard_index: int
    n_files: int
    embeddings: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    attributes: dict[str, dict] = field(default_factory=dict)
    settings_attributes: dict[str, dict] = field(default_factory=dict)


def run_unit(unit: WorkUnit) -> UnitResult:
    """Read, effect and embed one work unit's files; write nothing.

    This is the function the executors run (on Dask workers too): models
    given as :class:`ModelSpec` are loaded once per process. BLAS runs on
    one thread during the unit, as on Dask's workers: OpenBLAS sums in a
    different order with more threads (the MFCC rows would differ in their
    last bits), and batches already use the cores in parallel. Units may
    run at once in threads of this process: their model calls take turns.
    """
    models = [loaded_model(model) if isinstance(model, ModelSpec) else model
              for model in unit.models]
    names = [name for model in models for name in output_names(model)]
    rows: dict[str, list[np.ndarray]] = {name: [] for name in names}
    keys: dict[str, list[str]] = {name: [] for name in names}
    chain = unit.chain if unit.chain is None or unit.chain_in_order else unit.chain.copy()
    batches = prepared_batches(unit.files, unit.setting, unit.batch_size, unit.prepare_threads,
                               chain)
    with contextlib.closing(batches), _ONE_BLAS_THREAD.held():
        for stems, clips, sample_rate in batches:
            for model in models:
                with _MODEL_CALLS:
                    outputs = embed_outputs(model, clips, sample_rate)
                for name in output_names(model):
                    for stem, embedding in zip(stems, outputs[name], strict=True):
                        rows[name].append(embedding)
                        keys[name].extend([stem] * len(embedding))
    result = UnitResult(unit.setting_index, unit.shard_index, len(unit.files))
    for model in models:
        for name in output_names(model):
            result.embeddings[name] = (np.concatenate(rows[name]).astype(np.float32),
                                       np.array(keys[name]))
            result.attributes[name] = {**output_metadata(model, name),
                                       "frame_level": bool(model.frame_level)}
            result.settings_attributes[name] = expected_attributes(unit.setting, model)
            if str(result.attributes[name].get("device", "")).startswith("cuda"):
                import torch

                result.attributes[name]["cudnn_tf32"] = bool(torch.backends.cudnn.allow_tf32)
    return result


def shard_files(files: Sequence[Path], shard_size: int, batch_size: int) -> list[tuple[Path, ...]]:
    """Cut the file list into shards of whole batches (``shard_size`` rounded up)."""
    if shard_size < 1 or batch_size < 1:
        raise AesensError(f"shard size ({shard_size}) and batch size ({batch_size}) must be at "
                          "least 1")
    size = -(-shard_size // batch_size) * batch_size
    files = tuple(files)
    return [files[start:start + size] for start in range(0, len(files), size)]


def merge_shards(shards: Sequence[UnitResult]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Concatenate the shards of one setting, in shard order, per model."""
    shards = sorted(shards, key=lambda shard: shard.shard_index)
    return {name: (np.concatenate([shard.embeddings[name][0] for shard in shards]),
                   np.concatenate([shard.embeddings[name][1] for shard in shards]))
            for name in shards[0].embeddings}


def iter_work_units(files: Sequence[Path], models: Sequence[ModelSpec | EmbeddingModel],
                    setting: Setting, setting_index: int = 0, batch_size: int = 32,
                    shard_size: int = DEFAULT_SHARD_SIZE, prepare_threads: int = 1,
                    in_order: bool = False, pass_threads: int | None = None
                    ) -> Iterator[WorkUnit]:
    """Cut one setting's files into work units, each with its chain state at its start, lazily.

    For a stateful effect under the published semantics, unit ``k + 1`` gets
    the chain as it stands after the files of units ``0..k``, computed by an
    effect-only pass (reading and effecting, no model) over unit ``k``'s
    files when unit ``k + 1`` is asked for; an executor submitting units as
    it goes thus starts the first units before the pass has gone further.

    Parameters
    ----------
    files : sequence of Path
        The dataset's files, in dataset order.
    models : sequence of ModelSpec or EmbeddingModel
        Models the units run.
    setting : Setting
        The effect setting.
    setting_index : int
        Position of the setting in the caller's list.
    batch_size : int
        Files per model call.
    shard_size : int
        Files per unit, rounded up to whole batches.
    prepare_threads : int
        Threads each unit reads and effects with.
    in_order : bool
        The units will run one after the other in shard order in this
        process: they share one chain, each continuing where the previous
        one stopped, and no effect-only pass is needed.
    pass_threads : int, optional
        Threads of the effect-only pass (default: ``prepare_threads``).

    Yields
    ------
    WorkUnit
    """
    shards = shard_files(files, shard_size, batch_size)
    chain = setting.new_chain()
    threads = pass_threads or prepare_threads
    for shard_index, shard in enumerate(shards):
        if chain is None or in_order:
            start = chain
        else:
            start = chain.copy() if shard_index else None
        yield WorkUnit(setting_index, setting, shard_index, shard, tuple(models), batch_size,
                       prepare_threads, start, in_order and chain is not None)
        if chain is not None and not in_order and shard_index < len(shards) - 1:
            for _ in prepared_batches(shard, setting, MIN_KERNEL_CLIPS * threads, threads,
                                      chain):
                pass


def _setting_of(unit: WorkUnit) -> int:
    """The lane of a unit: its setting (the units of a setting may continue one chain)."""
    return unit.setting_index


def work_units(files: Sequence[Path], models: Sequence[ModelSpec | EmbeddingModel],
               setting: Setting, setting_index: int = 0, batch_size: int = 32,
               shard_size: int = DEFAULT_SHARD_SIZE, prepare_threads: int = 1,
               in_order: bool = False) -> list[WorkUnit]:
    """The work units of one setting, as a list (see :func:`iter_work_units`)."""
    return list(iter_work_units(files, models, setting, setting_index, batch_size, shard_size,
                                prepare_threads, in_order))


def extract(files: Sequence[Path], models: Sequence[EmbeddingModel | ModelSpec],
            settings: Sequence[Setting], embeddings_dir: str | os.PathLike = "embeddings",
            batch_size: int = 32, force: bool = False, progress: bool = True,
            executor: Executor | None = None,
            shard_size: int = DEFAULT_SHARD_SIZE, skipped: Sequence[str] = ()) -> list[Path]:
    """Extract and write embeddings for several settings, skipping finished ones.

    This process is the only writer: the executor sends back the shards of
    each setting, and the setting's file is written atomically once all of
    them are in, with rows in the order of ``files``.

    Parameters
    ----------
    files : sequence of Path
        Dataset WAV files (see :func:`aesens.dataset.discover`).
    models : sequence of EmbeddingModel or ModelSpec
        Models to run; they share each setting's loaded and effected audio.
        A Dask executor needs :class:`ModelSpec` (its workers load them).
    settings : sequence of Setting
        Settings to extract, each to its own file.
    embeddings_dir : path
        Output folder (``embeddings`` in the working directory by default).
    batch_size : int
        Files per model call.
    force : bool
        Recompute settings that are already complete.
    progress : bool
        Show a progress bar (files over all settings).
    executor : Executor, optional
        Where the work units run (default: this process).
    shard_size : int
        Files per work unit, rounded up to whole batches.
    skipped : sequence of str
        Stems of dataset files left out of ``files`` on purpose (a skip
        list): recorded as the ``skipped_files`` attribute, and an
        embedding counts as complete only with the same skipped files.

    Returns
    -------
    list of Path
        The files written, in the order of ``settings`` (settings skipped
        as complete are not listed).

    Raises
    ------
    AesensError
        If model objects are given to an executor outside this process, the
        output folder is not writable (checked before any work), or a model
        gives NaN or infinite features (nothing of that setting is written).

    Notes
    -----
    A setting file that cannot be read (truncated, not HDF5, a dataset
    unreadable) is set aside as ``<name>.damaged`` with a one-line message,
    and redone.
    """
    executor = executor or InProcessExecutor()
    if not executor.in_process and not all(isinstance(m, ModelSpec) for m in models):
        raise AesensError("a Dask cluster builds the models on its workers: give ModelSpec "
                          "objects, not loaded models")
    files = [Path(path).absolute() for path in files]
    expected = {path.stem for path in files}
    skip_attrs = skipped_attributes(skipped)
    todo: dict[int, list[ModelSpec | EmbeddingModel]] = {}
    n_shards: dict[int, int] = {}
    for index, setting in enumerate(settings):
        path = setting.output_path(embeddings_dir)
        set_aside_damaged_file(path)
        setting_todo = [model for model in models
                        if force or not is_complete(path, model, setting, expected, skip_attrs)]
        if setting_todo:
            todo[index] = setting_todo
            n_shards[index] = len(shard_files(files, shard_size, batch_size))
    if todo:
        safe_files.check_writable(embeddings_dir)
    in_order = getattr(executor, "in_order", False)
    # Units are made as the executor asks for them: a reverb's effect-only pass (out-of-order
    # executors) runs while the first units already embed, and the passes of several
    # settings (each serial) run at once.
    pass_threads = InProcessExecutor().prepare_threads
    per_setting = [iter_work_units(files, setting_todo, settings[index], index, batch_size,
                                   shard_size, executor.prepare_threads, in_order,
                                   pass_threads=pass_threads)
                   for index, setting_todo in todo.items()]
    units = (itertools.chain.from_iterable(per_setting) if in_order
             else iterated_ahead(per_setting, InProcessExecutor().lanes))
    received: dict[int, list[UnitResult]] = {index: [] for index in n_shards}
    written: dict[int, Path] = {}
    # In this process the limit is set here, by this thread, for the units' threads: with
    # OpenBLAS a limit set by another thread after this one has set one does not hold.
    one_blas_thread = _ONE_BLAS_THREAD.held() if executor.in_process else contextlib.nullcontext()
    with tqdm(total=len(files) * len(n_shards), desc="extract", unit="file",
              disable=not progress or not todo) as bar, one_blas_thread:
        for result in executor.map_unordered(run_unit, units, lane=_setting_of):
            raise_if_interrupted()
            bar.update(result.n_files)
            shards = received[result.setting_index]
            shards.append(result)
            if len(shards) == n_shards[result.setting_index]:
                setting = settings[result.setting_index]
                written[result.setting_index] = write_setting(
                    setting, merge_shards(shards), shards[0].attributes,
                    shards[0].settings_attributes, embeddings_dir, len(files), skip_attrs)
                del received[result.setting_index]
    return [written[index] for index in sorted(written)]
