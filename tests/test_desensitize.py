"""Desensitisation methods against direct reference computations."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cross_decomposition import CCA
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from aesens import desensitize
from aesens.cca import rank_target
from aesens.errors import AesensError

N_PARAMS, N_POS, N_ALL, DIM = 6, 20, 60, 8


@pytest.fixture
def sweep():
    """Train positives A (N_POS x DIM), their effected Bs and a whole original train set."""
    rng = np.random.default_rng(0)
    a_all = rng.standard_normal((N_ALL, DIM)) * np.linspace(3, 0.5, DIM)
    a_pos = a_all[:N_POS]
    shift = rng.standard_normal(DIM)
    strength = np.linspace(1, 0, N_PARAMS)[:, None, None]
    bs_pos = a_pos[None] + strength * shift + 0.1 * rng.standard_normal((N_PARAMS, N_POS, DIM))
    samplewise = rng.standard_normal((N_POS, DIM)) * np.r_[5, 2, np.full(DIM - 2, 0.3)]
    samplewise /= np.linalg.norm(samplewise, axis=1, keepdims=True)
    return a_pos, bs_pos, a_all, samplewise


def directions_of(method, sweep, threshold=0.3):
    a_pos, bs_pos, a_all, samplewise = sweep
    return desensitize.deformation_directions(method, a_pos, bs_pos, a_all=a_all,
                                              samplewise_dirs=samplewise, threshold=threshold)


def assert_same_line(directions, reference):
    """One unit direction, parallel (either sign) to the reference vector."""
    assert directions.shape == (1, DIM)
    reference = reference / np.linalg.norm(reference)
    assert abs(directions[0] @ reference) == pytest.approx(1.0, abs=1e-9)


def test_none_is_identity(sweep):
    directions = directions_of("", sweep)
    assert directions.shape == (0, DIM)
    np.testing.assert_array_equal(desensitize.project_out(sweep[0], directions), sweep[0])
    assert desensitize.validate_method("none") == ""


def test_lda_is_shrinkage_lda_coefficient(sweep):
    a_pos, bs_pos, _, _ = sweep
    data = np.concatenate([a_pos, bs_pos.reshape(-1, DIM)])
    labels = np.r_[np.zeros(N_POS), np.ones(N_PARAMS * N_POS)]
    lda = LinearDiscriminantAnalysis(solver="eigen", shrinkage="auto").fit(data, labels)
    assert_same_line(directions_of("lda", sweep), lda.coef_[0])


def test_avgdirproj_is_centroid_difference(sweep):
    a_pos, bs_pos, _, _ = sweep
    assert_same_line(directions_of("avgdirproj", sweep),
                     bs_pos.reshape(-1, DIM).mean(axis=0) - a_pos.mean(axis=0))


def test_avgdirproj_with_coinciding_centroids_projects_nothing():
    a_pos = np.random.default_rng(1).standard_normal((5, DIM)) + 3
    bs_pos = np.stack([a_pos[::-1], a_pos[[1, 0, 2, 4, 3]]])  # same centroid up to rounding
    directions = desensitize.deformation_directions("avgdirproj", a_pos, bs_pos)
    assert directions.shape == (0, DIM)
    np.testing.assert_array_equal(desensitize.project_out(a_pos, directions), a_pos)
    exact = desensitize.deformation_directions("avgdirproj", a_pos, a_pos[None])
    assert exact.shape == (0, DIM)


def test_pcaproj_nonnorm_is_first_pca_component_of_displacements(sweep):
    a_pos, bs_pos, _, _ = sweep
    pca = PCA().fit((bs_pos - a_pos[None]).reshape(-1, DIM))
    assert_same_line(directions_of("pcaproj_nonnorm", sweep), pca.components_[0])


def test_pcaproj_norm_picks_largest_variance_ratio(sweep):
    a_pos, bs_pos, a_all, _ = sweep
    displacement_pca = PCA().fit((bs_pos - a_pos[None]).reshape(-1, DIM))
    original_pca = PCA().fit(a_all)
    ratio = displacement_pca.explained_variance_ / original_pca.explained_variance_
    assert_same_line(directions_of("pcaproj_norm", sweep),
                     displacement_pca.components_[np.argmax(ratio)])


def test_pcaproj_norm_takes_argmax_over_every_component_as_published():
    # 5 original train files in 8 dimensions: PCA() of them has 5 components, the last with
    # a variance at rounding level (5 centred rows have rank 4). As published, that
    # component competes too: its tiny variance gives by far the largest ratio.
    rng = np.random.default_rng(2)
    a_all = rng.standard_normal((5, DIM))
    a_pos = a_all[:4]
    bs_pos = a_pos[None] + rng.standard_normal((N_PARAMS, 4, DIM))
    directions = desensitize.deformation_directions("pcaproj_norm", a_pos, bs_pos, a_all=a_all)
    displacement_pca = PCA().fit((bs_pos - a_pos[None]).reshape(-1, DIM))
    reference = PCA().fit(a_all).explained_variance_
    assert len(reference) == 5 and reference[-1] < 1e-20 * reference[0]
    ratio = displacement_pca.explained_variance_[:5] / reference
    assert np.argmax(ratio) == 4
    assert_same_line(directions, displacement_pca.components_[4])


def test_cca_is_global_sklearn_cca_of_the_paths(sweep):
    _, bs_pos, _, _ = sweep
    stacked = bs_pos.transpose(1, 0, 2).reshape(-1, DIM)
    target = np.tile(rank_target(N_PARAMS), N_POS)
    reference = CCA(n_components=1, scale=False).fit(stacked, target).x_weights_[:, 0]
    directions = directions_of("cca", sweep)
    assert_same_line(directions, reference)
    assert directions[0] @ reference > 0


@pytest.mark.parametrize("threshold", [0.05, 0.3, 1.0])
def test_cca_samplewise_svd_keeps_singular_vectors_above_threshold(sweep, threshold):
    samplewise = sweep[3]
    _, singular_values, right_vectors = np.linalg.svd(samplewise, full_matrices=False)
    expected = right_vectors[singular_values / singular_values[0] >= threshold]
    directions = directions_of("cca_samplewise_svd", sweep, threshold)
    assert directions.shape == expected.shape and len(directions) >= 1
    np.testing.assert_allclose(np.abs(directions @ expected.T), np.eye(len(expected)),
                               atol=1e-9)


def test_cca_samplewise_svd_leaves_out_nan_directions(sweep):
    a_pos, bs_pos, _, samplewise = sweep
    with_nan = samplewise.copy()
    with_nan[4] = np.nan
    with pytest.warns(UserWarning, match="1 of 20"):
        directions = desensitize.deformation_directions(
            "cca_samplewise_svd", a_pos, bs_pos, samplewise_dirs=with_nan)
    expected = desensitize.deformation_directions(
        "cca_samplewise_svd", a_pos, bs_pos, samplewise_dirs=np.delete(samplewise, 4, axis=0))
    np.testing.assert_allclose(directions, expected)


@pytest.mark.parametrize("method", list(desensitize.METHODS))
def test_directions_are_orthonormal_and_projected_out(sweep, method):
    directions = directions_of(method, sweep, threshold=0.1)
    np.testing.assert_allclose(directions @ directions.T, np.eye(len(directions)), atol=1e-9)
    projected = desensitize.project_out(sweep[1], directions)
    assert projected.shape == sweep[1].shape
    np.testing.assert_allclose(projected @ directions.T, 0, atol=1e-9)


def test_unknown_method_is_refused(sweep):
    with pytest.raises(AesensError, match="unknown desensitisation method 'pca'.*lda"):
        directions_of("pca", sweep)


@pytest.mark.parametrize("threshold", [0.0, -0.1, 1.5, float("nan")])
def test_threshold_outside_unit_interval_is_refused(sweep, threshold):
    with pytest.raises(AesensError, match=r"outside \(0, 1\]"):
        directions_of("cca_samplewise_svd", sweep, threshold)


def test_normalised_pca_takes_the_largest_ratio_even_when_every_ratio_is_below_one():
    """Original variances 40, 4, 0.4 and displacement variances 2, 1.2, 0.36 along the axes:
    ratios 0.05, 0.3, 0.9, so the third axis is the one projected out."""
    def axis_data(scales):
        rows = [sign * scale * np.eye(3)[axis] for axis, scale in enumerate(scales)
                for sign in (1.0, -1.0)]
        return np.array(rows)

    a_all = axis_data(np.sqrt(np.array([40.0, 4.0, 0.4]) * 5 / 2))
    displacements = axis_data(np.sqrt(np.array([2.0, 1.2, 0.36]) * 5 / 2))
    np.testing.assert_allclose(PCA().fit(a_all).explained_variance_, [40, 4, 0.4])
    np.testing.assert_allclose(PCA().fit(displacements).explained_variance_, [2, 1.2, 0.36])
    a_pos = np.zeros((len(displacements), 3))
    direction = desensitize.normalised_pca_direction(a_pos, displacements[None], a_all=a_all)
    np.testing.assert_allclose(np.abs(direction), [[0.0, 0.0, 1.0]], atol=1e-12)


def test_average_direction_tells_rounding_noise_from_a_real_difference():
    """Centroids about 1e3 long: 1e-10 apart is noise (relative 5e-14), 1e-8 apart is not."""
    rng = np.random.default_rng(0)
    centroid = 1e3 * rng.standard_normal(4) / 2
    a_pos = np.tile(centroid, (3, 1))
    shift = np.array([1.0, 0.0, 0.0, 0.0])
    noise = desensitize.average_direction(a_pos, (a_pos + 1e-10 * shift)[None])
    real = desensitize.average_direction(a_pos, (a_pos + 1e-8 * shift)[None])
    assert noise.shape == (0, 4)
    np.testing.assert_allclose(real, shift[None], atol=1e-6)


def test_unit_row_of_zero_tiny_and_infinite_vectors():
    assert desensitize._unit_row(np.zeros(5)).shape == (0, 5)
    assert desensitize._unit_row(np.r_[np.inf, 0.0]).shape == (0, 2)
    tiny = desensitize._unit_row(np.r_[1e-100, 0.0, 0.0])  # not zero: no scale given
    np.testing.assert_array_equal(tiny, [[1.0, 0.0, 0.0]])


def test_samplewise_svd_with_fewer_files_than_dimensions_and_with_no_finite_file():
    rng = np.random.default_rng(1)
    a_pos, bs_pos = rng.standard_normal((6, 9)), rng.standard_normal((4, 6, 9))
    dirs = rng.standard_normal((6, 9))
    kept = desensitize.samplewise_svd_directions(a_pos, bs_pos, samplewise_dirs=dirs,
                                                 threshold=0.3)
    _, values, vectors = np.linalg.svd(dirs, full_matrices=False)
    np.testing.assert_allclose(kept, vectors[values / values[0] >= 0.3])
    with pytest.warns(UserWarning, match="6 of 6 sample-wise CCA directions are NaN"):
        none = desensitize.samplewise_svd_directions(
            a_pos, bs_pos, samplewise_dirs=np.full((6, 9), np.nan), threshold=0.3)
    assert none.shape == (0, 9)
