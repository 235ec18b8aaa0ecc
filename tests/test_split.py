"""Tests of aesens.split against an independent re-implementation of the published protocol."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import StratifiedGroupKFold

from aesens.dataset import parse_stem
from aesens.errors import AesensError
from aesens.split import BALANCE_ORDER, make_split, read_split, write_split


def reference_split(stems):
    """SPEC's procedure, written out directly."""
    stems = sorted(set(stems))
    stems = [s for s in stems if parse_stem(s).genre != "lat_sou"]
    labels = [parse_stem(s).instrument_name for s in stems]
    groups = [parse_stem(s).group for s in stems]
    cv = StratifiedGroupKFold(n_splits=4, shuffle=True, random_state=20220419)
    train, test = next(cv.split(stems, labels, groups))
    per_label = {}
    for i in train:
        per_label.setdefault(labels[i], []).append(stems[i])
    smallest = min(len(v) for v in per_label.values())
    random.seed(42)
    kept = []
    for label in BALANCE_ORDER:
        random.shuffle(per_label[label])
        kept += per_label[label][:smallest]
    return kept, sorted(stems[i] for i in test)


def test_split_of_the_paper_file_names(paper_split_csv):
    stems = pd.read_csv(paper_split_csv)["file_name"]
    split = make_split(list(stems) + list(stems[:50]))  # duplicates (frames) are ignored
    train = split[split["split"] == "train"]
    test = split[split["split"] == "test"]
    kept, test_ref = reference_split(stems)
    assert list(train["file_name"]) == kept
    assert sorted(test["file_name"]) == test_ref
    assert list(split.columns) == ["instrument", "genre", "file_name", "split"]
    assert split["split"].iloc[: len(train)].eq("train").all()  # train rows first
    assert train["instrument"].value_counts().nunique() == 1  # balanced
    groups = split.assign(group=[parse_stem(s).group for s in split["file_name"]])
    assert groups.groupby(["instrument", "group"])["split"].nunique().max() == 1
    assert 0.15 < len(test) / len(split) < 0.35
    # Deterministic.
    pd.testing.assert_frame_equal(split, make_split(reversed(list(stems))))


def test_lat_sou_is_dropped(paper_split_csv):
    stems = list(pd.read_csv(paper_split_csv)["file_name"]) + ["[cel][lat_sou]9999__1"]
    assert "[cel][lat_sou]9999__1" not in set(make_split(stems)["file_name"])


def test_too_few_recordings():
    with pytest.raises(AesensError, match="cello has 2 source recordings"):
        make_split(["[cel][cla]0001__1", "[cel][cla]0002__1", "[flu][cla]0003__1"])


def test_write_and_read(tmp_path):
    frame = pd.DataFrame([["cello", "classical", "[cel][cla]0001__1", "train"]],
                         columns=["instrument", "genre", "file_name", "split"])
    path = tmp_path / "split.csv"
    write_split(frame, path)
    pd.testing.assert_frame_equal(read_split(path), frame)
    with pytest.raises(AesensError, match="run 2A.3_train_test_split.py first"):
        read_split(tmp_path / "missing.csv")
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(AesensError, match="lacks columns"):
        read_split(tmp_path / "bad.csv")
    assert np.all(read_split(path)["split"] == "train")
