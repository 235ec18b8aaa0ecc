"""Desensitisation: directions of an effect to project out of the embeddings.

Every method is computed per instrument from that instrument's train
positives, ``A`` (original, ``(n_files, dim)``) and ``Bs`` (effected at each
grid value, ``(n_params, n_files, dim)``), and returns the directions to
remove as an orthonormal ``(k, dim)`` array (``k = 0``: nothing to remove).
:func:`project_out` then removes them from any train or test matrix.

Methods, by their published names (:data:`aesens.analysis.methods.METHODS`, the
registry of their names, keys and labels; each function below registers as the
directions of one of them with :func:`directions_of`, collected in :data:`DIRECTIONS`):

- ``''`` (none): identity.
- ``lda``: shrinkage LDA (solver eigen, shrinkage auto) of A (label 0)
  against all B stacked (label 1); its unit coefficient vector.
- ``avgdirproj``: unit vector from the centroid of A to the centroid of all
  B (none when the centroids coincide).
- ``pcaproj_nonnorm``: first principal component of the displacements B - A.
- ``pcaproj_norm``: the principal component of B - A whose explained
  variance divided by the same-index explained variance of a PCA of the
  whole original train set is largest, chosen by the published loop over
  every index that both PCAs have (NaN ratios skipped, ties to the first).

Every PCA is scikit-learn 1.2.2's ``PCA()``, a full SVD (:func:`principal_components`).
- ``cca``: the global CCA direction of the instrument's paths.
- ``cca_samplewise_svd``: right singular vectors of the stacked sample-wise
  CCA directions whose singular value over the largest is at least the
  threshold.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from aesens.analysis.cca import global_cca_direction
from aesens.analysis.methods import METHODS, SV_THRESHOLD, get_method, validate_threshold
from aesens.sweep.sweep import as_paths

#: Default singular-value threshold of ``cca_samplewise_svd``.
DEFAULT_THRESHOLD = SV_THRESHOLD

#: ``method(a_pos, bs_pos, *, a_all, samplewise_dirs, threshold) -> (k, dim)``.
DirectionMethod = Callable[..., np.ndarray]

#: The direction function of every method of :data:`aesens.analysis.methods.METHODS` (filled
#: by :func:`directions_of`, checked complete below the functions).
DIRECTIONS: dict[str, DirectionMethod] = {}


def directions_of(name: str) -> Callable[[DirectionMethod], DirectionMethod]:
    """Register the decorated function as the directions of the method ``name``.

    ``name`` must be a published name of :data:`aesens.analysis.methods.METHODS`
    (else :class:`AesensError` at import), which stays the one list of methods.
    """
    method = get_method(name)

    def register(function: DirectionMethod) -> DirectionMethod:
        DIRECTIONS[method.name] = function
        return function

    return register


#: Relative size below which a difference of centroids counts as rounding noise.
COINCIDENCE_TOLERANCE = 1e-12


def _unit_row(vector: np.ndarray, scale: float = 0.0) -> np.ndarray:
    """``(1, dim)`` unit vector, or ``(0, dim)`` for a vector that is zero (at most
    ``COINCIDENCE_TOLERANCE * scale`` long) or not finite."""
    norm = np.linalg.norm(vector)
    if not np.isfinite(norm) or norm <= COINCIDENCE_TOLERANCE * scale:
        return np.zeros((0, len(vector)))
    return (vector / norm)[None, :]


def principal_components(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``PCA()`` of ``(rows, dim)`` data as the published environment computed it.

    The published analysis environment (scikit-learn 1.2.2) ran ``PCA()`` as a full SVD
    of the centred data. From scikit-learn 1.5 on, ``PCA()`` takes the eigenvectors of
    the covariance matrix instead when rows >= 10 x dim and dim <= 1000 (the
    displacements of OpenL3's long sweeps), which loses the small variances (clipped to
    exactly 0) that ``pcaproj_norm`` divides by; hence ``svd_solver="full"``, named.
    scikit-learn 1.5 also changed the sign of each component: 1.2.2 made the entry of
    largest magnitude of each column of ``U`` (the scores) positive, later versions that of
    the component itself. The 1.2.2 sign is restored, so the saved directions are the
    published ones under either version (a sign never changes a projection).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``explained_variance_`` ``(k,)`` and ``components_`` ``(k, dim)``.
    """
    data = np.asarray(data, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):  # explained_variance_ratio_ of 0 / 0
        pca = PCA(svd_solver="full").fit(data)
    components = pca.components_
    scores = (data - pca.mean_) @ components.T  # U * S of the SVD
    largest = scores[np.argmax(np.abs(scores), axis=0), np.arange(scores.shape[1])]
    return pca.explained_variance_, np.where(largest[:, None] < 0, -components, components)


def normalised_component(variances: np.ndarray, reference: np.ndarray) -> int:
    """Index of the component of ``pcaproj_norm``: the published loop over the variance ratios.

    ``projdim = 0; maxratio = 0; for i: ratio = variances[i] / reference[i]; if ratio >
    maxratio: projdim, maxratio = i, ratio``, over the indices both have: a NaN ratio (0 / 0,
    as dead units give) never wins, nor does one that is not above 0; ties keep the first
    index; 0 when no ratio exceeds 0. A zero reference variance gives an infinite ratio.
    """
    count = min(len(variances), len(reference))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratios = np.asarray(variances[:count], dtype=np.float64) / reference[:count]
    # The first maximum of the ratios above 0 (NaN > 0 is False), else index 0.
    return int(np.argmax(np.where(ratios > 0, ratios, 0.0))) if count else 0


def _displacements(a_pos: np.ndarray, bs_pos: np.ndarray) -> np.ndarray:
    return (np.asarray(bs_pos, dtype=np.float64)
            - np.asarray(a_pos, dtype=np.float64)[None]).reshape(-1, a_pos.shape[-1])


@directions_of("")
def no_projection(a_pos: np.ndarray, bs_pos: np.ndarray, *, a_all: np.ndarray | None = None,
                  samplewise_dirs: np.ndarray | None = None,
                  threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """Method ``''``: no direction (identity)."""
    return np.zeros((0, a_pos.shape[-1]))


@directions_of("lda")
def lda_direction(a_pos: np.ndarray, bs_pos: np.ndarray, *, a_all: np.ndarray | None = None,
                  samplewise_dirs: np.ndarray | None = None,
                  threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """Method ``lda``: unit coefficient vector of a shrinkage LDA, A against all B."""
    dim = a_pos.shape[-1]
    data = np.concatenate([a_pos, np.asarray(bs_pos).reshape(-1, dim)]).astype(np.float64)
    labels = np.r_[np.zeros(len(a_pos)), np.ones(data.shape[0] - len(a_pos))]
    lda = LinearDiscriminantAnalysis(solver="eigen", shrinkage="auto").fit(data, labels)
    return _unit_row(lda.coef_[0])


@directions_of("avgdirproj")
def average_direction(a_pos: np.ndarray, bs_pos: np.ndarray, *,
                      a_all: np.ndarray | None = None,
                      samplewise_dirs: np.ndarray | None = None,
                      threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """Method ``avgdirproj``: unit vector from the centroid of A to that of all B.

    Coinciding centroids (equal up to rounding) give no direction: the data
    are left unchanged.
    """
    dim = a_pos.shape[-1]
    centroid_a = np.asarray(a_pos, dtype=np.float64).mean(axis=0)
    centroid_b = np.asarray(bs_pos, dtype=np.float64).reshape(-1, dim).mean(axis=0)
    return _unit_row(centroid_b - centroid_a,
                     scale=np.linalg.norm(centroid_a) + np.linalg.norm(centroid_b))


@directions_of("pcaproj_nonnorm")
def pca_direction(a_pos: np.ndarray, bs_pos: np.ndarray, *, a_all: np.ndarray | None = None,
                  samplewise_dirs: np.ndarray | None = None,
                  threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """Method ``pcaproj_nonnorm``: first principal component of the displacements B - A."""
    _, components = principal_components(_displacements(a_pos, bs_pos))
    return components[:1]


@directions_of("pcaproj_norm")
def normalised_pca_direction(a_pos: np.ndarray, bs_pos: np.ndarray, *,
                             a_all: np.ndarray | None = None,
                             samplewise_dirs: np.ndarray | None = None,
                             threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """Method ``pcaproj_norm``: displacement component with the largest variance ratio.

    The ratio of component ``k`` is its explained variance divided by the
    ``k``-th explained variance of ``PCA()`` of ``a_all`` (all original train
    embeddings); the published loop (:func:`normalised_component`) runs over
    every ``k`` both PCAs have, including components the original PCA barely
    resolves (their tiny variances give large ratios; a zero variance an
    infinite one).
    """
    if a_all is None:
        raise ValueError("pcaproj_norm needs a_all, the original embeddings of the whole train set")
    variances, components = principal_components(_displacements(a_pos, bs_pos))
    reference, _ = principal_components(a_all)
    best = normalised_component(variances, reference)
    return components[best:best + 1]


@directions_of("cca")
def cca_direction(a_pos: np.ndarray, bs_pos: np.ndarray, *, a_all: np.ndarray | None = None,
                  samplewise_dirs: np.ndarray | None = None,
                  threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """Method ``cca``: the global CCA direction of the instrument's paths."""
    return _unit_row(global_cca_direction(as_paths(bs_pos)))


@directions_of("cca_samplewise_svd")
def samplewise_svd_directions(a_pos: np.ndarray, bs_pos: np.ndarray, *,
                              a_all: np.ndarray | None = None,
                              samplewise_dirs: np.ndarray | None = None,
                              threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """Method ``cca_samplewise_svd``: dominant right singular vectors of the sample-wise dirs.

    Keeps the vectors whose singular value over the largest is at least
    ``threshold``. NaN rows (constant paths, stored as zero rows in
    ``ccadirs_<effect>.h5``) are left out with a warning: the published SVD of
    every row gets the same kept directions, a zero row adding only a zero
    singular value.
    """
    if samplewise_dirs is None:
        raise ValueError("cca_samplewise_svd needs samplewise_dirs, the instrument's "
                         "sample-wise CCA directions")
    validate_threshold(threshold)
    directions = np.asarray(samplewise_dirs, dtype=np.float64)
    finite = np.isfinite(directions).all(axis=1)
    if not finite.all():
        warnings.warn(f"{(~finite).sum()} of {len(directions)} sample-wise CCA directions are "
                      "NaN (constant paths) and are left out", stacklevel=2)
        directions = directions[finite]
    if not len(directions):
        return np.zeros((0, a_pos.shape[-1]))
    _, singular_values, right_vectors = np.linalg.svd(directions, full_matrices=False)
    return right_vectors[singular_values / singular_values[0] >= threshold]


if set(DIRECTIONS) != set(METHODS):
    raise RuntimeError("no direction function for the desensitisation method(s) "
                       f"{', '.join(repr(name) for name in METHODS if name not in DIRECTIONS)}: "
                       "decorate one with @directions_of(name) in aesens.analysis.desensitize")


def threshold_warning(threshold: float) -> str | None:
    """What an SVD threshold outside (0, 1] does, for a warning (None inside (0, 1])."""
    if threshold <= 0:
        return (f"SVD threshold {threshold} <= 0: cca_samplewise_svd projects out every "
                "singular vector of the sample-wise CCA directions")
    if not threshold <= 1:
        return (f"SVD threshold {threshold} is not at most 1: cca_samplewise_svd projects out "
                "nothing (no singular value exceeds the largest)")
    return None


def deformation_directions(method: str, a_pos: np.ndarray, bs_pos: np.ndarray, *,
                           a_all: np.ndarray | None = None,
                           samplewise_dirs: np.ndarray | None = None,
                           threshold: float = DEFAULT_THRESHOLD) -> np.ndarray:
    """Directions of one method for one instrument.

    Parameters
    ----------
    method : str
        A name of :data:`aesens.analysis.methods.METHODS`.
    a_pos : numpy.ndarray
        ``(n_files, dim)`` original embeddings of the instrument's train files.
    bs_pos : numpy.ndarray
        ``(n_params, n_files, dim)`` their effected embeddings.
    a_all : numpy.ndarray, optional
        ``(n_train, dim)`` original embeddings of the whole train set (``pcaproj_norm``).
    samplewise_dirs : numpy.ndarray, optional
        ``(n_files, dim)`` sample-wise CCA directions of the instrument's
        train files (``cca_samplewise_svd``).
    threshold : float
        Singular-value threshold of ``cca_samplewise_svd`` (any number, see
        :func:`validate_threshold`).

    Returns
    -------
    numpy.ndarray
        ``(k, dim)`` orthonormal directions to project out.
    """
    return DIRECTIONS[get_method(method).name](
        np.asarray(a_pos), np.asarray(bs_pos), a_all=a_all, samplewise_dirs=samplewise_dirs,
        threshold=validate_threshold(threshold))


def project_out(embeddings: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """Remove orthonormal directions ``(k, dim)`` from embeddings ``(..., dim)`` (float64)."""
    embeddings = np.asarray(embeddings, dtype=np.float64)
    directions = np.asarray(directions, dtype=np.float64)
    if not len(directions):
        return embeddings
    return embeddings - (embeddings @ directions.T) @ directions
