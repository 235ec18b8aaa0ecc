"""Classification protocol: negatives, combinations, randommix, results CSV."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from conftest import write_published_h5, write_split_csv
from scipy.stats import chisquare

from aesens import layout
from aesens.classification import classify
from aesens.errors import AesensError
from aesens.sweep.sweep import Sweep


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


# ----------------------------------------------------------------------
# Behaviour of the "randommix" sets: each file's grid value drawn uniformly, train and test apart.
#
# As published: in randommix every file gets a random grid value. Checked here by the
# distribution of the draw (chi-square tests from scipy, on many files and many
# seeds), by the per-file pairing of the train and test draws, by the matrices
# the classifiers see, and end to end: on a tiny sweep whose classifiers differ
# by setting, the randommix rows of the results CSV differ from every
# fixed-setting row.

#: Smallest p-value accepted from a chi-square test of a fixed-seed draw.
MIN_P_VALUE = 1e-3


def uniform_p_value(values: np.ndarray, n_cells: int) -> float:
    """p-value of scipy's chi-square test that ``values`` are uniform over ``0 .. n_cells-1``."""
    return chisquare(np.bincount(values, minlength=n_cells)).pvalue


@pytest.mark.parametrize("n_params", [3, 12, 31])
def test_each_files_draw_is_uniform_over_the_grid(n_params):
    n_files = 400 * n_params
    train, test = classify.randommix_choice(n_params, n_files, n_files + 7, seed=1)
    assert train.shape == (n_files,) and test.shape == (n_files + 7,)
    assert set(np.unique(train)) == set(range(n_params)) == set(np.unique(test))
    assert uniform_p_value(train, n_params) > MIN_P_VALUE
    assert uniform_p_value(test, n_params) > MIN_P_VALUE


def test_train_and_test_draws_are_independent_per_file():
    """The pair (train value, test value) of file i is uniform over all n² pairs."""
    n_params, n_files = 5, 5000
    train, test = classify.randommix_choice(n_params, n_files, n_files, seed=2)
    assert uniform_p_value(train * n_params + test, n_params ** 2) > MIN_P_VALUE
    # Neighbouring files are independent too (no constant or repeating draw).
    assert uniform_p_value(train[:-1] * n_params + train[1:], n_params ** 2) > MIN_P_VALUE


def test_one_files_draw_is_uniform_over_seeds():
    n_params = 4
    draws = np.array([classify.randommix_choice(n_params, 3, 2, seed) for seed in range(2000)],
                     dtype=object)
    for column in (0, 1):
        first_file = np.array([draw[column][0] for draw in draws])
        assert uniform_p_value(first_file, n_params) > MIN_P_VALUE
    # Seeded: the same seed gives the same draw, another seed another one.
    same = classify.randommix_choice(n_params, 50, 50, seed=7)
    again = classify.randommix_choice(n_params, 50, 50, seed=7)
    other = classify.randommix_choice(n_params, 50, 50, seed=8)
    assert all(np.array_equal(a, b) for a, b in zip(same, again, strict=True))
    assert not np.array_equal(same[0], other[0])


def labelled_sweep(n_params: int, n_train: int, n_test: int, seed: int) -> classify.MixedSweep:
    """Effected embeddings that say which setting and which file they are: ``[p, file]``."""
    def bs(n_files):
        grid = np.stack(np.meshgrid(np.arange(n_params), np.arange(n_files), indexing="ij"), -1)
        return grid.astype(np.float64)

    train_mix, test_mix = classify.randommix_choice(n_params, n_train, n_test, seed)
    sweep = Sweep("toy", "tiny", train_A=np.full((n_train, 2), -1.0),
                  test_A=np.full((n_test, 2), -1.0), train_Bs=bs(n_train), test_Bs=bs(n_test),
                  Y_train=np.full(n_train, "cello"), Y_test=np.full(n_test, "cello"),
                  genre_train=np.full(n_train, "pop_roc"), genre_test=np.full(n_test, "pop_roc"),
                  params=np.arange(n_params), param_strings=tuple(str(p) for p in range(n_params)))
    return classify.MixedSweep(sweep, train_mix=train_mix, test_mix=test_mix)


def test_randommix_matrices_take_each_file_at_its_drawn_value():
    n_params = 6
    data = labelled_sweep(n_params, 3000, 2400, seed=3)
    rows = np.arange(0, 3000, 2)
    train = data.train_matrix(classify.RANDOMMIX, rows)
    np.testing.assert_array_equal(train[:, 1], rows)  # each row is its own file ...
    assert uniform_p_value(train[:, 0].astype(int), n_params) > MIN_P_VALUE  # ... at any value
    # ... and at the value drawn for that file: row i is B[draw[file i], file i].
    np.testing.assert_array_equal(train, data.sweep.train_Bs[data.train_mix[rows], rows])
    np.testing.assert_array_equal(train[:, 0], data.train_mix[rows])
    test = data.test_matrix(classify.RANDOMMIX)
    np.testing.assert_array_equal(test[:, 1], np.arange(2400))
    np.testing.assert_array_equal(test[:, 0], data.test_mix)
    assert uniform_p_value(test[:, 0].astype(int), n_params) > MIN_P_VALUE
    pairs = train[:1200, 0].astype(int) * n_params + test[rows[:1200], 0].astype(int)
    assert uniform_p_value(pairs, n_params ** 2) > MIN_P_VALUE
    # Fixed settings and the original stay what they are.
    np.testing.assert_array_equal(data.train_matrix("4", rows)[:, 0], 4)
    np.testing.assert_array_equal(data.test_matrix(classify.ORIGINAL), -1)


@pytest.mark.parametrize("names", [("a", "b"), ("s", "z"), ("randommix2", "x")])
def test_any_parameter_string_names_its_setting(names):
    """A setting is found by its string, whatever it sorts like (not only numbers)."""
    data = labelled_sweep(2, 10, 8, seed=4)
    data = replace(data, sweep=replace(data.sweep, param_strings=names))
    for rank, name in enumerate(names):
        np.testing.assert_array_equal(data.train_matrix(name, np.arange(10))[:, 0], rank)
        np.testing.assert_array_equal(data.test_matrix(name)[:, 0], rank)


def test_training_rows_take_the_instruments_files_as_positives():
    """Positives are exactly the instrument's files, also when other names sort before it."""
    rng = np.random.default_rng(6)
    labels = rng.permutation(["cello"] * 30 + ["clarinet"] * 40 + ["violin"] * 50)
    for instrument in ("cello", "clarinet", "violin"):
        rows, binary = classify.training_rows(labels, instrument, ["clarinet", "cello", "violin"])
        positives = rows[binary == 1]
        assert sorted(positives) == sorted(np.flatnonzero(labels == instrument))
        negatives = labels[rows[binary == 0]]
        assert instrument not in set(negatives)
        assert len(negatives) == 2 * (np.sum(labels == instrument) // 10)


INSTRUMENTS = {"clarinet": "cla", "organ": "org"}
N_TRAIN, N_TEST, DIM = 40, 40, 3


@pytest.fixture
def sweep(tmp_path, monkeypatch, tiny_effect):
    """Raw embeddings of a 3-value effect whose settings blur the classes differently."""
    split = write_split_csv(tmp_path, INSTRUMENTS, N_TRAIN, N_TEST)
    rng = np.random.default_rng(0)
    organ = (split["instrument"].to_numpy() == "organ")[:, None]
    originals = rng.standard_normal((len(split), DIM)) + 1.5 * organ
    keys = split["file_name"].to_numpy()
    write_published_h5(layout.original_path(tmp_path / "embeddings"), originals, keys)
    for rank, param in enumerate(tiny_effect.param_strings):
        blur = (0.8 + 0.6 * rank) * rng.standard_normal(originals.shape)
        tilt = rng.standard_normal(DIM) * organ
        write_published_h5(layout.effected_path("tiny", param, tmp_path / "embeddings"),
                         originals + blur + tilt, keys)
    monkeypatch.chdir(tmp_path)
    return tiny_effect


METRICS = ["precision", "recall", "f1_score", "accuracy", "roc_auc", "ap"]


def test_randommix_rows_differ_from_every_fixed_setting_row(sweep):
    csv = classify.run_classification("openl3", "tiny", [""], solver="fast", progress=False)
    table = pd.read_csv(csv, keep_default_na=False, dtype={"train_set": str, "test_set": str})
    params = list(sweep.param_strings)
    mix = classify.RANDOMMIX
    # Every instrument has its rows: orig/orig, orig/p, p/orig, p/p and the three randommix.
    assert table.groupby("instrument").size().to_dict() == {
        instrument: 1 + 3 * len(params) + 3 for instrument in INSTRUMENTS}
    for instrument, rows in table.groupby("instrument"):
        value = {(row.train_set, row.test_set): tuple(getattr(row, m) for m in METRICS)
                 for row in rows.itertuples()}
        # The settings give different classifiers and test sets: the check can see a constant draw.
        assert len({value["orig", p] for p in params}) == len(params)
        assert len({value[p, "orig"] for p in params}) == len(params)
        for p in params:
            assert value[mix, "orig"] != value[p, "orig"], (instrument, p)
            assert value["orig", mix] != value["orig", p], (instrument, p)
            assert value[mix, mix] != value[p, p], (instrument, p)
        assert value[mix, mix] != value[mix, "orig"] != value["orig", mix]


def test_each_method_and_instrument_draws_afresh():
    """As published, a fresh draw per (method, instrument): the draws differ between tasks
    and are reproducible from the seed."""
    draws = {(method, instrument): classify.randommix_choice(12, 500, 300, 7, method,
                                                             instrument)
             for method in ("", "lda", "cca", "cca_samplewise_svd")
             for instrument in ("cello", "organ", "voice")}
    for task, (train, test) in draws.items():
        again = classify.randommix_choice(12, 500, 300, 7, *task)
        np.testing.assert_array_equal(train, again[0])
        np.testing.assert_array_equal(test, again[1])
        others = [other for key, other in draws.items() if key != task]
        # Independent draws agree on about 1 file in 12, never on most.
        assert all(np.mean(train == other[0]) < 0.2 for other in others)
        assert all(np.mean(test == other[1]) < 0.2 for other in others)
        assert np.mean(train[:300] == test) < 0.2  # train then test: not the same values
    other_seed = classify.randommix_choice(12, 500, 300, 8, "lda", "cello")
    assert np.mean(other_seed[0] == draws["lda", "cello"][0]) < 0.2


def test_every_task_sees_its_own_draw_whatever_runs_beside_it(sweep, monkeypatch):
    """End to end: each (method, instrument) classifies its randommix sets at its own draw
    (row i at B[draw[i], i]); the draws differ between tasks, and a method's rows are the
    same when it runs alone on two workers as beside another method on one."""
    seen = {}
    evaluate = classify.evaluate_train_set

    def recording(data, method, instrument, train_set, *args, **kwargs):
        if train_set == classify.RANDOMMIX:
            rows = args[1]
            np.testing.assert_array_equal(data.train_matrix(train_set, rows),
                                          data.sweep.train_Bs[data.train_mix[rows], rows])
            seen[method, instrument] = data.train_mix, data.test_mix
        return evaluate(data, method, instrument, train_set, *args, **kwargs)

    monkeypatch.setattr(classify, "evaluate_train_set", recording)
    both = classify.run_classification("openl3", "tiny", ["", "lda"], seed=3, solver="fast",
                                       progress=False)
    table = pd.read_csv(both, keep_default_na=False, dtype={"train_set": str, "test_set": str})
    assert sorted(seen) == sorted((method, instrument) for method in ("", "lda")
                                  for instrument in INSTRUMENTS)
    draws = list(seen.values())
    for index, (train, test) in enumerate(draws):
        for other_train, other_test in draws[index + 1:]:
            assert not np.array_equal(train, other_train)
            assert not np.array_equal(test, other_test)
    monkeypatch.setattr(classify, "evaluate_train_set", evaluate)
    both.unlink()
    alone = classify.run_classification("openl3", "tiny", ["lda"], seed=3, n_jobs=2,
                                        solver="fast", progress=False)
    alone_table = pd.read_csv(alone, keep_default_na=False,
                              dtype={"train_set": str, "test_set": str})
    key = ["instrument", "train_set", "test_set"]
    lda = table[table["embedding"] == "openl3-lda"].set_index(key).sort_index()
    alone_table = alone_table.set_index(key).sort_index()
    assert (alone_table.index.get_level_values("train_set") == classify.RANDOMMIX).any()
    pd.testing.assert_frame_equal(lda[METRICS], alone_table[METRICS])
