"""Sensitivity analysis: CCA directions of effect paths, correlations, SVD and UMAP views.

A *path* is one file's embeddings under every grid value of an effect,
``(n_params, dim)``. The published analysis fitted
``sklearn.cross_decomposition.CCA(n_components=1, scale=False)`` on a path (or
on many stacked paths) against the parameter ranks mapped onto [0, 1] and
kept the x-weights as the effect direction.

With a single target column that fit has a closed form. scikit-learn centres
``X`` and ``y``, computes ``w = pinv(Xc) @ yc`` with a pseudo-inverse that
drops singular values below ``max(s) * 1e6 * eps``, divides ``w`` by its norm
and flips its sign so that its entry of largest magnitude is positive.
:func:`samplewise_cca_directions` reproduces this for all files at once: it
solves the small Gram systems of every path in one batched computation and
falls back to the exact truncated-SVD formula for the (rare) paths whose Gram
matrix is too ill-conditioned for the fast route to be accurate.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import scipy.stats
from sklearn.preprocessing import QuantileTransformer
from threadpoolctl import ThreadpoolController

#: Relative singular-value cut-off of scikit-learn's CCA pseudo-inverse (float64).
PINV_RELATIVE_CUTOFF = 1e6 * np.finfo(np.float64).eps
#: Largest 1-norm condition number of a Gram matrix solved by the fast route. On
#: realistic paths the fast route's 1 - cosine to scikit-learn stays near 1e-15 up
#: to this condition (1e-12 at 1e12, 1e-7 at 1e14); beyond it the exact SVD is used.
MAX_GRAM_CONDITION = 1e10


class ConstantPathWarning(UserWarning):
    """Some paths do not vary with the effect (e.g. silent files): their direction is NaN."""


def rank_target(n_params: int) -> np.ndarray:
    """CCA target of a path: parameter ranks mapped uniformly onto [0, 1].

    Parameters
    ----------
    n_params : int
        Number of grid values (at least 2).

    Returns
    -------
    numpy.ndarray
        ``(n_params,)``, the ranks ``0 .. n_params - 1`` passed through
        ``QuantileTransformer(n_quantiles=n_params)``.
    """
    if n_params < 2:
        raise ValueError(f"a path needs at least 2 grid values, not {n_params}")
    ranks = np.arange(n_params, dtype=np.float64).reshape(-1, 1)
    return QuantileTransformer(n_quantiles=n_params).fit_transform(ranks)[:, 0]


@functools.cache
def _blas_controller() -> ThreadpoolController:
    """Controller of the loaded BLAS libraries (inspecting them once is slow)."""
    return ThreadpoolController()


def _centring_basis(n: int) -> np.ndarray:
    """Orthonormal ``(n - 1, n)`` basis of the vectors orthogonal to ``ones(n)`` (Helmert)."""
    basis = np.zeros((n - 1, n))
    for k in range(1, n):
        basis[k - 1, :k] = 1.0
        basis[k - 1, k] = -k
        basis[k - 1] /= np.sqrt(k * (k + 1))
    return basis


def _pinv_weights(centred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """scikit-learn's ``pinv(Xc) @ yc`` with its singular-value cut-off (unnormalised)."""
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    rank = int(np.sum(s > s.max() * PINV_RELATIVE_CUTOFF))
    return vt[:rank].T @ ((u[:, :rank].T @ target) / s[:rank])


def _normalise_and_orient(weights: np.ndarray) -> np.ndarray:
    """Unit rows, each signed so that its entry of largest magnitude is positive."""
    weights = weights / np.linalg.norm(weights, axis=-1, keepdims=True)
    largest = np.take_along_axis(weights, np.abs(weights).argmax(axis=-1)[..., None], axis=-1)
    return weights * np.sign(largest)


def _batched_inverse(matrices: np.ndarray) -> np.ndarray:
    """Inverse of every matrix of a stack; NaN for the exactly singular ones."""
    try:
        return np.linalg.inv(matrices)
    except np.linalg.LinAlgError:
        inverses = np.full_like(matrices, np.nan)
        for index, matrix in enumerate(matrices):
            try:
                inverses[index] = np.linalg.inv(matrix)
            except np.linalg.LinAlgError:
                pass
        return inverses


def _gram_weights(centred: np.ndarray,
                  target: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-norm least-squares weights of every path through its Gram matrix.

    Returns the unnormalised weights ``(n_files, dim)``, a mask of the paths
    that do not vary at all, and a mask of the varying paths whose Gram
    matrix was well enough conditioned for their weights to be accurate.
    """
    n_files, n_params, dim = centred.shape
    wide = n_params - 1 <= dim
    if wide:
        # w = Z.T (Z Z.T)^-1 H yc with Z = H Xc, H the centring basis.
        basis = _centring_basis(n_params)
        gram = centred @ centred.transpose(0, 2, 1)
        constant = np.trace(gram, axis1=1, axis2=2) == 0
        gram = basis @ gram @ basis.T
        rhs = np.broadcast_to(basis @ target, (n_files, n_params - 1))
    else:
        # w = (Xc.T Xc)^-1 Xc.T yc.
        gram = centred.transpose(0, 2, 1) @ centred
        constant = np.trace(gram, axis1=1, axis2=2) == 0
        rhs = np.einsum("fnd,n->fd", centred, target)
    gram[constant] = np.eye(gram.shape[1])
    inverse = _batched_inverse(gram)
    condition = (np.abs(gram).sum(axis=1).max(axis=1)
                 * np.abs(inverse).sum(axis=1).max(axis=1))
    accurate = np.isfinite(condition) & (condition <= MAX_GRAM_CONDITION) & ~constant
    coefficients = np.einsum("fij,fj->fi", inverse, rhs)
    if wide:
        weights = np.einsum("fn,fnd->fd", coefficients @ basis, centred)
    else:
        weights = coefficients
    return weights, constant, accurate


def samplewise_cca_directions(paths: np.ndarray, chunk_files: int = 256) -> np.ndarray:
    """First CCA x-weight vector of every path against the rank target, in one batch.

    Equals ``CCA(n_components=1, scale=False).fit(path, rank_target(n)).x_weights_[:, 0]``
    for each path, sign included.

    Parameters
    ----------
    paths : numpy.ndarray
        ``(n_files, n_params, dim)``: each file's embeddings at every grid value.
    chunk_files : int
        Files processed together (bounds the float64 working memory).

    Returns
    -------
    numpy.ndarray
        ``(n_files, dim)`` unit directions. A path that does not vary at all
        (e.g. a silent file) gets a row of NaN and a :class:`ConstantPathWarning`.
    """
    paths = np.asarray(paths)
    if paths.ndim != 3:
        raise ValueError(f"paths must be (n_files, n_params, dim), not {paths.shape}")
    n_files, n_params, dim = paths.shape
    target = rank_target(n_params)
    target = target - target.mean()
    directions = np.full((n_files, dim), np.nan)
    constant = np.zeros(n_files, dtype=bool)
    # Many small matrix products: one BLAS thread each is fastest (and robust to load).
    with _blas_controller().limit(limits=1, user_api="blas"):
        for start in range(0, n_files, chunk_files):
            chunk = paths[start:start + chunk_files]
            centred = np.subtract(chunk, chunk.mean(axis=1, keepdims=True, dtype=np.float64),
                                  dtype=np.float64)
            weights, is_constant, accurate = _gram_weights(centred, target)
            for index in np.flatnonzero(~accurate & ~is_constant):
                weights[index] = _pinv_weights(centred[index], target)
            varying = np.flatnonzero(~is_constant)
            directions[start + varying] = _normalise_and_orient(weights[varying])
            constant[start:start + len(chunk)] = is_constant
    if constant.any():
        warnings.warn(f"{constant.sum()} of {n_files} paths do not vary with the effect "
                      f"(files {np.flatnonzero(constant)[:5].tolist()}...): their CCA "
                      "direction is NaN", ConstantPathWarning, stacklevel=2)
    return directions


def global_cca_direction(paths: np.ndarray) -> np.ndarray:
    """CCA direction of all paths stacked against the tiled rank target.

    Equals ``CCA(n_components=1, scale=False).fit(paths.reshape(-1, dim),
    np.tile(rank_target(n), n_files)).x_weights_[:, 0]``, sign included.

    Parameters
    ----------
    paths : numpy.ndarray
        ``(n_files, n_params, dim)``, e.g. the train paths of one instrument.

    Returns
    -------
    numpy.ndarray
        ``(dim,)`` unit direction (NaN with a :class:`ConstantPathWarning` if
        the stacked embeddings are all identical).
    """
    paths = np.asarray(paths)
    if paths.ndim != 3:
        raise ValueError(f"paths must be (n_files, n_params, dim), not {paths.shape}")
    n_files, n_params, dim = paths.shape
    stacked = paths.reshape(n_files * n_params, dim)
    target = np.tile(rank_target(n_params), n_files)
    centred = np.subtract(stacked, stacked.mean(axis=0, dtype=np.float64), dtype=np.float64)
    if not np.any(centred != 0):
        warnings.warn("the stacked paths do not vary: the global CCA direction is NaN",
                      ConstantPathWarning, stacklevel=2)
        return np.full(dim, np.nan)
    return _normalise_and_orient(_pinv_weights(centred, target - target.mean()))


def project(embeddings: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Coordinates of embeddings ``(..., dim)`` along a direction ``(dim,)``."""
    return np.asarray(embeddings, dtype=np.float64) @ np.asarray(direction, dtype=np.float64)


def spearman_r2(projection: np.ndarray, params: np.ndarray) -> float:
    """Squared Spearman correlation between a projection and the parameter values."""
    return float(scipy.stats.spearmanr(projection, params).statistic ** 2)


def _rowwise_spearman(values: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """Spearman correlation of every row of ``values`` with the same ``ranks`` vector."""
    value_ranks = scipy.stats.rankdata(values, axis=1)
    value_ranks -= value_ranks.mean(axis=1, keepdims=True)
    ranks = ranks - ranks.mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        return (value_ranks @ ranks) / (np.linalg.norm(value_ranks, axis=1)
                                        * np.linalg.norm(ranks))


def samplewise_r2(paths: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """R² of each path projected on its own direction against the parameter rank.

    Parameters
    ----------
    paths : numpy.ndarray
        ``(n_files, n_params, dim)``.
    directions : numpy.ndarray
        ``(n_files, dim)``, e.g. from :func:`samplewise_cca_directions`.

    Returns
    -------
    numpy.ndarray
        ``(n_files,)`` squared Spearman correlations (NaN for NaN directions).
    """
    paths = np.asarray(paths, dtype=np.float64)
    projections = np.einsum("fnd,fd->fn", paths, np.asarray(directions, dtype=np.float64))
    r2 = _rowwise_spearman(projections, np.arange(paths.shape[1], dtype=np.float64)) ** 2
    r2[np.isnan(projections).any(axis=1)] = np.nan
    return r2


def global_r2(paths: np.ndarray, direction: np.ndarray) -> float:
    """R² of all paths projected on one direction against the tiled parameter rank."""
    paths = np.asarray(paths)
    n_files, n_params, _ = paths.shape
    return spearman_r2(project(paths, direction).ravel(), np.tile(np.arange(n_params), n_files))


def singular_value_profiles(directions: np.ndarray,
                            originals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normalised singular values of stacked directions and of centred original embeddings.

    Parameters
    ----------
    directions : numpy.ndarray
        ``(n_files, dim)`` sample-wise CCA directions of one instrument; NaN
        rows (constant paths) are left out.
    originals : numpy.ndarray
        ``(n_files, dim)`` original embeddings of the same files.

    Returns
    -------
    tuple of numpy.ndarray
        Singular values of the directions and of the centred originals, each
        divided by its largest value.
    """
    directions = np.asarray(directions, dtype=np.float64)
    directions = directions[~np.isnan(directions).any(axis=1)]
    originals = np.asarray(originals, dtype=np.float64)
    sv_directions = np.linalg.svd(directions, compute_uv=False)
    sv_originals = np.linalg.svd(originals - originals.mean(axis=0), compute_uv=False)
    return sv_directions / sv_directions[0], sv_originals / sv_originals[0]


def umap_trajectories(paths: np.ndarray, originals: np.ndarray, n_neighbors: int = 3,
                      random_state: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """2-D UMAP view of effect paths, fitted on the paths; originals placed by the fit.

    Parameters
    ----------
    paths : numpy.ndarray
        ``(n_files, n_params, dim)`` paths of the chosen files.
    originals : numpy.ndarray
        ``(n_files, dim)`` their original embeddings.
    n_neighbors : int
        UMAP neighbourhood size (3 in the paper).
    random_state : int, optional
        Seed for a reproducible (single-threaded) layout.

    Returns
    -------
    tuple of numpy.ndarray
        ``(n_files, n_params, 2)`` path coordinates and ``(n_files, 2)``
        coordinates of the originals.
    """
    import umap  # imported here: slow to import and only needed for this view

    paths = np.asarray(paths)
    n_files, n_params, dim = paths.shape
    reducer = umap.UMAP(n_neighbors=n_neighbors, random_state=random_state)
    paths_2d = reducer.fit_transform(paths.reshape(n_files * n_params, dim))
    originals_2d = reducer.transform(np.asarray(originals).reshape(n_files, dim))
    return paths_2d.reshape(n_files, n_params, 2), originals_2d
