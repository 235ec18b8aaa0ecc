"""Result files of the sensitivity analysis, in the published layout.

- ``results/correlations.csv``: global-CCA correlations, in the published
  3.1 notebook's format: columns ``embedding, effect, instrument,
  desensitization_method, spearman_corr2, comment`` first (the key is the
  first four; ``desensitization_method`` is ``cca``; ``spearman_corr2`` is
  the paper's global R²; ``comment`` is free text users edit by hand), then
  our columns. It is merged, never overwritten: every cell of a row or
  column this tool does not write keeps its text exactly, rows of the same
  key get the new values in the columns this tool writes, new keys are
  appended; floats are written in Python's shortest exact form, so
  ``pandas.read_csv`` and ``to_csv(index=False)`` give them back unchanged.
- ``results/<effect>/cca_r2s_<embedding>.txt``: the sample-wise R² of every
  train file, one per line, in the order of the train set (the published
  3.3 notebook's last cell writes it, the 3.4 notebook reads it).
- ``models/<effect>/deformdir_<embedding>.pkl`` (written by the
  classification stage, see :mod:`aesens.classification.results`): ``{method key:
  {instrument: direction(s)}}``; the global CCA direction of an instrument
  is ``deformdir["-cca"][instrument]``.

Every write goes to a temporary file beside the target, renamed over it once
complete; the merge of ``correlations.csv`` holds the lock of
:mod:`aesens.safe_files` from the read to the rename.
"""

from __future__ import annotations

from numbers import Integral, Real
from pathlib import Path

import numpy as np
import pandas as pd

from aesens import layout
from aesens.analysis.methods import GLOBAL_CCA
from aesens.errors import AesensError
from aesens.layout import PathLike
from aesens.safe_files import atomic_file, atomic_write_csv, exclusive_lock, read_csv, read_pickle

#: Columns that identify a row of ``correlations.csv`` (the published notebook's key).
CORRELATION_KEYS = ("embedding", "effect", "instrument", "desensitization_method")
#: Column of the paper's global R² (in-sample, as the published 3.1 notebook computed it).
GLOBAL_R2_COLUMN = "spearman_corr2"
#: The free column of ``correlations.csv`` that users edit by hand.
COMMENT_COLUMN = "comment"
#: The published columns of ``correlations.csv``, in order; ours follow them.
PUBLISHED_CORRELATION_COLUMNS = (*CORRELATION_KEYS, GLOBAL_R2_COLUMN, COMMENT_COLUMN)


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
        The file written: the :data:`PUBLISHED_CORRELATION_COLUMNS` first,
        then the file's other columns, then the table's. Existing rows of
        other keys are kept in place, cell for cell; a row with the same key
        takes the new values in the table's columns and keeps its text in
        every other column (such as ``comment``); new keys are appended with
        an empty ``comment``.

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


def read_correlations_text(path: PathLike) -> pd.DataFrame:
    """``correlations.csv`` with every cell as the text it holds (empty cells as ``""``).

    Raises
    ------
    AesensError
        If the file does not parse or lacks a key column.
    """
    old = read_csv(path, dtype=str, keep_default_na=False)
    missing = [key for key in CORRELATION_KEYS if key not in old.columns]
    if missing:
        raise AesensError(f"{path} lacks columns {', '.join(missing)}; move it away and "
                          "rerun python -m aesens.figures")
    return old


def _cell_text(value: object) -> str:
    """A new cell as written: floats in their shortest exact form, NaN and None empty."""
    if isinstance(value, str):
        return value
    if value is None or pd.isna(value):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, Integral):
        return str(int(value))
    if isinstance(value, Real):
        return repr(float(value))
    return str(value)


def _merge_correlations(table: pd.DataFrame, path: Path) -> Path:
    keys = list(CORRELATION_KEYS)
    missing = [key for key in keys if key not in table.columns]
    if missing:
        raise ValueError(f"the new correlations lack columns {', '.join(missing)}")
    old = (read_correlations_text(path) if path.exists()
           else pd.DataFrame(columns=list(PUBLISHED_CORRELATION_COLUMNS), dtype=str))
    present = [*old.columns, *(c for c in table.columns if c not in old.columns)]
    columns = [*(c for c in PUBLISHED_CORRELATION_COLUMNS),
               *(c for c in present if c not in PUBLISHED_CORRELATION_COLUMNS)]
    rows: list[dict[str, str]] = [{column: row.get(column, "") for column in columns}
                                  for row in old.to_dict("records")]
    where: dict[tuple, list[int]] = {}
    for position, row in enumerate(rows):
        where.setdefault(tuple(row[k] for k in keys), []).append(position)
    for new in table.to_dict("records"):
        cells = {column: _cell_text(value) for column, value in new.items()}
        key = tuple(cells[k] for k in keys)
        if key in where:
            for position in where[key]:
                rows[position].update(cells)
        else:
            where[key] = [len(rows)]
            rows.append({column: cells.get(column, "") for column in columns})
    merged = pd.DataFrame(rows, columns=columns, dtype=object)
    return atomic_write_csv(path, merged)


def write_cca_r2s(r2: np.ndarray, effect: str, embedding: str,
                  results_dir: PathLike = "results") -> Path:
    """Write the sample-wise R² of every train file, one per line (``nan`` for a constant path).

    Returns
    -------
    Path
        The file written.
    """
    path = layout.cca_r2s_path(embedding, effect, results_dir)
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
    path = layout.cca_r2s_path(embedding, effect, results_dir)
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
    path = layout.deformdir_path(embedding, effect, models_dir)
    content = read_pickle(path)
    if not isinstance(content.get(GLOBAL_CCA.key(), {}), dict):
        raise AesensError(f"{path} holds no {{instrument: direction}} dict under "
                          f"{GLOBAL_CCA.key()!r}; move it away and rerun desensitize_classif.py")
    directions = {}
    for instrument, value in content.get(GLOBAL_CCA.key(), {}).items():
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
