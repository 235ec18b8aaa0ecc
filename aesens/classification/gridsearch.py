"""The classifiers of stage 4: the paper's logistic regression, its grid search over C, metrics.

``LogisticRegression(l2, liblinear, class_weight='balanced', random_state=42)``
in ``GridSearchCV(C=10**k for k in -8..3, cv=3, scoring='roc_auc')``, as
published (``solver="gridsearch"``), or the same search written out
(``solver="fast"``): the same ``StratifiedKFold(3)`` folds, the same liblinear
fits, ROC AUC computed as scikit-learn computes it, and the same choice.

Why the fast search calls liblinear directly: ``LogisticRegression.fit``
validates its input and then calls scikit-learn's private
``sklearn.svm._base._fit_liblinear``, which encodes the labels, computes the
balanced class weights (through parameter-validating helpers) and then makes
one call of the compiled ``sklearn.svm._liblinear.train_wrap``. For the small
train sets of this protocol (tens of rows, 36 fits per classifier) the Python
around that call costs about ten times the solver. :func:`liblinear_fit`
makes the same ``train_wrap`` call with the same arguments, computed the same
way (labels as ``np.unique`` encodes them, weights ``n / (2 * counts)``, the
seed ``RandomState(42)`` draws): the coefficients equal
``_fit_liblinear``'s and ``GridSearchCV``'s bit for bit (tested). Both
helpers are private to scikit-learn: they are the lines to revisit when it
changes them (the tests then fail).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.integrate import trapezoid
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.svm import _liblinear
from sklearn.svm._base import _get_liblinear_solver_type

from aesens.errors import AesensError

#: Grid of the inverse regularisation strength, ``10**k`` for k in -8..3 as Python
#: computes it (numpy's vectorised power can be 1 ulp off, e.g. 9.999999999999999e-06).
C_GRID = np.array([10.0 ** k for k in range(-8, 4)])
#: Folds of the grid search.
CV_FOLDS = 3
#: Grid-search implementations: scikit-learn's GridSearchCV, or the same
#: search written out (same folds, fits and scores, less overhead).
SOLVERS = ("gridsearch", "fast")


def make_classifier(C: float = 1.0) -> LogisticRegression:
    """The paper's logistic regression (L2 penalty, liblinear, balanced classes, seed 42)."""
    # L2 is the default penalty; naming it warns in scikit-learn >= 1.8.
    return LogisticRegression(C=C, solver="liblinear", class_weight="balanced", random_state=42)


#: Arguments of the liblinear call of ``make_classifier(C).fit``: primal L2 logistic
#: regression, its tolerance and iteration cap, intercept scaling 1, and the seed that
#: ``check_random_state(42).randint(np.iinfo("i").max)`` draws for it.
_SOLVER_TYPE = _get_liblinear_solver_type("ovr", "l2", "logistic_regression", False)
_TOL, _MAX_ITER, _BIAS, _EPSILON = 1e-4, 100, 1.0, 0.1
_SEED = int(np.random.RandomState(42).randint(np.iinfo("i").max))


def liblinear_fit(features: np.ndarray, labels: np.ndarray, C: float) -> tuple[np.ndarray, float]:
    """Coefficients and intercept of :func:`make_classifier` ``(C).fit``, without its overhead.

    Parameters
    ----------
    features : numpy.ndarray
        C-contiguous float64 ``(n, dim)`` train set.
    labels : numpy.ndarray
        Its labels, two classes.
    C : float
        Inverse regularisation strength.

    Returns
    -------
    (numpy.ndarray, float)
        ``coef_[0]`` and ``intercept_[0]`` of the fitted classifier.

    Raises
    ------
    ValueError
        With scikit-learn's message, when the labels hold one class.
    """
    classes, encoded = np.unique(labels, return_inverse=True)
    if len(classes) < 2:
        raise ValueError("This solver needs samples of at least 2 classes in the data, but the "
                         f"data contains only one class: {classes[0]!r}")
    counts = np.bincount(encoded, weights=np.ones(len(encoded)))
    class_weight = counts.sum() / (len(classes) * counts)
    _liblinear.set_verbosity_wrap(0)
    raw, n_iter = _liblinear.train_wrap(
        features, np.asarray(encoded, dtype=np.float64), False, _SOLVER_TYPE, _TOL, _BIAS, C,
        class_weight, _MAX_ITER, _SEED, _EPSILON, np.ones(len(encoded)))
    if max(n_iter) >= _MAX_ITER:
        warnings.warn("Liblinear failed to converge, increase the number of iterations.",
                      ConvergenceWarning, stacklevel=2)
    return raw[0, :-1], float(_BIAS * raw[0, -1])


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
        checks that dominate the time of these small problems. The fold
        scores use the decision function, as the ``roc_auc`` scorer of
        ``GridSearchCV`` does; the test-set metrics use ``predict_proba``
        (:func:`metrics_on_test_set`).

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
            coef, intercept = liblinear_fit(features[train], labels[train], C)
            decision = (features[test] @ coef[:, None] + intercept).ravel()
            scores[index, fold] = fast_roc_auc(labels[test], decision)
    means = scores.mean(axis=1)
    best = 0 if np.isnan(means).all() else int(np.argmax(np.nan_to_num(means, nan=-np.inf)))
    return make_classifier(C_GRID[best]).fit(features, labels), float(C_GRID[best])


def metrics_on_test_set(classifier: LogisticRegression, features: np.ndarray,
                        labels: np.ndarray) -> dict[str, float | int]:
    """Test-set metrics with class 1 (the instrument) as the positive class, as published.

    ``precision``, ``recall``, ``f1_score`` and ``support`` are the positive
    column of ``classification_report(labels, predict(X), output_dict=True)``
    and ``accuracy`` its ``accuracy``, computed here from the counts with the
    operations of scikit-learn 1.2.2 (the published environment): ``f1_score``
    is ``2 * precision * recall / (precision + recall)`` (later versions compute
    ``2 tp / (2 tp + fp + fn)``, which can differ in the last bit) and ``support``
    an integer (a float in later versions, written ``10.0`` in the CSV);
    ``roc_auc`` and ``ap`` are ``roc_auc_score`` and
    ``average_precision_score`` of ``predict_proba(X)[:, 1]``, so scores that
    tie in probability tie here too (the tests check equality with
    scikit-learn).
    """
    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    predicted = classifier.predict(features)
    probability = classifier.predict_proba(features)[:, 1]
    true_positives = int(np.sum((predicted == 1) & (labels == 1)))
    n_predicted, n_positive = int(np.sum(predicted == 1)), int(np.sum(labels == 1))
    correct = int(np.sum(predicted == labels))
    precision = true_positives / n_predicted if n_predicted else 0.0
    recall = true_positives / n_positive if n_positive else 0.0
    return {"precision": precision, "recall": recall,
            "f1_score": 2 * precision * recall / (precision + recall) if precision + recall
            else 0.0,
            "support": n_positive,
            "accuracy": 2 * correct / (2 * len(labels)),
            "roc_auc": fast_roc_auc(labels, probability),
            "ap": fast_average_precision(labels, probability)}
