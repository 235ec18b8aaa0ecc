#!/usr/bin/env python
"""Speed of the batched sample-wise CCA against the published per-file scikit-learn loop.

Both run in this process on the same synthetic paths (realistic shape: the
paper's balanced train set, a 31-value grid, OpenL3/CLAP/PANNs widths).
Prints the time per file of the batched computation (on the default number of
threads, i.e. the BLAS thread count in force, and on one thread) and of the
per-file loop (with one BLAS thread, its fastest setting, and with the default
threads, as published), their ratios (target: at least 100x), and the
smallest cosine between the directions. Each timing is the median of
``--repeats`` runs.

Usage: ``python benchmarks/bench_cca.py [--files N] [--reference-files M] [--repeats R]``
"""

from __future__ import annotations

import argparse
import functools
import sys
import warnings

import numpy as np
from common import median_seconds, report
from sklearn.cross_decomposition import CCA
from threadpoolctl import threadpool_limits

from aesens.analysis.cca import default_workers, rank_target, samplewise_cca_directions
from aesens.errors import run_cli


def synthetic_paths(n_files: int, n_params: int, dim: int, seed: int = 0) -> np.ndarray:
    """Non-negative float32 paths: a base embedding drifting smoothly with the parameter."""
    rng = np.random.default_rng(seed)
    base = 2 * np.abs(rng.standard_normal((n_files, 1, dim)))
    t = np.linspace(0, 1, n_params)[None, :, None]
    drift = (t ** 2 * rng.standard_normal((n_files, 1, dim))
             + np.sin(3 * t) * rng.standard_normal((n_files, 1, dim)))
    noise = 0.02 * rng.standard_normal((n_files, n_params, dim))
    return np.maximum(base + 0.3 * drift + noise, 0).astype(np.float32)


def published_loop(paths: np.ndarray, blas_threads: int | None) -> np.ndarray:
    """One scikit-learn CCA fit per file, as the published script did.

    ``blas_threads=1`` is the loop's fastest setting for these small matrices;
    ``None`` keeps the default (all cores), as the published script ran.
    """
    target = rank_target(paths.shape[1])
    with warnings.catch_warnings(), threadpool_limits(limits=blas_threads, user_api="blas"):
        warnings.simplefilter("ignore")
        return np.array([CCA(n_components=1, scale=False).fit(path, target).x_weights_[:, 0]
                         for path in paths])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=3168,
                        help="files in the batched run (default: 3168, the paper's train set)")
    parser.add_argument("--reference-files", type=int, default=100,
                        help="files timed with the scikit-learn loop (default: 100)")
    parser.add_argument("--params", type=int, default=31, help="grid values (default: 31)")
    parser.add_argument("--dims", default="512,1024,2048",
                        help="embedding widths to time (default: 512,1024,2048)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs per timing, the median is kept (default: 3)")
    args = parser.parse_args(argv)
    threads = default_workers()
    print(f"batched CCA on {threads} thread(s) (its default: the BLAS thread count in force) "
          "and on 1 thread; scikit-learn loop on 1 BLAS thread (its fastest setting) and on "
          "the default BLAS threads (as published)")
    for dim in (int(value) for value in args.dims.split(",")):
        paths = synthetic_paths(args.files, args.params, dim)
        subset = paths[:args.reference_files]
        directions = samplewise_cca_directions(paths)
        ours = {workers: median_seconds(functools.partial(
            samplewise_cca_directions, paths, workers=workers), args.repeats) / args.files
            for workers in (threads, 1)}
        print(f"dim {dim:5d}: batched {ours[threads] * 1e3:7.4f} ms/file on {threads} thread(s), "
              f"{ours[1] * 1e3:7.4f} ms/file on 1 thread ({args.files} files)")
        for blas_threads, label in ((1, "1 BLAS thread"), (None, "default BLAS threads")):
            reference = published_loop(subset, blas_threads)
            cosine = np.sum(directions[:len(subset)] * reference, axis=1).min()
            loop = median_seconds(functools.partial(published_loop, subset, blas_threads),
                                  args.repeats) / len(subset)
            print(f"           scikit-learn loop, {label:>20s}: {loop * 1e3:7.3f} ms/file, "
                  f"ratio {loop / ours[threads]:6.1f}x ({loop / ours[1]:6.1f}x against ours on "
                  f"1 thread), min cosine 1 - {1 - cosine:.1e}")
            # Ours on its default threads against both loops, and on 1 thread against 1 thread.
            for workers in sorted({threads, *([1] if blas_threads == 1 else [])}, reverse=True):
                report(f"(c) CCA, dim {dim}: batched on {workers} thread(s) vs per-file "
                       f"scikit-learn loop on {label} (min cosine 1 - {1 - cosine:.1e})",
                       f"{loop * 1e3:.3f} ms/file", f"{ours[workers] * 1e3:.4f} ms/file",
                       loop / ours[workers], ">= 100x")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
