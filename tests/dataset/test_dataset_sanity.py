"""Tests of the MFCC nearest-centroid sanity check (aesens.dataset.sanity)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aesens.dataset.sanity import mfcc_nearest_centroid_accuracy
from aesens.errors import AesensError


def test_mfcc_sanity_accuracy(tiny_dataset: Path) -> None:
    accuracy = mfcc_nearest_centroid_accuracy(tiny_dataset)
    assert 0.0 <= accuracy <= 1.0
    (tiny_dataset / "flu" / "[flu][cla]0103__1.wav").unlink()
    (tiny_dataset / "flu" / "012__[flu][dru][pop_roc]0102__1.wav").unlink()
    with pytest.raises(AesensError, match="single recording"):
        mfcc_nearest_centroid_accuracy(tiny_dataset)
