"""Shift statistics against independent computations (scipy, scikit-learn, direct loops)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.linalg
from sklearn.neighbors import NearestNeighbors

from aesens.analysis import shift
from aesens.effects import get_effect
from aesens.reporting.report import strongest_rank


def fadtk_frechet(first: np.ndarray, second: np.ndarray) -> float:
    """The Fréchet distance as fadtk writes it: scipy's sqrtm of the covariance product."""
    mu1, mu2 = first.mean(axis=0), second.mean(axis=0)
    sigma1 = np.atleast_2d(np.cov(first, rowvar=False))
    sigma2 = np.atleast_2d(np.cov(second, rowvar=False))
    covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2)
                 - 2 * np.trace(np.real(covmean)))


def direct_mmd(reference: np.ndarray, target: np.ndarray) -> float:
    """kadtk's estimator written out as O(n²) loops over pairs, bandwidth from all pairs."""
    distances = [math.dist(reference[i], reference[j]) for i in range(len(reference))
                 for j in range(i + 1, len(reference))]
    h = float(np.median(distances))

    def k(a, b):
        return math.exp(-sum((a - b) ** 2) / (2 * h * h + 1e-8))

    m, n = len(reference), len(target)
    xx = sum(k(reference[i], reference[j]) for i in range(m) for j in range(m) if i != j)
    yy = sum(k(target[i], target[j]) for i in range(n) for j in range(n) if i != j)
    xy = sum(k(reference[i], target[j]) for i in range(m) for j in range(n))
    return 100 * (xx / (m * (m - 1)) + yy / (n * (n - 1)) - 2 * xy / (m * n))


@pytest.mark.parametrize("dim", [1, 3, 8])
def test_frechet_distance_matches_scipy_sqrtm(dim: int) -> None:
    rng = np.random.default_rng(dim)
    first = rng.normal(size=(40, dim)) @ rng.normal(size=(dim, dim))
    second = rng.normal(1.0, 2.0, size=(30, dim)) @ rng.normal(size=(dim, dim))
    expected = fadtk_frechet(first, second)
    assert shift.frechet_distance(first, second) == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_frechet_distance_of_known_gaussians() -> None:
    """Closed form for diagonal covariances: ‖Δμ‖² + Σ (√a − √b)²."""
    mean_a, mean_b = np.array([0.0, 1.0]), np.array([2.0, -1.0])
    cov_a, cov_b = np.diag([4.0, 1.0]), np.diag([1.0, 9.0])
    expected = 8.0 + (2 - 1) ** 2 + (1 - 3) ** 2
    assert shift.frechet_from_statistics(mean_a, cov_a, mean_b, cov_b) == pytest.approx(expected)


def test_frechet_distance_is_stable_when_files_are_fewer_than_dimensions() -> None:
    """Rank-deficient covariances: finite, non-negative, 0 between a set and itself."""
    rng = np.random.default_rng(1)
    first = rng.normal(size=(20, 64))
    assert shift.frechet_distance(first, first) == pytest.approx(0.0, abs=1e-8)
    value = shift.frechet_distance(first, rng.normal(size=(20, 64)))
    assert np.isfinite(value) and value > 0


def test_kernel_distance_matches_a_direct_loop() -> None:
    rng = np.random.default_rng(2)
    reference = rng.normal(size=(12, 4))
    target = rng.normal(0.5, 1.2, size=(9, 4))
    assert shift.kernel_distance(reference, target) == pytest.approx(
        direct_mmd(reference, target), rel=1e-10)
    pairs = [math.dist(a, b) for i, a in enumerate(reference) for b in reference[i + 1:]]
    assert shift.median_pairwise_distance(reference) == pytest.approx(np.median(pairs))


def test_kernel_distance_is_unbiased_between_samples_of_one_distribution() -> None:
    rng = np.random.default_rng(3)
    values = [shift.kernel_distance(rng.normal(size=(30, 3)), rng.normal(size=(30, 3)))
              for _ in range(200)]
    assert abs(np.mean(values)) < 3 * np.std(values) / np.sqrt(len(values))
    assert shift.kernel_distance(rng.normal(size=(30, 3)), rng.normal(3, 1, size=(30, 3))) > 10


def test_identification_rate_matches_nearest_neighbors() -> None:
    rng = np.random.default_rng(4)
    originals = rng.normal(size=(50, 6))
    for noise in (0.1, 0.5, 1.0, 3.0):
        effected = originals + rng.normal(0, noise, originals.shape)
        index = NearestNeighbors(n_neighbors=1, metric="cosine").fit(originals)
        nearest = index.kneighbors(effected, return_distance=False)[:, 0]
        expected = np.mean(nearest == np.arange(len(originals)))
        assert shift.identification_rate(originals, effected) == pytest.approx(expected)


def test_paired_statistics_match_their_definitions() -> None:
    rng = np.random.default_rng(5)
    originals, effected = rng.normal(size=(10, 5)), rng.normal(size=(10, 5))
    for a, b, rel, cos in zip(originals, effected,
                              shift.relative_displacements(originals, effected),
                              shift.cosine_distances(originals, effected), strict=True):
        assert rel == pytest.approx(np.linalg.norm(b - a) / np.linalg.norm(a))
        assert cos == pytest.approx(scipy.spatial.distance.cosine(a, b))


@pytest.mark.parametrize("name", ["bitcrush", "gain", "lowpass_cheby", "reverb"])
def test_ranks_outward_end_at_the_strongest_setting(name: str) -> None:
    effect = get_effect(name)
    ranks = shift.ranks_outward(effect)
    assert ranks[-1] == strongest_rank(effect)
    assert ranks[0] == shift.gentlest_rank(effect) or name == "gain"
    distance = np.abs(np.array(ranks) - effect.identity_rank)
    assert np.all(np.diff(distance) > 0)


def test_shift_table_rows_and_floor() -> None:
    """Shift growing with the rank: statistics grow, identification falls, floor rows last."""
    effect = get_effect("bitcrush")  # identity after the last value: rank 11 is gentlest
    rng = np.random.default_rng(6)
    originals = rng.normal(size=(60, 8)) + 3
    strength = np.linspace(2.0, 0.0, len(effect.grid))
    direction = rng.normal(size=8)
    effected = np.stack([originals + s * direction + rng.normal(0, 0.05 + s, originals.shape)
                         for s in strength])
    table = shift.shift_table(originals, effected, effect, splits=4)
    assert list(table.columns) == shift.COLUMNS
    settings = table[table["kind"] == "setting"]
    assert list(settings["param"]) == effect.param_strings
    assert settings["median_relative_displacement"].is_monotonic_decreasing
    assert settings["identification_rate"].iloc[0] < settings["identification_rate"].iloc[-1]
    floor = table[table["kind"] == "floor"].iloc[0]
    mean = table[table["kind"] == "floor_mean"].iloc[0]
    gentlest = settings["median_relative_displacement"].iloc[-1]
    assert floor["median_relative_displacement"] == gentlest
    halves = shift.distributional_floor(originals, splits=4)
    assert mean["frechet_distance"] == pytest.approx(halves["frechet_distance"].mean())
    assert floor["kernel_distance"] == pytest.approx(halves["kernel_distance"].max())
    assert shift.first_above_floor(table, effect, "frechet_distance") in effect.param_strings
    assert shift.first_above_floor(table, effect, "median_relative_displacement") is not None


def test_shift_table_round_trip(tmp_path) -> None:
    effect = get_effect("gain")
    rng = np.random.default_rng(7)
    originals = rng.normal(size=(10, 3))
    table = shift.shift_table(originals, np.stack([originals + 0.1] * len(effect.grid)), effect,
                              splits=2)
    path = shift.write_shift_table(table, tmp_path, "gain", "toy")
    assert path == tmp_path / "gain" / "shift_toy.csv"
    back = shift.read_shift_table(tmp_path, "gain", "toy")
    assert list(back["param"][:2]) == ["-40.0", "-38.5"]
    pd.testing.assert_frame_equal(back, table, check_dtype=False)


def test_too_few_files_give_nan_not_errors() -> None:
    effect = get_effect("bitcrush")
    originals = np.arange(6.0).reshape(3, 2) + 1
    table = shift.shift_table(originals, np.stack([originals * 1.1] * len(effect.grid)), effect,
                              splits=2)
    floor = table[table["kind"] == "floor"].iloc[0]
    assert np.isnan(floor["frechet_distance"]) and np.isnan(floor["kernel_distance"])
    assert np.isnan(shift.kernel_distance(originals[:1], originals))
