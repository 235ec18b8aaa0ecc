"""Classification protocol: negatives, combinations, randommix, results CSV."""

from __future__ import annotations

import random

import numpy as np
import pytest

from aesens.classification import classify
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


def test_small_classes_still_get_one_negative_per_other_instrument():
    from aesens.classification.classify import select_negatives

    labels = ["clarinet"] * 6 + ["organ"] * 6 + ["cello"] * 6
    with pytest.warns(UserWarning, match="clarinet has 6 train files"):
        rows = select_negatives(labels, "clarinet", order=("clarinet", "organ", "cello"))
    assert len(rows) == 2
    assert {labels[i] for i in rows} == {"organ", "cello"}
