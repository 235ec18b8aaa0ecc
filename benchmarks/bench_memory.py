#!/usr/bin/env python
"""Peak memory of the extraction stages against the number of files (1x, 2x, 4x).

Each stage (2A.1 original audio, 2A.2 one reverb setting; the mfcc model,
whose extraction is quick) runs in a fresh subprocess per data size, which
reports the peak Python/NumPy memory traced (:mod:`tracemalloc`) during the
extraction, after the model is loaded, and its peak resident set size
(``resource.getrusage``; it includes the ~constant libraries).
Audio is held for at most two batches at a time, so the peaks should stay
about flat; only the features (a few kB per file) grow with the data.
Target: 4x the files costs well under 4x the memory.

Usage: ``python benchmarks/bench_memory.py [--files N] [--batch-size B]``
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path

from common import make_dataset, report

from aesens.dataset import discover
from aesens.effects import EFFECTS
from aesens.extraction.run import extract
from aesens.extraction.setting import Setting
from aesens.models import ModelSpec, loaded_model

STAGES = {"2A.1 original": Setting(), "2A.2 reverb": Setting(EFFECTS["reverb"], 17)}


def measure(stage: str, dataset: Path, batch_size: int) -> dict[str, float]:
    """Run one stage in this process; its peak traced memory and peak RSS in MiB."""
    files = discover(dataset)
    models = [ModelSpec.for_name("mfcc")]
    loaded_model(models[0])
    with tempfile.TemporaryDirectory() as out:
        tracemalloc.start()
        extract(files, models, [STAGES[stage]], out, batch_size=batch_size, progress=False)
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"traced_mib": traced_peak / 2**20, "rss_mib": rss_kib / 1024}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=48, help="files at 1x (default: 48)")
    parser.add_argument("--batch-size", type=int, default=8, help="files per model call")
    parser.add_argument("--child", nargs=2, metavar=("STAGE", "DATASET"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child[0], Path(args.child[1]), args.batch_size)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        datasets = {scale: make_dataset(Path(tmp) / f"x{scale}", scale * args.files)
                    for scale in (1, 2, 4)}
        for stage in STAGES:
            peaks = {}
            for scale, dataset in datasets.items():
                output = subprocess.run(
                    [sys.executable, __file__, "--batch-size", str(args.batch_size),
                     "--child", stage, str(dataset)],
                    check=True, capture_output=True, text=True).stdout
                peaks[scale] = json.loads(output.strip().splitlines()[-1])
                print(f"{stage:<14s} {scale * args.files:4d} files: traced peak "
                      f"{peaks[scale]['traced_mib']:7.1f} MiB, peak RSS "
                      f"{peaks[scale]['rss_mib']:7.1f} MiB", flush=True)
            growth = peaks[4]["traced_mib"] / peaks[1]["traced_mib"]
            report(f"(f) peak traced memory, {stage}, 4x vs 1x files",
                   f"{peaks[1]['traced_mib']:.0f} MiB ({args.files} files)",
                   f"{peaks[4]['traced_mib']:.0f} MiB ({4 * args.files} files)", growth,
                   "growth well under 4x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
