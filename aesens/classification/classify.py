"""Stage 4: one-vs-rest instrument classifiers on (desensitised) original and effected embeddings.

Protocol of the paper, as the published code ran it:

- Instruments in the order of :data:`INSTRUMENT_ORDER`. For each, the train
  set is all its train files (positives) plus, from every other instrument in
  that order, ``n_positives // 10`` negatives drawn with
  ``random.sample(range(n_that_instrument), k)`` right after
  ``random.seed(42)``. The same rows serve the effected train sets.
- ``LogisticRegression(l2, liblinear, class_weight='balanced',
  random_state=42)`` in ``GridSearchCV(C=10**k for k in -8..3, cv=3,
  scoring='roc_auc')``; metrics on the whole test set with the instrument as
  the positive class.
- Train/test combinations: orig/orig; for every grid value p: orig/p, p/orig,
  p/p; randommix (every file at a grid value drawn afresh for each method and
  instrument, with a seeded generator, :func:`randommix_choice`):
  orig/randommix, randommix/orig, randommix/randommix.

A classifier depends only on its train set, so each distinct train set
(orig, every p, randommix) is fitted once and evaluated on all its test sets:
the results equal fitting every combination separately, with a third of the
fits. Tasks (method, instrument, train set) run in parallel with joblib.

Outputs (see :mod:`aesens.classification.results`): rows of
``results/<effect>/result_<embedding>.csv`` (``train_set`` and ``test_set``
are ``orig``, a parameter string of the grid such as ``-40.0``, or
``randommix``; ``embedding`` ``openl3`` or ``openl3-<method>``;
``embedding_params`` empty or ``{"svd_thr": t}``; ``extra_info`` empty), the
pickles ``models/<effect>/deformdir_<embedding>.pkl`` and
``models_<embedding>.pkl``, and ``models/<effect>/extra_info_<embedding>.json``
with what the published files do not hold (chosen ``C``, number of
projected-out directions, randommix seed). Each method's pickles are written
before its CSV rows.
"""

from __future__ import annotations

import os
import random
import tempfile
import warnings
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.linear_model import LogisticRegression
from tqdm import tqdm

from aesens import layout
from aesens.analysis.desensitize import (
    DEFAULT_THRESHOLD,
    deformation_directions,
    project_out,
    threshold_warning,
)
from aesens.analysis.directions import ensure_ccadirs, stored_directions
from aesens.analysis.methods import METHODS, get_method, validate_threshold
from aesens.classification import results
from aesens.classification.gridsearch import SOLVERS, grid_search, metrics_on_test_set
from aesens.classification.results import ORIGINAL, RANDOMMIX
from aesens.errors import AesensError
from aesens.extraction.cluster import capped_workers
from aesens.sweep.averaged import FILE_NAMES, LABEL_NAMES
from aesens.sweep.grouped import GROUPED_NAMES
from aesens.sweep.split import BALANCE_ORDER, check_classifiable
from aesens.sweep.sweep import Sweep, ensure_grouped

#: Order of the classifiers and of the negatives' draw.
INSTRUMENT_ORDER: tuple[str, ...] = BALANCE_ORDER
#: Seed of ``random`` before each instrument's negatives draw.
NEGATIVES_SEED = 42
def select_negatives(labels: Sequence[str], instrument: str,
                     order: Sequence[str] = INSTRUMENT_ORDER,
                     seed: int = NEGATIVES_SEED) -> np.ndarray:
    """Train-set rows of the negatives of one instrument's classifier.

    Parameters
    ----------
    labels : sequence of str
        Instrument of every train file, in split-CSV order.
    instrument : str
        The positive class.
    order : sequence of str
        Instrument order of the draw (the instruments of the data, in
        :data:`INSTRUMENT_ORDER`).
    seed : int
        Seed of ``random`` before each other instrument's draw.

    Returns
    -------
    numpy.ndarray
        Row indices: for each other instrument in ``order``,
        ``random.sample(range(n_that_instrument), n_positives // 10)`` of its
        rows (in split-CSV order), drawn right after seeding. With fewer than
        10 positives (small datasets, never IRMAS) one negative is drawn per
        other instrument, with a warning, so that the classifier sees two
        classes.
    """
    labels = np.asarray(labels)
    n_positives = int(np.sum(labels == instrument))
    count = n_positives // 10
    if count == 0:
        warnings.warn(f"{instrument} has {n_positives} train files (< 10): drawing 1 negative "
                      "per other instrument instead of n_positives // 10 = 0", stacklevel=2)
        count = 1
    negatives = []
    for other in order:
        if other == instrument:
            continue
        rows = np.flatnonzero(labels == other)
        if count > len(rows):
            raise AesensError(f"{instrument} needs {count} negatives from {other}, which has "
                              f"only {len(rows)} train files; rebalance the split")
        negatives.append(rows[random.Random(seed).sample(range(len(rows)), count)])
    return np.concatenate(negatives) if negatives else np.zeros(0, dtype=int)


def training_rows(labels: Sequence[str], instrument: str,
                  order: Sequence[str] = INSTRUMENT_ORDER) -> tuple[np.ndarray, np.ndarray]:
    """Rows and binary labels of one instrument's train set: positives, then negatives."""
    positives = np.flatnonzero(np.asarray(labels) == instrument)
    negatives = select_negatives(labels, instrument, order)
    rows = np.concatenate([positives, negatives])
    return rows, np.r_[np.ones(len(positives), dtype=int), np.zeros(len(negatives), dtype=int)]


def randommix_choice(n_params: int, n_train: int, n_test: int, seed: int, method: str = "",
                     instrument: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Grid-value index of every train and every test file in "randommix", for one task.

    As published, each (method, instrument) task draws afresh: every train file's grid
    index, then every test file's, each uniform and independent. The published loop drew
    them from numpy's unseeded global generator; here each task has its own generator,
    seeded from ``seed`` and the CRC-32 of the method and instrument names, so a task's
    draw is reproducible and the same whichever other methods or instruments run, in
    whatever order, on however many workers.

    Parameters
    ----------
    n_params : int
        Grid values.
    n_train, n_test : int
        Train and test files.
    seed : int
        The run's seed (``--seed``).
    method, instrument : str
        The task (``''`` is no method).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``(n_train,)`` and ``(n_test,)`` grid indices.
    """
    generator = np.random.default_rng(
        [zlib.crc32(method.encode()), zlib.crc32(instrument.encode()), seed])
    return generator.integers(n_params, size=n_train), generator.integers(n_params, size=n_test)


def test_sets(train_set: str, param_strings: Sequence[str]) -> list[str]:
    """Test sets evaluated with a classifier trained on ``train_set``."""
    if train_set == ORIGINAL:
        return [ORIGINAL, *param_strings, RANDOMMIX]
    return [ORIGINAL, train_set]


@dataclass(frozen=True)
class MixedSweep:
    """A sweep (memory-mapped when shared with workers) with one task's "randommix" draw.

    Attributes
    ----------
    sweep : Sweep
        The embeddings of one embedding and effect.
    train_mix, test_mix : numpy.ndarray
        ``(n_train,)`` and ``(n_test,)`` grid index of every file in "randommix", drawn
        for one (method, instrument) task (:func:`randommix_choice`).
    """

    sweep: Sweep
    train_mix: np.ndarray
    test_mix: np.ndarray

    def train_matrix(self, train_set: str, rows: np.ndarray) -> np.ndarray:
        """Original, effected or randommix embeddings of some train rows."""
        if train_set == ORIGINAL:
            return self.sweep.train_A[rows]
        if train_set == RANDOMMIX:
            return self.sweep.train_Bs[self.train_mix[rows], rows]
        return self.sweep.train_Bs[self.sweep.param_strings.index(train_set)][rows]

    def test_matrix(self, test_set: str) -> np.ndarray:
        """Original, effected or randommix embeddings of the whole test set."""
        if test_set == ORIGINAL:
            return self.sweep.test_A
        if test_set == RANDOMMIX:
            return self.sweep.test_Bs[self.test_mix, np.arange(len(self.test_mix))]
        return self.sweep.test_Bs[self.sweep.param_strings.index(test_set)]


@dataclass(frozen=True)
class TrainSetResult:
    """Result of one task: its rows of the results CSV and the fitted classifier."""

    method: str
    instrument: str
    train_set: str
    rows: list[dict]
    classifier: LogisticRegression
    C: float


def evaluate_train_set(data: MixedSweep, method: str, instrument: str, train_set: str,
                       directions: np.ndarray, train_rows: np.ndarray, train_labels: np.ndarray,
                       test_labels: np.ndarray,
                       solver: str = "gridsearch") -> TrainSetResult:
    """Fit one classifier on one (projected) train set and evaluate it on its test sets.

    Parameters
    ----------
    data : MixedSweep
        Embeddings of the sweep.
    method, instrument, train_set : str
        What is evaluated (``train_set``: ``orig``, a parameter string or ``randommix``).
    directions : numpy.ndarray
        ``(k, dim)`` directions projected out of every matrix.
    train_rows, train_labels : numpy.ndarray
        Rows of the train set (:func:`training_rows`) and their binary labels.
    test_labels : numpy.ndarray
        Binary labels of the whole test set.
    solver : str
        Grid-search implementation (:data:`SOLVERS`).

    Returns
    -------
    TrainSetResult
        Its rows of the results CSV (``extra_info`` empty, as published), the
        refitted classifier and its C.
    """
    features = project_out(data.train_matrix(train_set, train_rows), directions)
    classifier, C = grid_search(features, train_labels, solver)
    rows = []
    for test_set in test_sets(train_set, data.sweep.param_strings):
        test_features = project_out(data.test_matrix(test_set), directions)
        metrics = metrics_on_test_set(classifier, test_features, test_labels)
        rows.append({"instrument": instrument, "train_set": train_set, "test_set": test_set,
                     **metrics, "extra_info": ""})
    return TrainSetResult(method, instrument, train_set, rows, classifier, C)


#: Arrays of a :class:`Sweep` memory-mapped for the workers (the grid stays in memory).
SHARED_ARRAYS = (*GROUPED_NAMES, *LABEL_NAMES, *FILE_NAMES)


def _shared(sweep: Sweep, folder: Path) -> Sweep:
    """Save the sweep's arrays to ``folder`` and reopen them memory-mapped (passed to workers
    by name)."""
    shared = {}
    for name in SHARED_ARRAYS:
        value = getattr(sweep, name)
        if value is not None:
            np.save(folder / f"{name}.npy", np.ascontiguousarray(value))
            shared[name] = np.load(folder / f"{name}.npy", mmap_mode="r")
    return replace(sweep, **shared)


def instrument_directions(method: str, train_A: np.ndarray, train_Bs: np.ndarray,
                          positives: np.ndarray, samplewise_positives: np.ndarray | None,
                          threshold: float) -> np.ndarray:
    """Directions of one method from the train positives of one instrument.

    ``positives`` masks the instrument's rows of the train set;
    ``samplewise_positives`` are their sample-wise CCA directions (or None).
    """
    return deformation_directions(
        method, train_A[positives], train_Bs[:, positives], a_all=train_A,
        samplewise_dirs=samplewise_positives, threshold=threshold)


def _instruments(labels: np.ndarray) -> list[str]:
    unknown = sorted(set(labels) - set(INSTRUMENT_ORDER))
    if unknown:
        raise AesensError(f"unknown instrument labels {', '.join(unknown)} in the split; "
                          f"expected long names such as {', '.join(INSTRUMENT_ORDER[:3])}")
    return [instrument for instrument in INSTRUMENT_ORDER if instrument in set(labels)]


def run_classification(embedding: str, effect: str, methods: Sequence[str],
                       threshold: float = DEFAULT_THRESHOLD, n_jobs: int = 1, seed: int = 0,
                       solver: str = "gridsearch",
                       embeddings_dir: str | os.PathLike = "embeddings",
                       results_dir: str | os.PathLike = "results",
                       models_dir: str | os.PathLike = "models",
                       split_csv: str | os.PathLike = "train_test_split.csv",
                       progress: bool = True) -> Path:
    """Desensitise and classify one embedding and effect; update the result files.

    Parameters
    ----------
    embedding, effect : str
        What to evaluate. Reads the raw ``embeddings/embeddings*.h5`` and the
        split CSV as published, through the averaged, grouped and (for
        ``cca_samplewise_svd``) sample-wise CCA files, which are built or
        rebuilt when missing or older than their inputs
        (:func:`aesens.sweep.sweep.ensure_grouped`).
    methods : sequence of str
        Desensitisation methods (:data:`aesens.analysis.desensitize.METHODS`).
    threshold : float
        Threshold of ``cca_samplewise_svd`` (any number; outside (0, 1] with a warning:
        0 or less removes every direction, more than 1 none).
    n_jobs : int
        Parallel workers over (method, instrument, train set) tasks, at most
        the usable cores and the tasks (:func:`aesens.extraction.cluster.capped_workers`
        says when it caps them); -1: joblib's backend decides.
    seed : int
        Seed of the randommix draws, one per method and instrument
        (:func:`randommix_choice`; recorded in ``extra_info_<embedding>.json``).
    solver : str
        Grid-search implementation (:data:`SOLVERS`).
    embeddings_dir, results_dir, models_dir : path
        Input folder and output folders.
    split_csv : path
        The train/test split of stage 2A.3.
    progress : bool
        Show tqdm progress bars.

    Returns
    -------
    Path
        ``results/<effect>/result_<embedding>.csv``, updated after each method
        (after that method's pickles).
    """
    methods = list(dict.fromkeys(get_method(method).name for method in methods))
    threshold = validate_threshold(threshold)
    if any(METHODS[method].uses_threshold for method in methods) and threshold_warning(threshold):
        warnings.warn(threshold_warning(threshold), stacklevel=2)
    if solver not in SOLVERS:
        raise AesensError(f"unknown solver {solver!r}; choose one of {', '.join(SOLVERS)}")
    results.check_outputs(results_dir, models_dir, effect, embedding)
    if n_jobs > 0:
        n_jobs = capped_workers(n_jobs, "-k")
    sweep = ensure_grouped(embedding, effect, split_csv, embeddings_dir, n_jobs=max(n_jobs, 1),
                           progress=progress)
    sweep.check_finite(str(layout.grouped_path(embedding, effect, embeddings_dir)))
    samplewise = None
    if "cca_samplewise_svd" in methods:
        ensure_ccadirs(embedding, effect, split_csv, embeddings_dir)
        samplewise = stored_directions(sweep, embeddings_dir)
    labels = sweep.Y_train
    check_classifiable(labels, sweep.Y_test, split_csv)
    instruments = _instruments(labels)
    test_labels = {instrument: (sweep.Y_test == instrument).astype(int)
                   for instrument in instruments}
    train = {instrument: training_rows(labels, instrument, instruments)
             for instrument in instruments}
    train_sets = [ORIGINAL, *sweep.param_strings, RANDOMMIX]

    output = OutputFiles(embedding, effect, threshold, seed, results_dir, models_dir)
    pairs = [(method, instrument) for method in methods for instrument in instruments]
    mixes = {pair: randommix_choice(len(sweep.params), len(labels), len(sweep.Y_test), seed,
                                    *pair) for pair in pairs}
    if n_jobs > 0:
        n_jobs = capped_workers(n_jobs, "-k", len(pairs) * len(train_sets))
    with tempfile.TemporaryDirectory(prefix="aesens-") as folder:
        shared = sweep if n_jobs == 1 else _shared(sweep, Path(folder))
        computed = Parallel(n_jobs=n_jobs, return_as="generator")(
            delayed(instrument_directions)(
                method, shared.train_A, shared.train_Bs, labels == instrument,
                None if samplewise is None else samplewise[labels == instrument], threshold)
            for method, instrument in pairs)
        directions = dict(zip(pairs, tqdm(computed, total=len(pairs), desc="directions",
                                          disable=not progress), strict=True))
        tasks = [(method, instrument, train_set) for method, instrument in pairs
                 for train_set in train_sets]
        outcomes: Iterator[TrainSetResult] = Parallel(n_jobs=n_jobs, return_as="generator")(
            delayed(evaluate_train_set)(MixedSweep(shared, *mixes[method, instrument]), method,
                                        instrument, train_set,
                                        directions[method, instrument], *train[instrument],
                                        test_labels[instrument], solver)
            for method, instrument, train_set in tasks)
        finished: list[TrainSetResult] = []
        per_method = len(instruments) * len(train_sets)
        for outcome in tqdm(outcomes, total=len(tasks), desc=f"{embedding}/{effect}",
                            disable=not progress):
            finished.append(outcome)
            if len(finished) == per_method:
                output.save_method(finished, directions)
                finished = []
    return output.results_csv


def saved_directions(method: str, directions: np.ndarray) -> np.ndarray | None:
    """What ``deformdir_<embedding>.pkl`` holds for one method and instrument.

    ``None`` for no method, the ``(k, dim)`` right singular vectors for
    ``cca_samplewise_svd``, else the ``(dim,)`` unit direction (a ``(0, dim)``
    array when the method found none, e.g. coinciding centroids).
    """
    if not method:
        return None
    if METHODS[method].uses_threshold or len(directions) != 1:
        return np.array(directions)
    return np.array(directions[0])


@dataclass(frozen=True)
class OutputFiles:
    """The result files of one embedding and effect, updated one method at a time."""

    embedding: str
    effect: str
    threshold: float
    seed: int
    results_dir: str | os.PathLike
    models_dir: str | os.PathLike

    @property
    def results_csv(self) -> Path:
        """``results/<effect>/result_<embedding>.csv``."""
        return layout.results_csv_path(self.embedding, self.effect, self.results_dir)

    def save_method(self, outcomes: list[TrainSetResult],
                    directions: dict[tuple[str, str], np.ndarray]) -> None:
        """Merge one method's directions, classifiers and rows into the result files.

        The pickles and ``extra_info_<embedding>.json`` are written first, then
        the CSV, so that rows never refer to classifiers that were not saved.
        """
        method = outcomes[0].method
        key = METHODS[method].key(self.threshold)
        instruments = list(dict.fromkeys(outcome.instrument for outcome in outcomes))
        folder = (self.embedding, self.effect, self.models_dir)
        results.update_pickle(layout.deformdir_path(*folder), {key: {
            instrument: saved_directions(method, directions[method, instrument])
            for instrument in instruments}}, depth=2)
        classifiers: dict[str, dict[str, LogisticRegression]] = {}
        extra: dict[str, dict[str, dict]] = {}
        for outcome in outcomes:
            classifiers.setdefault(outcome.instrument, {})[outcome.train_set] = outcome.classifier
            extra.setdefault(outcome.instrument, {})[outcome.train_set] = {
                "C": outcome.C, "n_directions": len(directions[method, outcome.instrument]),
                "randommix_seed": self.seed}
        results.update_pickle(layout.models_path(*folder), {key: classifiers}, depth=3)
        results.update_json(layout.extra_info_path(*folder), {key: extra}, depth=3)
        rows = pd.DataFrame([row for outcome in outcomes for row in outcome.rows])
        rows["embedding"] = METHODS[method].label(self.embedding)
        rows["embedding_params"] = METHODS[method].params(self.threshold)
        rows["last_updated"] = results.timestamp()
        results.update_results_csv(self.results_csv, rows, self.embedding)
