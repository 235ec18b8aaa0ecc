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
it only once complete, so an interrupted run never loses existing data. The
renamed file gets the mode a plain ``open()`` gives (``0o666`` less the
umask, :func:`set_default_mode`). An HDF5 file that is updated (one
embedding replaced, others kept) is written anew with the kept objects
copied over, so a rewrite takes no more space than a fresh write. Writers of
one file take its :func:`exclusive_lock` from the read to the rename; the
lock file is removed after use. A setting file that cannot be read is set
aside as ``<name>.damaged`` by :func:`set_aside_if_damaged`, never deleted.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import shutil
import tempfile
import threading
from collections.abc import Collection, Iterator, Mapping
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
def atomic_h5(path: str | os.PathLike, keep_existing: bool = True,
              drop: Collection[str] = (), reserve: int = 0) -> Iterator[h5py.File]:
    """Open a new temporary HDF5 file for writing; rename it over ``path`` on success.

    The file's :func:`exclusive_lock` is held from the copy of the existing
    file to the rename. Partial files that a killed writer of ``path`` left
    behind are removed first.

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
        Bytes the block will write: if the disk has less room than that plus
        the kept file, the disk-full error is raised before anything is written
        (the HDF5 library may crash on a disk that fills up during a write).

    Yields
    ------
    h5py.File
        The temporary file, open for writing.

    Raises
    ------
    AesensError
        If the folder cannot be created or written.
    OSError
        If the write fails (disk full): the partial file is removed and the
        error names ``path``.
    """
    path = Path(path)
    _make_folder(path.parent)
    with exclusive_lock(path):
        _remove_stale_parts(path)
        _check_space(path, reserve + (path.stat().st_size if keep_existing and path.exists()
                                      else 0))
        tmp = _temporary(path, prefix=f".{path.name}.", suffix=".part")
        try:
            with _naming_write_errors(path):
                with h5py.File(tmp, "w") as h5:
                    if keep_existing and path.exists():
                        with _open_read(path) as old:
                            _copy_tree(old, h5, {name.strip("/") for name in drop}, "")
                    yield h5
                _replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


def _check_space(path: Path, needed: int) -> None:
    """Raise the disk-full error naming ``path`` if its folder has under ``needed`` bytes free."""
    if needed and shutil.disk_usage(path.parent).free < needed:
        raise OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} (about {needed} bytes needed)",
                      str(path))


def _make_folder(folder: Path) -> None:
    """Create ``folder`` (and parents), or raise the one-line error of an unwritable folder."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise AesensError(f"cannot write in {folder} ({error.strerror}); choose a writable "
                          "folder or fix its permissions") from None


def _temporary(path: Path, prefix: str, suffix: str) -> Path:
    """An empty new file beside ``path`` (one-line error if the folder is not writable)."""
    try:
        handle, tmp_name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=path.parent)
    except OSError as error:
        raise AesensError(f"cannot write in {path.parent} ({error.strerror}); choose a writable "
                          "folder or fix its permissions") from None
    os.close(handle)
    return Path(tmp_name)


def _replace(tmp: Path, path: Path) -> None:
    """Give ``tmp`` the default mode and rename it over ``path``."""
    set_default_mode(tmp)
    os.replace(tmp, path)


@contextlib.contextmanager
def _naming_write_errors(path: Path) -> Iterator[None]:
    """Re-raise an operating-system error of the block (disk full, ...) with ``path`` as its file.

    HDF5's own errors name no file; a disk-full error of the library comes
    back with ``errno.ENOSPC`` so that the message says to free space.
    """
    try:
        yield
    except OSError as error:
        if error.filename is not None:
            raise
        code = error.errno
        reason = error.strerror or str(error)
        if code is None and "no space left" in reason.lower():
            code, reason = errno.ENOSPC, os.strerror(errno.ENOSPC)
        raise OSError(code, reason, str(path)) from None


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


def _remove_stale_parts(path: Path) -> None:
    """Remove the partial HDF5 files of ``path`` (call with its lock held: no writer is alive)."""
    for part in path.parent.glob(f".{glob.escape(path.name)}.*.part"):
        part.unlink(missing_ok=True)


_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process's umask, read without changing it where the system allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:  # elsewhere: set and restore it (racy only with other threads' creates)
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def set_default_mode(path: str | os.PathLike) -> None:
    """Give a file the mode a plain ``open()`` would have created it with: ``0o666 & ~umask``.

    :func:`tempfile.mkstemp` creates files readable by their owner only;
    call this on such a file before renaming it into place.
    """
    os.chmod(path, 0o666 & ~current_umask())


def lock_path(path: str | os.PathLike) -> Path:
    """The lock file of ``path``: hidden, beside it, ``.<name>.lock`` (removed after use)."""
    path = Path(path)
    return path.with_name(f".{path.name}.lock")


@contextlib.contextmanager
def exclusive_lock(path: str | os.PathLike) -> Iterator[None]:
    """Serialise the read-modify-write of one file between processes of this machine.

    The lock is an ``flock`` on :func:`lock_path`, which the holder removes
    before releasing it. A process that obtained the lock on a lock file
    removed meanwhile (its inode no longer at the path) tries again, so two
    processes never both hold the lock of one file. Threads of one process
    exclude each other too. The lock is not re-entrant: inside the block, do
    not call a function that takes the same file's lock (:func:`atomic_h5`,
    :func:`write_embeddings`, :func:`write_arrays`); :func:`atomic_file` and
    :func:`atomic_write_text` take none.

    Parameters
    ----------
    path : path
        The file to protect (its folder must exist).
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: no inter-process lock
        yield
        return
    name = lock_path(path)
    while True:
        handle = os.open(name, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                same = os.stat(name).st_ino == os.fstat(handle).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
        except BaseException:
            os.close(handle)
            raise
        os.close(handle)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            name.unlink()
        os.close(handle)  # releases the lock


#: Earlier private name of :func:`exclusive_lock`, kept for the modules that still use it.
_exclusive_lock = exclusive_lock


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
    name = f"{DATASET_GROUP}/{embedding}"
    size = features.nbytes + sum(len(str(key).encode("utf-8")) + 16 for key in keys)
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

    The renamed file gets the default mode (:func:`set_default_mode`); an
    operating-system error of the block that names no file (disk full) is
    re-raised naming ``path``, and the partial file is removed.

    Raises
    ------
    AesensError
        If the folder cannot be created or written.
    """
    path = Path(path)
    _make_folder(path.parent)
    tmp = _temporary(path, prefix=f".{path.stem}.", suffix=f".part{path.suffix}")
    try:
        with _naming_write_errors(path):
            yield tmp
            _replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_file`)."""
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding=encoding)


def check_writable(folder: str | os.PathLike) -> Path:
    """Create ``folder`` if needed and check that files can be created in it, before any work.

    Returns
    -------
    Path
        The folder.

    Raises
    ------
    AesensError
        If it is a file, cannot be created, or is not writable (one line
        naming it).
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise AesensError(f"cannot write in {folder} (it is a file, not a folder); move the "
                          "file away or choose another output folder")
    _make_folder(folder)
    _temporary(folder / "probe", prefix=".write-probe.", suffix=".part").unlink()
    return folder


def damage_reason(path: str | os.PathLike, group: str | None = None) -> str | None:
    """Why an existing HDF5 file cannot be read (not HDF5, truncated, a dataset unreadable).

    Every dataset's last element is read (its data must be in the file) and
    every ``keys`` dataset in full.

    Parameters
    ----------
    path : path
        The file.
    group : str, optional
        A top-level name that must be a group where present (the layout's
        :data:`DATASET_GROUP`).

    Returns
    -------
    str or None
        The library's reason, or ``None`` for a readable file (or no file).
    """
    path = Path(path)
    if not path.exists():
        return None
    problems: list[str] = []

    def visit(name: str, member: object) -> None:
        if not isinstance(member, h5py.Dataset) or problems:
            return
        try:
            if name.endswith("keys") or not member.shape:
                member[()]
            elif member.shape[0]:
                member[-1]
        except (OSError, RuntimeError, ValueError, KeyError) as error:
            problems.append(f"dataset {name}: {_first_line(error)}")

    try:
        with h5py.File(path, "r") as h5:
            if group is not None and group in h5 and not isinstance(h5[group], h5py.Group):
                return f"{group} is not a group (not a file of this layout)"
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
    checked again under its :func:`exclusive_lock` before the rename, so a
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
    with atomic_h5(path, keep_existing=keep_existing, drop=list(arrays)) as h5:
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
