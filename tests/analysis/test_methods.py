"""Tests of aesens.analysis.methods: every published spelling of a desensitisation method.

The expected strings are those the published scripts wrote (results CSV
``embedding`` and ``embedding_params`` columns, pickle keys).
"""

from __future__ import annotations

import numpy as np
import pytest

from aesens.analysis import desensitize
from aesens.analysis.methods import (
    METHODS,
    display_name,
    get_method,
    method_of_label,
    result_name,
    result_order,
)
from aesens.errors import AesensError


def test_labels_params_and_keys_as_published():
    assert METHODS[""].label("openl3") == "openl3"
    assert METHODS["lda"].label("clap") == "clap-lda"
    assert METHODS["cca_samplewise_svd"].params(0.3) == '{"svd_thr": 0.3}'
    assert METHODS["cca"].params(0.3) == ""
    assert METHODS[""].key(0.3) == ""
    assert METHODS["cca"].key() == "-cca"
    assert METHODS["cca_samplewise_svd"].key(0.3) == "-cca_samplewise_svd-0.3"
    assert METHODS["cca_samplewise_svd"].key(1) == "-cca_samplewise_svd-1.0"
    assert method_of_label("clap", "clap-lda") == "lda"
    assert method_of_label("clap", "clap") == ""


def test_result_name_spellings():
    assert result_name("-cca_samplewise_svd-0.30") == "cca_samplewise_svd:0.3"
    assert result_name("cca_samplewise_svd:0.5") == "cca_samplewise_svd:0.5"
    assert result_name("-lda") == result_name("lda") == "lda"
    assert result_name("") == ""
    assert display_name("cca_samplewise_svd:0.5") == "sample-wise CCA SVD (t = 0.5)"
    assert display_name("") == "none"
    assert sorted(["cca_samplewise_svd:0.5", "lda", "cca_samplewise_svd:0.3", ""],
                  key=result_order) == ["", "lda", "cca_samplewise_svd:0.3",
                                        "cca_samplewise_svd:0.5"]


def test_every_method_has_its_directions_and_an_unknown_one_is_an_error():
    assert list(desensitize.DIRECTIONS) == list(METHODS)
    assert get_method("none") is METHODS[""]
    with pytest.raises(AesensError, match="unknown desensitisation method 'pca'"):
        get_method("pca")


def test_a_new_method_is_one_registry_line_and_one_decorated_function(monkeypatch):
    from aesens.analysis.methods import Method

    monkeypatch.setitem(METHODS, "firstaxis", Method("firstaxis", "first axis"))
    monkeypatch.setattr(desensitize, "DIRECTIONS", dict(desensitize.DIRECTIONS))

    @desensitize.directions_of("firstaxis")
    def first_axis(a_pos, bs_pos, **_):
        return np.eye(a_pos.shape[-1])[:1]

    a_pos = np.arange(6.0).reshape(2, 3)
    directions = desensitize.deformation_directions("firstaxis", a_pos, np.stack([a_pos] * 4))
    np.testing.assert_array_equal(directions, [[1.0, 0.0, 0.0]])
    np.testing.assert_array_equal(desensitize.project_out(a_pos, directions)[:, 0], 0.0)
    method = get_method("firstaxis")
    assert (method.key(), method.label("openl3"), display_name("firstaxis")) == (
        "-firstaxis", "openl3-firstaxis", "first axis")
    with pytest.raises(AesensError, match="unknown desensitisation method 'secondaxis'"):
        desensitize.directions_of("secondaxis")
