"""The effect sweep of one embedding: original and effected embeddings of every file.

- :class:`Sweep`: the grouped arrays of one embedding and effect with their
  labels and grid (:meth:`Sweep.load`), and what every stage does with them:
  the paths of the files (:meth:`Sweep.paths`), the finite check
  (:meth:`Sweep.check_finite`) and the stored sample-wise CCA directions
  (:meth:`Sweep.stored_directions`).
- Reading the files of a sweep (:func:`read_averaged`, :func:`read_ccadirs`)
  and checking that they hold the same files in the same order
  (:func:`check_file_names`, :func:`check_same_rows`).

:mod:`aesens.sweep.caches` writes the averaged, grouped and sample-wise CCA files.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from aesens import layout, store
from aesens.errors import AesensError

# aesens.effects is imported inside Sweep.load: it pulls in scipy.signal and pedalboard,
# which would double the start-up time of average_embeddings.py (run once per file).

#: Datasets this tool adds to averaged and grouped files: the file stem of every row (files
#: written by the published scripts lack them and are still read).
FILE_NAMES = ("file_name_train", "file_name_test")
#: Datasets of a grouped file.
GROUPED_NAMES = ("train_A", "test_A", "train_Bs", "test_Bs")
#: HDF5 attribute of a ``ccadirs_<effect>.h5`` file: the train files whose path does not vary
#: with the effect (e.g. silent files), whose ``cca_dirs`` rows are zeros (no direction).
CONSTANT_PATHS_ATTR = "constant_paths"
#: Labels read from the averaged original file by :meth:`Sweep.load`.
LABEL_NAMES = ("Y_train", "Y_test", "genre_train", "genre_test")

_REALIGN = "rerun average_all_embeddings.sh (or group_effect_params.py) with one split CSV"


def as_paths(effected: np.ndarray) -> np.ndarray:
    """``(n_files, n_params, dim)`` paths of ``(n_params, n_files, dim)`` effected embeddings."""
    return np.moveaxis(np.asarray(effected), 0, 1)


def nonfinite_rows(features: np.ndarray) -> np.ndarray:
    """Mask of the rows (vectors along the last axis) that hold NaN or inf."""
    return ~np.isfinite(features).all(axis=-1)


def read_averaged(path: str | os.PathLike,
                  names: Sequence[str] = ("X_train", "X_test", "Y_train", "Y_test"),
                  ) -> dict[str, np.ndarray]:
    """Datasets of an averaged file, with its file names (:data:`FILE_NAMES`) when it has them.

    Raises
    ------
    AesensError
        If the file is missing, unreadable or lacks one of ``names``.
    """
    present: set[str] = set()
    if Path(path).exists():
        try:
            with h5py.File(path, "r") as h5:
                present = set(h5.keys())
        except OSError:
            pass  # read_arrays names the unreadable file
    return store.read_arrays(path, [*names, *(name for name in FILE_NAMES if name in present)])


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


def check_file_names(reference_path: str | os.PathLike, expected: np.ndarray,
                     path: str | os.PathLike, found: np.ndarray, part: str) -> None:
    """Check that two files list the same files in the same order.

    Parameters
    ----------
    reference_path, path : path
        The two files, named in the message.
    expected, found : numpy.ndarray
        The file name of every row of the ``part`` set in each.
    part : str
        ``train`` or ``test``.

    Raises
    ------
    AesensError
        Naming the first row where the lists differ (or where one ends).
    """
    expected, found = np.asarray(expected), np.asarray(found)
    if np.array_equal(expected, found):
        return
    length = min(len(expected), len(found))
    differ = np.flatnonzero(expected[:length] != found[:length])
    row = int(differ[0]) if len(differ) else length
    seen = repr(str(found[row])) if row < len(found) else "no row"
    wanted = repr(str(expected[row])) if row < len(expected) else "no row"
    raise AesensError(f"{path}: {part} row {row} is {seen} but {wanted} in {reference_path} "
                      f"(other files or another order); {_REALIGN}")


def check_same_rows(reference_path: str | os.PathLike, reference: Mapping[str, np.ndarray],
                    path: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> None:
    """Check that two averaged files hold the same files in the same order.

    Compares the file name of every row where both files record them
    (:data:`FILE_NAMES`; files of the published scripts do not), the
    instrument labels, and the shapes of ``X_train`` and ``X_test`` (when
    both arrays hold them).

    Raises
    ------
    AesensError
        Naming both files and the first row that differs.
    """
    for part in ("train", "test"):
        names = f"file_name_{part}"
        if names in reference and names in arrays:
            check_file_names(reference_path, reference[names], path, arrays[names], part)
        labels = f"Y_{part}"
        if not np.array_equal(arrays[labels], reference[labels]):
            raise AesensError(f"{path} and {reference_path} hold different {labels} (another "
                              f"split?); {_REALIGN}")
        features = f"X_{part}"
        if features in arrays and features in reference \
                and arrays[features].shape != reference[features].shape:
            raise AesensError(f"{path}: {features} has shape {arrays[features].shape}, "
                              f"{reference_path} {reference[features].shape}; {_REALIGN}")


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
        data = read_averaged(grouped, GROUPED_NAMES)
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

    def stored_directions(self, embeddings_dir: str | os.PathLike = "embeddings") -> np.ndarray:
        """The sample-wise CCA directions of the train files stored by stage 3.2.

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
        path = layout.ccadirs_path(self.embedding, self.effect, embeddings_dir)
        directions, file_names = read_ccadirs(path)
        if directions.shape != self.train_A.shape:
            raise AesensError(f"{path} holds {directions.shape} directions for "
                              f"{self.train_A.shape} train files; rerun "
                              f"3.2_extract_samplewise_cca_dirs.py {self.embedding} {self.effect}")
        if file_names is not None and self.file_name_train is not None:
            check_file_names(layout.grouped_path(self.embedding, self.effect, embeddings_dir),
                             self.file_name_train, path, file_names, "train")
        return directions
