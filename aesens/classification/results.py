"""Conventions of the result files, as the published scripts wrote them.

``results/<effect>/result_<embedding>.csv`` names a desensitisation method
in its ``embedding`` column: the model name alone for no method
(``openl3``), else ``<model>-<method>`` (``openl3-lda``). Stage 4 as
published labels a row with the model name plus ``-<method>``, which for no
method is ``openl3-``, and an empty parameter dict may stand as ``{}``: the
readers take ``openl3-`` as ``openl3`` and ``{}`` as empty. The pickles under
``models/<effect>/`` key their entries by method key: ``""`` for no method,
``"-<method>"`` otherwise, with the SVD threshold appended for the SVD
method (``"-cca_samplewise_svd-0.3"``).

This module also owns the files themselves:

- :func:`update_results_csv` loads an existing results CSV, replaces the rows
  whose key (:data:`KEY_COLUMNS`, an empty value equal to an empty value)
  is among the new rows and writes the table back.
- :func:`update_pickle` merges ``{method key: {instrument: ...}}`` into
  ``models/<effect>/deformdir_<embedding>.pkl`` or ``models_<embedding>.pkl``.

Both hold the exclusive lock that the HDF5 writes of :mod:`aesens.store` take
(one lock file beside each target) from the read to the rename, and write a
temporary file that replaces the target only once complete.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import pickle
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path

import pandas as pd

from aesens import layout, safe_files
from aesens.analysis.methods import method_of_label
from aesens.errors import AesensError
from aesens.safe_files import read_csv, read_json, read_pickle

#: Name of the original (uneffected) train or test set in the ``train_set``/``test_set`` columns.
ORIGINAL = "orig"
#: Name of the set where every file is at a random grid value.
RANDOMMIX = "randommix"
#: Columns of the results CSV, in the published order.
RESULT_COLUMNS = ["instrument", "train_set", "test_set", "precision", "recall", "f1_score",
                  "support", "accuracy", "roc_auc", "ap", "extra_info", "embedding",
                  "embedding_params", "last_updated"]
#: Columns that identify a row of the results CSV.
KEY_COLUMNS = ["instrument", "train_set", "test_set", "embedding", "embedding_params"]


def timestamp() -> str:
    """The ``last_updated`` column: local time to the millisecond, as published."""
    return datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


def _canonical_params(value: object) -> str:
    """``embedding_params`` in the published spelling (``{}``, an empty dict: empty)."""
    if _blank(value):
        return ""
    try:
        parsed = json.loads(str(value))
    except ValueError:
        return str(value)
    if not isinstance(parsed, dict):
        return str(value)
    return json.dumps(parsed) if parsed else ""


def _canonical_keys(table: pd.DataFrame, embedding: str) -> pd.DataFrame:
    """Key columns as strings in the published spelling (``openl3-`` read as ``openl3``)."""
    keys = table[KEY_COLUMNS].astype(object).map(lambda value: "" if _blank(value) else str(value))
    keys["embedding"] = [embedding if label == f"{embedding}-" else label
                         for label in keys["embedding"]]
    keys["embedding_params"] = [_canonical_params(value) for value in keys["embedding_params"]]
    return keys


def _read_results(path: Path) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise AesensError(f"{path} is not a readable CSV ({str(error).splitlines()[0]}); "
                          "repair or move it away and rerun") from None
    table = table.drop(columns=[column for column in table.columns
                                if str(column).startswith("Unnamed:")])
    missing = [column for column in KEY_COLUMNS if column not in table.columns]
    if missing:
        raise AesensError(f"{path} lacks columns {', '.join(missing)}; move it away and rerun")
    return table


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """The exclusive lock of :mod:`aesens.safe_files` on ``path`` (its folder created first)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise AesensError(f"cannot create {path.parent} ({error.strerror}); choose a writable "
                          "folder or fix its permissions") from None
    with safe_files.exclusive_lock(path):
        yield


def _write_atomic(path: Path, write: Callable[[str], None]) -> None:
    """Write through ``write(temporary name)``, renamed over ``path`` (safe_files.atomic_file)."""
    with safe_files.atomic_file(path) as tmp:
        write(str(tmp))


def update_results_csv(path: str | os.PathLike, rows: pd.DataFrame,
                       embedding: str) -> pd.DataFrame:
    """Insert or replace rows of a results CSV by their key, as the published script did.

    Parameters
    ----------
    path : path
        ``results/<effect>/result_<embedding>.csv``; created if missing.
        A file written by the published script (with or without its unnamed
        index column, ``openl3-`` labels or ``{}`` parameters) is read.
    rows : pandas.DataFrame
        New rows with the columns of :data:`RESULT_COLUMNS`.
    embedding : str
        Model name, to read the ``embedding`` label ``openl3-`` (no method).

    Returns
    -------
    pandas.DataFrame
        The whole table as written: the existing rows whose key is not among
        the new rows, in their order, then the new rows. Keys compare in the
        published spelling (empty equals empty, ``openl3-`` equals ``openl3``,
        ``{}`` equals empty), and the existing rows are rewritten in it.

    Raises
    ------
    AesensError
        If the existing file does not parse or lacks key columns (it is left
        unchanged).
    """
    path = Path(path)
    rows = rows.reindex(columns=RESULT_COLUMNS).reset_index(drop=True)
    rows[KEY_COLUMNS] = _canonical_keys(rows, embedding)
    with _locked(path):
        if path.exists():
            existing = _read_results(path)
            existing[KEY_COLUMNS] = _canonical_keys(existing, embedding)
            new_keys = pd.MultiIndex.from_frame(rows[KEY_COLUMNS])
            old_keys = pd.MultiIndex.from_frame(existing[KEY_COLUMNS])
            kept = existing[~old_keys.isin(new_keys)]
            table = pd.concat([kept, rows], ignore_index=True) if len(kept) else rows
            extra = [column for column in table.columns if column not in RESULT_COLUMNS]
            table = table[RESULT_COLUMNS + extra]
        else:
            table = rows
        _write_atomic(path, lambda name: table.to_csv(name, index=False))
    return table


def check_outputs(results_dir: str | os.PathLike, models_dir: str | os.PathLike, effect: str,
                  embedding: str) -> None:
    """Check, before any computation, that the result files of one embedding and effect can
    be updated.

    Creates the folders ``<results_dir>/<effect>`` and ``<models_dir>/<effect>``
    and reads the existing results CSV, pickles and ``extra_info`` JSON,
    so that a damaged or foreign file, or a folder that is a file or not
    writable, stops the run before its work (and before any of the files
    is changed) instead of after it.

    Raises
    ------
    AesensError
        Naming the file or folder and the fix.
    """
    for folder in (Path(results_dir) / effect, Path(models_dir) / effect):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise AesensError(f"cannot create {folder} ({error.strerror}); choose another "
                              "folder or move away the file in its way") from None
        if not os.access(folder, os.W_OK | os.X_OK):
            raise AesensError(f"{folder} is not writable; fix its permissions or choose "
                              "another folder")
    csv_path = layout.results_csv_path(embedding, effect, results_dir)
    if csv_path.exists():
        _read_results(csv_path)
    where = (embedding, effect, models_dir)
    read_pickle(layout.deformdir_path(*where))
    read_pickle(layout.models_path(*where))
    read_json(layout.extra_info_path(*where))


def _merge(old: dict, new: Mapping, depth: int) -> dict:
    """``old`` updated by ``new``, recursing into dictionaries ``depth`` levels down."""
    merged = dict(old)
    for key, value in new.items():
        if depth > 1 and isinstance(merged.get(key), dict) and isinstance(value, Mapping):
            merged[key] = _merge(merged[key], value, depth - 1)
        else:
            merged[key] = value
    return merged


def update_pickle(path: str | os.PathLike, entries: Mapping, depth: int = 2) -> dict:
    """Merge entries into a results pickle and write it atomically.

    Parameters
    ----------
    path : path
        ``deformdir_<embedding>.pkl`` or ``models_<embedding>.pkl``.
    entries : mapping
        ``{method key: {instrument: value}}``.
    depth : int
        Levels merged: 2 replaces whole instruments' values (directions),
        3 replaces single train sets of an instrument (classifiers).

    Returns
    -------
    dict
        The content as written.
    """
    path = Path(path)
    with _locked(path):
        merged = _merge(read_pickle(path), entries, depth)

        def dump(name: str) -> None:
            with open(name, "wb") as handle:
                pickle.dump(merged, handle, protocol=pickle.HIGHEST_PROTOCOL)

        _write_atomic(path, dump)
    return merged


def update_json(path: str | os.PathLike, entries: Mapping, depth: int = 3) -> dict:
    """Merge entries into a JSON file of nested dictionaries and write it atomically."""
    path = Path(path)
    with _locked(path):
        merged = _merge(read_json(path), entries, depth)
        _write_atomic(path, lambda name: Path(name).write_text(json.dumps(merged, indent=1)))
    return merged


def _threshold(text: object, path: Path) -> float | None:
    """The SVD threshold of an ``embedding_params`` cell (empty, NaN or ``{}``: none)."""
    if text is None or (isinstance(text, float) and math.isnan(text)) or not str(text).strip():
        return None
    try:
        params = json.loads(str(text))
    except json.JSONDecodeError:
        raise AesensError(f"{path} has embedding_params {str(text)!r}, which is not JSON; fix "
                          "that cell or rerun desensitize_classif.py") from None
    threshold = params.get("svd_thr") if isinstance(params, dict) else None
    return None if threshold is None else float(threshold)


def load_results(effect: str, embedding: str,
                 results_dir: str | os.PathLike = "results") -> pd.DataFrame:
    """Classification results of one effect and embedding, with a ``method`` column.

    Reads the published conventions (``embedding`` is ``openl3`` or
    ``openl3-`` for no method, ``openl3-lda`` ...; ``embedding_params`` empty
    or ``{}`` except ``{"svd_thr": 0.3}``). ``train_set`` and
    ``test_set`` are read as strings (parameter strings such as ``'4'`` or
    ``'-40.0'`` stay as written); ``method`` is the method name (``''`` for
    none, see :func:`aesens.analysis.methods.method_of_label`), followed by
    ``:<threshold>`` when ``embedding_params`` holds an SVD threshold (one
    file may hold several thresholds).

    Raises
    ------
    AesensError
        If the file is missing, does not parse or lacks a needed column.
    """
    path = layout.results_csv_path(embedding, effect, results_dir)
    if not path.exists():
        raise AesensError(f"{path} does not exist; run desensitize_classif.py for {effect} "
                          f"{embedding} first")
    table = read_csv(path, dtype={"train_set": str, "test_set": str, "embedding": str},
                     keep_default_na=False)
    needed = {"instrument", "train_set", "test_set", "roc_auc", "embedding"}
    if not needed <= set(table.columns):
        raise AesensError(f"{path} lacks columns {sorted(needed - set(table.columns))}; "
                          "rerun desensitize_classif.py")
    params = table["embedding_params"] if "embedding_params" in table else [""] * len(table)
    methods = []
    for label, text in zip(table["embedding"], params, strict=True):
        method, threshold = method_of_label(embedding, label), _threshold(text, path)
        methods.append(method if threshold is None else f"{method}:{threshold:g}")
    table["method"] = methods
    table["roc_auc"] = pd.to_numeric(table["roc_auc"], errors="coerce")
    return table
