#!/usr/bin/env python
"""Demo extraction on a 2-worker local Dask cluster against the in-process executor.

Extracts the demo embeddings (crepe and mfcc) for the original audio and one
mid-grid setting of each effect, in this process and on a
:class:`distributed.LocalCluster` of two single-threaded worker processes,
``--repeats`` times each (``force=True``; the median is reported, so model
loading on the workers' first units is amortised as in a real sweep). The
cluster's start-up is timed apart. The two outputs must be identical bit
for bit. Uses the demo's dataset if ``make demo`` made one, else synthetic
files. On a 2-core machine both executors use both cores, so the target is
parity; the cluster's point is scaling out to more machines.

Usage: ``python benchmarks/bench_dask.py [--files N] [--repeats R]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
from common import make_dataset, median_seconds, report

from aesens.dataset import discover
from aesens.effects import EFFECTS, PAPER_EFFECTS
from aesens.extraction.executor import DaskExecutor, InProcessExecutor
from aesens.extraction.run import extract
from aesens.extraction.setting import Setting
from aesens.models import ModelSpec

DEMO_DATASET = Path(__file__).resolve().parents[1] / "demo" / "datasets" / "IRMAS-TrainingData"
SETTINGS = [Setting()] + [Setting(EFFECTS[name], len(EFFECTS[name].grid) // 2)
                          for name in PAPER_EFFECTS]


def same_output(first: Path, second: Path) -> bool:
    """Whether two embedding folders hold identical features and keys."""
    for path in sorted(first.glob("*.h5")):
        with h5py.File(path, "r") as left, h5py.File(second / path.name, "r") as right:
            for name in left["irmas"]:
                for dataset in ("features", "keys"):
                    key = f"irmas/{name}/{dataset}"
                    if not np.array_equal(left[key][()], right[key][()]):
                        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=48,
                        help="files to use (default: 48, from the demo dataset if present)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs, median (default: 3)")
    args = parser.parse_args(argv)
    from distributed import Client, LocalCluster

    models = [ModelSpec.for_name("crepe", device="cpu"), ModelSpec.for_name("mfcc")]
    with tempfile.TemporaryDirectory() as tmp:
        if DEMO_DATASET.is_dir():
            files = discover(DEMO_DATASET)[:args.files]
        else:
            files = discover(make_dataset(Path(tmp) / "data", args.files))
        print(f"{len(files)} files, {len(SETTINGS)} settings, models crepe+mfcc")

        def run(executor, folder: str) -> None:
            extract(files, models, SETTINGS, Path(tmp) / folder, force=True, progress=False,
                    executor=executor, shard_size=32)

        in_process = median_seconds(lambda: run(InProcessExecutor(), "local"), args.repeats)
        start = time.perf_counter()
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            startup = time.perf_counter() - start
            on_cluster = median_seconds(lambda: run(DaskExecutor(client), "dask"), args.repeats)
        identical = same_output(Path(tmp) / "local", Path(tmp) / "dask")
    print(f"in process {in_process:6.1f} s, 2-worker local cluster {on_cluster:6.1f} s "
          f"(+{startup:.1f} s start-up), ratio {in_process / on_cluster:.2f}x, outputs "
          f"{'identical' if identical else 'DIFFERENT'}")
    report("(e) demo extraction, 2-worker Dask vs in-process", f"{in_process:.1f} s",
           f"{on_cluster:.1f} s (+{startup:.0f} s start-up)", in_process / on_cluster,
           "~1x on 2 cores, identical output" + ("" if identical else " (FAILED)"))
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
