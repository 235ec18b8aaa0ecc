"""Desensitisation methods against direct reference computations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sklearn
from sklearn.cross_decomposition import CCA
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from aesens.analysis import desensitize
from aesens.analysis.cca import rank_target
from aesens.analysis.methods import get_method
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
    assert get_method("none").name == ""


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


@pytest.mark.parametrize("method", list(desensitize.DIRECTIONS))
def test_directions_are_orthonormal_and_projected_out(sweep, method):
    directions = directions_of(method, sweep, threshold=0.1)
    np.testing.assert_allclose(directions @ directions.T, np.eye(len(directions)), atol=1e-9)
    projected = desensitize.project_out(sweep[1], directions)
    assert projected.shape == sweep[1].shape
    np.testing.assert_allclose(projected @ directions.T, 0, atol=1e-9)


def test_unknown_method_is_refused(sweep):
    with pytest.raises(AesensError, match="unknown desensitisation method 'pca'.*lda"):
        directions_of("pca", sweep)


@pytest.mark.parametrize("threshold", [0.0, -0.1, -np.inf, 1e-7, 0.25, 1.0, 1.0000001, 1.5,
                                       np.inf, np.nan])
def test_any_threshold_keeps_the_published_selection(sweep, threshold):
    """As published, any float: ``vh[s / s[0] >= t]`` (t <= 0: every vector, t > 1: none)."""
    _, singular_values, right_vectors = np.linalg.svd(sweep[3], full_matrices=False)
    expected = right_vectors[singular_values / singular_values[0] >= threshold]
    directions = directions_of("cca_samplewise_svd", sweep, threshold)
    assert directions.shape == expected.shape
    np.testing.assert_allclose(np.abs(directions @ expected.T), np.eye(len(expected)),
                               atol=1e-12)
    if threshold <= 0:
        assert len(directions) == DIM
    if not threshold <= 1:
        assert len(directions) == 0
        np.testing.assert_array_equal(desensitize.project_out(sweep[0], directions), sweep[0])
    warning = desensitize.threshold_warning(threshold)
    assert (warning is None) == (0 < threshold <= 1)


def test_a_threshold_that_is_not_a_number_is_refused(sweep):
    with pytest.raises(AesensError, match="threshold 'x' is not a number"):
        directions_of("cca_samplewise_svd", sweep, "x")


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


# ------------------------------------------------- PCA as scikit-learn 1.2.2 computed it

#: PCA() of scikit-learn 1.2.2 (the published analysis environment) on small generated
#: inputs; written by tests/fixtures/make_pca_published.py, whose docstring tells how.
PUBLISHED_PCA = Path(__file__).resolve().parents[1] / "fixtures" / "pca_published.npz"
PCA_CASES = ["tall_tiny", "tall_offset", "tall_rank_deficient", "wide"]


def published_pca(case: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with np.load(PUBLISHED_PCA) as arrays:
        assert list(arrays["versions"][:2]) == ["1.26.4", "1.2.2"]  # numpy, scikit-learn
        return (arrays[f"{case}_data"], arrays[f"{case}_variances"],
                arrays[f"{case}_components"])


def assert_published_pca(variances, components, case):
    """Variances within 1e-6 relative (the smallest are ~1e-18 of the largest: the SVD
    resolves them to ~1e-7 relative), and components, sign included, within 1e-6, except
    those of a zero variance (null space: any basis)."""
    _, expected_variances, expected_components = published_pca(case)
    np.testing.assert_allclose(variances, expected_variances, rtol=1e-6,
                               atol=1e-24 * expected_variances[0])
    resolved = expected_variances > 1e-24 * expected_variances[0]
    assert resolved.sum() >= 3
    np.testing.assert_allclose(components[resolved], expected_components[resolved], atol=1e-6)


@pytest.mark.parametrize("case", PCA_CASES)
def test_principal_components_are_scikit_learn_1_2_2s(case):
    data, _, _ = published_pca(case)
    assert_published_pca(*desensitize.principal_components(data), case)


def test_the_methods_pcas_are_scikit_learn_1_2_2s():
    """pcaproj_nonnorm's component and pcaproj_norm's, chosen by the published loop over
    the 1.2.2 variances, are the 1.2.2 components (sign included)."""
    displacements, variances, components = published_pca("tall_tiny")
    a_all, reference, _ = published_pca("tall_rank_deficient")
    a_pos = np.zeros((len(displacements), displacements.shape[1]))
    bs_pos = displacements[None]
    first = desensitize.deformation_directions("pcaproj_nonnorm", a_pos, bs_pos)
    np.testing.assert_allclose(first, components[:1], atol=1e-6)
    chosen = desensitize.deformation_directions("pcaproj_norm", a_pos, bs_pos, a_all=a_all)
    index = published_component_choice(variances, reference)
    assert index in (4, 5)  # a rounding-level variance (~1e-31) of the original PCA
    np.testing.assert_allclose(chosen, components[index:index + 1], atol=1e-6)


@pytest.mark.skipif(tuple(map(int, sklearn.__version__.split(".")[:2])) < (1, 5),
                    reason="PCA() runs a full SVD before scikit-learn 1.5")
@pytest.mark.parametrize("case", ["tall_tiny", "tall_rank_deficient"])
def test_default_pca_of_newer_scikit_learn_differs_on_tall_inputs(case):
    """From 1.5 on, PCA() of rows >= 10 x dim uses the covariance's eigenvectors, which
    loses the small variances: why the methods name svd_solver="full"."""
    data, variances, _ = published_pca(case)
    default = PCA().fit(data)
    assert default._fit_svd_solver == "covariance_eigh"
    relative = np.abs(default.explained_variance_ - variances) / variances
    assert relative.max() > 0.5
    assert_published_pca(*desensitize.principal_components(data), case)


# ------------------------------------------------- pcaproj_norm's published loop

def published_component_choice(variances, reference) -> int:
    """The published choice of pcaproj_norm's component, written out."""
    projdim, maxratio = 0, 0
    for index in range(min(len(variances), len(reference))):
        with np.errstate(all="ignore"):
            ratio = np.float64(variances[index]) / np.float64(reference[index])
        if ratio > maxratio:
            projdim, maxratio = index, ratio
    return projdim


NAN, INF = np.nan, np.inf
#: (displacement variances, original variances): ratios with NaN (0 / 0), inf (x / 0),
#: ties, all zeros and negative zeros.
RATIO_CASES = [
    ([0, 2, 1], [0, 1, 1]),  # NaN first, then the largest
    ([1, 0, 3, 3], [1, 0, 1, 1]),  # NaN in the middle, tie of the largest: first kept
    ([0, 0, 0], [0, 0, 0]),  # only NaN: 0
    ([0, 0, 0], [1, 2, 3]),  # all zero: 0
    ([-0.0, 0.0, -0.0], [1, 1, 1]),  # negative zeros: 0
    ([0, 0, 2], [-1, 1, -1]),  # -0.0 ratios, then a negative one
    ([1, 2, 1], [1, 0, 0]),  # inf twice: the first
    ([0, 1, 5], [0, 0, 0]),  # NaN, then inf, then inf
    ([1e-300, 1, 1e300], [1e300, 1e-300, 1e-300]),  # overflow to inf and underflow to 0
    ([2, 2, 2, 2], [1, 1, 1, 1]),  # all tied: the first
    ([1, 2, 3], [1, 1]),  # indices both PCAs have
    ([], [1, 2]),
]


@pytest.mark.parametrize(("variances", "reference"), RATIO_CASES)
def test_pcaproj_norm_choice_is_the_published_loop(variances, reference):
    expected = published_component_choice(variances, reference)
    assert desensitize.normalised_component(np.array(variances, dtype=float),
                                            np.array(reference, dtype=float)) == expected


def test_pcaproj_norm_choice_is_the_published_loop_on_random_ratios():
    rng = np.random.default_rng(11)
    values = np.array([0.0, -0.0, 1.0, 2.0, 1e-20, 1e20, np.inf])
    for _ in range(2000):
        size = int(rng.integers(1, 9))
        variances = rng.choice(values, size) * rng.choice([1.0, 1.0, rng.random()], size)
        reference = rng.choice(values, size)
        assert desensitize.normalised_component(variances, reference) == \
            published_component_choice(variances, reference), (variances, reference)


def test_pcaproj_norm_skips_the_nan_ratio_of_a_dead_unit():
    """Dead units (constant in every original and effected file) give 0 / 0 ratios: the
    published loop skips them (numpy's argmax would take the first NaN)."""
    rng = np.random.default_rng(5)
    a_all = np.c_[rng.standard_normal((30, 3)) * [3.0, 1.0, 0.5], np.zeros((30, 2))]
    a_pos = a_all[:10]
    bs_pos = a_pos[None] + np.c_[rng.standard_normal((4, 10, 3)) * [0.1, 0.5, 0.2],
                                 np.zeros((4, 10, 2))]
    variances, components = desensitize.principal_components(
        (bs_pos - a_pos[None]).reshape(-1, 5))
    reference, _ = desensitize.principal_components(a_all)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = variances / reference
    assert np.isnan(ratios).any() and np.argmax(ratios) != published_component_choice(
        variances, reference)
    chosen = desensitize.deformation_directions("pcaproj_norm", a_pos, bs_pos, a_all=a_all)
    index = published_component_choice(variances, reference)
    np.testing.assert_allclose(chosen, components[index:index + 1], atol=1e-12)
