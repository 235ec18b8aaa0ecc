#!/usr/bin/env python
"""Effects in memory (batched kernels, threads) against a WAV round trip per effected file.

The published scripts read each file, streamed it through the effect, wrote
the effected audio to a WAV file and read it back for the model, one file
at a time. The reference here does exactly that (1-s streaming, 16-bit WAV
in a temporary folder); ours is the extraction's own batch preparation
(:func:`aesens.extract.prepared_batches`: each thread of a pool reads its
piece of a batch into one stacked array and applies the effect's batch
function in place, vectorised across clips). A plain one-thread in-memory
loop (pedalboard and scipy clip by clip) and ours on one thread are timed
too. All read the same 3-s stereo files and cover one mid-grid value of each
of the four effects; ours must equal the reference's effected audio up to
the WAV file's 16-bit rounding. Prints milliseconds per clip (summed over
the effects) and the ratio (target: at least 4x).

Usage: ``python benchmarks/bench_effects.py [--files N] [--repeats R]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from common import make_dataset, median_seconds, report

from aesens.dataset import discover, load_audio
from aesens.effects import EFFECTS, apply_streaming
from aesens.executor import InProcessExecutor
from aesens.extract import Setting, prepared_batches


def settings() -> list[Setting]:
    """One mid-grid setting of every effect."""
    return [Setting(effect, len(effect.grid) // 2) for effect in EFFECTS.values()]


def wav_round_trip(files: list[Path], setting: Setting, scratch: Path) -> None:
    """The published processing: read, stream through the effect, write a WAV, read it back."""
    for path in files:
        audio, rate = load_audio(path)
        effected = apply_streaming(setting.effect, audio, rate, setting.value)
        target = scratch / path.name
        sf.write(target, effected.T, rate)
        load_audio(target)


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
    """Largest difference between ours and the WAV round trip's effected audio."""
    ours_audio = [clip for _, clips, _ in prepared_batches(files, setting, 32, 1)
                  for clip in clips]
    difference = 0.0
    for path, audio in zip(files, ours_audio, strict=True):
        wav_round_trip([path], setting, scratch)
        reference, _ = load_audio(scratch / path.name)
        difference = max(difference, float(np.abs(reference - audio).max()))
    return difference


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
        totals = {"wav": 0.0, "loop": 0.0, "ours1": 0.0, "ours": 0.0}
        for setting in settings():
            ours(files[:32], setting, threads)  # warm-up: compiled kernels load once
            times = {
                "wav": median_seconds(lambda s=setting: wav_round_trip(files, s, scratch),
                                      args.repeats),
                "loop": median_seconds(lambda s=setting: in_memory_loop(files, s), args.repeats),
                "ours1": median_seconds(lambda s=setting: ours(files, s, 1), args.repeats),
                "ours": median_seconds(lambda s=setting: ours(files, s, threads), args.repeats),
            }
            per_clip = {key: 1e3 * value / len(files) for key, value in times.items()}
            difference = largest_difference(files[:8], setting, scratch)
            print(f"{setting.label:<24s} WAV round trip {per_clip['wav']:6.2f} ms, in-memory "
                  f"loop {per_clip['loop']:6.2f} ms, ours {per_clip['ours1']:6.2f} ms (1 thread)"
                  f" / {per_clip['ours']:6.2f} ms ({threads} threads) per clip; largest "
                  f"difference {difference:.1e}")
            for key, value in per_clip.items():
                totals[key] += value
    print(f"{'all four effects':<24s} WAV round trip {totals['wav']:6.2f} ms, in-memory loop "
          f"{totals['loop']:6.2f} ms ({totals['wav'] / totals['loop']:.1f}x), ours "
          f"{totals['ours1']:6.2f} ms on 1 thread ({totals['wav'] / totals['ours1']:.1f}x), "
          f"{totals['ours']:6.2f} ms on {threads} ({totals['wav'] / totals['ours']:.1f}x) per clip")
    report("(a) effects in memory vs WAV round trip", f"{totals['wav']:.1f} ms/clip",
           f"{totals['ours']:.1f} ms/clip", totals["wav"] / totals["ours"], ">= 4x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
