"""Tests of aesens.analysis.methods: every published spelling of a desensitisation method.

The expected strings are those the published scripts wrote (results CSV
``embedding`` and ``embedding_params`` columns, pickle keys).
"""

from __future__ import annotations

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
