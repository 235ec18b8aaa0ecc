#!/usr/bin/env python
"""Effects in memory (ours) against the published WAV round trip and a plain in-memory loop.

For each of the paper's four effects (one mid-grid value each) and both
effect semantics, three ways of producing the effected audio of the same
3-s stereo files are timed, in milliseconds per clip:

- **WAV round trip**: the published procedure, one file at a time on one
  thread: read with pedalboard's ``AudioFile``, ONE board per setting
  streaming every file in order (1-s chunks, ``reset=False``; the low-pass:
  scipy's ``sosfilt`` per file), write a 16-bit WAV with pedalboard, read it
  back with soundfile.
- **plain loop**: the simplest correct in-memory loop over the libraries, one
  thread. Published semantics: the same reading and board, then the 16-bit
  round trip written out in numpy (clamp, ``rint(x * (2**31 - 1)) >> 16``,
  / 32768). Float semantics: soundfile's reading and a fresh board (or
  ``sosfilt``) per file, no round trip.
- **ours**: the extraction's own batch preparation
  (:func:`aesens.extraction.batches.prepared_batches`, batches of 32) on all
  cores and on one thread: each thread reads its piece of a batch into one
  stacked array and applies the effect's batch function in place (the
  published reverb: one chain through the files in order), then, published,
  the 16-bit round trip in memory.

Ours must equal the plain loop bit for bit in both semantics, and the WAV
round trip's audio bit for bit under the published semantics (checked, the
script fails otherwise). The published reverb's chain alone is also timed
both ways, our kernel (:class:`aesens.effects.paper.ReverbChain`) against
pedalboard's own ``Reverb`` streaming with ``reset=False``, to show which is
faster. Methods are timed in turn within each repeat, so a loaded machine
slows them alike; the medians are printed. Targets: ours at least 3x the
WAV round trip and never slower than the plain loop, in both semantics, on all
cores and on one thread.

Usage: ``python benchmarks/bench_effects.py [--files N] [--repeats R]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pedalboard
import scipy.signal
import soundfile as sf
from common import make_dataset, report
from pedalboard.io import AudioFile

from aesens.dataset import discover
from aesens.effects import EFFECTS, FLOAT, PAPER_EFFECTS, PUBLISHED
from aesens.effects.filters import cheby_lowpass_sos
from aesens.extraction.batches import prepared_batches
from aesens.extraction.executor import InProcessExecutor
from aesens.extraction.setting import Setting

#: Columns of the table: how each method is labelled.
METHODS = ("wav", "loop", "ours1", "ours")


def read_published(path: Path) -> tuple[np.ndarray, int]:
    """A dataset file as the published 2A.2 read it: pedalboard's ``AudioFile``."""
    with AudioFile(str(path)) as audio_file:
        return audio_file.read(audio_file.frames), int(audio_file.samplerate)


def read_float(path: Path) -> tuple[np.ndarray, int]:
    """A dataset file as the models read it: soundfile, float32 ``(channels, samples)``."""
    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    return np.ascontiguousarray(audio.T), rate


class LibraryEffect:
    """A setting's effect through the libraries: one board for all files, or fresh per file."""

    def __init__(self, setting: Setting, one_board: bool) -> None:
        self.setting = setting
        effect = setting.effect
        self.board = None if effect.board_fn is None else effect.board_fn(setting.value)
        self.one_board = one_board

    def __call__(self, audio: np.ndarray, rate: int) -> np.ndarray:
        if self.board is None:  # the low-pass: sosfilt over the whole file, fresh
            sos = cheby_lowpass_sos(self.setting.value, rate)
            return audio if sos is None else scipy.signal.sosfilt(sos, audio, axis=-1)
        board = self.board if self.one_board else self.setting.effect.board_fn(
            self.setting.value)
        return np.concatenate([board(audio[:, start:start + rate], rate, reset=False)
                               for start in range(0, audio.shape[1], rate)], axis=1)


def pcm16_round_trip_numpy(audio: np.ndarray) -> np.ndarray:
    """The 16-bit WAV round trip written out in numpy (float32, clamp, JUCE's scaling)."""
    samples = np.asarray(audio, dtype=np.float32).astype(np.float64)
    codes = np.rint(np.clip(samples, -1.0, 1.0) * 2147483647.0).astype(np.int64) >> 16
    return codes.astype(np.float32) / np.float32(32768.0)


def wav_round_trip(files: list[Path], setting: Setting, scratch: Path) -> list[np.ndarray]:
    """The published processing: one board over all files, a 16-bit WAV each, read back."""
    effect = LibraryEffect(setting, one_board=True)
    read_back = []
    for path in files:
        audio, rate = read_published(path)
        effected = effect(audio, rate)
        target = scratch / path.name
        with AudioFile(str(target), "w", rate, effected.shape[0]) as out:
            out.write(effected)
        samples, _ = sf.read(target, dtype="float32", always_2d=True)
        read_back.append(samples.T)
    return read_back


def plain_loop(files: list[Path], setting: Setting) -> list[np.ndarray]:
    """One file at a time in memory, one thread, through the libraries."""
    if setting.published:
        effect = LibraryEffect(setting, one_board=True)
        return [pcm16_round_trip_numpy(effect(*read_published(path))) for path in files]
    effect = LibraryEffect(setting, one_board=False)
    return [np.asarray(effect(*read_float(path)), dtype=np.float32) for path in files]


def ours(files: list[Path], setting: Setting, threads: int) -> list[np.ndarray]:
    """The extraction's batch preparation, as a work unit runs it."""
    return [clip for _, clips, _ in prepared_batches(files, setting, 32, threads)
            for clip in clips]


def reverb_chains(files: list[Path], value: float) -> dict[str, Callable[[], object]]:
    """The published reverb chain alone over the files' audio: our kernel, pedalboard's."""
    clips = [read_published(path) for path in files]

    def kernel() -> None:
        chain = EFFECTS["reverb"].chain_fn(value)
        for audio, rate in clips:
            chain.process(audio.copy(), rate)

    def plugin() -> None:
        board = pedalboard.Reverb(room_size=value)
        for audio, rate in clips:
            for start in range(0, audio.shape[1], rate):
                board(audio[:, start:start + rate], rate, reset=False)

    return {"kernel": kernel, "plugin": plugin}


def timed_in_turn(functions: dict[str, Callable[[], object]], repeats: int
                  ) -> dict[str, float]:
    """Median seconds of each function, timing all of them in turn within every repeat."""
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def check_equal(label: str, expected: list[np.ndarray], actual: list[np.ndarray]) -> None:
    """Fail unless two lists of clips are equal bit for bit."""
    for index, (reference, audio) in enumerate(zip(expected, actual, strict=True)):
        if reference.shape != audio.shape or not np.array_equal(reference, audio):
            raise SystemExit(f"{label}: clip {index} differs "
                             f"(largest difference {np.abs(reference - audio).max():.2e})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=64, help="3-s stereo clips (default: 64)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs, median (default: 3)")
    args = parser.parse_args(argv)
    threads = InProcessExecutor().prepare_threads
    per_clip: dict[tuple[str, str], dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        files = discover(make_dataset(Path(tmp) / "data", args.files))
        scratch = Path(tmp) / "scratch"
        scratch.mkdir()
        for name in PAPER_EFFECTS:
            effect = EFFECTS[name]
            rank = len(effect.grid) // 2
            for semantics in (PUBLISHED, FLOAT):
                setting = Setting(effect, rank, semantics)
                reference = plain_loop(files, setting)
                check_equal(f"{setting.label} {semantics}: ours, {threads} threads", reference,
                            ours(files, setting, threads))
                check_equal(f"{setting.label} {semantics}: ours, 1 thread", reference,
                            ours(files, setting, 1))
                if semantics == PUBLISHED:
                    check_equal(f"{setting.label}: WAV round trip", reference,
                                wav_round_trip(files, setting, scratch))
                seconds = timed_in_turn({
                    "wav": lambda s=setting: wav_round_trip(files, s, scratch),
                    "loop": lambda s=setting: plain_loop(files, s),
                    "ours1": lambda s=setting: ours(files, s, 1),
                    "ours": lambda s=setting: ours(files, s, threads),
                }, args.repeats)
                per_clip[name, semantics] = {key: 1e3 * value / len(files)
                                             for key, value in seconds.items()}
        value = float(EFFECTS["reverb"].grid[len(EFFECTS["reverb"].grid) // 2])
        chains = timed_in_turn(reverb_chains(files, value), args.repeats)
    print(f"ms per 3-s stereo clip ({args.files} clips, median of {args.repeats}; ours on "
          f"{threads} threads and on 1); every 'ours' equals the plain loop bit for bit, and "
          "under the published semantics the WAV round trip's audio too")
    print(f"{'effect':<16s} {'semantics':<10s} {'WAV':>7s} {'loop':>7s} {'ours':>7s} "
          f"{'ours 1t':>7s} {'WAV/ours':>9s} {'loop/ours':>9s} {'loop/1t':>8s}")
    for semantics in (PUBLISHED, FLOAT):
        totals = {key: sum(per_clip[name, semantics][key] for name in PAPER_EFFECTS)
                  for key in METHODS}
        for name, row in [*((name, per_clip[name, semantics]) for name in PAPER_EFFECTS),
                          ("all four", totals)]:
            print(f"{name:<16s} {semantics:<10s} {row['wav']:7.2f} {row['loop']:7.2f} "
                  f"{row['ours']:7.2f} {row['ours1']:7.2f} {row['wav'] / row['ours']:8.1f}x "
                  f"{row['loop'] / row['ours']:8.1f}x {row['loop'] / row['ours1']:7.1f}x")
            label = f"(a) effects, {name}, {semantics} semantics, per clip"
            report(f"{label}: WAV round trip vs ours", f"{row['wav']:.2f} ms",
                   f"{row['ours']:.2f} ms", row["wav"] / row["ours"], ">= 3x")
            report(f"{label}: plain loop vs ours", f"{row['loop']:.2f} ms",
                   f"{row['ours']:.2f} ms", row["loop"] / row["ours"], ">= 1x")
            report(f"{label}: plain loop vs ours on one thread", f"{row['loop']:.2f} ms",
                   f"{row['ours1']:.2f} ms", row["loop"] / row["ours1"], ">= 1x")
    chain_ms = {key: 1e3 * seconds / args.files for key, seconds in chains.items()}
    print(f"published reverb chain alone, one thread: our kernel {chain_ms['kernel']:.2f} ms, "
          f"pedalboard's Reverb (reset=False) {chain_ms['plugin']:.2f} ms per clip, ratio "
          f"{chain_ms['plugin'] / chain_ms['kernel']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
