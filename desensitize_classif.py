#!/usr/bin/env python
"""Stage 4: desensitise one embedding against one effect and classify instruments.

Reads the raw embeddings (``embeddings/embeddings.h5`` and
``embeddings/embeddings_<effect>_<param>.h5``) and ``train_test_split.csv``,
as published; the averaged, grouped and sample-wise CCA files under
``embeddings/`` serve as caches, rebuilt when missing or older than their
inputs. For each method and instrument (one-vs-rest, train positives plus
seeded negatives), projects the method's effect directions out of every train
and test matrix and fits a grid-searched logistic regression on each train set
(orig, every grid value, randommix), evaluated on its test sets.

Writes, merged with existing files: ``models/<effect>/deformdir_<embedding>.pkl``,
``models/<effect>/models_<embedding>.pkl`` (pickles by method key),
``models/<effect>/extra_info_<embedding>.json`` (chosen C, number of
directions, randommix seed) and ``results/<effect>/result_<embedding>.csv``
(rows replaced by key).

Methods (published names, comma-separated): '' (no method, also 'none'),
lda, avgdirproj, pcaproj_nonnorm, pcaproj_norm, cca, cca_samplewise_svd;
'all' = all of them (the default).

Example: ``python desensitize_classif.py -b openl3 -e gain -m ,lda,cca -k 2``
"""

from __future__ import annotations

import argparse
import sys

from aesens import layout
from aesens.analysis.desensitize import DEFAULT_THRESHOLD
from aesens.classification.classify import SOLVERS, run_classification
from aesens.cli.commands import plain
from aesens.cli.types import (
    DEFAULT_METHODS,
    all_cores,
    embedding_name,
    method_list,
    non_negative_int,
    positive_int,
    svd_threshold,
)
from aesens.effects import EFFECTS
from aesens.errors import run_cli
from aesens.extraction.cluster import joblib_on_dask
from aesens.layout import refuse_overwriting_inputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=plain(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-b", "--embedding", required=True, type=embedding_name,
                        help="embedding name, e.g. openl3")
    parser.add_argument("-e", "--effect", required=True, choices=sorted(EFFECTS),
                        help="effect name")
    parser.add_argument("-m", "--desensitize-methods", "--method", dest="methods",
                        type=method_list, default=method_list(DEFAULT_METHODS),
                        help="comma-separated desensitisation methods, or 'all' (default: "
                        f"'{DEFAULT_METHODS}', the leading empty name being no method)")
    parser.add_argument("-t", "--svd-thr", "--threshold", dest="threshold", type=svd_threshold,
                        default=DEFAULT_THRESHOLD,
                        help="singular-value threshold of cca_samplewise_svd: the singular "
                        "vectors whose value over the largest is at least this are projected "
                        "out (any number: 0 or less removes every one, more than 1 none; "
                        f"default: {DEFAULT_THRESHOLD})")
    parser.add_argument("-k", "--num-threads-classif", "--n-jobs", dest="n_jobs",
                        type=positive_int, default=all_cores(),
                        help="parallel classification workers (default: all cores)")
    parser.add_argument("--seed", type=non_negative_int, default=0,
                        help="seed of the randommix draw (default: 0)")
    parser.add_argument("--solver", choices=SOLVERS, default="gridsearch",
                        help="grid search: scikit-learn GridSearchCV as published, or the same "
                        "search written out with less overhead, same numbers (default: "
                        "gridsearch)")
    parser.add_argument("--split-csv", default="train_test_split.csv",
                        help="train/test split (default: train_test_split.csv)")
    parser.add_argument("--embeddings-dir", default="embeddings",
                        help="folder of the embeddings files (default: embeddings)")
    parser.add_argument("--results-dir", default="results", help="default: results")
    parser.add_argument("--models-dir", default="models", help="default: models")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run the tasks on the Dask cluster of this scheduler (address or "
                        "scheduler file) with joblib's dask backend, on all its workers")
    args = parser.parse_args(argv)
    where = (args.embedding, args.effect, args.models_dir)
    refuse_overwriting_inputs(
        [layout.results_csv_path(args.embedding, args.effect, args.results_dir),
         layout.deformdir_path(*where), layout.models_path(*where),
         layout.extra_info_path(*where)], [args.split_csv])
    with joblib_on_dask(args.scheduler):
        output = run_classification(args.embedding, args.effect, args.methods, args.threshold,
                                    n_jobs=-1 if args.scheduler else args.n_jobs, seed=args.seed,
                                    solver=args.solver, embeddings_dir=args.embeddings_dir,
                                    results_dir=args.results_dir, models_dir=args.models_dir,
                                    split_csv=args.split_csv, progress=not args.quiet)
    print(f"updated {output}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
