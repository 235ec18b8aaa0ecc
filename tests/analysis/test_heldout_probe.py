"""Held-out sample-wise R² and the effect-strength probe."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from sklearn.cross_decomposition import CCA
from sklearn.linear_model import Ridge

from aesens.analysis import heldout, probe
from aesens.analysis.cca import rank_target, samplewise_cca_directions, samplewise_r2


def test_heldout_r2_can_fail_where_the_published_one_cannot() -> None:
    """Random paths with n_params <= dim + 1: in-sample R² is exactly 1, held-out is not."""
    rng = np.random.default_rng(0)
    paths = rng.normal(size=(40, 12, 32))
    in_sample = samplewise_r2(paths, samplewise_cca_directions(paths))
    assert np.allclose(in_sample, 1.0)
    held = heldout.heldout_samplewise_r2(paths)
    assert np.all(held < 1.0) and np.median(held) < 0.5


def test_heldout_r2_is_high_on_a_shared_monotone_path() -> None:
    rng = np.random.default_rng(1)
    direction = rng.normal(size=16)
    steps = np.linspace(0, 1, 14)
    paths = np.stack([steps[:, None] * direction + rng.normal(0, 0.002, (14, 16))
                      for _ in range(5)])
    assert np.all(heldout.heldout_samplewise_r2(paths) > 0.95)


def test_heldout_r2_written_out_for_one_path() -> None:
    """Fit with scikit-learn's CCA on even ranks, squared Spearman on odd ranks, and back."""
    rng = np.random.default_rng(2)
    path = np.cumsum(rng.normal(size=(12, 5)), axis=0)
    values = []
    for fit, score in ((slice(0, None, 2), slice(1, None, 2)),
                       (slice(1, None, 2), slice(0, None, 2))):
        half = path[fit]
        cca = CCA(n_components=1, scale=False).fit(half, rank_target(len(half)))
        projection = path[score] @ cca.x_weights_[:, 0]
        values.append(scipy.stats.spearmanr(projection, np.arange(len(projection)))
                      .statistic ** 2)
    assert heldout.heldout_samplewise_r2(path[None])[0] == pytest.approx(np.mean(values),
                                                                        abs=1e-9)


def test_heldout_table_round_trip(tmp_path) -> None:
    table = heldout.heldout_table(np.array([1.0, 1.0]), np.array([0.2, np.nan]),
                                  np.array(["cello", "flute"]), np.array(["a", "b"]))
    heldout.write_heldout_table(table, tmp_path, "gain", "toy")
    back = heldout.read_heldout_table(tmp_path, "gain", "toy")
    assert list(back.columns) == heldout.COLUMNS and np.isnan(back["samplewise_r2_heldout"][1])


def test_median_over_instruments_by_hand() -> None:
    """Median per instrument, then of those; an instrument with only NaN is left out."""
    table = heldout.heldout_table(
        np.array([1.0] * 6), np.array([0.1, 0.5, 0.9, 0.2, 0.4, np.nan]),
        np.array(["cello", "cello", "cello", "flute", "flute", "organ"]),
        np.array(list("abcdef")))
    # cello: median(0.1, 0.5, 0.9) = 0.5; flute: (0.2 + 0.4) / 2 = 0.3; organ: none
    assert heldout.median_over_instruments(table, "samplewise_r2_heldout") == pytest.approx(0.4)
    assert np.isnan(heldout.median_over_instruments(table.iloc[5:], "samplewise_r2_heldout"))


def _stem(group: int, excerpt: int) -> str:
    return f"[cel][cla]{group:04d}__{excerpt}"


def test_recording_groups_follow_the_split() -> None:
    names = np.array([_stem(1, 1), _stem(1, 2), "003__[flu][nod][pop_roc]0007__1"])
    assert list(probe.recording_groups(names, 3)) == ["0001", "0001", "0007"]
    assert list(probe.recording_groups(None, 2)) == ["0", "1"]


def test_probe_reads_a_linear_strength_and_not_noise() -> None:
    rng = np.random.default_rng(3)
    n_params, n_files, dim = 10, 30, 8
    originals = rng.normal(size=(n_files, dim))
    direction = rng.normal(size=dim)
    names = np.array([_stem(i // 3, i % 3) for i in range(n_files)])
    effected = np.stack([originals + 0.5 * r * direction for r in range(n_params)])
    table = probe.probe_table(originals, effected, names).set_index("features")
    assert table.loc["displacement", "r2"] > 0.99
    assert table.loc["effected", "spearman"] > 0.9
    assert table.loc["effected", "groups"] == 10
    noise = probe.probe_table(originals, rng.normal(size=effected.shape), names)
    assert np.all(noise["r2"] < 0.1)


def test_probe_folds_keep_recordings_together_and_match_a_direct_fit() -> None:
    """Every fold's predictions equal a ridge fitted by hand on the other recordings."""
    rng = np.random.default_rng(4)
    features = rng.normal(size=(60, 4))
    ranks = features @ np.array([1.0, -2.0, 0.5, 0.0]) + rng.normal(0, 0.1, 60)
    groups = np.repeat(np.arange(12), 5).astype(str)
    scores = probe.probe_scores(features, ranks, groups, n_folds=4, alphas=(1.0,))
    predictions = np.empty(60)
    from sklearn.model_selection import GroupKFold
    for train, test in GroupKFold(n_splits=4).split(features, ranks, groups):
        assert not set(groups[train]) & set(groups[test])
        mean, scale = features[train].mean(axis=0), features[train].std(axis=0)
        model = Ridge(alpha=1.0).fit((features[train] - mean) / scale, ranks[train])
        predictions[test] = model.predict((features[test] - mean) / scale)
    expected = 1 - np.sum((ranks - predictions) ** 2) / np.sum((ranks - ranks.mean()) ** 2)
    assert scores["r2"] == pytest.approx(expected, rel=1e-9)
    assert scores["folds"] == 4 and scores["rows"] == 60


@pytest.mark.parametrize("dim", [3, 40])
def test_ridge_probe_equals_a_grouped_grid_search(dim: int) -> None:
    """Same penalty and predictions as GridSearchCV over StandardScaler + Ridge, group folds."""
    from sklearn.model_selection import GridSearchCV, GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(dim)
    features = rng.normal(size=(300, dim)) * rng.uniform(0.1, 10, dim) + rng.normal(size=dim)
    features[:, 0] = 2.0  # a constant feature: scale 1, as StandardScaler sets it
    groups = np.repeat(np.arange(30), 10)
    # rows of a group share an offset, as the settings of one file do
    target = (features[:, 1:] @ rng.normal(size=dim - 1) + rng.normal(0, 3, 300)
              + np.repeat(rng.normal(0, 5, 30), 10))
    new = rng.normal(size=(50, dim))
    chosen = set()
    for alphas in ((1.0,), probe.ALPHAS, (1e2, 1e3, 1e4)):
        ours = probe.RidgeProbe(alphas).fit(features, target, groups)
        search = GridSearchCV(make_pipeline(StandardScaler(), Ridge()),
                              {"ridge__alpha": list(alphas)}, cv=GroupKFold(n_splits=3),
                              scoring="neg_mean_squared_error")
        search.fit(features, target, groups=groups)
        assert ours.alpha_ == search.best_params_["ridge__alpha"]
        np.testing.assert_allclose(ours.predict(new), search.predict(new), rtol=1e-8,
                                   atol=1e-8)
        chosen.add(ours.alpha_)
    assert len(chosen) > 1


def test_probe_with_one_recording_gives_nan() -> None:
    rng = np.random.default_rng(5)
    originals = rng.normal(size=(4, 3))
    names = np.array([_stem(1, k) for k in range(4)])
    table = probe.probe_table(originals, np.stack([originals + r for r in range(5)]), names)
    assert table["r2"].isna().all() and (table["folds"] == 0).all()
