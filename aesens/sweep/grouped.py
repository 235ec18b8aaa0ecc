"""The grouped file of a sweep: one effect's averaged files stacked (read and written here).

``embeddings/grouped/<embedding>/<effect>.h5`` holds ``train_A``, ``test_A``
(the averaged original) and ``train_Bs``, ``test_Bs`` (n_params × n_files ×
dim), float64, with the file stem of every row. :func:`group_effect` writes
it, :func:`read_grouped` reads it; :func:`aesens.sweep.sweep.ensure_grouped`
keeps it up to date as a cache (:mod:`aesens.sweep.records`) and
:meth:`aesens.sweep.sweep.Sweep.load` gives it with its labels and grid.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from aesens import layout
from aesens.errors import AesensError, first_few
from aesens.sweep.averaged import FILE_NAMES, check_same_rows, read_averaged
from aesens.sweep.records import in_threads, sources_of, write_cache

#: Datasets of a grouped file.
GROUPED_NAMES = ("train_A", "test_A", "train_Bs", "test_Bs")


def group_effect(embedding: str, effect: str, embeddings_dir: str | os.PathLike = "embeddings",
                 n_jobs: int = 1, progress: bool = False) -> Path:
    """Stack the averaged original and effected embeddings of one effect.

    Parameters
    ----------
    embedding : str
        Embedding name.
    effect : str
        Effect name (its grid gives the parameter order).
    embeddings_dir : path
        Folder holding ``averaged/``; ``grouped/`` is written beside it.
    n_jobs : int
        Averaged files read in parallel (threads).
    progress : bool
        Show a tqdm progress bar over the files read.

    Returns
    -------
    Path
        The grouped file, with ``train_A, test_A`` ``(n_files, dim)`` and
        ``train_Bs, test_Bs`` ``(n_params, n_files, dim)``.

    Raises
    ------
    AesensError
        If averaged files are missing or do not hold the same files and labels.
    """
    from aesens.effects import get_effect

    params = get_effect(effect).param_strings
    original = layout.averaged_path(embedding, embeddings_dir=embeddings_dir)
    effected = [layout.averaged_path(embedding, effect, param, embeddings_dir=embeddings_dir)
                for param in params]
    missing = [param for param, path in zip(params, effected, strict=True) if not path.exists()]
    if not original.exists() or missing:
        absent = ([str(original)] if not original.exists() else []) + [
            str(layout.averaged_path(embedding, effect, param, embeddings_dir=embeddings_dir))
            for param in missing]
        raise AesensError(f"{len(absent)} averaged files of {embedding}/{effect} are missing "
                          f"({first_few(absent)}); run average_all_embeddings.sh first")
    reference = read_averaged(original)
    sweep = in_threads(read_averaged, effected, n_jobs, f"reading {embedding}/{effect}",
                       progress)
    for path, arrays in zip(effected, sweep, strict=True):
        check_same_rows(original, reference, path, arrays)
    output = layout.grouped_path(embedding, effect, embeddings_dir)
    write_cache(output, {
        "train_A": np.asarray(reference["X_train"], dtype=np.float64),
        "test_A": np.asarray(reference["X_test"], dtype=np.float64),
        "train_Bs": np.stack([arrays["X_train"] for arrays in sweep]).astype(np.float64),
        "test_Bs": np.stack([arrays["X_test"] for arrays in sweep]).astype(np.float64),
        **{name: reference[name] for name in FILE_NAMES if name in reference},
    }, sources_of([original, *effected]))
    return output


def read_grouped(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The datasets of a grouped file (:data:`GROUPED_NAMES`, and :data:`FILE_NAMES` when it
    records them).

    Raises
    ------
    AesensError
        If the file is missing, unreadable or lacks one of :data:`GROUPED_NAMES`.
    """
    return read_averaged(path, GROUPED_NAMES)
