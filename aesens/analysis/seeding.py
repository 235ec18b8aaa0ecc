"""Seeding the random draws that the libraries under the UMAP view leave unseeded.

umap-learn lays out the connected components of its neighbour graph with
scikit-learn's ``SpectralEmbedding`` of their centroids' affinities
``exp(-d²)``. Components more than a few units apart (the usual case for
embeddings that are not normalised, MFCCs for example) make that matrix the
identity. Its eigenvalues are all equal, and SciPy's ARPACK (``eigsh``)
completes the eigenvectors with random vectors that it draws from a fresh,
unseeded generator unless it is given one (its ``rng`` argument).
scikit-learn does not pass one, so UMAP's layout changes from run to run
whatever its ``random_state``. Measured with SciPy 1.17 and scikit-learn 1.9:
five components (five files, the view's default) give another layout on
every run; six or more gave the same. :func:`seeded_arpack` passes ARPACK a
seeded generator while it is active; the algorithm is unchanged.
"""

from __future__ import annotations

import contextvars
import inspect
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

#: The generator that ARPACK calls of scikit-learn's spectral embedding draw from, if set.
_ARPACK_RNG: contextvars.ContextVar[np.random.Generator | None] = contextvars.ContextVar(
    "aesens_arpack_rng", default=None)


def _install() -> bool:
    """Route scikit-learn's spectral-embedding ``eigsh`` through :data:`_ARPACK_RNG`.

    Returns whether the route is in place: False where SciPy's ``eigsh`` takes
    no ``rng`` (its restart vectors then come from ARPACK's own fixed seed) or
    scikit-learn calls ARPACK by another name.
    """
    from scipy.sparse import linalg
    from sklearn.manifold import _spectral_embedding as spectral

    current = getattr(spectral, "eigsh", None)
    if getattr(current, "aesens_seeded", False):
        return True
    if current is not linalg.eigsh or "rng" not in inspect.signature(linalg.eigsh).parameters:
        return False

    def eigsh(*args, **kwargs):
        rng = _ARPACK_RNG.get()
        if rng is not None:
            kwargs.setdefault("rng", rng)
        return current(*args, **kwargs)

    eigsh.aesens_seeded = True  # type: ignore[attr-defined]
    spectral.eigsh = eigsh
    return True


@contextmanager
def seeded_arpack(seed: int | None) -> Iterator[None]:
    """Draw ARPACK's random vectors in scikit-learn's spectral embedding from ``seed``.

    Only the calls made in this thread while the context is active are
    affected; ``seed=None`` leaves them unseeded.

    Parameters
    ----------
    seed : int or None
        Seed of a :func:`numpy.random.default_rng` generator (a new one each
        time the context is entered, so that every run draws the same).
    """
    if seed is None or not _install():
        yield
        return
    token = _ARPACK_RNG.set(np.random.default_rng(seed))
    try:
        yield
    finally:
        _ARPACK_RNG.reset(token)
