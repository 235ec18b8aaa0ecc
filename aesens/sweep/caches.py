"""Per-file averaging of embeddings and grouping of one effect's parameter sweep.

- :func:`average_file`: mean of all rows (frames) of each file, in the order
  of the split CSV, written as ``X_train, Y_train, X_test, Y_test,
  genre_train, genre_test`` (``embeddings/averaged/<embedding>/...``).
- :func:`group_effect`: the averaged original and every averaged effected
  file of one effect stacked into ``train_A, test_A, train_Bs, test_Bs``
  (``embeddings/grouped/<embedding>/<effect>.h5``).
- :func:`ensure_averaged`, :func:`ensure_grouped` (and
  :func:`aesens.analysis.directions.ensure_ccadirs`):
  the later stages read the raw embeddings and the split CSV, as the
  published scripts did, through these files used as caches. Each written
  file records the name, size, modification time and inode of its inputs (HDF5
  attribute :data:`SOURCES_ATTR`); it is reused only while they still match,
  else rebuilt. A file without the record (written by the published scripts
  or earlier versions) is rebuilt when its inputs exist and used as it is
  when they do not.

Averaged and grouped arrays are float64, as the published averaging stored them.
:mod:`aesens.sweep.sweep` reads them (:class:`aesens.sweep.sweep.Sweep`).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import h5py
import numpy as np
from tqdm import tqdm

from aesens import layout, store
from aesens.errors import AesensError, first_few
from aesens.h5_access import open_h5
from aesens.layout import refuse_overwriting_inputs
from aesens.sweep.split import read_split
from aesens.sweep.sweep import (
    FILE_NAMES,
    Sweep,
    check_same_rows,
    nonfinite_rows,
    read_averaged,
)

# aesens.effects is imported inside the functions that need it: it pulls in
# scipy.signal and pedalboard, which would double the start-up time of
# average_embeddings.py (run once per file).

T = TypeVar("T")
R = TypeVar("R")

#: Datasets of an averaged file in the published layout.
AVERAGED_NAMES = ("X_train", "Y_train", "X_test", "Y_test", "genre_train", "genre_test")
#: HDF5 attribute of a cache file: its inputs' names, sizes and modification times (JSON).
SOURCES_ATTR = "aesens_sources"


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


def sources_of(paths: Sequence[str | os.PathLike], **extra: str) -> str:
    """The record of a cache file's inputs (JSON): name, size, modification time and inode of
    each (an atomic rewrite always changes the inode, even within the clock's resolution)."""
    files = []
    for path in map(Path, paths):
        status = path.stat()
        files.append([path.name, status.st_size, status.st_mtime_ns, status.st_ino])
    return json.dumps({"files": files, **extra}, sort_keys=True)


def recorded_sources(path: str | os.PathLike) -> str | None:
    """The inputs recorded in a cache file (None if it is missing, unreadable or has none)."""
    try:
        with h5py.File(path, "r") as h5:
            value = h5.attrs.get(SOURCES_ATTR)
    except OSError:
        return None
    return value.decode() if isinstance(value, bytes) else value


def write_cache(path: str | os.PathLike, arrays: Mapping[str, np.ndarray], sources: str,
                attrs: Mapping[str, object] | None = None) -> None:
    """Write named arrays atomically (strings as UTF-8) with the record of their inputs."""
    store.write_arrays(path, arrays, attrs={SOURCES_ATTR: sources, **(attrs or {})})


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


def _sweep_files(embedding: str, effect: str,
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


def in_threads(function: Callable[[T], R], items: Sequence[T], n_jobs: int, desc: str,
               progress: bool) -> list[R]:
    """``[function(item) for item in items]`` on ``n_jobs`` threads (all cores if < 1), in order.

    The first exception is raised once the running calls have finished, the
    threads shut down: a failing input never leaves threads behind that keep
    the process from exiting.
    """
    workers = n_jobs if n_jobs > 0 else (os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items) or 1))) as pool:
        futures = [pool.submit(function, item) for item in items]
        done = []
        try:
            with tqdm(total=len(futures), desc=desc, disable=not progress) as bar:
                for future in futures:
                    done.append(future.result())
                    bar.update()
        finally:
            for future in futures:
                future.cancel()
    return done


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
    jobs = _sweep_files(embedding, effect, embeddings_dir)
    in_threads(lambda job: ensure_averaged(split_csv, job[0], embedding, job[1], job[2]), jobs,
               n_jobs, f"averaging {embedding}/{effect}", progress)
    return [output for _, output, _ in jobs]


def ensure_grouped(embedding: str, effect: str,
                   split_csv: str | os.PathLike = "train_test_split.csv",
                   embeddings_dir: str | os.PathLike = "embeddings", n_jobs: int = 1,
                   progress: bool = False) -> Sweep:
    """The sweep of one embedding and effect, from the raw embeddings and the split.

    Builds (or rebuilds) the averaged files and the grouped file that are
    missing or older than their inputs, then returns :meth:`aesens.sweep.sweep.Sweep.load`.
    A grouped file whose inputs are all absent (no raw embeddings file of
    the sweep, some averaged files missing) is used as it is.
    """
    output = layout.grouped_path(embedding, effect, embeddings_dir)
    try:
        averaged = ensure_sweep_averaged(embedding, effect, split_csv, embeddings_dir, n_jobs,
                                         progress)
    except AesensError:
        raw = [source for source, _, _ in _sweep_files(embedding, effect, embeddings_dir)]
        if output.exists() and not any(path.exists() for path in raw):
            # Neither raw nor all averaged inputs: the grouped file is all there is.
            return Sweep.load(embedding, effect, embeddings_dir)
        raise
    if not output.exists() or recorded_sources(output) != sources_of(averaged):
        group_effect(embedding, effect, embeddings_dir, n_jobs, progress)
    return Sweep.load(embedding, effect, embeddings_dir)


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
            for source, output, reference in _sweep_files(embedding, effect.name,
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
    """``python -m aesens.sweep.caches SPLIT_CSV EMBEDDINGS_DIR``: :func:`average_all`."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m aesens.sweep.caches",
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
