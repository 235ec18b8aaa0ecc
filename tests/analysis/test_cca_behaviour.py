"""The CCA target and directions against scikit-learn, with the target built independently.

SPEC: the target of a path is the ranks ``0 .. n-1`` passed through
``QuantileTransformer(n_quantiles=n)``. Here that target is built from
scikit-learn directly (never from :func:`aesens.analysis.cca.rank_target`), so a wrong
target in the package changes the directions compared below.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.stats
from sklearn.cross_decomposition import CCA
from sklearn.preprocessing import QuantileTransformer

from aesens.analysis import cca

#: Cosine between our direction and scikit-learn's (same sign required).
COSINE_TOLERANCE = 1e-9


def sklearn_target(n_params: int) -> np.ndarray:
    """SPEC's target, from scikit-learn alone."""
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
