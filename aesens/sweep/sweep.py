"""The effect sweep of one embedding: original and effected embeddings of every file.

:class:`Sweep` holds the grouped arrays of one embedding and effect with their
labels and grid (:meth:`Sweep.load`), and what every stage does with them:
the paths of the files (:meth:`Sweep.paths`) and the finite check
(:meth:`Sweep.check_finite`). :func:`ensure_grouped` builds the averaged and
grouped files it is read from (:mod:`aesens.sweep.averaged`,
:mod:`aesens.sweep.grouped`) when they are missing or older than their inputs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from aesens import layout
from aesens.errors import AesensError
from aesens.sweep.averaged import (
    FILE_NAMES,
    LABEL_NAMES,
    check_file_names,
    ensure_sweep_averaged,
    nonfinite_rows,
    read_averaged,
    sweep_files,
)
from aesens.sweep.grouped import GROUPED_NAMES, group_effect, read_grouped
from aesens.sweep.records import recorded_sources, sources_of

# aesens.effects is imported inside Sweep.load: it pulls in scipy.signal and pedalboard,
# which would double the start-up time of average_embeddings.py (run once per file).

def as_paths(effected: np.ndarray) -> np.ndarray:
    """``(n_files, n_params, dim)`` paths of ``(n_params, n_files, dim)`` effected embeddings."""
    return np.moveaxis(np.asarray(effected), 0, 1)


@dataclass(frozen=True)
class Sweep:
    """The grouped embeddings of one embedding and effect, with their labels and grid.

    Attributes
    ----------
    embedding, effect : str
        What the sweep is of.
    train_A, test_A : numpy.ndarray
        ``(n_files, dim)`` original embeddings of the train and test files.
    train_Bs, test_Bs : numpy.ndarray
        ``(n_params, n_files, dim)`` their effected embeddings, in grid order.
    Y_train, Y_test, genre_train, genre_test : numpy.ndarray
        Instrument and genre of every file, in split-CSV order.
    params : numpy.ndarray
        The effect grid.
    param_strings : tuple of str
        Its values as in file names and result rows.
    file_name_train, file_name_test : numpy.ndarray or None
        The file stem of every row, when the averaged original (or else the
        grouped file) records them.
    """

    embedding: str
    effect: str
    train_A: np.ndarray
    test_A: np.ndarray
    train_Bs: np.ndarray
    test_Bs: np.ndarray
    Y_train: np.ndarray
    Y_test: np.ndarray
    genre_train: np.ndarray
    genre_test: np.ndarray
    params: np.ndarray
    param_strings: tuple[str, ...]
    file_name_train: np.ndarray | None = None
    file_name_test: np.ndarray | None = None

    @classmethod
    def load(cls, embedding: str, effect: str,
             embeddings_dir: str | os.PathLike = "embeddings") -> Sweep:
        """Read the grouped file of one embedding and effect with the labels of its files.

        The arrays come from ``grouped/<embedding>/<effect>.h5``, the labels
        and file names from the averaged original file, the grid from the
        effect.

        Raises
        ------
        AesensError
            If the grouped file and the averaged original file hold other
            numbers of files, other files, or another grid.
        """
        from aesens.effects import get_effect

        grid = get_effect(effect)
        grouped = layout.grouped_path(embedding, effect, embeddings_dir)
        original = layout.averaged_path(embedding, embeddings_dir=embeddings_dir)
        data = read_grouped(grouped)
        labels = read_averaged(original, LABEL_NAMES)
        rerun = f"rerun group_effect_params.py -e {effect} -b {embedding}"
        if data["train_Bs"].shape[0] != len(grid):
            raise AesensError(f"{grouped} holds {data['train_Bs'].shape[0]} parameter values, "
                              f"the {effect} grid {len(grid)}; {rerun}")
        for part in ("train", "test"):
            rows = {len(labels[f"Y_{part}"]), len(data[f"{part}_A"]), data[f"{part}_Bs"].shape[1]}
            if len(rows) != 1:
                raise AesensError(f"{grouped} and {original} hold different numbers of {part} "
                                  f"files ({', '.join(map(str, sorted(rows)))}); {rerun}")
            names = f"file_name_{part}"
            if names in data and names in labels:
                check_file_names(original, labels[names], grouped, data[names], part)
        return cls(embedding, effect, **{name: data[name] for name in GROUPED_NAMES},
                   **{name: labels[name] for name in LABEL_NAMES},
                   params=np.asarray(grid.grid),
                   param_strings=tuple(str(value) for value in grid.param_strings),
                   **{name: labels.get(name, data.get(name)) for name in FILE_NAMES})

    def paths(self, part: str = "train") -> np.ndarray:
        """``(n_files, n_params, dim)`` paths of the train (or test) files."""
        return as_paths(getattr(self, f"{part}_Bs"))

    def check_finite(self, source: str) -> None:
        """Raise a one-line :class:`AesensError` if an embedding holds NaN or inf.

        ``source`` (the grouped file) is named in the message.
        """
        for name in GROUPED_NAMES:
            if nonfinite_rows(getattr(self, name)).any():
                raise AesensError(f"{source}: {name} holds NaN or inf; re-extract and "
                                  "re-average the affected files")


def ensure_grouped(embedding: str, effect: str,
                   split_csv: str | os.PathLike = "train_test_split.csv",
                   embeddings_dir: str | os.PathLike = "embeddings", n_jobs: int = 1,
                   progress: bool = False) -> Sweep:
    """The sweep of one embedding and effect, from the raw embeddings and the split.

    Builds (or rebuilds) the averaged files and the grouped file that are
    missing or older than their inputs, then returns :meth:`Sweep.load`.
    A grouped file whose inputs are all absent (no raw embeddings file of
    the sweep, some averaged files missing) is used as it is.
    """
    output = layout.grouped_path(embedding, effect, embeddings_dir)
    try:
        averaged = ensure_sweep_averaged(embedding, effect, split_csv, embeddings_dir, n_jobs,
                                         progress)
    except AesensError:
        raw = [source for source, _, _ in sweep_files(embedding, effect, embeddings_dir)]
        if output.exists() and not any(path.exists() for path in raw):
            # Neither raw nor all averaged inputs: the grouped file is all there is.
            return Sweep.load(embedding, effect, embeddings_dir)
        raise
    if not output.exists() or recorded_sources(output) != sources_of(averaged):
        group_effect(embedding, effect, embeddings_dir, n_jobs, progress)
    return Sweep.load(embedding, effect, embeddings_dir)
