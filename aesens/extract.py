"""Extraction stages 2A.1 (original audio) and 2A.2 (effected audio), as work units.

The work of one setting (an effect at a grid rank, or the original audio)
is cut into work units of consecutive dataset files (:class:`WorkUnit`).
:func:`run_unit` is all a unit does: read its files, apply the effect in
memory (effected audio never touches disk), embed the clips in batches with
each model of the unit and return the features and keys
(:class:`UnitResult`); it writes nothing. An executor
(:mod:`aesens.executor`) runs the units, in this process or on a Dask
cluster, and streams their results back to :func:`extract`, the one writer:
once every shard of a setting is back it writes the setting's file
atomically (``embeddings/embeddings_<effect>_<param>.h5``, original audio:
``embeddings/embeddings.h5``, under ``irmas/<embedding>/``) with rows in
the dataset's file order. Shards hold whole batches, so every batch, and
therefore every row, is the same bit for bit whatever the executor and
shard size.

Effected audio follows the published scripts by default
(:data:`~aesens.effects.PUBLISHED`): each effected clip goes through the
16-bit WAV round trip the published files did (:mod:`aesens.roundtrip`),
and a stateful effect (the reverb) streams every file of a setting in
dataset order through one chain, as the published script's one board did.
In this process the units of a setting run in order and continue one
chain; on a cluster a unit starts from the chain's state at its first file,
computed by an effect-only pass over the files before it
(:func:`iter_work_units`). The audio is the same whatever the shard size,
batch size or executor.
:data:`~aesens.effects.FLOAT` processes every file fresh, in float.

Inside a unit, a small thread pool reads and effects the next batches while
the models embed the current one (soundfile, pedalboard, scipy and the
:mod:`aesens.dsp` kernels release the GIL); each thread's piece of a batch
goes through the effect's batch function in one call.
Models given as :class:`ModelSpec` are built once per process and kept, so
a Dask worker loads each model once for all its units.

Settings whose file already holds a complete embedding for exactly the
dataset's files, computed under the same settings attributes (effect
semantics, model framing: :func:`expected_attributes`), are skipped, so an
interrupted run resumes where it stopped; an embedding computed under other
settings is redone, with a one-line message saying why. A setting file that
cannot be read (truncated, not HDF5) is set aside as ``<name>.damaged`` and
redone. Nothing non-finite is written: files with NaN or infinite samples are
refused when read (a skip list leaves them out and is recorded as the
``skipped_files`` attribute), and so are NaN or infinite features. The
output folder is checked for writing before any work.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import warnings
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

import aesens
from aesens import store
from aesens.dataset import load_audio
from aesens.effects import PUBLISHED, SEMANTICS, Effect
from aesens.effects.batching import MIN_KERNEL_CLIPS
from aesens.effects.paper import ReverbChain
from aesens.errors import AesensError
from aesens.executor import Executor, InProcessExecutor
from aesens.models import EmbeddingModel, ModelSpec, loaded_model, settings_attributes
from aesens.roundtrip import pcm16_roundtrip

#: Peak level under which a file counts as silent (about -120 dBFS).
SILENCE_PEAK = 1e-6
#: Files per work unit (rounded up to whole batches).
DEFAULT_SHARD_SIZE = 512


@dataclass(frozen=True)
class Setting:
    """One effect setting to extract: an effect at a grid rank, or the original audio.

    Attributes
    ----------
    effect : Effect or None
        The effect, ``None`` for the original audio (read as it is).
    rank : int or None
        Index of the parameter value in the effect's grid.
    semantics : str
        :data:`~aesens.effects.PUBLISHED` (one chain over all files in
        dataset order, then the 16-bit WAV round trip) or
        :data:`~aesens.effects.FLOAT` (each file fresh, float audio).
    """

    effect: Effect | None = None
    rank: int | None = None
    semantics: str = PUBLISHED

    def __post_init__(self) -> None:
        if self.semantics not in SEMANTICS:
            raise AesensError(f"unknown effect semantics {self.semantics!r}; choose one of "
                              f"{', '.join(SEMANTICS)}")

    @property
    def published(self) -> bool:
        """Whether effected audio follows the published scripts (chain and 16-bit round trip)."""
        return self.effect is not None and self.semantics == PUBLISHED

    def new_chain(self) -> ReverbChain | None:
        """A fresh chain of a stateful effect under the published semantics, else ``None``."""
        if not self.published or self.effect.chain_fn is None:
            return None
        return self.effect.chain_fn(self.value)

    @property
    def reader(self) -> str:
        """Whose float conversion of the dataset's 16-bit files the setting reads with.

        The published 2A.2 streamed each file through the board with
        pedalboard's ``AudioFile`` (16-bit samples / 32767); the original
        audio and the float semantics read as the models do (/ 32768).
        """
        return "pedalboard" if self.published else "soundfile"

    @property
    def attributes(self) -> dict[str, str]:
        """Settings attributes of the setting's embeddings (none for the original audio)."""
        if self.effect is None:
            return {}
        return {"effect_semantics": self.semantics, "effect_reader": self.reader}

    @property
    def value(self) -> float | None:
        """The parameter value, or ``None`` for the original audio."""
        return None if self.effect is None else float(self.effect.grid[self.rank])

    @property
    def param(self) -> str:
        """The parameter string, or ``"none"`` for the original audio."""
        return "none" if self.effect is None else self.effect.param_strings[self.rank]

    @property
    def label(self) -> str:
        """Short description for progress bars and messages."""
        return "original" if self.effect is None else f"{self.effect.name} {self.param}"

    def output_path(self, embeddings_dir: str | os.PathLike) -> Path:
        """The HDF5 file this setting is written to."""
        if self.effect is None:
            return store.original_path(embeddings_dir)
        return store.effected_path(self.effect.name, self.param, embeddings_dir)


def expected_attributes(setting: Setting, model: ModelSpec | EmbeddingModel) -> dict:
    """The settings attributes an embedding must carry to count as complete.

    The setting's (effect semantics) and the model's
    (:func:`aesens.models.settings_attributes`, e.g. OpenL3's framing).
    """
    return {**setting.attributes, **settings_attributes(model)}


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
        Model name -> ``(features (rows, dim) float32, keys (rows,) str)``.
    attributes : dict
        Model name -> metadata stored next to its features.
    settings_attributes : dict
        Model name -> the settings attributes of :func:`expected_attributes`.
    """

    setting_index: int
    shard_index: int
    n_files: int
    embeddings: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    attributes: dict[str, dict] = field(default_factory=dict)
    settings_attributes: dict[str, dict] = field(default_factory=dict)


def check_ranks(effect: Effect, first: int, last: int) -> range:
    """Validate inclusive parameter ranks ``first..last`` of an effect's grid.

    Raises
    ------
    AesensError
        If ``first > last`` or a rank lies outside ``0..len(grid) - 1``.
    """
    n_values = len(effect.grid)
    if first > last:
        raise AesensError(f"rank range {first}..{last} is empty: 'from' must not exceed 'to'")
    if first < 0 or last >= n_values:
        raise AesensError(f"ranks {first}..{last} are outside the {effect.name} grid; use ranks "
                          f"0..{n_values - 1} (pass -1 -1 to print the grid)")
    return range(first, last + 1)


def read_clip(path: Path, out: np.ndarray | None = None,
              reader: str = "soundfile") -> tuple[np.ndarray, int]:
    """Load one dataset file (into ``out`` if it fits) with ``reader``'s conversion, warning if
    it is silent."""
    audio, sample_rate = load_audio(path, out=out, reader=reader)
    if max(float(audio.max()), -float(audio.min())) < SILENCE_PEAK:
        warnings.warn(f"{path} is silent; its embeddings are kept but its effect path is "
                      "constant (no CCA direction)", stacklevel=2)
    return audio, sample_rate


def apply_effect(setting: Setting, clips: list[np.ndarray], sample_rate: int) -> list[np.ndarray]:
    """Apply a setting's effect to clips of one sample rate, equal to per-clip ``Effect.apply``.

    Clips of one shape go through :meth:`Effect.apply_batch` in a single call.
    This is the effect alone: no chain across files and no 16-bit round trip.
    """
    effect = setting.effect
    if effect is None:
        return clips
    if len({clip.shape for clip in clips}) == 1:
        stacked = np.stack(clips).astype(np.float32, copy=False)
        return list(effect.apply_batch(stacked, sample_rate, setting.value, out=stacked))
    return [effect.apply(clip, sample_rate, setting.value) for clip in clips]


class ChainTurns:
    """A stateful effect's chain, applied to consecutive pieces of files strictly in order.

    Threads read their pieces in parallel; :meth:`run` lets piece ``i``
    through the chain only after piece ``i - 1``. Pieces must be started in
    order (a thread pool's queue does that), so no piece waits for one that
    has not started.

    Parameters
    ----------
    chain : ReverbChain
        The chain, updated in place.
    """

    def __init__(self, chain: ReverbChain) -> None:
        self.chain = chain
        self._next = 0
        self._turn = threading.Condition()

    def run(self, piece: int, clips: list[tuple[np.ndarray, int]] | None) -> list[np.ndarray]:
        """Pass piece ``piece``'s ``(audio, sample_rate)`` clips through the chain, in order.

        ``None`` (the piece failed to read) only passes the turn on.
        """
        with self._turn:
            self._turn.wait_for(lambda: self._next == piece)
        try:
            return [] if clips is None else [self.chain.process(audio, rate)
                                             for audio, rate in clips]
        finally:
            with self._turn:
                self._next += 1
                self._turn.notify_all()


Batch = tuple[list[str], list[np.ndarray], int]


def _read_piece(files: Sequence[Path],
                reader: str) -> tuple[np.ndarray, list[tuple[np.ndarray, int]]]:
    """Read files into one stacked array where they all fit it; the clips and their rates."""
    first, sample_rate = read_clip(files[0], reader=reader)
    stacked = np.empty((len(files), *first.shape), dtype=np.float32)
    stacked[0] = first
    loaded = [(stacked[0], sample_rate)]
    for index, path in enumerate(files[1:], start=1):
        loaded.append(read_clip(path, out=stacked[index], reader=reader))
    return stacked, loaded


def prepare_batch(files: Sequence[Path], setting: Setting, turns: ChainTurns | None = None,
                  piece: int = 0) -> list[Batch]:
    """Read and effect a batch of files, split into runs of one sample rate.

    When every file has the shape and rate of the first (IRMAS: 3-s stereo
    at 44.1 kHz), the files are read into one stacked array and the effect
    runs over it in place, in one call and without new memory; otherwise
    files are grouped by sample rate and shape as they come. Under the
    published semantics a stateful effect goes through ``turns`` (this
    batch being piece ``piece`` of the chain), and every effected clip then
    through the 16-bit WAV round trip.

    Returns
    -------
    list of (stems, clips, sample rate)
        Consecutive runs of the files; a model call never mixes sample rates.
    """
    try:
        return _prepare_batch(files, setting, turns, piece)
    except AesensError as error:
        if any(str(path) in str(error) for path in files):
            raise
        where = str(files[0]) if len(files) == 1 else (
            f"{files[0]} (or one of the {len(files) - 1} files after it)")
        raise AesensError(f"{where}, {setting.label}: {error}") from None


def _prepare_batch(files: Sequence[Path], setting: Setting, turns: ChainTurns | None,
                   piece: int) -> list[Batch]:
    """:func:`prepare_batch` without naming the files in the effect's errors."""
    stems = [path.stem for path in files]
    try:
        stacked, loaded = _read_piece(files, setting.reader)
    except BaseException:
        if turns is not None:
            turns.run(piece, None)
        raise
    sample_rate = loaded[0][1]
    uniform = all(rate == sample_rate and audio.base is stacked for audio, rate in loaded[1:])
    if turns is not None:
        effected = turns.run(piece, loaded)
        loaded = [(audio, rate) for audio, (_, rate) in zip(effected, loaded, strict=True)]
        uniform = uniform and all(audio.base is stacked for audio, _ in loaded)
    elif uniform and setting.effect is not None:
        setting.effect.apply_batch(stacked, sample_rate, setting.value, out=stacked)
    if uniform:
        if setting.published:
            pcm16_roundtrip(stacked, out=stacked)
        return [(stems, list(stacked), sample_rate)]
    runs: list[Batch] = []
    for stem, (audio, rate) in zip(stems, loaded, strict=True):
        if not runs or runs[-1][2] != rate:
            runs.append(([], [], rate))
        runs[-1][0].append(stem)
        runs[-1][1].append(audio)
    if turns is None:
        runs = [(run_stems, apply_effect(setting, clips, rate), rate)
                for run_stems, clips, rate in runs]
    if setting.published:
        runs = [(run_stems, [pcm16_roundtrip(clip) for clip in clips], rate)
                for run_stems, clips, rate in runs]
    return runs


def prepared_batches(files: Sequence[Path], setting: Setting, batch_size: int,
                     threads: int, chain: ReverbChain | None = None) -> Iterator[Batch]:
    """Yield the effected batches of ``files`` in order, prepared by ``threads`` threads ahead.

    Each batch of ``batch_size`` files is cut into pieces of at least
    :data:`~aesens.effects.MIN_KERNEL_CLIPS` files (one per thread when the
    batch is large enough); the pieces of the next batches are read and
    effected while the caller uses the current one, enough batches ahead to
    keep every thread busy, so at most ``2 + threads`` pieces' audio is in
    memory at once whatever the dataset size. A stateful effect under the
    published semantics continues ``chain`` (updated in place; by default a
    fresh one) through the files in order.
    """
    if chain is None:
        chain = setting.new_chain()
    turns = None if chain is None else ChainTurns(chain)
    batches = [files[start:start + batch_size] for start in range(0, len(files), batch_size)]
    pieces_per_batch = max(1, min(threads, batch_size // MIN_KERNEL_CLIPS))
    ahead_batches = max(1, -(-threads // pieces_per_batch))
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="aesens-prepare")
    ahead: deque[list[Future[list[Batch]]]] = deque()
    n_pieces = 0
    try:
        for batch in batches:
            size = -(-len(batch) // pieces_per_batch)
            pieces = []
            for first in range(0, len(batch), size):
                pieces.append(pool.submit(prepare_batch, batch[first:first + size], setting,
                                          turns, n_pieces))
                n_pieces += 1
            ahead.append(pieces)
            if len(ahead) > ahead_batches:
                yield from _joined(ahead.popleft())
        while ahead:
            yield from _joined(ahead.popleft())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _joined(pieces: list[Future[list[Batch]]]) -> list[Batch]:
    """The runs of a batch's prepared pieces, neighbouring runs of one sample rate joined."""
    runs: list[Batch] = []
    for piece in pieces:
        for stems, clips, sample_rate in piece.result():
            if runs and runs[-1][2] == sample_rate:
                runs[-1][0].extend(stems)
                runs[-1][1].extend(clips)
            else:
                runs.append((stems, clips, sample_rate))
    return runs


def run_unit(unit: WorkUnit) -> UnitResult:
    """Read, effect and embed one work unit's files; write nothing.

    This is the function the executors run (on Dask workers too): models
    given as :class:`ModelSpec` are loaded once per process. BLAS runs on
    one thread during the unit, as on Dask's workers: OpenBLAS sums in a
    different order with more threads (the MFCC rows would differ in their
    last bits), and batches already use the cores in parallel.
    """
    models = [loaded_model(model) if isinstance(model, ModelSpec) else model
              for model in unit.models]
    rows: dict[str, list[np.ndarray]] = {model.name: [] for model in models}
    keys: dict[str, list[str]] = {model.name: [] for model in models}
    chain = unit.chain if unit.chain is None or unit.chain_in_order else unit.chain.copy()
    batches = prepared_batches(unit.files, unit.setting, unit.batch_size, unit.prepare_threads,
                               chain)
    with contextlib.closing(batches), threadpool_limits(limits=1, user_api="blas"):
        for stems, clips, sample_rate in batches:
            for model in models:
                for stem, embedding in zip(stems, model.embed(clips, sample_rate), strict=True):
                    rows[model.name].append(embedding)
                    keys[model.name].extend([stem] * len(embedding))
    result = UnitResult(unit.setting_index, unit.shard_index, len(unit.files))
    for model in models:
        result.embeddings[model.name] = (np.concatenate(rows[model.name]).astype(np.float32),
                                         np.array(keys[model.name]))
        result.attributes[model.name] = {**model.metadata(),
                                         "frame_level": bool(model.frame_level)}
        result.settings_attributes[model.name] = expected_attributes(unit.setting, model)
        if str(result.attributes[model.name].get("device", "")).startswith("cuda"):
            import torch

            result.attributes[model.name]["cudnn_tf32"] = bool(torch.backends.cudnn.allow_tf32)
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


def work_units(files: Sequence[Path], models: Sequence[ModelSpec | EmbeddingModel],
               setting: Setting, setting_index: int = 0, batch_size: int = 32,
               shard_size: int = DEFAULT_SHARD_SIZE, prepare_threads: int = 1,
               in_order: bool = False) -> list[WorkUnit]:
    """The work units of one setting, as a list (see :func:`iter_work_units`)."""
    return list(iter_work_units(files, models, setting, setting_index, batch_size, shard_size,
                                prepare_threads, in_order))


def embed_files(files: Sequence[Path], models: Sequence[EmbeddingModel | ModelSpec],
                setting: Setting, batch_size: int = 32, progress: bool = True,
                shard_size: int = DEFAULT_SHARD_SIZE
                ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Embed every file of the dataset under one setting with one or more models, in memory.

    Parameters
    ----------
    files : sequence of Path
        Dataset WAV files.
    models : sequence of EmbeddingModel or ModelSpec
        Models sharing the loaded and effected audio.
    setting : Setting
        Effect setting (or the original audio).
    batch_size : int
        Files per model call.
    progress : bool
        Show a tqdm progress bar.
    shard_size : int
        Files per work unit (the progress bar's step).

    Returns
    -------
    dict
        Model name -> ``(features (rows, dim) float32, keys (rows,) str)``.
    """
    executor = InProcessExecutor()
    units = work_units(files, models, setting, 0, batch_size, shard_size,
                       executor.prepare_threads, in_order=True)
    shards = []
    with tqdm(total=len(files), desc=setting.label, unit="file", disable=not progress,
              leave=False) as bar:
        for result in executor.map_unordered(run_unit, units):
            shards.append(result)
            bar.update(result.n_files)
    return merge_shards(shards)


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
        _set_aside_if_damaged(path)
        setting_todo = [model for model in models
                        if force or not _complete(path, model, setting, expected, skip_attrs)]
        if setting_todo:
            todo[index] = setting_todo
            n_shards[index] = len(shard_files(files, shard_size, batch_size))
    if todo:
        store.check_writable(embeddings_dir)
    in_order = getattr(executor, "in_order", False)
    # Units are made as the executor asks for them: a reverb's effect-only pass (out-of-order
    # executors) runs while the first units already embed.
    units = (unit for index, setting_todo in todo.items()
             for unit in iter_work_units(files, setting_todo, settings[index], index, batch_size,
                                         shard_size, executor.prepare_threads, in_order,
                                         pass_threads=InProcessExecutor().prepare_threads))
    received: dict[int, list[UnitResult]] = {index: [] for index in n_shards}
    written: dict[int, Path] = {}
    with tqdm(total=len(files) * len(n_shards), desc="extract", unit="file",
              disable=not progress or not todo) as bar:
        for result in executor.map_unordered(run_unit, units):
            bar.update(result.n_files)
            shards = received[result.setting_index]
            shards.append(result)
            if len(shards) == n_shards[result.setting_index]:
                setting = settings[result.setting_index]
                written[result.setting_index] = _write_setting(setting, shards, embeddings_dir,
                                                               len(files), skip_attrs)
                del received[result.setting_index]
    return [written[index] for index in sorted(written)]


#: Attribute listing the dataset files a skip list left out (a JSON list of stems).
SKIPPED_ATTR = "skipped_files"


def skipped_attributes(skipped: Sequence[str]) -> dict[str, str]:
    """The attribute recording the files a skip list left out (none when nothing was skipped)."""
    return {SKIPPED_ATTR: json.dumps(sorted(skipped))} if skipped else {}


def _set_aside_if_damaged(path: Path) -> None:
    """Move an unreadable setting file to ``<name>.damaged`` and say so in one line."""
    moved = store.set_aside_if_damaged(path, group=store.DATASET_GROUP)
    if moved is not None:
        target, reason = moved
        print(f"{path}: cannot be read ({reason}); set aside as {target.name}, recomputing it",
              file=sys.stderr)


def _complete(path: Path, model: ModelSpec | EmbeddingModel, setting: Setting,
              expected: set[str], skip_attrs: dict[str, str]) -> bool:
    """Whether ``path`` holds the model's complete embedding under the expected settings.

    An embedding computed under other settings attributes is reported on
    stderr in one line (it is then redone).
    """
    reason = store.incomplete_reason(path, model.name, expected,
                                     {**expected_attributes(setting, model), **skip_attrs})
    if reason is not None and reason.startswith(store.MISMATCH_PREFIX):
        print(f"{path}: {model.name} {reason}; recomputing it", file=sys.stderr)
    return reason is None


def check_finite(setting: Setting, name: str, features: np.ndarray, keys: np.ndarray,
                 path: Path) -> None:
    """Refuse features with NaN or infinite values before they are written.

    Raises
    ------
    AesensError
        Naming the model, the setting, its file and the first files concerned.
    """
    bad = ~np.isfinite(features).all(axis=1)
    if bad.any():
        stems = list(dict.fromkeys(keys[bad]))
        raise AesensError(f"{name} gave NaN or infinite features for {setting.label} "
                          f"({len(stems)} file(s), first: {stems[0]}); nothing was written to "
                          f"{path}: leave those files out with --skip-files LIST.txt, or report "
                          "the model's failure on them")


def _write_setting(setting: Setting, shards: list[UnitResult],
                   embeddings_dir: str | os.PathLike, n_files: int,
                   skip_attrs: dict[str, str]) -> Path:
    """Write one setting's merged shards; each embedding is replaced atomically.

    Every model's features are checked (:func:`check_finite`) before any is written.
    """
    path = setting.output_path(embeddings_dir)
    merged = merge_shards(shards)
    for name, (features, keys) in merged.items():
        check_finite(setting, name, features, keys, path)
    for name, (features, keys) in merged.items():
        attrs = {**shards[0].attributes[name], "aesens_version": aesens.__version__,
                 "n_files": n_files, "effect": setting.effect.name if setting.effect else "none",
                 "param": setting.param, **shards[0].settings_attributes[name], **skip_attrs}
        store.write_embeddings(path, name, features, keys, attrs)
    return path


def list_grid(effect: Effect) -> str:
    """A printable table of an effect's grid: rank, value and parameter string."""
    lines = [f"{effect.name}: {len(effect.grid)} settings (ranks 0..{len(effect.grid) - 1})"]
    lines += [f"{rank:4d}  {param}" for rank, param in enumerate(effect.param_strings)]
    return "\n".join(lines)


def effected_wav_dir(setting: Setting, basedir: str | os.PathLike = ".") -> Path:
    """Folder of a setting's effected WAVs, as the published 2A.2 kept them (embedding ``none``)."""
    return (Path(basedir) / "datasets" / "audio-embeddings"
            / f"irmas-wav-{setting.effect.name}_{setting.param}")


def write_effected_wavs(files: Sequence[Path], setting: Setting,
                        basedir: str | os.PathLike = ".", progress: bool = True) -> int:
    """Apply a setting's effect only and keep the effected files, as the published 2A.2 did.

    Every file is effected under the published semantics (a stateful effect
    streams all files in dataset order through one chain) and written with
    ``pedalboard.io.AudioFile(path, "w", sample_rate, channels)`` (16-bit
    PCM) to ``<basedir>/datasets/audio-embeddings/irmas-wav-<effect>_<param>/
    <instrument>/<file>.wav``, each atomically. Files already there are
    kept, so an interrupted run resumes (a stateful effect still runs over
    them to carry its state on).

    Parameters
    ----------
    files : sequence of Path
        Dataset WAV files in dataset order.
    setting : Setting
        An effect setting under the published semantics.
    basedir : path
        Folder holding ``datasets/``.
    progress : bool
        Show a progress bar.

    Returns
    -------
    int
        Files written (not counting those already there).

    Raises
    ------
    AesensError
        For the original audio or the float semantics (the published WAVs are 16-bit files
        of the published semantics).
    """
    from pedalboard.io import AudioFile

    if not setting.published:
        raise AesensError("embedding 'none' keeps the published 16-bit WAVs: use it with an "
                          "effect and --effect-semantics published")
    folder = store.check_writable(effected_wav_dir(setting, basedir))
    chain = setting.new_chain()
    written = 0
    for path in tqdm(files, desc=setting.label, unit="file", disable=not progress):
        target = folder / path.parent.name / path.name
        if chain is None and target.exists():
            continue
        audio, sample_rate = read_clip(path, reader=setting.reader)
        if chain is not None:
            audio = chain.process(audio, sample_rate)
        else:
            audio = setting.effect.apply(audio, sample_rate, setting.value)
        if target.exists():
            continue
        with store.atomic_file(target) as tmp, \
                AudioFile(str(tmp), "w", sample_rate, audio.shape[0]) as out:
            out.write(audio)
        written += 1
    return written
