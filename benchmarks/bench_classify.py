#!/usr/bin/env python
"""Classification grid search: published per-combination runs against the grouped and fast paths.

On a synthetic sweep of demo size (per instrument: 30 train and 10 test
files, 256-d embeddings, an effect moving them along a random direction),
for the first instruments of the paper's order and no desensitisation:

- published: one ``GridSearchCV`` per (instrument, train set, test set)
  combination, ROC AUC with scikit-learn's ``roc_auc_score`` of
  ``predict_proba(X)[:, 1]``, as the published one-process-per-task script did;
- gridsearch: one ``GridSearchCV`` per distinct train set (``--solver
  gridsearch``, the default of desensitize_classif.py);
- fast: the same search written out (``--solver fast``).

Prints each path's time, and for every combination whether the fast and
grouped paths chose the published C and how far their ROC AUC is from it
(acceptance: same C, the same ROC AUC exactly).

Usage: ``python benchmarks/bench_classify.py [--instruments 3] [--params 31]``
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV

from aesens.classification import classify, gridsearch
from aesens.errors import run_cli
from aesens.sweep.sweep import Sweep


def synthetic_sweep(n_train: int, n_test: int, dim: int, n_params: int,
                    seed: int = 0) -> tuple[classify.MixedSweep, np.ndarray, np.ndarray]:
    """Instrument clusters; the effect moves every file along one direction, more at low ranks."""
    rng = np.random.default_rng(seed)
    instruments = classify.INSTRUMENT_ORDER
    centres = rng.standard_normal((len(instruments), dim))

    def originals(count: int) -> tuple[np.ndarray, np.ndarray]:
        labels = np.repeat(np.arange(len(instruments)), count)
        return centres[labels] + 2.0 * rng.standard_normal((len(labels), dim)), labels

    train_A, train_labels = originals(n_train)
    test_A, test_labels = originals(n_test)
    shift = 3 * rng.standard_normal(dim)
    strength = np.linspace(1, 0, n_params)[:, None, None]

    def effected(matrix: np.ndarray) -> np.ndarray:
        return matrix[None] + strength * shift + 0.3 * rng.standard_normal(
            (n_params, *matrix.shape))

    train_mix, test_mix = classify.randommix_choice(n_params, len(train_A), len(test_A), 0)
    names = np.asarray(instruments)[train_labels], np.asarray(instruments)[test_labels]
    sweep = Sweep("synthetic", "synthetic", train_A, test_A, effected(train_A), effected(test_A),
                  *names, genre_train=np.full(len(train_A), ""),
                  genre_test=np.full(len(test_A), ""), params=np.arange(n_params),
                  param_strings=tuple(str(rank) for rank in range(n_params)))
    return classify.MixedSweep(sweep, train_mix, test_mix), *names


def published(data, rows, labels, test_labels, train_set, test_set):
    """One combination as the published script ran it: its own grid search, sklearn metrics."""
    search = GridSearchCV(gridsearch.make_classifier(), {"C": gridsearch.C_GRID},
                          cv=gridsearch.CV_FOLDS, scoring="roc_auc")
    search.fit(data.train_matrix(train_set, rows), labels)
    scores = search.predict_proba(data.test_matrix(test_set))[:, 1]
    return float(search.best_params_["C"]), float(roc_auc_score(test_labels, scores))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instruments", type=int, default=3,
                        help="first instruments of the paper's order to run (default: 3)")
    parser.add_argument("--params", type=int, default=31, help="grid values (default: 31)")
    parser.add_argument("--train", type=int, default=30, help="train files per instrument")
    parser.add_argument("--test", type=int, default=10, help="test files per instrument")
    parser.add_argument("--dim", type=int, default=256, help="embedding width (default: 256)")
    args = parser.parse_args(argv)
    data, labels, test_labels = synthetic_sweep(args.train, args.test, args.dim, args.params)
    order = classify.INSTRUMENT_ORDER
    train_sets = [classify.ORIGINAL, *data.sweep.param_strings, classify.RANDOMMIX]
    no_directions = np.zeros((0, args.dim))
    timings: dict[str, float] = {}
    reference: dict[tuple[str, str, str], tuple[float, float]] = {}
    results: dict[str, dict[tuple[str, str, str], tuple[float, float]]] = {}

    start = time.perf_counter()
    for instrument in order[:args.instruments]:
        rows, binary = classify.training_rows(labels, instrument, order)
        positives = (test_labels == instrument).astype(int)
        for train_set in train_sets:
            for test_set in classify.test_sets(train_set, data.sweep.param_strings):
                reference[instrument, train_set, test_set] = published(
                    data, rows, binary, positives, train_set, test_set)
    timings["published"] = time.perf_counter() - start

    for solver in gridsearch.SOLVERS:
        start = time.perf_counter()
        results[solver] = {}
        for instrument in order[:args.instruments]:
            rows, binary = classify.training_rows(labels, instrument, order)
            positives = (test_labels == instrument).astype(int)
            for train_set in train_sets:
                outcome = classify.evaluate_train_set(data, "", instrument, train_set,
                                                      no_directions, rows, binary, positives,
                                                      solver)
                for row in outcome.rows:
                    results[solver][instrument, train_set, row["test_set"]] = (
                        outcome.C, row["roc_auc"])
        timings[solver] = time.perf_counter() - start

    print(f"{len(reference)} combinations, {args.instruments} instruments x "
          f"{len(train_sets)} train sets, {args.train} train files per instrument, "
          f"dim {args.dim}")
    for name, seconds in timings.items():
        print(f"{name:>10s}: {seconds:8.1f} s ({timings['published'] / seconds:5.1f}x)")
    for solver, found in results.items():
        same_c = np.mean([found[key][0] == reference[key][0] for key in reference])
        delta = max(abs(found[key][1] - reference[key][1]) for key in reference)
        verdict = "PASS" if same_c == 1 and delta == 0 else "FAIL"
        print(f"{solver:>10s}: same C in {same_c:.1%} of combinations, max |delta ROC AUC| "
              f"{delta:.2e} -> {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
