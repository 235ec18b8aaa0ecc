"""The sample-wise CCA directions file of a sweep (``ccadirs_<effect>.h5``, stage 3.2).

:func:`ensure_ccadirs` computes it from the averaged files
(:mod:`aesens.sweep.averaged`) and keeps it as a cache (:mod:`aesens.sweep.records`);
:func:`read_ccadirs` reads it and :func:`stored_directions` checks it against a
:class:`~aesens.sweep.sweep.Sweep`.
"""

from __future__ import annotations

import os
import warnings

import h5py
import numpy as np

from aesens import layout
from aesens.analysis.cca import ConstantPathWarning, samplewise_cca_directions
from aesens.errors import AesensError
from aesens.sweep.averaged import (
    FILE_NAMES,
    check_file_names,
    check_same_rows,
    ensure_sweep_averaged,
    read_averaged,
)
from aesens.sweep.records import recorded_sources, sources_of, write_cache
from aesens.sweep.sweep import Sweep

#: HDF5 attribute of a ``ccadirs_<effect>.h5`` file: the train files whose path does not vary
#: with the effect (e.g. silent files), whose ``cca_dirs`` rows are zeros (no direction).
CONSTANT_PATHS_ATTR = "constant_paths"


def read_ccadirs(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray | None]:
    """Sample-wise CCA directions of a ``ccadirs_<effect>.h5`` file.

    A row of zeros is no direction (a path that does not vary with the effect:
    see :data:`CONSTANT_PATHS_ATTR`) and comes back as NaN, which the R² and
    SVD statistics leave out.

    Returns
    -------
    tuple
        ``(n_train_files, dim)`` directions and the file name of every row
        (None when the file does not record them).
    """
    arrays = read_averaged(path, ["cca_dirs"])
    directions = np.array(arrays["cca_dirs"], dtype=np.float64)
    if directions.ndim == 2:
        directions[~np.any(directions != 0, axis=1)] = np.nan
    return directions, arrays.get("file_name_train")


def stored_directions(sweep: Sweep, embeddings_dir: str | os.PathLike = "embeddings"
                      ) -> np.ndarray:
    """The sample-wise CCA directions of a sweep's train files stored by stage 3.2.

    Reads ``averaged/<embedding>/ccadirs_<effect>.h5`` (:func:`read_ccadirs`).

    Returns
    -------
    numpy.ndarray
        ``(n_train_files, dim)``, NaN rows for paths that do not vary.

    Raises
    ------
    AesensError
        If the file is missing, or holds directions of another shape
        than the train set or of other files (where both record them).
    """
    path = layout.ccadirs_path(sweep.embedding, sweep.effect, embeddings_dir)
    directions, file_names = read_ccadirs(path)
    if directions.shape != sweep.train_A.shape:
        raise AesensError(f"{path} holds {directions.shape} directions for "
                          f"{sweep.train_A.shape} train files; rerun "
                          f"3.2_extract_samplewise_cca_dirs.py {sweep.embedding} {sweep.effect}")
    if file_names is not None and sweep.file_name_train is not None:
        check_file_names(layout.grouped_path(sweep.embedding, sweep.effect, embeddings_dir),
                         sweep.file_name_train, path, file_names, "train")
    return directions


def ensure_ccadirs(embedding: str, effect: str,
                   split_csv: str | os.PathLike = "train_test_split.csv",
                   embeddings_dir: str | os.PathLike = "embeddings", n_jobs: int = 1,
                   progress: bool = False) -> np.ndarray:
    """Sample-wise CCA directions of every train file, from the averaged files as published.

    Brings the averaged files up to date (:func:`ensure_sweep_averaged`),
    then reuses ``ccadirs_<effect>.h5`` if it was computed from them, else
    computes the directions from their ``X_train`` stacked in grid order and
    writes the file (with ``file_name_train`` when the averaged files record
    the file of every row).

    A path that does not vary with the effect (a silent file) has no
    direction. The published 3.2 wrote a finite (numerically arbitrary) row
    there and its 3.5 notebook takes the SVD of every row, so the file gets a
    row of zeros, which the published readers accept and which adds nothing
    to that SVD; the files are named in the attribute
    :data:`CONSTANT_PATHS_ATTR` and in a
    :class:`~aesens.analysis.cca.ConstantPathWarning`. :func:`read_ccadirs`
    gives those rows back as NaN, which every statistic of this tool leaves out.

    Returns
    -------
    numpy.ndarray
        ``(n_train_files, dim)``, NaN rows for paths that do not vary.
    """
    averaged = ensure_sweep_averaged(embedding, effect, split_csv, embeddings_dir, n_jobs,
                                     progress)
    output = layout.ccadirs_path(embedding, effect, embeddings_dir)
    sources = sources_of(averaged[1:])
    if output.exists() and recorded_sources(output) == sources:
        return read_ccadirs(output)[0]
    reference = read_averaged(averaged[0], ["Y_train", "Y_test"])
    names = {name: reference[name] for name in FILE_NAMES[:1] if name in reference}
    sweep = []
    for path in averaged[1:]:
        arrays = read_averaged(path, ["X_train", "Y_train", "Y_test"])
        check_same_rows(averaged[0], reference, path, arrays)
        sweep.append(arrays["X_train"])
    paths = np.stack(sweep, axis=1).astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantPathWarning)  # named below, with the files
        directions = samplewise_cca_directions(paths)
    constant = np.flatnonzero(np.isnan(directions).any(axis=1))
    stems = names.get(FILE_NAMES[0])
    constant_names = [str(stems[row]) if stems is not None else f"train row {row}"
                      for row in constant]
    write_cache(output, {"cca_dirs": np.where(np.isnan(directions), 0.0, directions), **names},
                sources, attrs={CONSTANT_PATHS_ATTR: np.array(
                    constant_names, dtype=h5py.string_dtype("utf-8"))})
    if len(constant):
        warnings.warn(f"{output}: {len(constant)} of {len(directions)} train files do not vary "
                      f"with {effect} ({', '.join(constant_names[:5])}"
                      f"{', ...' if len(constant) > 5 else ''}): their rows are zeros (no "
                      f"direction), named in the attribute {CONSTANT_PATHS_ATTR!r}, and left "
                      "out of the R² and SVD statistics", ConstantPathWarning, stacklevel=2)
    return directions
