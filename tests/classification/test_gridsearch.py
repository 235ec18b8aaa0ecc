"""The classifier and its grid search: equal to GridSearchCV, metrics as published."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, classification_report, roc_auc_score
from sklearn.model_selection import GridSearchCV

from aesens.classification import gridsearch
from aesens.errors import AesensError


def test_c_grid_is_python_powers_of_ten():
    np.testing.assert_array_equal(gridsearch.C_GRID, [10.0 ** k for k in range(-8, 4)])


def separable(n_pos=30, n_neg=30, dim=12, shift=0.6, seed=0):
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((n_pos + n_neg, dim))
    labels = np.r_[np.ones(n_pos, dtype=int), np.zeros(n_neg, dtype=int)]
    features[:n_pos, :3] += shift
    return features, labels


def correlated(seed):
    """Classes apart along a direction the noise hides: ROC AUC grows with C up to 1..100."""
    rng = np.random.default_rng(seed)
    labels = np.r_[np.ones(30, dtype=int), np.zeros(30, dtype=int)]
    noise = rng.standard_normal((60, 2))
    features = np.c_[3 * noise[:, 0] + labels, 3 * noise[:, 0] + 0.3 * noise[:, 1],
                     rng.standard_normal((60, 4))]
    return features, labels


def one_positive_fold():
    """Two positives for three folds: a fold without positives, so every C's mean is NaN."""
    features, labels = separable(n_pos=2, n_neg=40, seed=4)
    return features, labels


@pytest.mark.parametrize("data", [correlated(0), correlated(3), one_positive_fold()],
                         ids=["C=100", "C=1", "every mean NaN"])
def test_fast_solver_chooses_the_c_gridsearch_chooses(data):
    features, labels = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # too few members of a class for 3 folds
        reference, reference_c = gridsearch.grid_search(features, labels, "gridsearch")
        fast, fast_c = gridsearch.grid_search(features, labels, "fast")
    assert fast_c == reference_c
    np.testing.assert_array_equal(fast.coef_, reference.coef_)


@pytest.mark.parametrize("seed", [0, 1])
def test_fast_solver_matches_gridsearch(seed):
    features, labels = separable(seed=seed)
    test_features, test_labels = separable(seed=seed + 10)
    reference, reference_c = gridsearch.grid_search(features, labels, "gridsearch")
    fast, fast_c = gridsearch.grid_search(features, labels, "fast")
    assert fast_c == reference_c
    np.testing.assert_array_equal(fast.coef_, reference.coef_)
    assert (gridsearch.metrics_on_test_set(fast, test_features, test_labels)
            == gridsearch.metrics_on_test_set(reference, test_features, test_labels))


def test_classifier_is_the_papers():
    params = gridsearch.make_classifier(0.1).get_params()
    assert params["C"] == 0.1 and params["solver"] == "liblinear"
    assert params["class_weight"] == "balanced" and params["random_state"] == 42
    assert params["penalty"] in ("l2", "deprecated")
    for solver in ("newton", "exact"):  # names after and before "fast"
        with pytest.raises(AesensError, match="unknown solver"):
            gridsearch.grid_search(*separable(), solver=solver)


def published_metrics(classifier, features, labels):
    """The published metrics: classification_report's True column, scores of predict_proba.

    As scikit-learn 1.2.2 (the published environment) reported them: F1 from precision
    and recall, ``2 P R / (P + R)`` (later versions compute ``2 tp / (2 tp + fp + fn)``,
    within 1 ulp: checked), and the support an integer.
    """
    truth = labels == 1
    report = classification_report(truth, classifier.predict(features) == 1, output_dict=True)
    probability = classifier.predict_proba(features)[:, 1]
    precision, recall = report["True"]["precision"], report["True"]["recall"]
    f1_score = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    assert report["True"]["f1-score"] == pytest.approx(f1_score, rel=1e-15, abs=0)
    assert report["True"]["support"] == int(report["True"]["support"])
    return {"precision": precision, "recall": recall, "f1_score": f1_score,
            "support": int(report["True"]["support"]),
            "accuracy": report["accuracy"], "roc_auc": roc_auc_score(truth, probability),
            "ap": average_precision_score(truth, probability)}


@pytest.mark.parametrize("seed", range(6))
def test_metrics_equal_the_published_report_and_probability_scores(seed):
    features, labels = separable(n_pos=10, n_neg=40, seed=seed, shift=0.3 * seed)
    classifier, _ = gridsearch.grid_search(features, labels)
    features[:5] = features[5]  # ties in the scores
    metrics = gridsearch.metrics_on_test_set(classifier, features, labels)
    assert metrics == published_metrics(classifier, features, labels)
    assert type(metrics["support"]) is int


def test_auc_ties_in_probability_count_as_ties():
    # Large scores saturate predict_proba at 1.0: the decision values differ, the
    # published scores (probabilities) tie, and so does the AUC computed here.
    features, labels = separable(n_pos=20, n_neg=20, seed=3, shift=3.0)
    classifier = LogisticRegression(C=1.0).fit(features, labels)
    classifier.coef_ = classifier.coef_ * 40
    decision = classifier.decision_function(features)
    probability = classifier.predict_proba(features)[:, 1]
    assert len(np.unique(probability)) < len(np.unique(decision))
    assert roc_auc_score(labels, probability) != roc_auc_score(labels, decision)
    metrics = gridsearch.metrics_on_test_set(classifier, features, labels)
    assert metrics == published_metrics(classifier, features, labels)
    assert metrics["roc_auc"] == roc_auc_score(labels, probability)


def test_auc_and_average_precision_equal_sklearn_including_ties():
    rng = np.random.default_rng(0)
    for case in range(150):
        size = int(rng.integers(2, 30))
        labels = rng.integers(0, 2, size)
        scores = (rng.integers(0, 4, size).astype(float) if case % 2
                  else rng.standard_normal(size))
        if labels.min() == labels.max():
            assert np.isnan(gridsearch.fast_roc_auc(labels, scores))
        else:
            assert gridsearch.fast_roc_auc(labels, scores) == roc_auc_score(labels, scores)
            assert (gridsearch.fast_average_precision(labels, scores)
                    == average_precision_score(labels, scores))


@pytest.mark.parametrize("seed", range(4))
def test_liblinear_fit_equals_scikit_learns_fit_bit_for_bit(seed):
    """The direct liblinear call equals ``LogisticRegression(...).fit`` at every C of the grid."""
    rng = np.random.default_rng(seed)
    n_pos, n_neg = int(rng.integers(8, 40)), int(rng.integers(5, 30))
    features, labels = separable(n_pos=n_pos, n_neg=n_neg, dim=int(rng.integers(3, 80)),
                                 shift=float(rng.uniform(0, 2)), seed=seed)
    features *= 10.0 ** rng.uniform(-2, 2)
    for C in gridsearch.C_GRID:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            reference = gridsearch.make_classifier(C).fit(features, labels)
        reference_warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            coef, intercept = gridsearch.liblinear_fit(features, labels, C)
        assert reference_warned == any(issubclass(w.category, ConvergenceWarning)
                                       for w in caught)
        np.testing.assert_array_equal(coef, reference.coef_[0])
        assert intercept == reference.intercept_[0]


def test_liblinear_fit_refuses_one_class_as_scikit_learns_helper_does():
    from sklearn.svm._base import _fit_liblinear

    features, labels = separable()
    with pytest.raises(ValueError, match="only one class") as ours:
        gridsearch.liblinear_fit(features, np.ones_like(labels), 1.0)
    with pytest.raises(ValueError, match="only one class") as theirs:
        _fit_liblinear(features, np.ones_like(labels), 1.0, True, 1.0, "balanced", "l2", False,
                       0, 100, 1e-4, 42)
    assert str(ours.value) == str(theirs.value)


def test_liblinear_fit_warns_where_scikit_learn_warns_that_it_did_not_converge():
    """Noise scaled by 100 at C = 1000 hits liblinear's 100 iterations, in both paths."""
    rng = np.random.default_rng(0)
    rng.standard_normal((2, 60, 30))  # the third draw of this generator does not converge
    features = 100 * rng.standard_normal((60, 30))
    labels = np.r_[np.ones(30, dtype=int), np.zeros(30, dtype=int)]
    with pytest.warns(ConvergenceWarning):
        reference = gridsearch.make_classifier(1000.0).fit(features, labels)
    with pytest.warns(ConvergenceWarning, match="failed to converge"):
        coef, intercept = gridsearch.liblinear_fit(features, labels, 1000.0)
    np.testing.assert_array_equal(coef, reference.coef_[0])
    assert intercept == reference.intercept_[0]


def test_liblinear_fit_prints_nothing(capfd):
    """liblinear's own progress lines (C-level stdout) stay off, as in scikit-learn's fit."""
    features, labels = separable()
    gridsearch.make_classifier(1.0).fit(features, labels)  # scikit-learn's own: silent
    capfd.readouterr()
    gridsearch.liblinear_fit(features, labels, 1.0)
    assert capfd.readouterr() == ("", "")


def test_metrics_when_nothing_is_predicted_positive_or_no_file_is_positive():
    """classification_report's zero-division values (0.0), as in the published script."""
    features, labels = separable(n_pos=10, n_neg=40, seed=2)
    classifier, _ = gridsearch.grid_search(features, labels)
    classifier.intercept_ = classifier.intercept_ - 1e3  # predicts no positive
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns of the zero division
        assert gridsearch.metrics_on_test_set(classifier, features, labels) == (
            published_metrics(classifier, features, labels))
    negatives = np.zeros(len(labels), dtype=int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns of the missing positive class
        metrics = gridsearch.metrics_on_test_set(classifier, features, negatives)
        report = classification_report(negatives == 1, classifier.predict(features) == 1,
                                       labels=[False, True], output_dict=True)["True"]
        ap = average_precision_score(negatives, classifier.predict_proba(features)[:, 1])
    assert (metrics["precision"], metrics["recall"], metrics["f1_score"]) == (
        report["precision"], report["recall"], report["f1-score"])
    assert np.isnan(metrics["roc_auc"]) and metrics["ap"] == ap


def test_metrics_of_a_classifier_that_predicts_as_many_positives_as_there_are():
    features, labels = separable(n_pos=10, n_neg=30, seed=1, shift=4.0)
    classifier = gridsearch.make_classifier(1.0).fit(features, labels)
    assert (classifier.predict(features) == 1).sum() == (labels == 1).sum()
    assert gridsearch.metrics_on_test_set(classifier, features, labels) == published_metrics(
        classifier, features, labels)


def published_search(cv: int = 3) -> GridSearchCV:
    """The published grid search, written out (its constants not taken from aesens)."""
    return GridSearchCV(
        LogisticRegression(solver="liblinear", class_weight="balanced", random_state=42),
        {"C": [10.0 ** k for k in range(-8, 4)]}, cv=cv, scoring="roc_auc")


@pytest.mark.parametrize("seed", [3, 9])
@pytest.mark.parametrize("solver", gridsearch.SOLVERS)
def test_both_solvers_search_three_folds_as_published(seed, solver):
    """On data where 2, 4 or 5 folds choose another C than 3, both solvers choose the C of
    the published ``GridSearchCV(cv=3)`` and refit the same classifier."""
    features, labels = correlated(seed)
    reference = published_search().fit(features, labels)
    other_folds = {published_search(cv).fit(features, labels).best_params_["C"]
                   for cv in (2, 4, 5)}
    assert reference.best_params_["C"] not in other_folds
    classifier, C = gridsearch.grid_search(features, labels, solver)
    assert C == reference.best_params_["C"]
    np.testing.assert_array_equal(classifier.coef_, reference.best_estimator_.coef_)
    np.testing.assert_array_equal(classifier.intercept_, reference.best_estimator_.intercept_)
