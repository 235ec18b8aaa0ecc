"""Result files of the sensitivity analysis, in the published layout.

- ``results/correlations.csv``: global-CCA correlations, one row per
  embedding, effect and instrument. It is merged, never overwritten: rows
  of other embeddings, effects or instruments are kept, rows of the same
  ``(embedding, effect, instrument)`` get the new values, and every other
  column (the published file has a free ``comment`` column users edit by
  hand) keeps its values.
- ``results/<effect>/cca_r2s_<embedding>.txt``: the sample-wise R² of every
  train file, one per line, in the order of the train set (the published
  3.3 notebook's last cell writes it, the 3.4 notebook reads it).
- ``models/<effect>/deformdir_<embedding>.pkl`` (written by the
  classification stage, see :mod:`aesens.results`): ``{method key:
  {instrument: direction(s)}}``; the global CCA direction of an instrument
  is ``deformdir["-cca"][instrument]``.

Every write goes to a temporary file beside the target, renamed over it once
complete; the merge of ``correlations.csv`` holds the lock of
:mod:`aesens.safe_files` from the read to the rename.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from aesens import results
from aesens.errors import AesensError
from aesens.results import read_csv
from aesens.safe_files import atomic_file, exclusive_lock

PathLike = str | os.PathLike
#: Columns that identify a row of ``correlations.csv``.
CORRELATION_KEYS = ("embedding", "effect", "instrument")
#: The free column of ``correlations.csv`` that users edit by hand.
COMMENT_COLUMN = "comment"
#: Method key of the global CCA direction in the deformation-direction pickles.
GLOBAL_CCA_KEY = "-cca"


def merge_correlations(table: pd.DataFrame, results_dir: PathLike = "results") -> Path:
    """Merge per-instrument correlations into ``<results_dir>/correlations.csv``.

    Parameters
    ----------
    table : pandas.DataFrame
        New rows, with the :data:`CORRELATION_KEYS` columns.
    results_dir : path
        Folder of the file.

    Returns
    -------
    Path
        The file written. Existing rows of other keys are kept in place; a
        row with the same key takes the new values, keeping its values in
        every column ``table`` does not have (such as ``comment``); new keys
        are appended. A new file gets an empty ``comment`` column.

    Raises
    ------
    AesensError
        If the existing file does not parse or lacks a key column.
    """
    path = Path(results_dir) / "correlations.csv"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise AesensError(f"cannot create {path.parent} ({error.strerror}); choose a writable "
                          "results folder or fix its permissions") from None
    with exclusive_lock(path):  # from the read to the rename
        return _merge_correlations(table, path)


def _merge_correlations(table: pd.DataFrame, path: Path) -> Path:
    keys = list(CORRELATION_KEYS)
    if path.exists():
        old = read_csv(path, dtype={key: str for key in keys}, keep_default_na=False,
                       na_values=[""])
        missing = [key for key in keys if key not in old.columns]
        if missing:
            raise AesensError(f"{path} lacks columns {', '.join(missing)}; move it away and "
                              "rerun python -m aesens.figures")
    else:
        old = pd.DataFrame(columns=[*keys, COMMENT_COLUMN])
    columns = list(old.columns) + [c for c in table.columns if c not in old.columns]
    rows = old.reindex(columns=columns).astype(object).to_dict("records")
    where: dict[tuple, list[int]] = {}
    for position, row in enumerate(rows):
        where.setdefault(tuple("" if pd.isna(row[k]) else str(row[k]) for k in keys),
                         []).append(position)
    for row in table.to_dict("records"):
        key = tuple(str(row[k]) for k in keys)
        if key in where:
            for position in where[key]:
                rows[position].update(row)
        else:
            where[key] = [len(rows)]
            rows.append({column: row.get(column, np.nan) for column in columns})
    merged = pd.DataFrame(rows, columns=columns).infer_objects()
    integers = [c for frame in (old, table) for c in frame.columns
                if pd.api.types.is_integer_dtype(frame[c]) and c not in keys]
    merged = merged.astype({column: "Int64" for column in integers})
    with atomic_file(path) as tmp:
        merged.to_csv(tmp, index=False, float_format="%.4f")
    return path


def cca_r2s_path(effect: str, embedding: str, results_dir: PathLike = "results") -> Path:
    """``<results_dir>/<effect>/cca_r2s_<embedding>.txt``."""
    return Path(results_dir) / effect / f"cca_r2s_{embedding}.txt"


def write_cca_r2s(r2: np.ndarray, effect: str, embedding: str,
                  results_dir: PathLike = "results") -> Path:
    """Write the sample-wise R² of every train file, one per line (``nan`` for a constant path).

    Returns
    -------
    Path
        The file written.
    """
    path = cca_r2s_path(effect, embedding, results_dir)
    with atomic_file(path) as tmp:
        tmp.write_text("".join(f"{float(value)!r}\n" for value in np.ravel(r2)))
    return path


def read_cca_r2s(effect: str, embedding: str, results_dir: PathLike = "results",
                 n_files: int | None = None) -> np.ndarray:
    """Read the sample-wise R² values of :func:`write_cca_r2s`.

    Parameters
    ----------
    effect, embedding : str
        Which file.
    results_dir : path
        Folder holding ``<effect>/``.
    n_files : int, optional
        Expected number of train files.

    Returns
    -------
    numpy.ndarray
        ``(n_files,)`` R² values.

    Raises
    ------
    AesensError
        If the file is missing, holds something other than one number per
        line, or a count other than ``n_files``.
    """
    path = cca_r2s_path(effect, embedding, results_dir)
    if not path.exists():
        raise AesensError(f"{path} does not exist; run python -m aesens.figures or the 3.3 "
                          "notebook first")
    try:
        lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
        values = np.array([float(line) for line in lines], dtype=np.float64)
    except (UnicodeDecodeError, ValueError):
        raise AesensError(f"{path} is not one R² value per line; delete it and rerun "
                          "python -m aesens.figures") from None
    if n_files is not None and len(values) != n_files:
        raise AesensError(f"{path} holds {len(values)} values but the train set has {n_files} "
                          f"files; delete it and rerun python -m aesens.figures")
    return values


def read_global_directions(effect: str, embedding: str, models_dir: PathLike = "models",
                           dim: int | None = None) -> dict[str, np.ndarray]:
    """Global CCA directions per instrument from the deformation-direction pickle.

    Parameters
    ----------
    effect, embedding : str
        Which pickle.
    models_dir : path
        Folder holding ``<effect>/deformdir_<embedding>.pkl``.
    dim : int, optional
        Expected embedding dimension.

    Returns
    -------
    dict
        Instrument to ``(dim,)`` direction (given as ``(dim,)``, ``(1, dim)``
        or ``(dim, 1)``); empty if the pickle or its ``"-cca"`` entry is
        missing; an instrument with an empty ``(0, dim)`` entry is left out.

    Raises
    ------
    AesensError
        If the pickle cannot be read, is not ``{method key: {instrument:
        direction}}``, or holds a direction of another dimension.
    """
    path = results.deformdir_path(models_dir, effect, embedding)
    content = results.read_pickle(path)
    if not isinstance(content.get(GLOBAL_CCA_KEY, {}), dict):
        raise AesensError(f"{path} holds no {{instrument: direction}} dict under "
                          f"{GLOBAL_CCA_KEY!r}; move it away and rerun desensitize_classif.py")
    directions = {}
    for instrument, value in content.get(GLOBAL_CCA_KEY, {}).items():
        direction = np.asarray(value, dtype=np.float64)
        if direction.size == 0:  # no direction (constant paths): computed instead
            continue
        if direction.ndim > 2 or (direction.ndim == 2 and 1 not in direction.shape) or (
                dim is not None and direction.size != dim):
            raise AesensError(f"{path} holds a {direction.shape} global CCA direction for "
                              f"{instrument}, not one of {dim or 'the embedding'} dimensions; "
                              "move it away and rerun desensitize_classif.py")
        directions[str(instrument)] = direction.ravel()
    return directions
