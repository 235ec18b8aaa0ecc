"""Classification protocol: negatives, grid search, metrics, combinations, results CSV."""

from __future__ import annotations

import random

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, classification_report, roc_auc_score

from aesens import classify
from aesens.errors import AesensError


@pytest.fixture
def labels():
    """Train labels of 4 instruments, interleaved, with unequal counts."""
    counts = {"clarinet": 23, "organ": 12, "cello": 15, "violin": 9}
    rng = np.random.default_rng(0)
    labels = np.array([name for name, count in counts.items() for _ in range(count)])
    return labels[rng.permutation(len(labels))]


def test_negatives_count_and_indices_follow_seeded_random_sample(labels):
    order = ["clarinet", "organ", "cello", "violin"]
    negatives = classify.select_negatives(labels, "clarinet", order)
    count = 23 // 10
    expected = []
    for other in ["organ", "cello", "violin"]:
        rows = np.flatnonzero(labels == other)
        random.seed(42)
        expected.extend(rows[random.sample(range(len(rows)), count)])
    assert len(negatives) == 3 * count
    np.testing.assert_array_equal(negatives, expected)
    assert all(labels[negatives[i * count]] == other
               for i, other in enumerate(["organ", "cello", "violin"]))


def test_negatives_do_not_depend_on_global_random_state(labels):
    random.seed(123)
    first = classify.select_negatives(labels, "organ", ["clarinet", "organ", "cello"])
    random.random()
    second = classify.select_negatives(labels, "organ", ["clarinet", "organ", "cello"])
    np.testing.assert_array_equal(first, second)
    assert len(first) == 2 * (12 // 10)


def test_too_few_negatives_is_refused(labels):
    with pytest.raises(AesensError, match="clarinet needs 2 negatives from cello"):
        classify.select_negatives(np.r_[labels[labels != "cello"], ["cello"]], "clarinet",
                                  ["clarinet", "cello"])


def test_training_rows_are_positives_then_negatives(labels):
    order = ["clarinet", "organ", "cello", "violin"]
    rows, binary = classify.training_rows(labels, "cello", order)
    positives = np.flatnonzero(labels == "cello")
    np.testing.assert_array_equal(rows[:15], positives)
    np.testing.assert_array_equal(binary, np.r_[np.ones(15), np.zeros(3)])
    np.testing.assert_array_equal(rows[15:], classify.select_negatives(labels, "cello", order))


def test_default_order_is_the_papers():
    assert classify.INSTRUMENT_ORDER == (
        "clarinet", "organ", "cello", "violin", "guitar_acc", "voice", "guitar_ele",
        "saxophone", "trumpet", "piano", "flute")
    np.testing.assert_array_equal(classify.C_GRID, [10.0 ** k for k in range(-8, 4)])


def test_randommix_draw_is_seeded():
    first = classify.randommix_choice(12, 50, 20, seed=3)
    again = classify.randommix_choice(12, 50, 20, seed=3)
    other = classify.randommix_choice(12, 50, 20, seed=4)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[0], other[0])
    assert first[0].max() < 12 and first[1].shape == (20,)


def test_combinations_cover_the_protocol():
    params = ["4", "5", "6"]
    combos = [(train, test) for train in [classify.ORIGINAL, *params, classify.RANDOMMIX]
              for test in classify.test_sets(train, params)]
    assert len(combos) == 1 + 3 * len(params) + 3
    assert ("orig", "orig") in combos and ("5", "5") in combos and ("5", "orig") in combos
    assert ("orig", "5") in combos and ("randommix", "randommix") in combos
    assert ("orig", "randommix") in combos and ("randommix", "orig") in combos
    assert len(set(combos)) == len(combos)


def separable(n_pos=30, n_neg=30, dim=12, shift=0.6, seed=0):
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((n_pos + n_neg, dim))
    labels = np.r_[np.ones(n_pos, dtype=int), np.zeros(n_neg, dtype=int)]
    features[:n_pos, :3] += shift
    return features, labels


@pytest.mark.parametrize("seed", [0, 1])
def test_fast_solver_matches_gridsearch(seed):
    features, labels = separable(seed=seed)
    test_features, test_labels = separable(seed=seed + 10)
    reference, reference_c = classify.grid_search(features, labels, "gridsearch")
    fast, fast_c = classify.grid_search(features, labels, "fast")
    assert fast_c == reference_c
    np.testing.assert_array_equal(fast.coef_, reference.coef_)
    assert (classify.metrics_on_test_set(fast, test_features, test_labels)
            == classify.metrics_on_test_set(reference, test_features, test_labels))


def test_classifier_is_the_papers():
    params = classify.make_classifier(0.1).get_params()
    assert params["C"] == 0.1 and params["solver"] == "liblinear"
    assert params["class_weight"] == "balanced" and params["random_state"] == 42
    assert params["penalty"] in ("l2", "deprecated")
    with pytest.raises(AesensError, match="unknown solver"):
        classify.grid_search(*separable(), solver="newton")


def published_metrics(classifier, features, labels):
    """The published metrics: classification_report's True column, scores of predict_proba."""
    truth = labels == 1
    report = classification_report(truth, classifier.predict(features) == 1, output_dict=True)
    probability = classifier.predict_proba(features)[:, 1]
    return {"precision": report["True"]["precision"], "recall": report["True"]["recall"],
            "f1_score": report["True"]["f1-score"], "support": report["True"]["support"],
            "accuracy": report["accuracy"], "roc_auc": roc_auc_score(truth, probability),
            "ap": average_precision_score(truth, probability)}


@pytest.mark.parametrize("seed", range(6))
def test_metrics_equal_the_published_report_and_probability_scores(seed):
    features, labels = separable(n_pos=10, n_neg=40, seed=seed, shift=0.3 * seed)
    classifier, _ = classify.grid_search(features, labels)
    features[:5] = features[5]  # ties in the scores
    assert classify.metrics_on_test_set(classifier, features, labels) == published_metrics(
        classifier, features, labels)


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
    metrics = classify.metrics_on_test_set(classifier, features, labels)
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
            assert np.isnan(classify.fast_roc_auc(labels, scores))
        else:
            assert classify.fast_roc_auc(labels, scores) == roc_auc_score(labels, scores)
            assert (classify.fast_average_precision(labels, scores)
                    == average_precision_score(labels, scores))


def test_small_classes_still_get_one_negative_per_other_instrument():
    from aesens.classify import select_negatives

    labels = ["clarinet"] * 6 + ["organ"] * 6 + ["cello"] * 6
    with pytest.warns(UserWarning, match="clarinet has 6 train files"):
        rows = select_negatives(labels, "clarinet", order=("clarinet", "organ", "cello"))
    assert len(rows) == 2
    assert {labels[i] for i in rows} == {"organ", "cello"}
