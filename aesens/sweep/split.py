"""The train/test split of stage 2A.3, group-aware and balanced, as in the paper.

1. Take the unique file stems of the original-audio embeddings, sorted.
2. Drop genre ``lat_sou``.
3. Label = instrument long name; group = the 4 digits of the source recording.
4. ``StratifiedGroupKFold(n_splits=4, shuffle=True, random_state=20220419)``;
   the first fold's test part is the test set, the rest is train. As
   scikit-learn 1.2.2 (the published environment) computed it, whatever the
   installed version: :func:`aesens.dataset.folds.published_group_fold_test_rows`.
5. Balance the train set: ``random.seed(42)`` once, then for each instrument
   in :data:`BALANCE_ORDER` shuffle its train stems with ``random.shuffle``
   and keep as many as the smallest class has. The test set is not balanced.
6. Rows ``instrument,genre,file_name,split``, train rows first.

The published procedure deduplicated stems through a Python set, so its
order was not reproducible; sorting first makes this one deterministic.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from aesens import safe_files
from aesens.dataset import parse_stem
from aesens.dataset.folds import FOLD_SEED, N_SPLITS, published_group_fold_test_rows
from aesens.errors import AesensError, first_few

#: Instrument order of the balancing draw (and of the classifiers, stage 4).
BALANCE_ORDER = ("clarinet", "organ", "cello", "violin", "guitar_acc", "voice", "guitar_ele",
                 "saxophone", "trumpet", "piano", "flute")
#: Seed of the published balancing draw.
BALANCE_SEED = 42
EXCLUDED_GENRES = ("lat_sou",)
COLUMNS = ["instrument", "genre", "file_name", "split"]


def make_split(stems: Iterable[str]) -> pd.DataFrame:
    """Split file stems into a balanced train set and a test set.

    Parameters
    ----------
    stems : iterable of str
        IRMAS file stems (duplicates allowed, e.g. one per frame).

    Returns
    -------
    pandas.DataFrame
        Columns ``instrument, genre, file_name, split``; train rows first.

    Raises
    ------
    AesensError
        If a stem does not parse, or some instrument has fewer source
        recordings than folds.
    """
    names = [parse_stem(stem) for stem in sorted(set(stems))]
    names = [name for name in names if name.genre not in EXCLUDED_GENRES]
    if not names:
        raise AesensError("no files left to split after dropping genre lat_sou")
    labels = np.array([name.instrument_name for name in names])
    groups = np.array([name.group for name in names])
    for label in np.unique(labels):
        n_groups = len(np.unique(groups[labels == label]))
        if n_groups < N_SPLITS:
            raise AesensError(f"instrument {label} has {n_groups} source recordings; a "
                              f"{N_SPLITS}-fold group split needs at least {N_SPLITS}: add files")
    test_index = published_group_fold_test_rows(labels, groups, N_SPLITS, FOLD_SEED)
    train_index = np.setdiff1d(np.arange(len(names)), test_index)

    train_by_label: dict[str, list[int]] = {}
    for index in train_index:
        train_by_label.setdefault(labels[index], []).append(int(index))
    smallest = min(len(indices) for indices in train_by_label.values())
    random.seed(BALANCE_SEED)
    order = [label for label in BALANCE_ORDER if label in train_by_label]
    order += sorted(set(train_by_label) - set(order))
    train_rows: list[int] = []
    for label in order:
        indices = train_by_label[label]
        random.shuffle(indices)
        train_rows.extend(indices[:smallest])
    test_rows = sorted(test_index, key=lambda i: (order.index(labels[i]), names[i].stem))

    def rows(indices: list[int], split: str) -> list[tuple[str, str, str, str]]:
        return [(names[i].instrument_name, names[i].genre_name, names[i].stem, split)
                for i in indices]

    return pd.DataFrame(rows(train_rows, "train") + rows(test_rows, "test"), columns=COLUMNS)


def write_split(split: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write the split CSV atomically (temporary file, then rename)."""
    safe_files.atomic_write_csv(path, split)


#: Values of the ``split`` column.
SPLIT_VALUES = ("train", "test")


def read_split(path: str | os.PathLike) -> pd.DataFrame:
    """Read a split CSV and check its columns and rows.

    Parameters
    ----------
    path : path
        CSV with columns ``instrument,genre,file_name,split`` (others are kept).

    Returns
    -------
    pandas.DataFrame
        The rows, all values as strings.

    Raises
    ------
    AesensError
        If the file is missing, unreadable, empty, not CSV, lacks the
        published columns, holds no rows, a ``split`` other than train or
        test, an empty file name or instrument, or the same file twice (the
        message names the first few offending values).
    """
    path = Path(path)
    if not path.exists():
        raise AesensError(f"{path} does not exist; run 2A.3_train_test_split.py first")
    remake = "remake it with 2A.3_train_test_split.py"
    try:
        split = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise AesensError(f"{path} is empty; {remake}") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else "no data"
        raise AesensError(f"{path} is not a readable CSV file ({reason}); {remake}") from None
    except OSError as error:
        raise AesensError(f"{path} cannot be read ({error.strerror or error}); check that it "
                          "is a readable file or " + remake) from None
    missing = [column for column in COLUMNS if column not in split.columns]
    if missing:
        raise AesensError(f"{path} lacks columns {', '.join(missing)}; expected "
                          f"{','.join(COLUMNS)}")
    if split.empty:
        raise AesensError(f"{path} holds a header but no rows; {remake}")
    other = split["split"][~split["split"].isin(SPLIT_VALUES)].unique()
    if len(other):
        raise AesensError(f"{path}: {len(other)} split values other than train/test "
                          f"({first_few(other, quoted=True)}); correct the split column or "
                          f"{remake}")
    for column in ("file_name", "instrument"):
        blank = np.flatnonzero(split[column].str.strip() == "")
        if len(blank):
            shown = ", ".join(str(row) for row in blank[:3] + 1) + (", ..." if len(blank) > 3
                                                                     else "")
            raise AesensError(f"{path}: {len(blank)} rows without {column} (data rows "
                              f"{shown}); fill them in or {remake}")
    repeated = split["file_name"][split["file_name"].duplicated()].unique()
    if len(repeated):
        raise AesensError(f"{path}: {len(repeated)} files appear more than once "
                          f"({first_few(repeated, quoted=True)}); keep one row per file or "
                          f"{remake}")
    return split


def check_classifiable(train_labels: Iterable[str], test_labels: Iterable[str],
                       path: str | os.PathLike) -> None:
    """Refuse a split whose train or test rows hold fewer than two instruments.

    Each instrument's classifier is trained on its train rows against the
    others' and scored (ROC AUC) on its test rows against the others': with
    a single instrument in either part there is no "other" class.

    Raises
    ------
    AesensError
        Naming the split CSV, the part and its instruments.
    """
    for part, labels in (("train", train_labels), ("test", test_labels)):
        present = sorted(set(labels))
        if len(present) < 2:
            raise AesensError(f"{path}: its {part} rows hold a single instrument "
                              f"({first_few(present, quoted=True) or 'none'}); classification "
                              "needs at least two in each part: add rows of other instruments or "
                              "remake it with 2A.3_train_test_split.py")
