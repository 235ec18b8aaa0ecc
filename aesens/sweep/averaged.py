"""The averaged files of a sweep: per-file means of the raw embeddings (read and written here).

- :func:`average_file`: mean of all rows (frames) of each file, in the order
  of the split CSV, written as ``X_train, Y_train, X_test, Y_test,
  genre_train, genre_test`` (``embeddings/averaged/<embedding>/...``), float64
  as the published averaging stored them, with the file stem of every row
  (:data:`FILE_NAMES`).
- :func:`read_averaged` reads them; :func:`check_file_names` and
  :func:`check_same_rows` check that two of them hold the same files in the
  same order.
- :func:`ensure_averaged`, :func:`ensure_sweep_averaged` and
  :func:`average_all` (``average_all_embeddings.sh``, through :func:`main`)
  keep them up to date as caches (:mod:`aesens.sweep.records`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import h5py
import numpy as np
from tqdm import tqdm

from aesens import layout, store
from aesens.errors import AesensError, first_few
from aesens.h5_access import open_h5
from aesens.layout import refuse_overwriting_inputs
from aesens.sweep.records import in_threads, recorded_sources, sources_of, write_cache
from aesens.sweep.split import read_split

# aesens.effects is imported inside the functions that need it: it pulls in
# scipy.signal and pedalboard, which would double the start-up time of
# average_embeddings.py (run once per file).

#: Datasets of an averaged file in the published layout.
AVERAGED_NAMES = ("X_train", "Y_train", "X_test", "Y_test", "genre_train", "genre_test")

#: Datasets this tool adds to averaged and grouped files: the file stem of every row (files
#: written by the published scripts lack them and are still read).
FILE_NAMES = ("file_name_train", "file_name_test")

#: Labels read from the averaged original file by :meth:`aesens.sweep.sweep.Sweep.load`.
LABEL_NAMES = ("Y_train", "Y_test", "genre_train", "genre_test")

_REALIGN = "rerun average_all_embeddings.sh (or group_effect_params.py) with one split CSV"


def nonfinite_rows(features: np.ndarray) -> np.ndarray:
    """Mask of the rows (vectors along the last axis) that hold NaN or inf."""
    return ~np.isfinite(features).all(axis=-1)


def require_finite(features: np.ndarray, keys: np.ndarray, source: str) -> None:
    """Raise a one-line :class:`AesensError` if some feature rows hold NaN or inf.

    Parameters
    ----------
    features : numpy.ndarray
        ``(rows, dim)``.
    keys : numpy.ndarray
        ``(rows,)`` file stem of each row, named in the message.
    source : str
        What the rows come from (file and embedding), named in the message.
    """
    bad = nonfinite_rows(features)
    if bad.any():
        stems = np.unique(np.asarray(keys)[bad])
        raise AesensError(f"{source}: {bad.sum()} rows of {len(stems)} files hold NaN or inf "
                          f"({first_few(stems)}); re-extract these files")


def average_by_key(features: np.ndarray, keys: Sequence[str],
                   order: Sequence[str]) -> np.ndarray:
    """Mean of the rows of each key, in a given key order, as the published averaging computed it.

    The published ``load_feature`` took, for each file, ``np.mean(np.vstack(rows), axis=0)``
    of its rows as stored (float32), so in float32 arithmetic, and stored the result in a
    float64 array. The same ``np.mean`` runs here on all files with the same number of rows
    at once, as a ``(files, rows, dim)`` stack reduced over its middle axis: numpy adds the
    rows of each file in the same order as for one file's ``(rows, dim)`` array, so every
    mean equals the published one bit for bit (tested against that expression).

    Parameters
    ----------
    features : numpy.ndarray
        ``(rows, dim)`` features, several rows per key for frame-level models, in the
        file's dtype (float32 in the published layout).
    keys : sequence of str
        ``(rows,)`` key (file stem) of each row.
    order : sequence of str
        Keys whose means to return, in this order.

    Returns
    -------
    numpy.ndarray
        ``(len(order), dim)`` means, computed in the features' dtype and stored as float64.

    Raises
    ------
    AesensError
        If some keys of ``order`` have no row (names how many and the first few).
    """
    features = np.asarray(features)
    keys = np.asarray(keys).astype(str)
    order = np.asarray(order).astype(str)
    if len(features) != len(keys):
        raise ValueError(f"{len(features)} feature rows but {len(keys)} keys")
    unique, inverse = np.unique(keys, return_inverse=True)
    position = np.searchsorted(unique, order)
    position[position == len(unique)] = 0
    found = unique[position] == order if len(unique) else np.zeros(len(order), dtype=bool)
    if not found.all():
        missing = order[~found]
        raise AesensError(f"{len(missing)} of {len(order)} files have no embedding rows "
                          f"({first_few(missing)})")
    by_key = np.argsort(inverse, kind="stable")  # each key's rows in file order
    counts = np.bincount(inverse, minlength=len(unique))
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    needed = np.unique(position)
    means = np.empty((len(unique), features.shape[1]), dtype=np.float64)
    for count in np.unique(counts[needed]):
        same_count = needed[counts[needed] == count]
        rows = by_key[starts[same_count][:, None] + np.arange(count)]
        means[same_count] = np.mean(features[rows], axis=1)
    return means[position]


_REEXTRACT = store.REEXTRACT


def _check_raw_layout(path: Path, embedding: str | None) -> None:
    """Raise a one-line error if ``path`` (existing) is not an embeddings file in the
    published layout: ``irmas/`` a group and, when ``embedding`` is given and present,
    what :func:`aesens.store.embedding_problem` checks (as 2A.1/2A.2's completeness does)."""
    if path.is_dir():
        raise AesensError(f"{path} is a folder; give the embeddings file (.h5) instead")
    try:
        with open_h5(path) as h5:
            top = h5.get(store.DATASET_GROUP)
            if top is not None and not isinstance(top, h5py.Group):
                raise AesensError(f"{path}: {store.DATASET_GROUP} is not a group of embeddings "
                                  f"(foreign file); {_REEXTRACT}")
            if top is None or embedding is None or top.get(embedding) is None:
                return
            problem = store.embedding_problem(h5, embedding)
            if problem == store.ABSENT:
                problem = (f"{store.DATASET_GROUP}/{embedding} has no features or keys dataset "
                           "(damaged or foreign file)")
            if problem is not None:
                raise AesensError(f"{path}: {problem}; {_REEXTRACT}")
    except OSError as error:
        raise AesensError(f"{path} is not a readable HDF5 file ({error}); {_REEXTRACT}") from None


def list_raw_embeddings(path: str | os.PathLike) -> list[str]:
    """:func:`aesens.store.list_embeddings` after checking the file's layout.

    Raises
    ------
    AesensError
        If the file exists but is not HDF5 or its ``irmas`` is not a group.
    """
    if Path(path).exists():
        _check_raw_layout(Path(path), None)
    return store.list_embeddings(path)


def read_raw_embeddings(path: str | os.PathLike,
                        embedding: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`aesens.store.read_embeddings` after checking the file's layout.

    Raises
    ------
    AesensError
        If the file is not HDF5, or ``irmas/<embedding>`` is not a group
        with a 2-D numeric ``features`` and a 1-D ``keys`` dataset (the
        message names the file and what is missing).
    """
    if Path(path).exists():
        _check_raw_layout(Path(path), embedding)
    return store.read_embeddings(path, embedding)


def average_file(split_csv: str | os.PathLike, input_h5: str | os.PathLike, embedding: str,
                 output_h5: str | os.PathLike,
                 original_h5: str | os.PathLike | None = None) -> None:
    """Average one embeddings file per file stem and write it in split-CSV order.

    Parameters
    ----------
    split_csv : path
        The train/test split (``instrument,genre,file_name,split``).
    input_h5 : path
        Embeddings file (``irmas/<embedding>/features`` and ``keys``).
    embedding : str
        Embedding name.
    output_h5 : path
        Averaged file to write (``X_train, Y_train, X_test, Y_test,
        genre_train, genre_test``).
    original_h5 : path, optional
        Original-audio embeddings file: when given, ``input_h5`` (an
        effected file) must hold exactly the same file stems.

    Raises
    ------
    AesensError
        If ``output_h5`` is one of the inputs, an input is damaged, the split
        has no train or no test rows or names files absent from ``input_h5``,
        the key sets of ``input_h5`` and ``original_h5`` differ, or some rows
        are not finite.
    """
    refuse_overwriting_inputs([output_h5], [input_h5, split_csv, original_h5])
    split = read_split(split_csv)
    for part in ("train", "test"):
        if not (split["split"] == part).any():
            raise AesensError(f"{split_csv} holds no {part} rows; remake it with "
                              "2A.3_train_test_split.py")
    features, keys = read_raw_embeddings(input_h5, embedding)
    if original_h5 is not None:
        _, original_keys = read_raw_embeddings(original_h5, embedding)
        missing = sorted(set(original_keys) - set(keys))
        extra = sorted(set(keys) - set(original_keys))
        if missing or extra:
            raise AesensError(f"{input_h5} ({embedding}) and {original_h5} hold different files: "
                              f"{len(missing)} missing ({first_few(missing)}), {len(extra)} extra "
                              f"({first_few(extra)}); re-extract {input_h5}")
    require_finite(features, keys, f"{input_h5} ({embedding})")
    arrays: dict[str, np.ndarray] = {}
    for part in ("train", "test"):
        rows = split[split["split"] == part]
        try:
            arrays[f"X_{part}"] = average_by_key(features, keys, rows["file_name"].to_numpy())
        except AesensError as error:
            raise AesensError(f"{split_csv} ({part}) names files absent from {input_h5} "
                              f"({embedding}): {error}; re-extract it or remake the "
                              "split") from None
        arrays[f"Y_{part}"] = rows["instrument"].to_numpy(dtype=str)
        arrays[f"genre_{part}"] = rows["genre"].to_numpy(dtype=str)
        arrays[f"file_name_{part}"] = rows["file_name"].to_numpy(dtype=str)
    write_cache(output_h5, {name: arrays[name] for name in (*AVERAGED_NAMES, *FILE_NAMES)},
                sources_of([input_h5, split_csv], embedding=embedding))


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


def ensure_averaged(split_csv: str | os.PathLike, input_h5: str | os.PathLike, embedding: str,
                    output_h5: str | os.PathLike,
                    original_h5: str | os.PathLike | None = None) -> bool:
    """Average ``input_h5`` into ``output_h5`` unless it is up to date with its inputs.

    Parameters are those of :func:`average_file`.

    Returns
    -------
    bool
        Whether the file was (re)written.

    Raises
    ------
    AesensError
        If neither ``input_h5`` nor ``output_h5`` exists, or ``input_h5`` exists
        without the split CSV.
    """
    input_h5, output_h5 = Path(input_h5), Path(output_h5)
    if not input_h5.exists():
        if output_h5.exists():
            return False  # nothing to compare with: the averaged file is all there is
        raise AesensError(f"{input_h5} does not exist (nor {output_h5}); extract {embedding} "
                          "for it first")
    if not Path(split_csv).exists():
        raise AesensError(f"{split_csv} does not exist; run 2A.3_train_test_split.py first")
    if (output_h5.exists() and recorded_sources(output_h5)
            == sources_of([input_h5, split_csv], embedding=embedding)):
        return False
    average_file(split_csv, input_h5, embedding, output_h5, original_h5=original_h5)
    return True


def sweep_files(embedding: str, effect: str,
                 embeddings_dir: str | os.PathLike) -> list[tuple[Path, Path, Path | None]]:
    """(raw input, averaged output, original raw file or None) of the original and each value."""
    from aesens.effects import get_effect

    original = layout.original_path(embeddings_dir)
    jobs: list[tuple[Path, Path, Path | None]] = [
        (original, layout.averaged_path(embedding, embeddings_dir=embeddings_dir), None)]
    for param in get_effect(effect).param_strings:
        jobs.append((layout.effected_path(effect, param, embeddings_dir),
                     layout.averaged_path(embedding, effect, param, embeddings_dir),
                     original))
    return jobs


def ensure_sweep_averaged(embedding: str, effect: str,
                          split_csv: str | os.PathLike = "train_test_split.csv",
                          embeddings_dir: str | os.PathLike = "embeddings", n_jobs: int = 1,
                          progress: bool = False) -> list[Path]:
    """Bring the averaged original and every averaged value of one effect up to date.

    Returns
    -------
    list of Path
        The averaged files, original first, then the grid in order.
    """
    jobs = sweep_files(embedding, effect, embeddings_dir)
    in_threads(lambda job: ensure_averaged(split_csv, job[0], embedding, job[1], job[2]), jobs,
               n_jobs, f"averaging {embedding}/{effect}", progress)
    return [output for _, output, _ in jobs]


def average_all(split_csv: str | os.PathLike,
                embeddings_dir: str | os.PathLike = "embeddings") -> tuple[int, int]:
    """Average every raw file there is: of each embedding of the original-audio file, the
    original and every extracted setting of every effect (``average_all_embeddings.sh``).

    The jobs are those of :func:`ensure_sweep_averaged` for every effect; settings
    not extracted yet (file missing, or without this embedding) are named on
    stderr and left out.

    Returns
    -------
    tuple of int
        Files written, files already up to date.
    """
    from aesens.effects import EFFECTS

    original = layout.original_path(embeddings_dir)
    jobs: list[tuple[str, Path, Path, Path | None]] = []
    for embedding in list_raw_embeddings(original):
        jobs.append((embedding, original,
                     layout.averaged_path(embedding, embeddings_dir=embeddings_dir), None))
        for effect in EFFECTS.values():
            missing = []
            for source, output, reference in sweep_files(embedding, effect.name,
                                                          embeddings_dir)[1:]:
                if embedding not in list_raw_embeddings(source):
                    missing.append(str(source))
                    continue
                jobs.append((embedding, source, output, reference))
            if missing:
                print(f"skipping {len(missing)} of {len(effect)} {effect.name} settings of "
                      f"{embedding}, not extracted yet ({', '.join(missing[:2])}, ...)",
                      file=sys.stderr)
    written = sum(ensure_averaged(split_csv, source, embedding, output, original_h5=reference)
                  for embedding, source, output, reference in tqdm(jobs, desc="averaging",
                                                                   unit="file"))
    return written, len(jobs) - written


def main(argv: list[str] | None = None) -> int:
    """``python -m aesens.sweep.averaged SPLIT_CSV EMBEDDINGS_DIR``: :func:`average_all`."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m aesens.sweep.averaged",
        description="Average every raw embeddings file there is, per audio file (the work of "
                    "average_all_embeddings.sh); settings not extracted yet are left out.")
    parser.add_argument("split_csv", help="the train/test split CSV")
    parser.add_argument("embeddings_dir", help="folder of embeddings.h5 and the effected files")
    args = parser.parse_args(argv)
    written, current = average_all(args.split_csv, args.embeddings_dir)
    print(f"averaged {written} file(s), {current} already up to date")
    return 0


if __name__ == "__main__":
    from aesens.errors import run_cli

    sys.exit(run_cli(main))
