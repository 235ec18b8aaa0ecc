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
solves the small Gram systems of every path in batches of files shared by
all cores and falls back to the exact truncated-SVD formula for the (rare)
paths whose Gram matrix is too ill-conditioned for the fast route to be
accurate.
"""

from __future__ import annotations

import functools
import queue
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.stats
from sklearn.preprocessing import QuantileTransformer
from threadpoolctl import ThreadpoolController

#: Relative singular-value cut-off of scikit-learn's CCA pseudo-inverse (float64).
PINV_RELATIVE_CUTOFF = 1e6 * np.finfo(np.float64).eps
#: Largest estimated condition number of a Gram matrix solved by the fast route; beyond
#: it the exact SVD is used. On realistic paths the fast route's unit directions differ
#: from scikit-learn's by at most 1e-8 per entry (1 - cosine ~1e-15) up to this
#: estimate, by 1e-7 at 1e10, 5e-6 at 1e12 and 5e-4 at 1e14.
MAX_GRAM_CONDITION = 1e9
#: Fixed random right-hand sides solved beside the target to estimate the size of the
#: inverse Gram matrix: the estimate falls 1000x short of it only if a near-null
#: direction of the Gram matrix is nearly orthogonal to all of them (odds ~1e-7).
CONDITION_PROBES = 3
#: Rows per block of the Gram matrix: only the blocks on and below the diagonal are
#: multiplied (about 60% of the products of the full matrix for 31 grid values).
GRAM_BLOCK_ROWS = 8
#: Float64 working memory of one chunk of files (the default chunk size): large enough
#: that the threads' NumPy calls are long and rarely wait for each other's interpreter
#: lock, small enough to stay in the last-level cache.
CHUNK_BYTES = 16 << 20


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


def default_workers() -> int:
    """Threads of :func:`samplewise_cca_directions` by default: the BLAS thread count in force.

    That is all cores unless limited (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``,
    threadpoolctl).
    """
    libraries = _blas_controller().select(user_api="blas").lib_controllers
    return max((library.num_threads for library in libraries), default=1)


def _pinv_weights(centred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """scikit-learn's ``pinv(Xc) @ yc`` with its singular-value cut-off (unnormalised)."""
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    rank = int(np.sum(s > s.max() * PINV_RELATIVE_CUTOFF))
    return vt[:rank].T @ ((u[:, :rank].T @ target) / s[:rank])


def _normalise_and_orient(weights: np.ndarray) -> np.ndarray:
    """Scale float64 rows in place to unit norm, each signed so that its largest entry is positive.

    "Largest" is by magnitude; returns ``weights`` (one row or a stack of rows).
    """
    norms = np.linalg.norm(weights, axis=-1, keepdims=True)
    largest = np.take_along_axis(weights, np.abs(weights).argmax(axis=-1)[..., None], axis=-1)
    weights *= np.sign(largest) / norms
    return weights


def _condition_probes(size: int) -> np.ndarray:
    """``(size, CONDITION_PROBES)``: fixed (seeded) random unit vectors, one per column."""
    probes = np.random.default_rng(0).standard_normal((size, CONDITION_PROBES))
    return probes / np.linalg.norm(probes, axis=0)


def _solve_with_condition(gram: np.ndarray, trace: np.ndarray, rhs: np.ndarray,
                          probes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Solve a stack of symmetric systems and flag those whose solution is accurate.

    Parameters
    ----------
    gram : numpy.ndarray
        ``(n, m, m)`` symmetric positive semi-definite matrices (both triangles).
    trace : numpy.ndarray
        ``(n,)`` their traces (at least their largest eigenvalue).
    rhs : numpy.ndarray
        ``(n, m)`` right-hand sides.
    probes : numpy.ndarray
        ``(m, p)`` fixed random unit vectors, solved beside ``rhs`` (same LU factors).

    Returns
    -------
    tuple of numpy.ndarray
        ``(n, m)`` solutions and an ``(n,)`` mask of the systems whose estimated
        condition number is finite and at most :data:`MAX_GRAM_CONDITION`: the
        trace (at least the largest eigenvalue) times the largest
        ``norm(solve(gram, probe))`` (at most ``norm(inverse(gram), 2)``; rarely
        more than 10x less). An exactly singular system gets NaN.
    """
    right = np.concatenate([rhs[:, :, None], np.broadcast_to(probes, (len(rhs), *probes.shape))],
                           axis=2)
    try:
        solutions = np.linalg.solve(gram, right)
    except np.linalg.LinAlgError:
        solutions = np.full_like(right, np.nan)
        for index, matrix in enumerate(gram):
            try:
                solutions[index] = np.linalg.solve(matrix, right[index])
            except np.linalg.LinAlgError:
                pass
    inverse_norm = np.sqrt(np.einsum("fmp,fmp->fp", solutions[:, :, 1:],
                                     solutions[:, :, 1:]).max(axis=1))
    accurate = trace * inverse_norm <= MAX_GRAM_CONDITION  # False for NaN
    return solutions[:, :, 0], accurate


class _WideChunks:
    """Fast route for paths with ``n_params - 1 <= dim`` (the usual case), one thread's buffers.

    Every centred path has the same row space as its differences to its first
    row, ``D = X[1:] - X[0]`` (exact in float64 for float32 input), so the
    minimum-norm least-squares weights are ``w = D.T @ solve(D @ D.T, y[1:] - y[0])``:
    one ``(n_params - 1)``-square Gram matrix per path, no centring pass.
    """

    def __init__(self, target: np.ndarray, probes: np.ndarray, chunk_files: int, dim: int):
        n_rows = len(target) - 1
        self.rhs = target[1:] - target[0]
        self.probes = probes
        self.blocks = [*range(0, n_rows, GRAM_BLOCK_ROWS), n_rows]
        self.differences = np.empty((chunk_files, n_rows, dim))
        self.first = np.empty((chunk_files, 1, dim))
        self.gram = np.empty((chunk_files, n_rows, n_rows))
        self.upper = np.triu(np.ones((n_rows, n_rows), dtype=bool), 1)

    def __call__(self, paths: np.ndarray, out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Directions of a chunk of paths into ``out``; returns the constant and accurate masks."""
        n_files = len(paths)
        differences, first, gram = (self.differences[:n_files], self.first[:n_files],
                                    self.gram[:n_files])
        np.copyto(differences, paths[:, 1:])
        np.copyto(first, paths[:, :1])
        differences -= first
        for start, stop in zip(self.blocks[:-1], self.blocks[1:], strict=True):
            np.matmul(differences[:, start:], differences[:, start:stop].transpose(0, 2, 1),
                      out=gram[:, start:, start:stop])
        np.copyto(gram, gram.transpose(0, 2, 1), where=self.upper)
        trace = np.einsum("fii->f", gram)
        constant = trace == 0
        gram[constant] = np.eye(gram.shape[1])
        coefficients, accurate = _solve_with_condition(
            gram, trace, np.broadcast_to(self.rhs, (n_files, len(self.rhs))), self.probes)
        accurate &= ~constant
        np.matmul(coefficients[:, None, :], differences, out=out[:, None, :])
        _normalise_and_orient(out)  # rows not accurate are redone (or set to NaN) later
        return constant, accurate


def _tall_chunk(paths: np.ndarray, out: np.ndarray, target: np.ndarray,
                probes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fast route for paths with more grid values than dimensions: ``w = solve(Xc.T Xc, Xc.T yc)``.

    Writes the directions of a chunk into ``out``; returns the constant and accurate masks.
    """
    centred = np.subtract(paths, paths.mean(axis=1, keepdims=True, dtype=np.float64),
                          dtype=np.float64)
    gram = centred.transpose(0, 2, 1) @ centred
    trace = np.einsum("fii->f", gram)
    constant = trace == 0
    gram[constant] = np.eye(gram.shape[1])
    out[:], accurate = _solve_with_condition(
        gram, trace, np.einsum("fnd,n->fd", centred, target - target.mean()), probes)
    accurate &= ~constant
    _normalise_and_orient(out)
    return constant, accurate


def samplewise_cca_directions(paths: np.ndarray, chunk_files: int | None = None,
                              workers: int | None = None) -> np.ndarray:
    """First CCA x-weight vector of every path against the rank target, in one batch.

    Equals ``CCA(n_components=1, scale=False).fit(path, rank_target(n)).x_weights_[:, 0]``
    for each path, sign included (float64 throughout).

    Parameters
    ----------
    paths : numpy.ndarray
        ``(n_files, n_params, dim)``: each file's embeddings at every grid value.
    chunk_files : int, optional
        Files processed together; default: as many as hold
        :data:`CHUNK_BYTES` of float64 paths.
    workers : int, optional
        Threads sharing the chunks, each with one BLAS thread; default:
        :func:`default_workers` (all cores unless BLAS threads are limited).

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
    wide = n_params - 1 <= dim
    probes = _condition_probes(n_params - 1 if wide else dim)
    chunk_files = chunk_files or max(1, CHUNK_BYTES // (8 * n_params * dim))
    workers = max(1, min(workers or default_workers(), -(-n_files // chunk_files)))
    directions = np.empty((n_files, dim))  # every row is written (first touched) by a thread
    constant = np.zeros(n_files, dtype=bool)
    accurate = np.zeros(n_files, dtype=bool)
    chunks = queue.SimpleQueue()  # taken in turn: a thread slowed by other work takes fewer
    for start in range(0, n_files, chunk_files):
        chunks.put(slice(start, start + chunk_files))

    def run() -> None:
        solve: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
        if wide:
            solve = _WideChunks(target, probes, chunk_files, dim)
        else:
            solve = functools.partial(_tall_chunk, target=target, probes=probes)
        # Paths flagged here (overflow, singular or constant) are redone or set to NaN below.
        with np.errstate(all="ignore"):
            while True:
                try:
                    chunk = chunks.get_nowait()
                except queue.Empty:
                    return
                constant[chunk], accurate[chunk] = solve(paths[chunk], directions[chunk])

    # Many small matrix products: one BLAS thread each is fastest; the threads share chunks.
    with _blas_controller().limit(limits=1, user_api="blas"):
        if workers == 1:
            run()
        else:
            with ThreadPoolExecutor(workers) as pool:
                for future in [pool.submit(run) for _ in range(workers)]:
                    future.result()
    for index in np.flatnonzero(~accurate & ~constant):
        path = paths[index]
        centred = np.subtract(path, path.mean(axis=0, dtype=np.float64), dtype=np.float64)
        directions[index] = _normalise_and_orient(_pinv_weights(centred, target - target.mean()))
    directions[constant] = np.nan
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


def global_r2(paths: np.ndarray, direction: np.ndarray,
              params: np.ndarray | None = None) -> float:
    """R² of all paths projected on one direction against the parameter, pooled.

    The published 3.1 notebook's global correlation: for every setting in
    grid order, the files' embeddings projected on the direction, then
    ``scipy.stats.spearmanr(projections, parameter values).statistic ** 2``
    over all settings pooled.

    Parameters
    ----------
    paths : numpy.ndarray
        ``(n_files, n_params, dim)``.
    direction : numpy.ndarray
        ``(dim,)``.
    params : numpy.ndarray, optional
        ``(n_params,)`` parameter values in grid order (default: the ranks;
        Spearman's correlation is the same for any increasing grid).
    """
    paths = np.asarray(paths)
    n_files, n_params, _ = paths.shape
    params = np.arange(n_params) if params is None else np.asarray(params, dtype=np.float64)
    if params.shape != (n_params,):
        raise ValueError(f"{params.shape} parameter values for paths of {n_params} grid values")
    projections = project(np.moveaxis(paths, 1, 0), direction).ravel()  # setting by setting
    return spearman_r2(projections, np.repeat(params, n_files))


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
        Seed for a reproducible (single-threaded) layout; it also seeds the
        random vectors of ARPACK in UMAP's layout of separate components
        (:func:`aesens.analysis.seeding.seeded_arpack`), which are otherwise drawn
        afresh on every run.

    Returns
    -------
    tuple of numpy.ndarray
        ``(n_files, n_params, 2)`` path coordinates and ``(n_files, 2)``
        coordinates of the originals.
    """
    import umap  # imported here: slow to import and only needed for this view

    from aesens.analysis.seeding import seeded_arpack

    paths = np.asarray(paths)
    n_files, n_params, dim = paths.shape
    reducer = umap.UMAP(n_neighbors=n_neighbors, random_state=random_state)
    with seeded_arpack(random_state):
        paths_2d = reducer.fit_transform(paths.reshape(n_files * n_params, dim))
        originals_2d = reducer.transform(np.asarray(originals).reshape(n_files, dim))
    return paths_2d.reshape(n_files, n_params, 2), originals_2d
