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

Every write goes to a temporary file beside the target which is renamed over
it only once complete, so an interrupted run never loses existing data.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import h5py
import numpy as np

from aesens.errors import AesensError

#: Top-level group of the embedding files.
DATASET_GROUP = "irmas"
#: Attribute set on an embedding group once all its rows are written.
COMPLETE_ATTR = "complete"

PathLike = str | os.PathLike


def original_path(embeddings_dir: PathLike = "embeddings") -> Path:
    """Path of the original-audio embeddings file."""
    return Path(embeddings_dir) / "embeddings.h5"


def effected_path(effect: str, param: str, embeddings_dir: PathLike = "embeddings") -> Path:
    """Path of the embeddings file of one effect setting."""
    return Path(embeddings_dir) / f"embeddings_{effect}_{param}.h5"


def averaged_path(embedding: str, effect: str | None = None, param: str | None = None,
                  embeddings_dir: PathLike = "embeddings") -> Path:
    """Path of a per-file averaged embeddings file (original if ``effect`` is None)."""
    suffix = "" if effect is None else f"_{effect}_{param}"
    return Path(embeddings_dir) / "averaged" / embedding / f"embeddings{suffix}.h5"


def grouped_path(embedding: str, effect: str, embeddings_dir: PathLike = "embeddings") -> Path:
    """Path of the grouped (all parameters stacked) file of one embedding and effect."""
    return Path(embeddings_dir) / "grouped" / embedding / f"{effect}.h5"


def ccadirs_path(embedding: str, effect: str, embeddings_dir: PathLike = "embeddings") -> Path:
    """Path of the sample-wise CCA directions file."""
    return Path(embeddings_dir) / "averaged" / embedding / f"ccadirs_{effect}.h5"


def decode_keys(keys: np.ndarray) -> np.ndarray:
    """Turn stored keys (bytes or str, any HDF5 string type) into a str array."""
    keys = np.asarray(keys)
    if keys.dtype.kind in ("S", "O"):
        return np.array([k.decode("utf-8") if isinstance(k, bytes) else str(k) for k in keys],
                        dtype=object).astype(str)
    return keys.astype(str)


@contextlib.contextmanager
def atomic_h5(path: str | os.PathLike, keep_existing: bool = True) -> Iterator[h5py.File]:
    """Open a temporary copy of an HDF5 file for writing; rename it over ``path`` on success.

    Parameters
    ----------
    path : path
        Target file. Its folder is created if needed.
    keep_existing : bool
        Start from a copy of the existing file (to add or replace some
        datasets while keeping the others); otherwise start empty.

    Yields
    ------
    h5py.File
        The temporary file, open in append mode.

    Raises
    ------
    AesensError
        If the folder cannot be created or written.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part",
                                            dir=path.parent)
        os.close(handle)
        os.chmod(tmp_name, 0o666 & ~_current_umask())
    except OSError as error:
        raise AesensError(f"cannot write in {path.parent} ({error.strerror}); choose a writable "
                          "working directory or fix its permissions") from None
    tmp = Path(tmp_name)
    try:
        with _exclusive_lock(path):
            yield from _write_and_replace(path, tmp, keep_existing)
    finally:
        if tmp.exists():
            tmp.unlink()


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    """Serialise read-modify-write of one file between processes of this machine."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no inter-process lock
        yield
        return
    with open(path.with_name(f".{path.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write_and_replace(path: Path, tmp: Path, keep_existing: bool) -> Iterator[h5py.File]:
    if keep_existing and path.exists():
        shutil.copyfile(path, tmp)
    else:
        tmp.unlink()
    with h5py.File(tmp, "a") as h5:
        yield h5
    os.replace(tmp, path)


def _open_read(path: str | os.PathLike) -> h5py.File:
    path = Path(path)
    if not path.exists():
        raise AesensError(f"{path} does not exist; run the stage that writes it first")
    try:
        return h5py.File(path, "r")
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
    with atomic_h5(path) as h5:
        name = f"{DATASET_GROUP}/{embedding}"
        if name in h5:
            del h5[name]
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
        name = f"{DATASET_GROUP}/{embedding}"
        if name not in h5:
            present = list_embeddings(path)
            raise AesensError(f"{path} has no embedding {embedding!r} (it has: "
                              f"{', '.join(present) or 'none'}); extract it first")
        features = h5[name]["features"][()]
        keys = decode_keys(h5[name]["keys"][()])
    if len(features) != len(keys):
        raise AesensError(f"{path}: {embedding} has {len(features)} feature rows but "
                          f"{len(keys)} keys; the file is damaged, re-extract it")
    return features, keys


def read_attrs(path: str | os.PathLike, embedding: str) -> dict:
    """Read the metadata attributes of one embedding group."""
    with _open_read(path) as h5:
        return dict(h5[f"{DATASET_GROUP}/{embedding}"].attrs)


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
        attributes differ or are missing), or ``None`` when complete.
    """
    path = Path(path)
    if not path.exists():
        return "is missing"
    try:
        with h5py.File(path, "r") as h5:
            name = f"{DATASET_GROUP}/{embedding}"
            if name not in h5 or "features" not in h5[name] or "keys" not in h5[name]:
                return "is missing"
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
    except OSError:
        return "is unreadable"
    return None


def has_complete_embedding(path: str | os.PathLike, embedding: str,
                           expected_keys: set[str] | None = None,
                           expected_attrs: Mapping[str, object] | None = None) -> bool:
    """Whether a file holds a fully written embedding (optionally for exactly these keys).

    With ``expected_attrs``, the embedding also needs those settings
    attributes (see :func:`incomplete_reason`).
    """
    return incomplete_reason(path, embedding, expected_keys, expected_attrs) is None


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside ``path`` (same suffix) renamed over it once the block succeeds.

    Raises
    ------
    AesensError
        If the folder cannot be created or written.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".part{path.suffix}",
                                            dir=path.parent)
        os.close(handle)
        os.chmod(tmp_name, 0o666 & ~_current_umask())
    except OSError as error:
        raise AesensError(f"cannot write in {path.parent} ({error.strerror}); choose a writable "
                          "folder or fix its permissions") from None
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_arrays(path: str | os.PathLike, arrays: Mapping[str, np.ndarray],
                 keep_existing: bool = False) -> None:
    """Write named arrays to an HDF5 file atomically (string arrays as UTF-8)."""
    with atomic_h5(path, keep_existing=keep_existing) as h5:
        for name, value in arrays.items():
            if name in h5:
                del h5[name]
            value = np.asarray(value)
            if value.dtype.kind in ("U", "O", "S"):
                h5.create_dataset(name, data=value.astype(object),
                                  dtype=h5py.string_dtype("utf-8"))
            else:
                h5.create_dataset(name, data=value)


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
