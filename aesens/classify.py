"""Stage 4: one-vs-rest instrument classifiers on (desensitised) original and effected embeddings.

Protocol of the paper (see SPEC):

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
  p/p; randommix (every file at a grid value drawn with a seeded generator):
  orig/randommix, randommix/orig, randommix/randommix.

A classifier depends only on its train set, so each distinct train set
(orig, every p, randommix) is fitted once and evaluated on all its test sets:
the results equal fitting every combination separately, with a third of the
fits. Tasks (method, instrument, train set) run in parallel with joblib.

Results CSV conventions: ``train_set`` and ``test_set`` are ``orig``, a
parameter string of the grid (e.g. ``-40.0``) or ``randommix``;
``embedding`` is ``<model>-<method>`` (``openl3-`` for no projection);
``embedding_params`` is ``{"svd_thr": t}`` for ``cca_samplewise_svd`` and
``{}`` otherwise; ``extra_info`` is JSON with the chosen ``C``, the number of
projected-out directions and, for randommix rows, the draw's ``seed``.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy.integrate import trapezoid
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold

# The function LogisticRegression.fit calls for the liblinear solver, once its
# input is checked; the fast grid search calls it directly (see _fit_liblinear).
from sklearn.svm._base import _fit_liblinear as liblinear_fit
from tqdm import tqdm

from aesens import store
from aesens.aggregate import load_grouped
from aesens.desensitize import (
    DEFAULT_THRESHOLD,
    THRESHOLD_METHODS,
    deformation_directions,
    project_out,
    validate_method,
    validate_threshold,
)
from aesens.errors import AesensError
from aesens.split import BALANCE_ORDER

#: Order of the classifiers and of the negatives' draw.
INSTRUMENT_ORDER: tuple[str, ...] = BALANCE_ORDER
#: Seed of ``random`` before each instrument's negatives draw.
NEGATIVES_SEED = 42
#: Grid of the inverse regularisation strength, ``10**k`` for k in -8..3 as Python
#: computes it (numpy's vectorised power can be 1 ulp off, e.g. 9.999999999999999e-06).
C_GRID = np.array([10.0 ** k for k in range(-8, 4)])
#: Folds of the grid search.
CV_FOLDS = 3
#: Names of the train/test sets besides the grid values' parameter strings.
ORIGINAL = "orig"
RANDOMMIX = "randommix"
#: Grid-search implementations: scikit-learn's GridSearchCV, or the same
#: search written out (same folds, fits and scores, less overhead).
SOLVERS = ("gridsearch", "fast")
#: Columns of the results CSV, and those that identify a row.
RESULT_COLUMNS = ["instrument", "train_set", "test_set", "precision", "recall", "f1_score",
                  "support", "accuracy", "roc_auc", "ap", "extra_info", "embedding",
                  "embedding_params", "last_updated"]
KEY_COLUMNS = ["instrument", "train_set", "test_set", "embedding", "embedding_params"]


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


def make_classifier(C: float = 1.0) -> LogisticRegression:
    """The paper's logistic regression (L2 penalty, liblinear, balanced classes, seed 42)."""
    # L2 is the default penalty; naming it warns in scikit-learn >= 1.8.
    return LogisticRegression(C=C, solver="liblinear", class_weight="balanced", random_state=42)


def _fit_liblinear(features: np.ndarray, labels: np.ndarray,
                   C: float) -> tuple[np.ndarray, float]:
    """Coefficients and intercept of :func:`make_classifier` ``(C).fit`` without its input checks.

    ``LogisticRegression.fit`` with the liblinear solver validates its input
    and then makes exactly this call; for the small problems of the grid
    search the checks cost ten times the fit.
    """
    coef, intercept, _ = liblinear_fit(
        features, labels, C, fit_intercept=True, intercept_scaling=1.0,
        class_weight="balanced", penalty="l2", dual=False, verbose=0, max_iter=100, tol=1e-4,
        random_state=42)
    return coef[0], float(intercept[0])


def _binary_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False and true positives at each distinct score, as scikit-learn's ``_binary_clf_curve``."""
    order = np.argsort(scores, kind="mergesort")[::-1]
    scores, labels = scores[order], labels[order]
    thresholds = np.r_[np.flatnonzero(np.diff(scores)), len(labels) - 1]
    true_positives = np.cumsum(labels, dtype=np.float64)[thresholds]
    return 1 + thresholds - true_positives, true_positives


def fast_roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """``roc_auc_score`` of binary labels, computed as scikit-learn does (NaN for one class)."""
    if labels.min() == labels.max():
        return np.nan
    false_positives, true_positives = _binary_curve(labels, scores)
    if len(false_positives) > 2:
        # roc_curve(drop_intermediate=True): keep the corners of the curve only.
        corners = np.flatnonzero(np.r_[True, np.logical_or(np.diff(false_positives, 2),
                                                           np.diff(true_positives, 2)), True])
        false_positives, true_positives = false_positives[corners], true_positives[corners]
    false_positives, true_positives = np.r_[0, false_positives], np.r_[0, true_positives]
    return float(trapezoid(true_positives / true_positives[-1],
                              false_positives / false_positives[-1]))


def fast_average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """``average_precision_score`` of binary labels, computed as scikit-learn does."""
    false_positives, true_positives = _binary_curve(labels, scores)
    predicted = true_positives + false_positives
    precision = np.zeros_like(true_positives)
    np.divide(true_positives, predicted, out=precision, where=predicted != 0)
    recall = (np.ones_like(true_positives) if true_positives[-1] == 0
              else true_positives / true_positives[-1])
    precision, recall = np.r_[precision[::-1], 1], np.r_[recall[::-1], 0]
    return float(max(0.0, -np.sum(np.diff(recall) * precision[:-1])))


def grid_search(features: np.ndarray, labels: np.ndarray,
                solver: str = "gridsearch") -> tuple[LogisticRegression, float]:
    """Choose C by 3-fold ROC AUC and refit on all the data.

    Parameters
    ----------
    features, labels : numpy.ndarray
        Train set.
    solver : {"gridsearch", "fast"}
        ``GridSearchCV`` as published, or the same search written out: the
        same folds (``StratifiedKFold(3)``), the same liblinear fits, ROC AUC
        computed as scikit-learn does, and the same choice (first C of highest
        mean score, failed folds ranked last), without the per-call input
        checks that dominate the time of these small problems.

    Returns
    -------
    tuple
        The refitted classifier and its C.
    """
    if solver == "gridsearch":
        search = GridSearchCV(make_classifier(), {"C": C_GRID}, cv=CV_FOLDS,
                              scoring="roc_auc").fit(features, labels)
        return search.best_estimator_, float(search.best_params_["C"])
    if solver != "fast":
        raise AesensError(f"unknown solver {solver!r}; choose one of {', '.join(SOLVERS)}")
    features = np.ascontiguousarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    scores = np.full((len(C_GRID), CV_FOLDS), np.nan)
    for fold, (train, test) in enumerate(StratifiedKFold(n_splits=CV_FOLDS).split(
            features, labels)):
        for index, C in enumerate(C_GRID):
            coef, intercept = _fit_liblinear(features[train], labels[train], C)
            decision = (features[test] @ coef[:, None] + intercept).ravel()
            scores[index, fold] = fast_roc_auc(labels[test], decision)
    means = scores.mean(axis=1)
    best = 0 if np.isnan(means).all() else int(np.argmax(np.nan_to_num(means, nan=-np.inf)))
    return make_classifier(C_GRID[best]).fit(features, labels), float(C_GRID[best])


def metrics_on_test_set(classifier: LogisticRegression, features: np.ndarray,
                        labels: np.ndarray) -> dict[str, float]:
    """Test-set metrics with class 1 (the instrument) as the positive class.

    The values of scikit-learn's ``precision_score``, ``recall_score``,
    ``f1_score`` (``zero_division=0``), ``accuracy_score``, ``roc_auc_score``
    and ``average_precision_score`` on the classifier's ``predict`` and
    ``decision_function``, computed directly from the counts and the sorted
    scores (the tests check equality).
    """
    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    scores = (features @ classifier.coef_.T + classifier.intercept_).ravel()
    predicted = (scores > 0).astype(labels.dtype)  # LogisticRegression.predict, classes 0/1
    true_positives = int(np.sum((predicted == 1) & (labels == 1)))
    n_predicted, n_positive = int(predicted.sum()), int(labels.sum())
    errors = n_predicted + n_positive - 2 * true_positives
    return {"precision": true_positives / n_predicted if n_predicted else 0.0,
            "recall": true_positives / n_positive if n_positive else 0.0,
            "f1_score": (2 * true_positives / (2 * true_positives + errors)
                         if true_positives or errors else 0.0),
            "support": n_positive,
            "accuracy": float(np.mean(predicted == labels)),
            "roc_auc": fast_roc_auc(labels, scores),
            "ap": fast_average_precision(labels, scores)}


def randommix_choice(n_params: int, n_train: int, n_test: int,
                     seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded grid-value index of every train and every test file for "randommix"."""
    generator = np.random.default_rng(seed)
    return generator.integers(n_params, size=n_train), generator.integers(n_params, size=n_test)


def test_sets(train_set: str, param_strings: Sequence[str]) -> list[str]:
    """Test sets evaluated with a classifier trained on ``train_set``."""
    if train_set == ORIGINAL:
        return [ORIGINAL, *param_strings, RANDOMMIX]
    return [ORIGINAL, train_set]


def method_label(embedding: str, method: str) -> str:
    """``embedding`` column of the results: the model name plus ``-<method>``."""
    return f"{embedding}-{method}"


def method_params(method: str, threshold: float) -> str:
    """``embedding_params`` column: ``{"svd_thr": t}`` for the SVD method, else ``{}``."""
    return json.dumps({"svd_thr": threshold} if method in THRESHOLD_METHODS else {})


def models_folder(models_dir: str | os.PathLike, effect: str, embedding: str, method: str,
                  threshold: float) -> Path:
    """Folder of one method's saved directions and classifiers."""
    name = f"{embedding}-{method or 'none'}"
    if method in THRESHOLD_METHODS:
        name += f"_svdthr{threshold:g}"
    return Path(models_dir) / effect / name


@dataclass(frozen=True)
class SweepData:
    """Arrays of one embedding and effect (memory-mapped when shared with workers).

    ``train_A, test_A`` ``(n_files, dim)``; ``train_Bs, test_Bs``
    ``(n_params, n_files, dim)``; ``train_mix, test_mix`` the grid index of
    every file in "randommix".
    """

    train_A: np.ndarray
    test_A: np.ndarray
    train_Bs: np.ndarray
    test_Bs: np.ndarray
    train_mix: np.ndarray
    test_mix: np.ndarray
    param_strings: tuple[str, ...]

    def train_matrix(self, train_set: str, rows: np.ndarray) -> np.ndarray:
        """Original, effected or randommix embeddings of some train rows."""
        if train_set == ORIGINAL:
            return self.train_A[rows]
        if train_set == RANDOMMIX:
            return self.train_Bs[self.train_mix[rows], rows]
        return self.train_Bs[self.param_strings.index(train_set)][rows]

    def test_matrix(self, test_set: str) -> np.ndarray:
        """Original, effected or randommix embeddings of the whole test set."""
        if test_set == ORIGINAL:
            return self.test_A
        if test_set == RANDOMMIX:
            return self.test_Bs[self.test_mix, np.arange(len(self.test_mix))]
        return self.test_Bs[self.param_strings.index(test_set)]


@dataclass(frozen=True)
class TrainSetResult:
    """Result of one task: its rows of the results CSV and the fitted classifier."""

    method: str
    instrument: str
    train_set: str
    rows: list[dict]
    classifier: LogisticRegression
    C: float


def evaluate_train_set(data: SweepData, method: str, instrument: str, train_set: str,
                       directions: np.ndarray, train_rows: np.ndarray, train_labels: np.ndarray,
                       test_labels: np.ndarray, solver: str = "gridsearch",
                       seed: int | None = None) -> TrainSetResult:
    """Fit one classifier on one (projected) train set and evaluate it on its test sets.

    Parameters
    ----------
    data : SweepData
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
    seed : int, optional
        Seed of the randommix draw, recorded in ``extra_info`` of randommix rows.
    """
    features = project_out(data.train_matrix(train_set, train_rows), directions)
    classifier, C = grid_search(features, train_labels, solver)
    rows = []
    for test_set in test_sets(train_set, data.param_strings):
        test_features = project_out(data.test_matrix(test_set), directions)
        metrics = metrics_on_test_set(classifier, test_features, test_labels)
        extra = {"C": C, "n_directions": len(directions)}
        if RANDOMMIX in (train_set, test_set):
            extra["seed"] = seed
        rows.append({"instrument": instrument, "train_set": train_set, "test_set": test_set,
                     **metrics, "extra_info": json.dumps(extra)})
    return TrainSetResult(method, instrument, train_set, rows, classifier, C)


def update_results_csv(path: str | os.PathLike, rows: pd.DataFrame) -> pd.DataFrame:
    """Insert or replace rows of a results CSV by key, writing it atomically.

    Rows of the existing file whose key (:data:`KEY_COLUMNS`) is not among
    the new rows are kept, in their order; the new rows follow.

    Returns
    -------
    pandas.DataFrame
        The whole table as written.
    """
    path = Path(path)
    rows = rows.reindex(columns=RESULT_COLUMNS)
    if path.exists():
        existing = pd.read_csv(path, dtype={column: str for column in KEY_COLUMNS},
                               keep_default_na=False)
        missing = [column for column in KEY_COLUMNS if column not in existing.columns]
        if missing:
            raise AesensError(f"{path} lacks columns {', '.join(missing)}; move it away "
                              "and rerun")
        new_keys = pd.MultiIndex.from_frame(rows[KEY_COLUMNS].astype(str))
        old_keys = pd.MultiIndex.from_frame(existing[KEY_COLUMNS].astype(str))
        table = pd.concat([existing[~old_keys.isin(new_keys)], rows], ignore_index=True)
    else:
        table = rows
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(handle)
    try:
        table.to_csv(tmp_name, index=False)
        os.replace(tmp_name, path)
    finally:
        Path(tmp_name).unlink(missing_ok=True)
    return table


def _dump_atomic(value: object, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(handle)
    try:
        joblib.dump(value, tmp_name)
        os.replace(tmp_name, path)
    finally:
        Path(tmp_name).unlink(missing_ok=True)


def _shared(arrays: dict[str, np.ndarray], folder: Path) -> dict[str, np.ndarray]:
    """Save arrays to ``folder`` and reopen them memory-mapped (passed to workers by name)."""
    shared = {}
    for name, value in arrays.items():
        np.save(folder / f"{name}.npy", np.ascontiguousarray(value))
        shared[name] = np.load(folder / f"{name}.npy", mmap_mode="r")
    return shared


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


def _require_finite(data: dict[str, np.ndarray], source: str) -> None:
    for name in ("train_A", "test_A", "train_Bs", "test_Bs"):
        if not np.isfinite(data[name]).all():
            raise AesensError(f"{source}: {name} holds NaN or inf; re-extract and re-average "
                              "the affected files")


def run_classification(embedding: str, effect: str, methods: Sequence[str],
                       threshold: float = DEFAULT_THRESHOLD, n_jobs: int = 1, seed: int = 0,
                       solver: str = "gridsearch",
                       embeddings_dir: str | os.PathLike = "embeddings",
                       results_dir: str | os.PathLike = "results",
                       models_dir: str | os.PathLike = "models",
                       progress: bool = True) -> Path:
    """Desensitise and classify one embedding and effect; update the results CSV.

    Parameters
    ----------
    embedding, effect : str
        What to evaluate (reads ``embeddings/grouped/<embedding>/<effect>.h5``
        and, for ``cca_samplewise_svd``, ``ccadirs_<effect>.h5``).
    methods : sequence of str
        Desensitisation methods (:data:`aesens.desensitize.METHODS`).
    threshold : float
        Threshold of ``cca_samplewise_svd``, in (0, 1].
    n_jobs : int
        Parallel workers over (method, instrument, train set) tasks.
    seed : int
        Seed of the randommix draw.
    solver : str
        Grid-search implementation (:data:`SOLVERS`).
    embeddings_dir, results_dir, models_dir : path
        Input folder; ``results/<effect>/result_<embedding>.csv`` and
        ``models/<effect>/<embedding>-<method>/<instrument>.joblib`` are written.
    progress : bool
        Show tqdm progress bars.

    Returns
    -------
    Path
        The results CSV, updated after each method.
    """
    methods = list(dict.fromkeys(validate_method(method) for method in methods))
    threshold = validate_threshold(threshold)
    if solver not in SOLVERS:
        raise AesensError(f"unknown solver {solver!r}; choose one of {', '.join(SOLVERS)}")
    grouped = load_grouped(embedding, effect, embeddings_dir)
    _require_finite(grouped, str(store.grouped_path(embedding, effect, embeddings_dir)))
    samplewise = None
    if "cca_samplewise_svd" in methods:
        path = store.ccadirs_path(embedding, effect, embeddings_dir)
        if not path.exists():
            raise AesensError(f"{path} does not exist; run 3.2_extract_samplewise_cca_dirs.py "
                              f"{embedding} {effect} first")
        samplewise = store.read_arrays(path, ["cca_dirs"])["cca_dirs"]
        if samplewise.shape != grouped["train_A"].shape:
            raise AesensError(f"{path} holds {samplewise.shape} directions for "
                              f"{grouped['train_A'].shape} train files; rerun "
                              "3.2_extract_samplewise_cca_dirs.py")
    labels = grouped["Y_train"]
    instruments = _instruments(labels)
    test_labels = {instrument: (grouped["Y_test"] == instrument).astype(int)
                   for instrument in instruments}
    train = {instrument: training_rows(labels, instrument, instruments)
             for instrument in instruments}
    train_mix, test_mix = randommix_choice(len(grouped["params"]), len(labels),
                                           len(grouped["Y_test"]), seed)
    param_strings = tuple(str(value) for value in grouped["param_strings"])
    train_sets = [ORIGINAL, *param_strings, RANDOMMIX]

    results_csv = Path(results_dir) / effect / f"result_{embedding}.csv"
    pairs = [(method, instrument) for method in methods for instrument in instruments]
    with tempfile.TemporaryDirectory(prefix="aesens-") as folder:
        arrays = {name: grouped[name] for name in ("train_A", "test_A", "train_Bs", "test_Bs")}
        if n_jobs != 1:
            arrays = _shared(arrays, Path(folder))
        computed = Parallel(n_jobs=n_jobs, return_as="generator")(
            delayed(instrument_directions)(
                method, arrays["train_A"], arrays["train_Bs"], labels == instrument,
                None if samplewise is None else samplewise[labels == instrument], threshold)
            for method, instrument in pairs)
        directions = dict(zip(pairs, tqdm(computed, total=len(pairs), desc="directions",
                                          disable=not progress), strict=True))
        data = SweepData(**arrays, train_mix=train_mix, test_mix=test_mix,
                         param_strings=param_strings)
        tasks = [(method, instrument, train_set) for method, instrument in pairs
                 for train_set in train_sets]
        outcomes: Iterator[TrainSetResult] = Parallel(n_jobs=n_jobs, return_as="generator")(
            delayed(evaluate_train_set)(data, method, instrument, train_set,
                                        directions[method, instrument], *train[instrument],
                                        test_labels[instrument], solver, seed)
            for method, instrument, train_set in tasks)
        finished: list[TrainSetResult] = []
        per_method = len(instruments) * len(train_sets)
        for outcome in tqdm(outcomes, total=len(tasks), desc=f"{embedding}/{effect}",
                            disable=not progress):
            finished.append(outcome)
            if len(finished) == per_method:
                _save_method(finished, embedding, effect, threshold, directions, train,
                             results_csv, models_dir)
                finished = []
    return results_csv


def _save_method(outcomes: list[TrainSetResult], embedding: str, effect: str, threshold: float,
                 directions: dict[tuple[str, str], np.ndarray],
                 train: dict[str, tuple[np.ndarray, np.ndarray]], results_csv: Path,
                 models_dir: str | os.PathLike) -> None:
    """Write one method's rows to the results CSV and its directions and classifiers."""
    method = outcomes[0].method
    rows = pd.DataFrame([row for outcome in outcomes for row in outcome.rows])
    rows["embedding"] = method_label(embedding, method)
    rows["embedding_params"] = method_params(method, threshold)
    rows["last_updated"] = datetime.now().isoformat(timespec="seconds")
    update_results_csv(results_csv, rows)
    folder = models_folder(models_dir, effect, embedding, method, threshold)
    for instrument in dict.fromkeys(outcome.instrument for outcome in outcomes):
        mine = [outcome for outcome in outcomes if outcome.instrument == instrument]
        _dump_atomic({"directions": directions[method, instrument],
                      "train_rows": train[instrument][0],
                      "classifiers": {outcome.train_set: outcome.classifier for outcome in mine},
                      "C": {outcome.train_set: outcome.C for outcome in mine}},
                     folder / f"{instrument}.joblib")
