#!/usr/bin/env python
"""Stage 4: desensitise one embedding against one effect and classify instruments.

For each method and instrument (one-vs-rest, train positives plus seeded
negatives), projects the method's effect directions out of every train and
test matrix and fits a grid-searched logistic regression on each train set
(orig, every grid value, randommix), evaluated on its test sets. Rows are
inserted or replaced by key in ``results/<effect>/result_<embedding>.csv``;
directions and classifiers go to ``models/<effect>/``.

Methods (published names): '' (none, also 'none'), lda, avgdirproj,
pcaproj_nonnorm, pcaproj_norm, cca, cca_samplewise_svd; or 'all'.
cca_samplewise_svd needs 3.2_extract_samplewise_cca_dirs.py first.

Example: ``python desensitize_classif.py -b openl3 -e gain -m all -k 2``
"""

from __future__ import annotations

import argparse
import sys

from aesens.classify import SOLVERS, run_classification
from aesens.desensitize import DEFAULT_THRESHOLD, METHODS
from aesens.effects import EFFECTS
from aesens.errors import AesensError, run_cli
from aesens.executor import joblib_on_dask


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-b", "--embedding", required=True, help="embedding name, e.g. openl3")
    parser.add_argument("-e", "--effect", required=True, choices=sorted(EFFECTS),
                        help="effect name")
    parser.add_argument("-m", "--method", default="",
                        help="desensitisation method, 'all', or a comma-separated list "
                        "(default: '' = none)")
    parser.add_argument("-t", "--threshold", type=float, default=DEFAULT_THRESHOLD,
                        help="singular-value threshold of cca_samplewise_svd, in (0, 1] "
                        f"(default: {DEFAULT_THRESHOLD})")
    parser.add_argument("-k", "--n-jobs", type=int, default=1,
                        help="parallel workers (default: 1; -1 = all cores)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the randommix draw, recorded in extra_info (default: 0)")
    parser.add_argument("--solver", choices=SOLVERS, default="gridsearch",
                        help="grid search: scikit-learn GridSearchCV as published, or the same "
                        "search written out with less overhead (default: gridsearch)")
    parser.add_argument("--embeddings-dir", default="embeddings",
                        help="folder holding grouped/ and averaged/ (default: embeddings)")
    parser.add_argument("--results-dir", default="results", help="default: results")
    parser.add_argument("--models-dir", default="models", help="default: models")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run the tasks on the Dask cluster of this scheduler (address or "
                        "scheduler file) with joblib's dask backend, on all its workers")
    args = parser.parse_args(argv)
    if args.n_jobs == 0:
        raise AesensError("-k/--n-jobs must be positive, or negative for all cores but -k-1")
    methods = list(METHODS) if args.method == "all" else args.method.split(",")
    with joblib_on_dask(args.scheduler):
        output = run_classification(args.embedding, args.effect, methods, args.threshold,
                                    n_jobs=-1 if args.scheduler else args.n_jobs, seed=args.seed,
                                    solver=args.solver, embeddings_dir=args.embeddings_dir,
                                    results_dir=args.results_dir, models_dir=args.models_dir,
                                    progress=not args.quiet)
    print(f"updated {output}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
