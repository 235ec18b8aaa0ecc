#!/usr/bin/env python
"""Where the demo's time goes: extraction per clip by part, and the stages of a demo run.

Every part of one 2A.2 clip is timed on one thread (BLAS and torch limited to
one), on the same 3-s stereo files, as the median of ``--repeats`` passes:
reading (pedalboard's 16-bit conversion, as the published 2A.2 read its
input), each of the paper's four effects at the middle of its grid (the
reverb as the published chain across files), the 16-bit WAV round trip,
CREPE's down-mix + resampling + framing, the CREPE network and the MFCC
baseline. For the two model parts this project computes differently from
the library (same numbers, tested), the library's own path is timed too and
the ratio printed: torchcrepe's ``Crepe.embed`` against our 1-D layers, and
``librosa.feature.mfcc`` clip by clip against our vectorised steps.

From the per-clip costs it projects the CPU time of a full 2A.2 sweep (all
four grids, crepe + mfcc) for ``--per-class`` files per class, and, when a
demo folder holds ``timings.csv`` (``--workdir``, default ``demo``), prints
that run's stages grouped by kind (extraction, classification, ...).

It also prints 2A.2's time per setting by effect: from the demo's
``timings.csv`` (each effect's stage time over its number of settings,
start-up and model loading included), else from a small run of the
extraction itself (crepe + mfcc, in process as 2A.2 runs it, the timed files,
``--settings`` settings of each effect spread over its grid, models loaded
beforehand). The reverb's settings should cost no more than the others'.

Usage: ``python benchmarks/bench_demo.py [--files N] [--repeats R] [--per-class K]``
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
from common import make_dataset, median_seconds, report
from threadpoolctl import threadpool_limits

from aesens.dataset import INSTRUMENTS, discover
from aesens.dataset.plan import EXCERPTS_PER_RECORDING, class_layout
from aesens.demo import DEFAULT_PER_CLASS, PART_PREFIX
from aesens.effects import EFFECTS, PAPER_EFFECTS
from aesens.effects.roundtrip import pcm16_roundtrip
from aesens.extraction.batches import read_clip
from aesens.extraction.run import extract
from aesens.extraction.setting import Setting
from aesens.models import get_model
from aesens.models.crepe import embed_frames
from aesens.models.mfcc import MfccModel

#: Demo stage labels by their first word, grouped for the stage table.
STAGE_KINDS = {"generate": "generate dataset", "2A.1": "extraction", "2A.2": "extraction",
               "2A.3": "split, averaging, grouping", "average": "split, averaging, grouping",
               "group": "split, averaging, grouping", "3.2": "sample-wise CCA (3.2)",
               "4": "classification", "figures": "figures, report, scorecard",
               "scorecard": "figures, report, scorecard"}


def librosa_mfcc_row(clip: np.ndarray, sample_rate: int) -> np.ndarray:
    """The MFCC baseline's row computed clip by clip with ``librosa.feature.mfcc``."""
    import librosa

    mfcc = librosa.feature.mfcc(y=clip.mean(axis=0), sr=sample_rate, n_mfcc=20, n_mels=64,
                                n_fft=2048, hop_length=512)
    return np.r_[mfcc.mean(axis=1), mfcc.std(axis=1)]


def time_parts(files: list[Path], repeats: int) -> dict[str, float]:
    """Seconds per clip of each part of a 2A.2 clip, on one thread."""
    import torch

    torch.set_num_threads(1)
    n = len(files)
    per_clip: dict[str, float] = {}

    def timed(label: str, function) -> object:
        function()
        per_clip[label] = median_seconds(function, repeats) / n
        return function()

    loaded = timed("read (16-bit, pedalboard scale)",
                   lambda: [read_clip(path, reader="pedalboard") for path in files])
    clips = [audio for audio, _ in loaded]
    rate = loaded[0][1]
    stacked = np.stack(clips)
    for name in PAPER_EFFECTS:
        effect = EFFECTS[name]
        value = effect.grid[len(effect.grid) // 2]
        if effect.chain_fn is not None:
            def chained(effect=effect, value=value):
                chain = effect.chain_fn(value)
                return [chain.process(clip, rate) for clip in clips]
            timed(f"effect {name} (published chain)", chained)
        else:
            timed(f"effect {name}", lambda effect=effect, value=value:
                  effect.apply_batch(stacked.copy(), rate, value))
    timed("16-bit round trip", lambda: pcm16_roundtrip(stacked.copy()))
    crepe = get_model("crepe", device="cpu")
    frames = timed("crepe: down-mix, resample, frame", lambda: torch.cat(
        [crepe._frames(clip, rate) for clip in clips]))
    network = crepe._network
    with torch.inference_mode():
        reference = timed("crepe network, torchcrepe Crepe.embed",
                          lambda: [network.embed(chunk) for chunk in frames.split(128)])
        ours = timed("crepe network, ours (1-D layers)",
                     lambda: [embed_frames(network, chunk) for chunk in frames.split(128)])
    # Within float32 rounding, as tests/models/test_models_default.py checks: oneDNN's 1-D and 2-D
    # kernels round differently on some CPUs (up to 1.7e-5 on an AVX-512 AMD EPYC).
    assert all(np.allclose(a.numpy(), b.numpy(), rtol=1e-5,
                           atol=1e-5 * float(np.abs(a.numpy()).max()))
               for a, b in zip(reference, ours, strict=True)), "crepe paths differ"
    reference_rows = timed("mfcc, librosa per clip",
                           lambda: [librosa_mfcc_row(clip, rate) for clip in clips])
    model = MfccModel()
    rows = timed("mfcc, ours (vectorised)", lambda: model.embed(clips, rate))
    np.testing.assert_allclose(np.concatenate(rows), np.stack(reference_rows), rtol=1e-6,
                               atol=1e-5)
    return per_clip


def print_parts(per_clip: dict[str, float], per_class: int) -> None:
    """The per-clip table, the model ratios and the projected 2A.2 CPU time."""
    print("\nper clip, one thread (median):")
    for label, seconds in per_clip.items():
        print(f"  {label:<42s} {seconds * 1e3:7.2f} ms")
    for model, reference, ours in [
            ("crepe network", "crepe network, torchcrepe Crepe.embed",
             "crepe network, ours (1-D layers)"),
            ("mfcc", "mfcc, librosa per clip", "mfcc, ours (vectorised)")]:
        ratio = per_clip[reference] / per_clip[ours]
        print(f"{model}: {per_clip[reference] * 1e3:.2f} ms/clip -> "
              f"{per_clip[ours] * 1e3:.2f} ms/clip, ratio {ratio:.2f}x (same rows)")
        report(f"(g) demo parts: {model}, one thread", f"{per_clip[reference] * 1e3:.2f} ms/clip",
               f"{per_clip[ours] * 1e3:.2f} ms/clip", ratio, "same rows")
    common = sum(seconds for label, seconds in per_clip.items()
                 if label.startswith(("read", "16-bit", "crepe: ", "crepe network, ours",
                                      "mfcc, ours")))
    settings = {name: len(EFFECTS[name].grid) for name in PAPER_EFFECTS}
    n_files = class_layout(per_class)[0] * len(INSTRUMENTS) + min(EXCERPTS_PER_RECORDING)
    total = 0.0
    print(f"\nprojected 2A.2 CPU time, {n_files} files ({per_class} per class), crepe + mfcc:")
    for name, count in settings.items():
        effect_label = next(label for label in per_clip if label.startswith(f"effect {name}"))
        seconds = (common + per_clip[effect_label]) * count * n_files
        total += seconds
        print(f"  {name:<14s} {count:3d} settings  {seconds:7.0f} CPU s")
    print(f"  {'all four':<14s} {sum(settings.values()):3d} settings  {total:7.0f} CPU s "
          f"= {total / (os.cpu_count() or 1):.0f} s on {os.cpu_count()} cores at best")


def print_stages(timings: Path) -> None:
    """A demo run's stage times grouped by kind."""
    with open(timings, newline="") as handle:
        rows = list(csv.DictReader(handle))
    by_kind: dict[str, float] = defaultdict(float)
    parts = [row for row in rows if row["stage"].startswith(PART_PREFIX)]
    for row in rows:
        if row not in parts:
            by_kind[STAGE_KINDS.get(row["stage"].split()[0], "other")] += float(row["seconds"])
    total = sum(by_kind.values())
    print(f"\nstages of the demo run in {timings} (wall clock):")
    for kind, seconds in sorted(by_kind.items(), key=lambda item: -item[1]):
        print(f"  {kind:<30s} {seconds:7.0f} s  {100 * seconds / total:5.1f} %")
    print(f"  {'total':<30s} {total:7.0f} s")
    for row in parts:
        print(f"  {row['stage']}: {float(row['seconds']):.0f} s")


def per_setting_from_timings(timings: Path) -> dict[str, float]:
    """Seconds per setting of each paper effect's 2A.2 stage in a demo's ``timings.csv``."""
    with open(timings, newline="") as handle:
        seconds = {row["stage"]: float(row["seconds"]) for row in csv.DictReader(handle)}
    return {name: seconds[f"2A.2 {name}"] / len(EFFECTS[name].grid) for name in PAPER_EFFECTS
            if f"2A.2 {name}" in seconds}


def per_setting_measured(files: list[Path], n_settings: int, repeats: int,
                         folder: Path) -> dict[str, float]:
    """Seconds per setting of each paper effect in a small extraction (crepe + mfcc).

    The effects are timed in turn within each repeat (a loaded machine slows
    them alike); the median is kept.
    """
    models = [get_model("crepe", device="cpu"), get_model("mfcc")]
    extract(files, models, [Setting()], folder / "warm-up", progress=False)
    settings = {}
    for name in PAPER_EFFECTS:
        grid = EFFECTS[name].grid
        ranks = np.linspace(0, len(grid) - 1, n_settings).round().astype(int)
        settings[name] = [Setting(EFFECTS[name], int(rank)) for rank in ranks]
    times: dict[str, list[float]] = {name: [] for name in settings}
    for _ in range(repeats):
        for name, chosen in settings.items():
            times[name].append(median_seconds(
                lambda chosen=chosen: extract(files, models, chosen, folder / "out",
                                              progress=False, force=True), 1) / len(chosen))
    return {name: float(np.median(values)) for name, values in times.items()}


def print_per_setting(per_setting: dict[str, float], source: str) -> None:
    """2A.2's seconds per setting by effect, and the reverb's against the others'."""
    print(f"\n2A.2 time per setting by effect ({source}):")
    for name, seconds in per_setting.items():
        print(f"  {name:<14s} {seconds:7.2f} s per setting")
    if "reverb" in per_setting and len(per_setting) > 1:
        others = [seconds for name, seconds in per_setting.items() if name != "reverb"]
        mean = sum(others) / len(others)
        report("(g) demo 2A.2 per setting: the other effects' mean vs reverb", f"{mean:.2f} s",
               f"{per_setting['reverb']:.2f} s", mean / per_setting["reverb"],
               ">= 1x (reverb no dearer)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=32, help="clips timed (default: 32)")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes (default: 3)")
    parser.add_argument("--per-class", type=int, default=DEFAULT_PER_CLASS,
                        help="files per class of the projected sweep (default: "
                        f"{DEFAULT_PER_CLASS}, the demo's)")
    parser.add_argument("--workdir", type=Path, default=Path("demo"),
                        help="demo folder whose timings.csv is summarised (default: demo)")
    parser.add_argument("--settings", type=int, default=2,
                        help="settings per effect of the small 2A.2 run made when there is no "
                        "timings.csv (default: 2)")
    args = parser.parse_args(argv)
    timings = args.workdir / "timings.csv"
    with tempfile.TemporaryDirectory() as folder:
        files = discover(make_dataset(Path(folder) / "data", args.files))
        import torch

        torch_threads = torch.get_num_threads()
        with threadpool_limits(limits=1):
            print_parts(time_parts(files, args.repeats), args.per_class)
        torch.set_num_threads(torch_threads)  # the small 2A.2 run as 2A.2 runs
        if not timings.exists():
            print_per_setting(per_setting_measured(files, args.settings, args.repeats,
                                                   Path(folder)),
                              f"a small run: {args.files} files, {args.settings} settings each, "
                              f"crepe + mfcc, median of {args.repeats}")
    if timings.exists():
        print_stages(timings)
        print_per_setting(per_setting_from_timings(timings), f"{timings}, start-up included")
    else:
        print(f"\n(no {timings}: run make demo for the stage times)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
