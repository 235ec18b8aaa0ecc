#!/usr/bin/env python
"""Effects in memory (batched kernels, threads) against the published WAV round trip per file.

The published scripts streamed every file of a setting in order through ONE
board (1-s chunks, ``reset=False``; the low-pass: ``sosfilt`` per file),
wrote each effected file with ``pedalboard.io.AudioFile`` (16-bit) and read
it back for the model, one file at a time. The reference here does exactly
that in a temporary folder; ours is the extraction's own batch preparation
(:func:`aesens.extract_batches.prepared_batches`) under the published semantics
(each thread of a pool reads its piece of a batch into one stacked array
and applies the effect's batch function in place, vectorised across clips;
the reverb's state runs through the files in order; then the 16-bit round
trip in memory) and under the float semantics (every file fresh, no round
trip). A plain one-thread in-memory loop (pedalboard and scipy clip by
clip, float) is timed too. All read the same 3-s stereo files and cover one
mid-grid value of each of the four effects; ours under the published
semantics must equal the reference's audio bit for bit. Prints milliseconds
per clip (summed over the effects) and the ratio (target: at least 4x).

Usage: ``python benchmarks/bench_effects.py [--files N] [--repeats R]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf
from common import make_dataset, median_seconds, report
from pedalboard.io import AudioFile

from aesens.dataset import discover, load_audio
from aesens.effects import EFFECTS, FLOAT, PAPER_EFFECTS, apply_streaming
from aesens.executor import InProcessExecutor
from aesens.extract_batches import prepared_batches
from aesens.extract_setting import Setting


def settings() -> list[Setting]:
    """One mid-grid setting of each of the paper's effects (published semantics)."""
    return [Setting(EFFECTS[name], len(EFFECTS[name].grid) // 2) for name in PAPER_EFFECTS]


def wav_round_trip(files: list[Path], setting: Setting, scratch: Path) -> list[np.ndarray]:
    """The published processing: one board over all files, a 16-bit WAV each, read back."""
    effect = setting.effect
    board = None if effect.board_fn is None else effect.board_fn(setting.value)
    read_back = []
    for path in files:
        audio, rate = load_audio(path)
        if board is None:
            effected = effect.apply(audio, rate, setting.value)
        else:
            effected = np.concatenate([board(audio[:, start:start + rate], rate, reset=False)
                                       for start in range(0, audio.shape[1], rate)], axis=1)
        target = scratch / path.name
        with AudioFile(str(target), "w", rate, effected.shape[0]) as out:
            out.write(effected)
        samples, _ = sf.read(target, dtype="float32", always_2d=True)
        read_back.append(samples.T)
    return read_back


def in_memory_loop(files: list[Path], setting: Setting) -> None:
    """Read and effect one file at a time in memory, one thread, through the libraries."""
    for path in files:
        audio, rate = load_audio(path)
        apply_streaming(setting.effect, audio, rate, setting.value, chunk_seconds=3600.0)


def ours(files: list[Path], setting: Setting, threads: int) -> None:
    """The extraction's batch preparation, as a work unit runs it."""
    for _ in prepared_batches(files, setting, 32, threads):
        pass


def largest_difference(files: list[Path], setting: Setting, scratch: Path) -> float:
    """Largest difference between ours (published semantics) and the WAV round trip's audio."""
    ours_audio = [clip for _, clips, _ in prepared_batches(files, setting, 32, 4)
                  for clip in clips]
    reference = wav_round_trip(files, setting, scratch)
    return max(float(np.abs(expected - audio).max())
               for expected, audio in zip(reference, ours_audio, strict=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=64, help="3-s stereo clips (default: 64)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs, median (default: 3)")
    args = parser.parse_args(argv)
    threads = InProcessExecutor().prepare_threads
    with tempfile.TemporaryDirectory() as tmp:
        files = discover(make_dataset(Path(tmp) / "data", args.files))
        scratch = Path(tmp) / "scratch"
        scratch.mkdir()
        totals = {"wav": 0.0, "loop": 0.0, "ours1": 0.0, "ours": 0.0, "float": 0.0}
        for setting in settings():
            floats = replace(setting, semantics=FLOAT)
            ours(files[:32], setting, threads)  # warm-up: compiled kernels load once
            times = {
                "wav": median_seconds(lambda s=setting: wav_round_trip(files, s, scratch),
                                      args.repeats),
                "loop": median_seconds(lambda s=setting: in_memory_loop(files, s), args.repeats),
                "ours1": median_seconds(lambda s=setting: ours(files, s, 1), args.repeats),
                "ours": median_seconds(lambda s=setting: ours(files, s, threads), args.repeats),
                "float": median_seconds(lambda s=floats: ours(files, s, threads), args.repeats),
            }
            per_clip = {key: 1e3 * value / len(files) for key, value in times.items()}
            difference = largest_difference(files, setting, scratch)
            print(f"{setting.label:<24s} WAV round trip {per_clip['wav']:6.2f} ms, in-memory "
                  f"loop {per_clip['loop']:6.2f} ms, ours published {per_clip['ours1']:6.2f} ms "
                  f"(1 thread) / {per_clip['ours']:6.2f} ms ({threads} threads), ours float "
                  f"{per_clip['float']:6.2f} ms ({threads} threads) per clip; largest "
                  f"difference to the WAV round trip {difference:.1e}")
            for key, value in per_clip.items():
                totals[key] += value
    print(f"{'all four effects':<24s} WAV round trip {totals['wav']:6.2f} ms, in-memory loop "
          f"{totals['loop']:6.2f} ms ({totals['wav'] / totals['loop']:.1f}x), ours "
          f"{totals['ours1']:6.2f} ms on 1 thread ({totals['wav'] / totals['ours1']:.1f}x), "
          f"{totals['ours']:6.2f} ms on {threads} ({totals['wav'] / totals['ours']:.1f}x), float "
          f"semantics {totals['float']:6.2f} ms on {threads} per clip")
    report("(a) effects in memory vs WAV round trip", f"{totals['wav']:.1f} ms/clip",
           f"{totals['ours']:.1f} ms/clip", totals["wav"] / totals["ours"], ">= 4x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
