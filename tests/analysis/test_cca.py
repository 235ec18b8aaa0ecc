"""CCA directions against scikit-learn's CCA, sign included; correlations, SVD and UMAP views."""

from __future__ import annotations

import os
import sys
import types
import warnings

import numpy as np
import pytest
import scipy.stats
from sklearn.cross_decomposition import CCA
from sklearn.preprocessing import QuantileTransformer
from threadpoolctl import threadpool_limits

from aesens.analysis import cca

COSINE_TOLERANCE = 1e-9


def realistic_paths(n_files: int, n_params: int, dim: int, noise: float = 0.02,
                    seed: int = 0) -> np.ndarray:
    """Non-negative float32 paths: a base embedding drifting smoothly with the parameter."""
    rng = np.random.default_rng(seed)
    base = 2 * np.abs(rng.standard_normal((n_files, 1, dim)))
    t = np.linspace(0, 1, n_params)[None, :, None]
    drift = (t ** 2 * rng.standard_normal((n_files, 1, dim))
             + np.sin(3 * t) * rng.standard_normal((n_files, 1, dim)))
    paths = base + 0.3 * drift + noise * rng.standard_normal((n_files, n_params, dim))
    return np.maximum(paths, 0).astype(np.float32)


def sklearn_directions(paths: np.ndarray) -> np.ndarray:
    """The published computation: one CCA fit per file."""
    target = cca.rank_target(paths.shape[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.array([CCA(n_components=1, scale=False).fit(path, target).x_weights_[:, 0]
                         for path in paths])


def assert_same_directions(ours: np.ndarray, reference: np.ndarray) -> None:
    cosines = np.sum(ours * reference, axis=1) / (
        np.linalg.norm(ours, axis=1) * np.linalg.norm(reference, axis=1))
    assert cosines.min() >= 1 - COSINE_TOLERANCE  # same sign: cosine near +1, not -1
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, rtol=1e-12)


def test_rank_target_is_uniform_on_unit_interval():
    for n in (2, 12, 31, 34):
        expected = QuantileTransformer(n_quantiles=n).fit_transform(
            np.arange(n, dtype=float)[:, None])[:, 0]
        np.testing.assert_array_equal(cca.rank_target(n), expected)
        np.testing.assert_allclose(cca.rank_target(n), np.linspace(0, 1, n), atol=1e-15)
    with pytest.raises(ValueError):
        cca.rank_target(1)


@pytest.mark.parametrize(("n_files", "n_params", "dim"), [
    (40, 31, 128),   # wide: fewer grid values than dimensions (the usual case)
    (20, 12, 12),    # n_params - 1 < dim, nearly square
    (20, 34, 8),     # tall: more grid values than dimensions
])
def test_samplewise_directions_equal_sklearn(n_files, n_params, dim):
    paths = realistic_paths(n_files, n_params, dim)
    assert_same_directions(cca.samplewise_cca_directions(paths), sklearn_directions(paths))


def test_samplewise_directions_follow_sklearn_sign_convention():
    paths = realistic_paths(30, 12, 16, seed=3)
    ours = cca.samplewise_cca_directions(paths)
    largest = np.take_along_axis(ours, np.abs(ours).argmax(axis=1)[:, None], axis=1)
    assert (largest > 0).all()
    np.testing.assert_allclose(ours, sklearn_directions(paths), atol=1e-9)


def test_samplewise_directions_of_ill_conditioned_paths_use_exact_pseudo_inverse():
    paths = realistic_paths(12, 31, 64, noise=1e-6, seed=1)
    paths[0, 5] = paths[0, 4]            # two identical rows: rank-deficient path
    paths[1, :10] = paths[1, 10]         # a flat stretch
    paths[2] = paths[2, :1] + np.linspace(0, 1, 31)[:, None] * paths[2, -1:] * 1e-3
    assert_same_directions(cca.samplewise_cca_directions(paths), sklearn_directions(paths))


def test_constant_path_gets_nan_direction_and_a_warning():
    paths = realistic_paths(5, 12, 10)
    paths[2] = paths[2, 0]               # silent file: the effect changes nothing
    with pytest.warns(cca.ConstantPathWarning, match="1 of 5 paths"):
        directions = cca.samplewise_cca_directions(paths)
    assert np.isnan(directions[2]).all()
    keep = [0, 1, 3, 4]
    assert_same_directions(directions[keep], sklearn_directions(paths[keep]))
    r2 = cca.samplewise_r2(paths, directions)
    assert np.isnan(r2[2]) and np.isfinite(r2[keep]).all()


def test_samplewise_chunks_give_the_same_directions():
    paths = realistic_paths(10, 12, 20)
    np.testing.assert_allclose(cca.samplewise_cca_directions(paths, chunk_files=3),
                               cca.samplewise_cca_directions(paths), atol=1e-12)


def test_threads_and_chunks_give_the_same_directions():
    paths = realistic_paths(25, 31, 40)
    reference = cca.samplewise_cca_directions(paths, workers=1)
    for chunk_files, workers in ((1, 2), (4, 3), (None, 2)):
        np.testing.assert_allclose(cca.samplewise_cca_directions(paths, chunk_files, workers),
                                   reference, rtol=0, atol=1e-15)


def test_default_workers_follow_the_blas_thread_limit():
    with threadpool_limits(limits=1, user_api="blas"):
        assert cca.default_workers() == 1
    assert cca.default_workers() >= 1


def test_exact_pseudo_inverse_only_for_ill_conditioned_paths(monkeypatch):
    paths = realistic_paths(9, 31, 64, seed=4)
    paths[1, 5] = paths[1, 4]            # two identical rows: singular Gram matrix
    paths[6, :10] = paths[6, 10]         # a flat stretch
    exact = []
    pinv_weights = cca._pinv_weights

    def recording_pinv_weights(centred, target):
        exact.append(centred)
        return pinv_weights(centred, target)

    monkeypatch.setattr(cca, "_pinv_weights", recording_pinv_weights)
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # no overflow or division warnings from the fast route
        directions = cca.samplewise_cca_directions(paths, chunk_files=2, workers=2)
    assert len(exact) == 2
    for centred, index in zip(exact, (1, 6), strict=True):
        np.testing.assert_allclose(centred, paths[index] - paths[index].mean(axis=0), atol=1e-6)
    assert_same_directions(directions, sklearn_directions(paths))


def test_condition_estimate_flags_ill_conditioned_systems():
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.standard_normal((30, 30)))[0]
    spectra = [np.logspace(0, -6, 30), np.logspace(0, -12, 30), np.r_[np.ones(29), 1e-11],
               np.r_[np.ones(29), 0.0]]
    grams = np.stack([(basis * spectrum) @ basis.T for spectrum in spectra])
    rhs = rng.standard_normal((4, 30))
    solutions, accurate = cca._solve_with_condition(
        grams, np.trace(grams, axis1=1, axis2=2), rhs, cca._condition_probes(30))
    assert accurate.tolist() == [True, False, False, False]
    np.testing.assert_allclose(solutions[0], np.linalg.solve(grams[0], rhs[0]), rtol=1e-8)


def test_constant_tall_path_gets_nan_direction_with_threads():
    paths = realistic_paths(7, 34, 8)
    paths[4] = paths[4, 0]
    with pytest.warns(cca.ConstantPathWarning, match="1 of 7 paths"):
        directions = cca.samplewise_cca_directions(paths, chunk_files=2, workers=2)
    assert np.isnan(directions).any(axis=1).tolist() == [False] * 4 + [True] + [False] * 2
    keep = [0, 1, 2, 3, 5, 6]
    assert_same_directions(directions[keep], sklearn_directions(paths[keep]))


def test_global_direction_equals_sklearn_on_stacked_paths():
    paths = realistic_paths(15, 12, 24, seed=2)
    n_files, n_params, dim = paths.shape
    target = np.tile(cca.rank_target(n_params), n_files)
    reference = CCA(n_components=1, scale=False).fit(
        paths.reshape(-1, dim), target).x_weights_[:, 0]
    direction = cca.global_cca_direction(paths)
    assert direction @ reference >= 1 - COSINE_TOLERANCE


def test_global_direction_of_constant_paths_is_nan():
    paths = np.ones((3, 5, 4), dtype=np.float32)
    with pytest.warns(cca.ConstantPathWarning):
        assert np.isnan(cca.global_cca_direction(paths)).all()


def test_r2_equal_squared_spearman():
    paths = realistic_paths(8, 12, 16)
    directions = cca.samplewise_cca_directions(paths)
    expected = [scipy.stats.spearmanr(path @ direction, np.arange(12)).statistic ** 2
                for path, direction in zip(paths.astype(float), directions, strict=True)]
    np.testing.assert_allclose(cca.samplewise_r2(paths, directions), expected, atol=1e-12)
    direction = cca.global_cca_direction(paths)
    projection = cca.project(paths, direction)
    assert projection.shape == (8, 12)
    expected_global = scipy.stats.spearmanr(projection.ravel(), np.tile(np.arange(12), 8))
    assert cca.global_r2(paths, direction) == pytest.approx(expected_global.statistic ** 2)
    # the published 3.1 notebook: setting by setting, against the parameter values
    values = np.geomspace(1600, 18333.333, 12)
    notebook = scipy.stats.spearmanr(
        np.concatenate([paths[:, i].astype(float) @ direction for i in range(12)]),
        np.concatenate([np.full(8, value) for value in values])).statistic ** 2
    assert cca.global_r2(paths, direction, values) == notebook
    with pytest.raises(ValueError, match="parameter values"):
        cca.global_r2(paths, direction, values[:-1])
    assert cca.spearman_r2(np.arange(5.0), -np.arange(5.0) ** 3) == pytest.approx(1.0)


def test_singular_value_profiles_are_normalised_svds():
    rng = np.random.default_rng(0)
    directions = rng.standard_normal((10, 6))
    directions[3] = np.nan
    originals = rng.standard_normal((10, 6)) + 5
    sv_dirs, sv_orig = cca.singular_value_profiles(directions, originals)
    expected_dirs = np.linalg.svd(np.delete(directions, 3, axis=0), compute_uv=False)
    expected_orig = np.linalg.svd(originals - originals.mean(axis=0), compute_uv=False)
    np.testing.assert_allclose(sv_dirs, expected_dirs / expected_dirs[0])
    np.testing.assert_allclose(sv_orig, expected_orig / expected_orig[0])


class _FakeUMAP:
    """Stands in for umap.UMAP: records its arguments, projects on the first two axes."""

    calls: list = []

    def __init__(self, n_neighbors, random_state):
        _FakeUMAP.calls.append((n_neighbors, random_state))

    def fit_transform(self, data):
        self.fitted_rows = len(data)
        return data[:, :2]

    def transform(self, data):
        return data[:, :2] + 100


def test_umap_trajectories_fit_on_paths_and_place_originals(monkeypatch):
    monkeypatch.setitem(sys.modules, "umap", types.SimpleNamespace(UMAP=_FakeUMAP))
    paths = realistic_paths(4, 6, 5)
    originals = paths[:, 0] * 0
    paths_2d, originals_2d = cca.umap_trajectories(paths, originals, random_state=7)
    assert _FakeUMAP.calls[-1] == (3, 7)
    np.testing.assert_array_equal(paths_2d, paths[:, :, :2])
    np.testing.assert_array_equal(originals_2d, np.full((4, 2), 100.0))


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("AESENS_SLOW_TESTS"),
                    reason="umap-learn compiles for about a minute; set AESENS_SLOW_TESTS=1")
def test_umap_trajectories_with_umap_learn():
    pytest.importorskip("umap")
    paths = realistic_paths(4, 8, 6)
    paths_2d, originals_2d = cca.umap_trajectories(paths, paths[:, 0], random_state=0)
    assert paths_2d.shape == (4, 8, 2) and originals_2d.shape == (4, 2)
    assert np.isfinite(paths_2d).all() and np.isfinite(originals_2d).all()
    # Five files far apart (as MFCC paths are): UMAP lays out five separate components with
    # ARPACK on an identity matrix. The same seed gives the same layout every time.
    far = realistic_paths(5, 8, 6) + 1000.0 * np.arange(5)[:, None, None]
    first = cca.umap_trajectories(far, far[:, 0], random_state=0)
    second = cca.umap_trajectories(far, far[:, 0], random_state=0)
    for ours, again in zip(first, second, strict=True):
        np.testing.assert_array_equal(ours, again)


@pytest.mark.parametrize("scale", [1e-8, 1.0, 1e8])
def test_condition_flag_does_not_depend_on_the_scale_of_the_embeddings(scale):
    """The flag estimates a condition number (trace x inverse norm): scaling changes nothing."""
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.standard_normal((30, 30)))[0]
    spectra = [np.logspace(0, -6, 30), np.logspace(0, -12, 30), np.r_[np.ones(29), 1e-11],
               np.r_[np.ones(29), 1e-7]]
    grams = scale * np.stack([(basis * spectrum) @ basis.T for spectrum in spectra])
    _, accurate = cca._solve_with_condition(
        grams, np.trace(grams, axis1=1, axis2=2), rng.standard_normal((4, 30)),
        cca._condition_probes(30))
    assert accurate.tolist() == [True, False, False, True]


def test_chunks_of_one_file_give_the_same_directions(monkeypatch):
    paths = realistic_paths(9, 12, 16)
    default = cca.samplewise_cca_directions(paths, workers=1)
    monkeypatch.setattr(cca, "CHUNK_BYTES", 1)  # smaller than one file: one file per chunk
    np.testing.assert_allclose(cca.samplewise_cca_directions(paths, workers=1), default,
                               rtol=1e-12, atol=1e-15)


def test_the_samplewise_constant_path_warning_points_at_the_caller():
    paths = realistic_paths(3, 12, 16)
    paths[1] = paths[1, 0]
    with pytest.warns(cca.ConstantPathWarning) as caught:
        cca.samplewise_cca_directions(paths)
    assert [warning.filename for warning in caught] == [__file__]


def test_the_constant_path_warning_names_the_first_five_files():
    paths = realistic_paths(8, 12, 16)
    paths[1:8] = paths[1:8, :1]
    with pytest.warns(cca.ConstantPathWarning, match=r"7 of 8 paths .*\(files \[1, 2, 3, 4, 5\]"):
        cca.samplewise_cca_directions(paths)


# ----------------------------------------------------------------------
# The CCA target and directions against scikit-learn, with the target built independently.
#
# As published: the target of a path is the ranks ``0 .. n-1`` passed through
# ``QuantileTransformer(n_quantiles=n)``. Here that target is built from
# scikit-learn directly (never from :func:`aesens.analysis.cca.rank_target`), so a wrong
# target in the package changes the directions compared below.

def sklearn_target(n_params: int) -> np.ndarray:
    """The published target, from scikit-learn alone."""
    ranks = np.arange(n_params, dtype=np.float64).reshape(-1, 1)
    return QuantileTransformer(n_quantiles=n_params).fit_transform(ranks)[:, 0]


def sklearn_direction(matrix: np.ndarray, target: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return CCA(n_components=1, scale=False).fit(matrix, target).x_weights_[:, 0]


def curved_paths(n_files: int, n_params: int, dim: int, seed: int = 0) -> np.ndarray:
    """Paths bending with the rank, so a target other than a linear map of it changes the fit."""
    rng = np.random.default_rng(seed)
    rank = np.linspace(0.0, 1.0, n_params)[None, :, None]
    base = rng.standard_normal((n_files, 1, dim))
    linear, bend = rng.standard_normal((2, n_files, 1, dim))
    noise = 0.05 * rng.standard_normal((n_files, n_params, dim))
    return base + rank * linear + np.exp(3 * rank) * bend / 20 + noise


def cosines(ours: np.ndarray, reference: np.ndarray) -> np.ndarray:
    return np.sum(ours * reference, axis=-1) / (
        np.linalg.norm(ours, axis=-1) * np.linalg.norm(reference, axis=-1))


@pytest.mark.parametrize("n_params", [2, 3, 12, 31, 34, 100])
def test_rank_target_equals_quantile_transformer_of_the_ranks(n_params):
    target = cca.rank_target(n_params)
    np.testing.assert_allclose(target, sklearn_target(n_params), rtol=0, atol=1e-12)
    # Uniform on [0, 1]: evenly spaced from 0 to 1.
    np.testing.assert_allclose(target, np.linspace(0.0, 1.0, n_params), rtol=0, atol=1e-12)


@pytest.mark.parametrize(("n_params", "dim"), [(12, 24), (31, 8), (34, 40)])
def test_samplewise_directions_equal_sklearn_on_the_independent_target(n_params, dim):
    paths = curved_paths(6, n_params, dim, seed=n_params)
    target = sklearn_target(n_params)
    reference = np.array([sklearn_direction(path, target) for path in paths])
    ours = cca.samplewise_cca_directions(paths, workers=1)
    assert cosines(ours, reference).min() >= 1 - COSINE_TOLERANCE
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, rtol=1e-12)


def test_global_direction_equals_sklearn_on_the_independent_target():
    paths = curved_paths(8, 12, 6, seed=3)
    n_files, n_params, dim = paths.shape
    reference = sklearn_direction(paths.reshape(-1, dim), np.tile(sklearn_target(n_params),
                                                                  n_files))
    assert cosines(cca.global_cca_direction(paths), reference) >= 1 - COSINE_TOLERANCE


def test_a_nonlinear_target_would_give_other_directions():
    """The comparison above can tell targets apart: on these paths the target matters."""
    paths = curved_paths(6, 12, 8, seed=12)
    other = np.array([sklearn_direction(path, sklearn_target(12) ** 2) for path in paths])
    ours = cca.samplewise_cca_directions(paths, workers=1)
    assert cosines(ours, other).max() < 1 - 1e-4


def test_global_direction_recovers_a_planted_effect_direction():
    """Effected embeddings moving along one planted direction: CCA finds it, not the noise."""
    rng = np.random.default_rng(5)
    n_files, n_params, dim = 20, 10, 16
    planted = rng.standard_normal(dim)
    planted /= np.linalg.norm(planted)
    originals = 3 * rng.standard_normal((n_files, 1, dim))
    originals -= (originals @ planted)[..., None] * planted  # files differ off the effect axis
    steps = np.arange(n_params)[None, :, None] * planted
    paths = originals + steps + 0.05 * rng.standard_normal((n_files, n_params, dim))
    direction = cca.global_cca_direction(paths)
    assert abs(direction @ planted) >= 0.99
    assert cca.global_r2(paths, direction) >= 0.99


@pytest.mark.parametrize("shape", [(12, 5), (2, 12, 5, 1), (12,)])
def test_paths_that_are_not_three_dimensional_are_refused(shape):
    with pytest.raises(ValueError, match="n_files, n_params, dim"):
        cca.global_cca_direction(np.ones(shape))
    with pytest.raises(ValueError, match="n_files, n_params, dim"):
        cca.samplewise_cca_directions(np.ones(shape))


def test_the_constant_path_warning_points_at_the_caller():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert np.isnan(cca.global_cca_direction(np.ones((3, 5, 4)))).all()
    assert [warning.filename for warning in caught] == [__file__]


def test_samplewise_r2_equals_scipy_on_directions_that_do_not_fit_the_paths():
    """R² strictly between 0 and 1, from negative and positive correlations alike.

    Sample-wise CCA directions fit every path exactly when the grid is no larger
    than dim + 1 (R² = 1), so any direction is taken here.
    """
    rng = np.random.default_rng(7)
    paths = rng.standard_normal((30, 9, 4)) + np.linspace(0, 1, 9)[None, :, None]
    directions = rng.standard_normal((30, 4))
    expected = np.array([scipy.stats.spearmanr(path @ direction, np.arange(9)).statistic ** 2
                         for path, direction in zip(paths, directions, strict=True)])
    signs = np.sign([scipy.stats.spearmanr(path @ direction, np.arange(9)).statistic
                     for path, direction in zip(paths, directions, strict=True)])
    assert {-1.0, 1.0} <= set(signs) and 0.05 < expected.mean() < 0.95
    np.testing.assert_allclose(cca.samplewise_r2(paths, directions), expected, rtol=1e-12)
