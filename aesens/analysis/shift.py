"""Shift curves: how far an effect moves the embeddings at every setting, against a noise floor.

The paper's statistics answer "along how many directions does an embedding
move"; these answer "how far, and is it more than noise". For one embedding
and effect, from the per-file averaged embeddings of the train and test
files together (original ``A``, effected ``B`` at each grid value):

paired (file by file):

- ``median_relative_displacement``: median over files of ``‖B − A‖ / ‖A‖``;
- ``mean_cosine_distance``: mean over files of ``1 − cos(A, B)``;
- ``identification_rate``: share of effected files whose nearest original,
  by cosine distance, is their own original (chance: one over the number of
  files);

distributional (the two sets as wholes):

- ``frechet_distance``: the Fréchet distance of Fréchet Audio Distance
  (Kilgour et al. 2019; fadtk): Gaussians fitted by the mean and the
  covariance (``numpy.cov``, ``ddof=1``), ``‖μ_A − μ_B‖² + tr Σ_A + tr Σ_B
  − 2 tr (Σ_A Σ_B)^½``, the last trace taken from the eigenvalues of the
  symmetric ``Σ_A^½ Σ_B Σ_A^½`` (:func:`trace_sqrt_product`), which stays
  real and accurate for the rank-deficient covariances of fewer files than
  dimensions;
- ``kernel_distance``: the kernel audio distance of kadtk (Chung et al.
  2025): 100 × the unbiased MMD² with a Gaussian kernel
  ``exp(−‖x − y‖² / (2h² + 1e-8))`` whose bandwidth ``h`` is the median
  pairwise Euclidean distance of the reference set (the originals).

Noise floors, so that every curve is read against one:

- distributional: the same statistic between two random halves of the
  original files (:data:`FLOOR_SPLITS` seeded splits; the ``floor`` row
  holds their largest value, the ``floor_mean`` row their mean). The kernel
  distance is unbiased, so its mean between halves is about 0 and only the
  spread of the splits makes a floor; halves hold half the files, so the
  Fréchet distance's small-sample bias is larger there than between ``A``
  and ``B``: the floor errs high;
- paired: the statistic at the grid value nearest the uneffected audio
  (:func:`gentlest_rank`). The paper's grids do not contain the identity
  (0 dB, 16 bits, 22.5 kHz, room size 0 lie beside or beyond them), and on
  the 16-bit sources the identity round trip returns almost every sample
  unchanged, so a deterministic model would give a floor of 0; the gentlest
  setting bounds that floor from above at no extra extraction.

``shift_<embedding>.csv`` (:func:`shift_path`) holds one row per grid value
(``kind`` ``setting``, its rank and parameter string) and the two floor rows.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.spatial.distance

from aesens.effects import Effect
from aesens.safe_files import atomic_write_csv

if TYPE_CHECKING:
    from aesens.sweep.sweep import Sweep

PathLike = str | os.PathLike
#: Paired statistics (file by file).
PAIRED = ("median_relative_displacement", "mean_cosine_distance", "identification_rate")
#: Distributional statistics (sets as wholes).
DISTRIBUTIONAL = ("frechet_distance", "kernel_distance")
#: Every statistic, in column order.
STATISTICS = PAIRED + DISTRIBUTIONAL
#: Columns of a shift table.
COLUMNS = ["kind", "rank", "param", *STATISTICS]
#: kadtk's scale of the MMD² (its ``SCALE_FACTOR``).
KAD_SCALE = 100.0
#: kadtk's term added to ``2h²`` in the kernel's denominator.
KAD_EPS = 1e-8
#: Random halves of the originals for the distributional floor, and their seed.
FLOOR_SPLITS = 10
FLOOR_SEED = 0
#: Rows per block of the n × n similarity and kernel matrices (bounds their memory).
BLOCK_ROWS = 2048
#: A setting "moves" the embedding when its statistic exceeds this many times the floor.
FLOOR_FACTOR = 3.0


# --------------------------------------------------------------------------- paired


def _as_float(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def relative_displacements(originals: np.ndarray, effected: np.ndarray) -> np.ndarray:
    """``‖B − A‖ / ‖A‖`` of every file (rows of ``(n_files, dim)`` arrays)."""
    originals, effected = _as_float(originals), _as_float(effected)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.linalg.norm(effected - originals, axis=1) / np.linalg.norm(originals, axis=1)


def _unit_rows(values: np.ndarray) -> np.ndarray:
    values = _as_float(values)
    with np.errstate(divide="ignore", invalid="ignore"):
        return values / np.linalg.norm(values, axis=1, keepdims=True)


def cosine_distances(originals: np.ndarray, effected: np.ndarray) -> np.ndarray:
    """``1 − cos(A, B)`` of every file."""
    return 1.0 - np.einsum("fd,fd->f", _unit_rows(originals), _unit_rows(effected))


def identification_rate(originals: np.ndarray, effected: np.ndarray) -> float:
    """Share of effected files whose nearest original by cosine distance is their own.

    Row ``i`` of ``effected`` is the effected version of row ``i`` of
    ``originals``; ties go to the lower row (as a stable argmin does).
    """
    effected, originals = _unit_rows(effected), _unit_rows(originals)
    hits = 0
    for start in range(0, len(effected), BLOCK_ROWS):
        rows = slice(start, start + BLOCK_ROWS)
        nearest = np.argmax(effected[rows] @ originals.T, axis=1)
        hits += int(np.sum(nearest == np.arange(len(originals))[rows]))
    return hits / len(originals)


# --------------------------------------------------------------------------- Fréchet


def gaussian_statistics(embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (``ddof=1``) of ``(n, dim)`` embeddings, as FAD fits them."""
    embeddings = _as_float(embeddings)
    return embeddings.mean(axis=0), np.cov(embeddings, rowvar=False).reshape(
        embeddings.shape[1], embeddings.shape[1])


def _clip_rounding(values: np.ndarray) -> np.ndarray:
    """Eigenvalues of a PSD matrix with those within rounding of zero (or below) set to 0."""
    cutoff = len(values) * np.finfo(np.float64).eps * max(float(np.max(values, initial=0)), 0)
    return np.where(values > cutoff, values, 0.0)


def psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric positive semi-definite matrix.

    Eigenvalues within rounding of zero (``dim · eps`` times the largest) count as 0.
    """
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(_clip_rounding(values))) @ vectors.T


def trace_sqrt_product(sqrt_first: np.ndarray, second: np.ndarray) -> float:
    """``tr (Σ₁ Σ₂)^½`` from ``Σ₁^½`` and ``Σ₂``.

    ``Σ₁ Σ₂`` is similar to the symmetric positive semi-definite
    ``Σ₁^½ Σ₂ Σ₁^½``, so both have the same (non-negative) eigenvalues and
    the trace of the square root is the sum of their square roots; eigenvalues
    within rounding of zero (the null space of rank-deficient covariances)
    count as 0.
    """
    inner = sqrt_first @ second @ sqrt_first
    values = np.linalg.eigvalsh((inner + inner.T) / 2)
    return float(np.sum(np.sqrt(_clip_rounding(values))))


def frechet_from_statistics(mean_a: np.ndarray, cov_a: np.ndarray, mean_b: np.ndarray,
                            cov_b: np.ndarray, sqrt_cov_a: np.ndarray | None = None) -> float:
    """Fréchet distance of two Gaussians; ``sqrt_cov_a`` (``Σ_A^½``) may be given to reuse it."""
    sqrt_cov_a = psd_sqrt(cov_a) if sqrt_cov_a is None else sqrt_cov_a
    difference = mean_a - mean_b
    return float(difference @ difference + np.trace(cov_a) + np.trace(cov_b)
                 - 2.0 * trace_sqrt_product(sqrt_cov_a, cov_b))


def frechet_distance(first: np.ndarray, second: np.ndarray) -> float:
    """Fréchet (audio) distance between two sets of embeddings ``(n, dim)`` and ``(m, dim)``."""
    return frechet_from_statistics(*gaussian_statistics(first), *gaussian_statistics(second))


# --------------------------------------------------------------------------- kernel


def _squared_distances(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    squares = (np.einsum("id,id->i", first, first)[:, None]
               + np.einsum("jd,jd->j", second, second)[None, :] - 2.0 * first @ second.T)
    return np.clip(squares, 0.0, None)


def median_pairwise_distance(embeddings: np.ndarray) -> float:
    """Median Euclidean distance over pairs of distinct rows (kadtk's bandwidth); NaN if none."""
    if len(embeddings) < 2:
        return np.nan
    return float(np.median(scipy.spatial.distance.pdist(_as_float(embeddings))))


def _kernel_sum(first: np.ndarray, second: np.ndarray, gamma: float) -> float:
    """Sum of ``exp(−γ‖x − y‖²)`` over all pairs of rows, in blocks of rows of ``first``."""
    return float(sum(np.exp(-gamma * _squared_distances(first[start:start + BLOCK_ROWS],
                                                        second)).sum()
                     for start in range(0, len(first), BLOCK_ROWS)))


def _mean_off_diagonal(embeddings: np.ndarray, gamma: float) -> float:
    """Mean kernel value over pairs of distinct rows (the diagonal terms are all 1; NaN if none)."""
    n = len(embeddings)
    if n < 2:
        return np.nan
    return (_kernel_sum(embeddings, embeddings, gamma) - n) / (n * (n - 1))


def kernel_distance(reference: np.ndarray, target: np.ndarray,
                    bandwidth: float | None = None) -> float:
    """Kernel audio distance: 100 × unbiased MMD² with a Gaussian kernel (kadtk's definition).

    Parameters
    ----------
    reference, target : numpy.ndarray
        ``(m, dim)`` and ``(n, dim)`` embeddings, at least 2 rows each.
    bandwidth : float, optional
        Kernel bandwidth ``h``; default: :func:`median_pairwise_distance` of ``reference``.

    Returns
    -------
    float
        ``100 × (mean_{i≠j} k(xᵢ, xⱼ) + mean_{i≠j} k(yᵢ, yⱼ) − 2 mean_{i,j} k(xᵢ, yⱼ))``
        with ``k(x, y) = exp(−‖x − y‖² / (2h² + 1e-8))``; it can be slightly
        negative (the estimator is unbiased).
    """
    reference, target = _as_float(reference), _as_float(target)
    if bandwidth is None:
        bandwidth = median_pairwise_distance(reference)
    gamma = 1.0 / (2.0 * bandwidth ** 2 + KAD_EPS)
    within_reference = _mean_off_diagonal(reference, gamma)
    within_target = _mean_off_diagonal(target, gamma)
    between = _kernel_sum(reference, target, gamma) / (len(reference) * len(target))
    return KAD_SCALE * (within_reference + within_target - 2.0 * between)


# --------------------------------------------------------------------------- tables


def gentlest_rank(effect: Effect) -> int:
    """Grid rank nearest the uneffected audio (the paired noise floor's setting)."""
    return int(np.argmin(np.abs(np.arange(len(effect.grid)) - effect.identity_rank)))


def ranks_outward(effect: Effect) -> list[int]:
    """Ranks from the uneffected audio towards the strongest setting, which comes last.

    The strongest setting is the grid end farthest (in rank) from the
    uneffected audio (as the report and scorecard define it); for a grid with
    the identity inside (gain), only the side of the strongest setting.
    """
    identity = effect.identity_rank
    distance = np.abs(np.arange(len(effect.grid)) - identity)
    strongest = int(np.argmax(distance))
    side = np.arange(len(effect.grid))
    side = side[side <= identity] if strongest < identity else side[side >= identity]
    return [int(rank) for rank in side[np.argsort(distance[side], kind="stable")]]


def distributional_floor(originals: np.ndarray, splits: int = FLOOR_SPLITS,
                         seed: int = FLOOR_SEED) -> dict[str, np.ndarray]:
    """Each distributional statistic between two random halves of the originals, per split.

    Returns
    -------
    dict
        Statistic name -> ``(splits,)`` values (seeded, so reproducible; NaN
        with fewer than 4 files).
    """
    originals = _as_float(originals)
    rng = np.random.default_rng(seed)
    half = len(originals) // 2
    if half < 2:  # the kernel distance needs 2 files per set
        return {name: np.full(splits, np.nan) for name in DISTRIBUTIONAL}
    values: dict[str, list[float]] = {name: [] for name in DISTRIBUTIONAL}
    for _ in range(splits):
        order = rng.permutation(len(originals))
        first, second = originals[order[:half]], originals[order[half:2 * half]]
        values["frechet_distance"].append(frechet_distance(first, second))
        values["kernel_distance"].append(kernel_distance(first, second))
    return {name: np.array(found) for name, found in values.items()}


def shift_table(originals: np.ndarray, effected: np.ndarray, effect: Effect,
                splits: int = FLOOR_SPLITS, seed: int = FLOOR_SEED) -> pd.DataFrame:
    """Every statistic at every setting, and the floor rows.

    Parameters
    ----------
    originals : numpy.ndarray
        ``(n_files, dim)`` original embeddings.
    effected : numpy.ndarray
        ``(n_params, n_files, dim)`` their effected embeddings, in grid order.
    effect : Effect
        The effect swept (grid, parameter strings, identity).
    splits, seed : int
        Random halves of the distributional floor.

    Returns
    -------
    pandas.DataFrame
        :data:`COLUMNS`; rows ``setting`` (one per grid value), ``floor`` and
        ``floor_mean`` (see the module docstring).
    """
    originals = _as_float(originals)
    effected = _as_float(effected)
    if effected.shape[0] != len(effect.grid) or effected.shape[1:] != originals.shape:
        raise ValueError(f"effected embeddings {effected.shape} do not match "
                         f"{len(effect.grid)} settings of {originals.shape} originals")
    mean_a, cov_a = gaussian_statistics(originals)
    sqrt_cov_a = psd_sqrt(cov_a)
    bandwidth = median_pairwise_distance(originals)
    rows = []
    for rank, (param, embeddings) in enumerate(zip(effect.param_strings, effected,
                                                   strict=True)):
        rows.append({
            "kind": "setting", "rank": rank, "param": param,
            "median_relative_displacement": float(np.median(
                relative_displacements(originals, embeddings))),
            "mean_cosine_distance": float(np.mean(cosine_distances(originals, embeddings))),
            "identification_rate": identification_rate(originals, embeddings),
            "frechet_distance": frechet_from_statistics(
                mean_a, cov_a, *gaussian_statistics(embeddings), sqrt_cov_a=sqrt_cov_a),
            "kernel_distance": kernel_distance(originals, embeddings, bandwidth)})
    gentlest = rows[gentlest_rank(effect)]
    floor = distributional_floor(originals, splits, seed)
    description = (f"paired: gentlest setting {gentlest['param']}; distributional: "
                   f"random halves of the originals, {splits} seeded splits")
    for kind, reduce in (("floor", np.max), ("floor_mean", np.mean)):
        rows.append({"kind": kind, "rank": gentlest["rank"], "param": description,
                     **{name: gentlest[name] for name in PAIRED},
                     **{name: float(reduce(floor[name])) for name in DISTRIBUTIONAL}})
    return pd.DataFrame(rows, columns=COLUMNS)


def sweep_shift_table(sweep: Sweep, effect: Effect, **options) -> pd.DataFrame:
    """:func:`shift_table` of a :class:`~aesens.sweep.sweep.Sweep`, train and test files."""
    originals = np.concatenate([sweep.train_A, sweep.test_A])
    effected = np.concatenate([sweep.train_Bs, sweep.test_Bs], axis=1)
    return shift_table(originals, effected, effect, **options)


def shift_path(results_dir: PathLike, effect: str, embedding: str) -> Path:
    """``<results_dir>/<effect>/shift_<embedding>.csv``."""
    return Path(results_dir) / effect / f"shift_{embedding}.csv"


def write_shift_table(table: pd.DataFrame, results_dir: PathLike, effect: str,
                      embedding: str) -> Path:
    """Write a shift table atomically at :func:`shift_path`."""
    return atomic_write_csv(shift_path(results_dir, effect, embedding), table)


def read_shift_table(results_dir: PathLike, effect: str, embedding: str) -> pd.DataFrame:
    """Read a shift table written by :func:`write_shift_table` (parameter strings kept as text)."""
    return pd.read_csv(shift_path(results_dir, effect, embedding), dtype={"param": str})


def first_above_floor(table: pd.DataFrame, effect: Effect, statistic: str,
                      factor: float = FLOOR_FACTOR) -> str | None:
    """Parameter string of the first setting, going outward, whose statistic exceeds the floor.

    See :func:`first_rank_above_floor`; None if no setting does.
    """
    rank = first_rank_above_floor(table, effect, statistic, factor)
    return None if rank is None else effect.param_strings[rank]


def first_rank_above_floor(table: pd.DataFrame, effect: Effect, statistic: str,
                           factor: float = FLOOR_FACTOR) -> int | None:
    """Rank of the first setting, going outward (:func:`ranks_outward`), above the floor.

    "Above" means more than ``factor`` times the ``floor`` row's value (for
    the identification rate: a shortfall from 1 more than ``factor`` times
    the floor's). None if no setting is.
    """
    settings = table[table["kind"] == "setting"].set_index("rank")
    floor = float(table.loc[table["kind"] == "floor", statistic].iloc[0])
    for rank in ranks_outward(effect):
        value = float(settings.loc[rank, statistic])
        moved = (1.0 - value > factor * (1.0 - floor) if statistic == "identification_rate"
                 else value > factor * floor)
        if moved:
            return rank
    return None
