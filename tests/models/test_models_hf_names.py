"""Tests of the hf embedding names (aesens.models.hf_names): canonical forms and the registry."""

from __future__ import annotations

import re

import pytest

from aesens.cli.types import EMBEDDING_NAME
from aesens.errors import AesensError
from aesens.models import canonical_name, is_model, loader_path
from aesens.models.hf_names import parse_name


@pytest.mark.parametrize("given, canonical", [
    ("hf:facebook/wav2vec2-base", "hf+facebook--wav2vec2-base"),
    ("hf+facebook--wav2vec2-base", "hf+facebook--wav2vec2-base"),
    ("hf:openai/whisper-large-v3+last+clip", "hf+openai--whisper-large-v3"),
    ("hf:MIT/ast-finetuned-audioset-10-10-0.4593+frames+layer6",
     "hf+MIT--ast-finetuned-audioset-10-10-0.4593+layer6+frames"),
    ("hf:gpt2+mean", "hf+gpt2+mean"),
])
def test_names_are_canonical_group_and_file_names(given, canonical):
    assert canonical_name(given) == canonical
    assert is_model(canonical) and loader_path(canonical).startswith("aesens.models.hf:")
    assert EMBEDDING_NAME.fullmatch(canonical)  # the analysis stages' name check
    assert "/" not in canonical and canonical_name(canonical) == canonical
    assert parse_name(canonical) == parse_name(given)


@pytest.mark.parametrize("bad", ["hf:", "hf:a/b/c", "hf:org/na me", "hf:org--x--y",
                                 "hf:facebook/wav2vec2-base+layerx",
                                 "hf:facebook/wav2vec2-base+mean+last"])
def test_bad_names_are_refused_in_one_line(bad):
    with pytest.raises(AesensError) as error:
        canonical_name(bad)
    assert "\n" not in str(error.value)
    assert not is_model(re.sub(r"^hf:", "hf+", bad))


def test_other_spellings_are_not_registry_members():
    assert not is_model("hf:facebook/wav2vec2-base") and is_model("mfcc")
    assert not is_model("hf+facebook--wav2vec2-base+last")
    with pytest.raises(KeyError):
        loader_path("hf:facebook/wav2vec2-base")
