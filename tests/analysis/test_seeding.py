"""Seeding of ARPACK in scikit-learn's spectral embedding (aesens.analysis.seeding), which
umap-learn uses to lay out the separate components of its graph."""

from __future__ import annotations

import functools
import inspect

import numpy as np
import pytest
import scipy.sparse.linalg
from sklearn.manifold import SpectralEmbedding

from aesens.analysis import seeding

#: Five components far apart: the affinity graph has no edge, as scikit-learn warns.
pytestmark = pytest.mark.filterwarnings("ignore:Graph is not fully connected:UserWarning")
needs_rng = pytest.mark.skipif("rng" not in inspect.signature(scipy.sparse.linalg.eigsh).parameters,
                               reason="this SciPy's ARPACK draws from its own fixed seed")


def component_layout() -> np.ndarray:
    """What umap-learn computes for five components far apart: an identity affinity."""
    return SpectralEmbedding(n_components=2, affinity="precomputed",
                             random_state=np.random.RandomState(0)).fit_transform(np.eye(5))


@needs_rng
def test_the_component_layout_is_reproducible_with_a_seed():
    with seeding.seeded_arpack(0):
        first = component_layout()
    with seeding.seeded_arpack(0):
        second = component_layout()
    np.testing.assert_array_equal(first, second)
    # The premise: unseeded, SciPy draws afresh on every call.
    assert not all(np.array_equal(component_layout(), first) for _ in range(3))


@needs_rng
def test_only_calls_in_a_seeded_context_get_a_generator(monkeypatch):
    from sklearn.manifold import _spectral_embedding

    seen = []
    real = scipy.sparse.linalg.eigsh

    @functools.wraps(real)
    def recording(*args, **kwargs):
        seen.append(kwargs.get("rng"))
        return real(*args, **kwargs)

    monkeypatch.setattr(scipy.sparse.linalg, "eigsh", recording)
    monkeypatch.setattr(_spectral_embedding, "eigsh", recording)
    component_layout()
    with seeding.seeded_arpack(None):
        component_layout()
    with seeding.seeded_arpack(3):
        component_layout()
    component_layout()
    assert [type(rng).__name__ for rng in seen] == ["NoneType", "NoneType", "Generator",
                                                    "NoneType"]


def test_another_eigsh_than_scipys_is_not_wrapped(monkeypatch):
    from sklearn.manifold import _spectral_embedding

    monkeypatch.setattr(_spectral_embedding, "eigsh", lambda *args, **kwargs: None)
    assert seeding._install() is False
    with seeding.seeded_arpack(0):  # runs unseeded rather than failing
        assert _spectral_embedding.eigsh() is None
