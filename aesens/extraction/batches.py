"""Batches of a setting's audio for the models: read, effected, and prepared ahead.

Files are read with the setting's reader (:attr:`Setting.reader
<aesens.extraction.setting.Setting.reader>`) and effected in memory (effected
audio never touches disk). Under the published semantics a stateful effect
(the reverb) streams the files in order through one chain
(:class:`ChainTurns`), and every effected clip goes through the 16-bit WAV
round trip (:mod:`aesens.effects.roundtrip`).

A small thread pool reads and effects the next batches while the models
embed the current one (soundfile, pedalboard, scipy and the
:mod:`aesens.effects.dsp` kernels release the GIL); each thread's piece of a batch
goes through the effect's batch function in one call.
"""

from __future__ import annotations

import sys
import threading
import warnings
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from aesens.dataset import load_audio
from aesens.effects.filters import MIN_KERNEL_CLIPS
from aesens.effects.paper import ReverbChain
from aesens.effects.roundtrip import pcm16_roundtrip
from aesens.errors import AesensError
from aesens.extraction.setting import Setting

#: Peak level under which a file counts as silent (about -120 dBFS).
SILENCE_PEAK = 1e-6


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


def _references(arrays: list[np.ndarray], index: int) -> int:
    """How many references ``arrays[index]`` has (for :class:`StackPool`)."""
    return sys.getrefcount(arrays[index])


#: What :func:`_references` gives for an array that only its list refers to.
_UNREFERENCED = _references([np.empty(0)], 0)


class StackPool:
    """Stacked batch arrays, handed out again once nothing refers to them any more.

    A batch of IRMAS clips stacked is tens of MB. Allocated afresh for every
    batch, such a block goes back to the kernel when freed (the C allocator
    keeps only blocks under 32 MiB, and only in a thread that lives on), and
    every page of the next one is faulted in and zeroed again, on a virtual
    machine sometimes backed anew by its host: that made the preparation on
    one thread (batches of 32 clips, 34 MB) several times slower than on two
    in some runs. The pool keeps the arrays it made, across calls, and
    gives one out again when neither it nor any view of it is referred to
    (a numpy view refers to its base array), so clips a caller keeps are
    never overwritten.

    Parameters
    ----------
    max_bytes : int
        Most bytes of arrays kept; a new array that does not fit replaces
        free arrays of other shapes, or is not kept.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._arrays: list[np.ndarray] = []
        self._lock = threading.Lock()

    def take(self, shape: tuple[int, ...]) -> np.ndarray:
        """An uninitialised float32 array of ``shape``: a free kept one, else a new one."""
        with self._lock:
            free = []
            for index in range(len(self._arrays)):  # no name may hold the arrays checked
                if _references(self._arrays, index) == _UNREFERENCED:
                    if self._arrays[index].shape == shape:
                        return self._arrays[index]
                    free.append(index)
            array = np.empty(shape, dtype=np.float32)
            kept = sum(held.nbytes for held in self._arrays)
            while free and kept + array.nbytes > self.max_bytes:
                kept -= self._arrays.pop(free.pop()).nbytes  # from the end: indices stay valid
            if kept + array.nbytes <= self.max_bytes:
                self._arrays.append(array)
            return array


#: The stacked arrays of every batch preparation in this process.
STACKS = StackPool(max_bytes=256 * 2**20)


Batch = tuple[list[str], list[np.ndarray], int]


def _read_piece(files: Sequence[Path], reader: str, stacks: StackPool | None = None
                ) -> tuple[np.ndarray, list[tuple[np.ndarray, int]]]:
    """Read files into one stacked array (from ``stacks``, if given) where they all fit it; the
    clips and their rates."""
    first, sample_rate = read_clip(files[0], reader=reader)
    shape = (len(files), *first.shape)
    stacked = np.empty(shape, dtype=np.float32) if stacks is None else stacks.take(shape)
    stacked[0] = first
    loaded = [(stacked[0], sample_rate)]
    for index, path in enumerate(files[1:], start=1):
        loaded.append(read_clip(path, out=stacked[index], reader=reader))
    return stacked, loaded


def prepare_batch(files: Sequence[Path], setting: Setting, turns: ChainTurns | None = None,
                  piece: int = 0, stacks: StackPool | None = None) -> list[Batch]:
    """Read and effect a batch of files, split into runs of one sample rate.

    When every file has the shape and rate of the first (IRMAS: 3-s stereo
    at 44.1 kHz), the files are read into one stacked array and the effect
    runs over it in place, in one call and without new memory; otherwise
    files are grouped by sample rate and shape as they come. Under the
    published semantics a stateful effect goes through ``turns`` (this
    batch being piece ``piece`` of the chain), and every effected clip then
    through the 16-bit WAV round trip. ``stacks`` lends the stacked array.

    Returns
    -------
    list of (stems, clips, sample rate)
        Consecutive runs of the files; a model call never mixes sample rates.
    """
    try:
        return _prepare_batch(files, setting, turns, piece, stacks)
    except AesensError as error:
        if any(str(path) in str(error) for path in files):
            raise
        culprit = files[0] if len(files) == 1 else _offending_file(files, setting)
        where = str(culprit) if culprit is not None else (
            f"{files[0]} (or one of the {len(files) - 1} files after it)")
        raise AesensError(f"{where}, {setting.label}: {error}") from None


def _offending_file(files: Sequence[Path], setting: Setting) -> Path | None:
    """The first of ``files`` whose effect fails on its own (a fresh chain for a stateful
    effect: what it refuses, a sample rate or channel count, does not depend on the state).

    Only run once a batch has failed, to name the file in the error.
    """
    for path in files:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                audio, sample_rate = read_clip(path, reader=setting.reader)
            chain = setting.new_chain()
            if chain is not None:
                chain.process(audio, sample_rate)
            elif setting.effect is not None:
                setting.effect.apply(audio, sample_rate, setting.value)
        except AesensError:
            return path
    return None


def _prepare_batch(files: Sequence[Path], setting: Setting, turns: ChainTurns | None,
                   piece: int, stacks: StackPool | None) -> list[Batch]:
    """:func:`prepare_batch` without naming the files in the effect's errors."""
    stems = [path.stem for path in files]
    try:
        stacked, loaded = _read_piece(files, setting.reader, stacks)
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
    :data:`~aesens.effects.filters.MIN_KERNEL_CLIPS` files (one per thread when the
    batch is large enough); the pieces of the next batches are read and
    effected while the caller uses the current one, enough batches ahead to
    keep every thread busy, so at most ``2 + threads`` pieces' audio is in
    memory at once whatever the dataset size (their arrays lent by
    :data:`STACKS`, which keeps up to 256 MiB of them for the next batches
    and calls). A stateful effect under the
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
                                          turns, n_pieces, STACKS))
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
