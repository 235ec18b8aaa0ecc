"""HDF5 files in the published layout, written atomically.

Layout (kept from the published scripts; users have files in it):

- ``embeddings/embeddings.h5`` (original audio) and
  ``embeddings/embeddings_<effect>_<paramstr>.h5`` (effected audio), each
  with ``irmas/<embedding>/features`` (float32, rows x dim) and
  ``irmas/<embedding>/keys`` (one file stem per row, repeated per frame).
  Several embeddings share one file.
- ``embeddings/averaged/<embedding>/embeddings[_<effect>_<param>].h5`` with
  ``X_train, Y_train, X_test, Y_test, genre_train, genre_test``.
- ``embeddings/grouped/<embedding>/<effect>.h5`` with ``train_A, test_A,
  train_Bs, test_Bs``.
- ``embeddings/averaged/<embedding>/ccadirs_<effect>.h5`` with ``cca_dirs``.

Every write goes through :mod:`aesens.safe_files`: to a temporary file
beside the target which is renamed over it only once complete, so an
interrupted run never loses existing data, with the mode a plain ``open()``
gives. An HDF5 file that is updated (one embedding replaced, others kept) is
written anew with the kept objects copied over, so a rewrite takes no more
space than a fresh write. Writers of one file take its
:func:`~aesens.safe_files.exclusive_lock` from the read to the rename. A
setting file that cannot be read is set aside as ``<name>.damaged`` by
:func:`set_aside_if_damaged`, never deleted.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path

import h5py
import numpy as np

from aesens.errors import AesensError
from aesens.h5_access import H5_FILE_OVERHEAD, H5_OBJECT_OVERHEAD, h5_size, open_h5
from aesens.safe_files import atomic_file, exclusive_lock

#: Top-level group of the embedding files.
DATASET_GROUP = "irmas"
#: Attribute set on an embedding group once all its rows are written.
COMPLETE_ATTR = "complete"



def decode_keys(keys: np.ndarray) -> np.ndarray:
    """Turn stored keys (bytes or str, any HDF5 string type) into a str array."""
    keys = np.asarray(keys)
    if keys.dtype.kind in ("S", "O"):
        return np.array([k.decode("utf-8") if isinstance(k, bytes) else str(k) for k in keys],
                        dtype=object).astype(str)
    return keys.astype(str)


@contextlib.contextmanager
def atomic_h5(path: str | os.PathLike, keep_existing: bool = True,
              drop: Collection[str] = (), reserve: int = 0) -> Iterator[h5py.File]:
    """Open a new temporary HDF5 file for writing; rename it over ``path`` on success.

    Through :func:`aesens.safe_files.atomic_file`: the file's lock is held
    from the copy of the existing file to the rename, and partial files that
    a killed writer of ``path`` left behind are removed first. An existing
    file that another process holds open for writing (its HDF5 file lock) is
    waited for, then refused (:func:`~aesens.h5_access.open_h5`): it is never replaced under
    that process.

    Parameters
    ----------
    path : path
        Target file. Its folder is created if needed.
    keep_existing : bool
        Start with the objects of the existing file copied over (to add or
        replace some datasets while keeping the others); otherwise start empty.
    drop : collection of str
        Paths of objects of the existing file not to copy (those the block
        replaces), so that the rewritten file holds no space of the old data.
    reserve : int
        Bytes the block will write (:func:`~aesens.h5_access.h5_size`): if the disk has less
        room than that plus the kept file, the disk-full error is raised
        before anything is written (the HDF5 library may crash on a disk that
        fills up during a write).

    Yields
    ------
    h5py.File
        The temporary file, open for writing.

    Raises
    ------
    AesensError
        If the folder cannot be created or written, or the file is in use.
    OSError
        If the write fails (disk full): the partial file is removed and the
        error names ``path``.
    """
    path = Path(path)
    with atomic_file(path, reserve + H5_FILE_OVERHEAD, keep_existing) as tmp, \
            h5py.File(tmp, "w") as h5:
        if keep_existing and path.exists():
            with _open_read(path) as old:
                _copy_tree(old, h5, {name.strip("/") for name in drop}, "")
        elif path.exists():
            with contextlib.suppress(OSError), open_h5(path):
                pass  # only waits for (or refuses) a file in use: a damaged one is replaced
        yield h5


def _copy_tree(source: h5py.Group, target: h5py.Group, drop: set[str], prefix: str) -> None:
    """Copy ``source``'s attributes and members into ``target``, except the paths in ``drop``."""
    for key, value in source.attrs.items():
        target.attrs[key] = value
    for name in source:
        full = f"{prefix}{name}"
        if full in drop:
            continue
        member = source[name]
        if isinstance(member, h5py.Group) and any(path.startswith(f"{full}/") for path in drop):
            _copy_tree(member, target.require_group(name), drop, f"{full}/")
        else:
            source.copy(member, target, name=name)


def _open_read(path: str | os.PathLike) -> h5py.File:
    path = Path(path)
    if not path.exists():
        raise AesensError(f"{path} does not exist; run the stage that writes it first")
    try:
        return open_h5(path)
    except OSError as error:
        raise AesensError(f"{path} is not a readable HDF5 file ({error}); delete it and rerun "
                          "the stage that writes it") from None


def write_embeddings(path: str | os.PathLike, embedding: str, features: np.ndarray,
                     keys: np.ndarray | list[str],
                     attrs: Mapping[str, str | int | float] | None = None) -> None:
    """Write (or replace) one embedding's features and keys, keeping other embeddings.

    Parameters
    ----------
    path : path
        HDF5 file, e.g. ``embeddings/embeddings.h5``.
    embedding : str
        Embedding name (the group under ``irmas/``).
    features : numpy.ndarray
        ``(rows, dim)`` features, stored as float32.
    keys : sequence of str
        One file stem per row.
    attrs : mapping, optional
        Metadata stored as attributes of the embedding group (model,
        library, version, weights hash, sample rate, ...).
    """
    features = np.asarray(features, dtype=np.float32)
    keys = np.asarray(keys, dtype=object)
    if features.ndim != 2 or len(features) != len(keys):
        raise ValueError(f"features {features.shape} and keys ({len(keys)}) do not match")
    name = f"{DATASET_GROUP}/{embedding}"
    size = h5_size({"features": features, "keys": keys}, attrs) + H5_OBJECT_OVERHEAD
    with atomic_h5(path, drop=[name], reserve=size) as h5:
        group = h5.create_group(name)
        group.create_dataset("features", data=features)
        group.create_dataset("keys", data=keys, dtype=h5py.string_dtype("utf-8"))
        for key, value in (attrs or {}).items():
            group.attrs[key] = value
        group.attrs[COMPLETE_ATTR] = True


def read_embeddings(path: str | os.PathLike, embedding: str) -> tuple[np.ndarray, np.ndarray]:
    """Read one embedding's ``(features, keys)`` from a file in the published layout.

    Files written by the published scripts (keys as bytes, several rows per
    key for frame-level models) are read unchanged.

    Raises
    ------
    AesensError
        If the file or the embedding is missing, or features and keys differ in length.
    """
    with _open_read(path) as h5:
        problem = embedding_problem(h5, embedding)
        if problem == ABSENT:
            present = list_embeddings(path)
            raise AesensError(f"{path} has no embedding {embedding!r} (it has: "
                              f"{', '.join(present) or 'none'}); extract it first")
        if problem is not None:
            raise AesensError(f"{path}: {problem} (damaged or foreign file); {REEXTRACT}")
        group = h5[f"{DATASET_GROUP}/{embedding}"]
        features = group["features"][()]
        try:
            keys = decode_keys(group["keys"][()])
        except UnicodeDecodeError as error:
            raise AesensError(f"{path}: {DATASET_GROUP}/{embedding}/keys are not UTF-8 text "
                              f"({error.reason}); {REEXTRACT}") from None
    return features, keys


#: :func:`embedding_problem`'s answer for an embedding the file does not hold.
ABSENT = "is missing"
#: What to do about an embedding that :func:`embedding_problem` refuses.
REEXTRACT = "re-extract it (2A.1/2A.2) or give an embeddings file of this tool"


def embedding_problem(h5: h5py.File, embedding: str) -> str | None:
    """Why an open file does not hold a readable ``irmas/<embedding>``, or ``None`` if it does.

    What every reader of the layout needs: ``irmas`` and ``irmas/<embedding>``
    groups, a 2-D numeric ``features`` dataset and a 1-D ``keys`` dataset
    (strings) of as many rows. Completeness (:func:`incomplete_reason`) and
    damage (:func:`damage_reason`) check the same.

    Returns
    -------
    str or None
        :data:`ABSENT` when there is no such embedding (nor a ``features`` or
        ``keys`` dataset in its group: a partial write), else a reason naming
        the object.
    """
    name = f"{DATASET_GROUP}/{embedding}"
    top = h5.get(DATASET_GROUP)
    if top is not None and not isinstance(top, h5py.Group):
        return f"{DATASET_GROUP} is not a group (not a file of this layout)"
    group = None if top is None else top.get(embedding)
    if group is None:
        return ABSENT
    if not isinstance(group, h5py.Group):
        return f"{name} is a {_kind(group)}, not a group of features and keys"
    features, keys = group.get("features"), group.get("keys")
    if features is None or keys is None:
        return ABSENT
    for part, member in (("features", features), ("keys", keys)):
        if not isinstance(member, h5py.Dataset):
            return f"{name}/{part} is a {_kind(member)}, not a dataset"
    if features.ndim != 2 or features.dtype.kind not in "fiu" or keys.ndim != 1 \
            or keys.dtype.kind not in "SOU":
        return (f"{name} holds features of shape {features.shape} ({features.dtype}) and keys "
                f"of shape {keys.shape}, not rows x dim and one key per row")
    if len(features) != len(keys):
        return f"{name} has {len(features)} feature rows but {len(keys)} keys"
    return None


def _kind(member: object) -> str:
    """How an HDF5 object reads in a message: group, scalar dataset, dataset, or its type."""
    if isinstance(member, h5py.Group):
        return "group"
    if isinstance(member, h5py.Dataset):
        return "scalar dataset" if member.shape == () else "dataset"
    return type(member).__name__


def list_embeddings(path: str | os.PathLike) -> list[str]:
    """Names of the embeddings stored in a file (empty if the file is missing)."""
    if not Path(path).exists():
        return []
    with _open_read(path) as h5:
        return sorted(h5[DATASET_GROUP].keys()) if DATASET_GROUP in h5 else []


#: Start of :func:`incomplete_reason`'s answer when the embedding was computed under other settings.
MISMATCH_PREFIX = "was computed with"


def _same_value(stored: object, expected: object) -> bool:
    """Whether an HDF5 attribute value equals an expected Python value."""
    if isinstance(stored, bytes):
        stored = stored.decode("utf-8")
    if isinstance(expected, str) or isinstance(stored, str):
        return str(stored) == str(expected)
    stored, expected = np.asarray(stored), np.asarray(expected)
    return stored.shape == expected.shape and bool(np.all(stored == expected))


def incomplete_reason(path: str | os.PathLike, embedding: str,
                      expected_keys: set[str] | None = None,
                      expected_attrs: Mapping[str, object] | None = None) -> str | None:
    """Why a file does not hold a complete embedding, or ``None`` if it does.

    Parameters
    ----------
    path : path
        HDF5 file in the published layout.
    embedding : str
        Embedding name (the group under ``irmas/``).
    expected_keys : set of str, optional
        The file stems the embedding must cover, exactly.
    expected_attrs : mapping, optional
        Settings attributes (effect semantics, model framing, ...) the
        embedding group must carry with these values; a missing one (a file
        of an older version) counts as a mismatch.

    Returns
    -------
    str or None
        A short reason (starting with :data:`MISMATCH_PREFIX` when settings
        attributes differ or are missing; :func:`embedding_problem`'s when
        the readers would refuse the embedding), or ``None`` when complete.

    Raises
    ------
    AesensError
        If another process holds the file open for writing (:func:`~aesens.h5_access.open_h5`).
    """
    path = Path(path)
    if not path.exists():
        return "is missing"
    try:
        with open_h5(path) as h5:
            problem = embedding_problem(h5, embedding)
            if problem is not None:
                return problem
            name = f"{DATASET_GROUP}/{embedding}"
            attrs = dict(h5[name].attrs)
            for key, value in (expected_attrs or {}).items():
                if key not in attrs:
                    return (f"{MISMATCH_PREFIX} no {key} attribute (written by an older "
                            f"version; expected {key}={value})")
                if not _same_value(attrs[key], value):
                    return f"{MISMATCH_PREFIX} {key}={attrs[key]} (expected {key}={value})"
            if expected_keys is not None and set(decode_keys(h5[name]["keys"][()])) \
                    != expected_keys:
                return "covers other files than the dataset's"
    except (OSError, UnicodeDecodeError):
        return "is unreadable"
    return None


def damage_reason(path: str | os.PathLike, group: str | None = None) -> str | None:
    """Why an existing HDF5 file cannot be read (not HDF5, truncated, a dataset unreadable).

    Every dataset's last element is read (its data must be in the file) and
    every ``keys`` dataset in full (its strings must decode).

    Parameters
    ----------
    path : path
        The file.
    group : str, optional
        A top-level name that must be a group where present; the layout's
        :data:`DATASET_GROUP` also has each of its embeddings checked as the
        readers check them (:func:`embedding_problem`; a partial one, without
        features or keys, is incomplete rather than damaged).

    Returns
    -------
    str or None
        The reason, or ``None`` for a readable file (or no file).

    Raises
    ------
    AesensError
        If another process holds the file open for writing (:func:`~aesens.h5_access.open_h5`):
        a file in use is not damaged.
    """
    path = Path(path)
    if not path.exists():
        return None
    problems: list[str] = []

    def visit(name: str, member: object) -> None:
        if not isinstance(member, h5py.Dataset) or problems:
            return
        try:
            if name.endswith("keys") and member.ndim == 1:
                decode_keys(member[()])
            elif name.endswith("keys") or not member.shape:
                member[()]
            elif member.shape[0]:
                member[-1]
        except (OSError, RuntimeError, ValueError, KeyError, TypeError) as error:
            problems.append(f"dataset {name}: {_first_line(error)}")

    try:
        with open_h5(path) as h5:
            if group is not None and group in h5 and not isinstance(h5[group], h5py.Group):
                return f"{group} is not a group (not a file of this layout)"
            if group == DATASET_GROUP:
                for embedding in h5.get(group, {}):
                    problem = embedding_problem(h5, embedding)
                    if problem not in (None, ABSENT):
                        return problem
            h5.visititems(visit)
    except (OSError, RuntimeError, ValueError, KeyError) as error:
        return _first_line(error)
    return problems[0] if problems else None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def set_aside_if_damaged(path: str | os.PathLike,
                         group: str | None = None) -> tuple[Path, str] | None:
    """Rename a file that cannot be read to ``<name>.damaged`` (then ``.damaged.1``, ...).

    The file is kept for inspection, never deleted. A damaged file is
    checked again under its :func:`~aesens.safe_files.exclusive_lock` before the rename, so a
    file a concurrent writer has just completed is not moved; a readable
    file is only read (no lock file, so read-only folders are fine).

    Parameters
    ----------
    path : path
        The file.
    group : str, optional
        Passed to :func:`damage_reason`.

    Returns
    -------
    (Path, str) or None
        Where the file now is and why it was set aside, or ``None`` if it
        is missing or readable.
    """
    path = Path(path)
    if damage_reason(path, group) is None:
        return None
    with exclusive_lock(path):
        reason = damage_reason(path, group)
        if reason is None:
            return None
        target = path.with_name(f"{path.name}.damaged")
        number = 0
        while target.exists():
            number += 1
            target = path.with_name(f"{path.name}.damaged.{number}")
        os.replace(path, target)
    return target, reason


def write_arrays(path: str | os.PathLike, arrays: Mapping[str, np.ndarray],
                 keep_existing: bool = False, attrs: Mapping[str, object] | None = None) -> None:
    """Write named arrays (string arrays as UTF-8) and file attributes to HDF5 atomically."""
    with atomic_h5(path, keep_existing=keep_existing, drop=list(arrays),
                   reserve=h5_size(arrays, attrs)) as h5:
        for name, value in arrays.items():
            value = np.asarray(value)
            if value.dtype.kind in ("U", "O", "S"):
                h5.create_dataset(name, data=value.astype(object),
                                  dtype=h5py.string_dtype("utf-8"))
            else:
                h5.create_dataset(name, data=value)
        for name, value in (attrs or {}).items():
            h5.attrs[name] = value


def read_arrays(path: str | os.PathLike, names: list[str] | None = None) -> dict[str, np.ndarray]:
    """Read named arrays from an HDF5 file; string datasets come back as str arrays."""
    out: dict[str, np.ndarray] = {}
    with _open_read(path) as h5:
        for name in names if names is not None else list(h5.keys()):
            if name not in h5:
                raise AesensError(f"{path} has no dataset {name!r} (it has: "
                                  f"{', '.join(h5.keys())}); rerun the stage that writes it")
            value = h5[name][()]
            if isinstance(value, np.ndarray) and value.dtype.kind in ("S", "O"):
                value = decode_keys(value)
            out[name] = value
    return out
