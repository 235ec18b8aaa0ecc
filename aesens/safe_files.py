"""Files written safely: atomically, with the default mode, under an inter-process lock.

Every write goes to a temporary file beside the target which is renamed over
it only once complete (:func:`atomic_file`), so an interrupted run never
loses existing data; an operating-system error that names no file (disk
full) is re-raised naming the target, and the partial file is removed. The
renamed file gets the mode a plain ``open()`` gives (``0o666`` less the
umask, :func:`set_default_mode`). A read-modify-write of one file
(:func:`atomic_rewrite`) holds the file's :func:`exclusive_lock` from the
read to the rename, removes the partial files a killed writer left behind
and checks the free space first; the lock file is removed after use.
Folders are created as needed, with a one-line error when they cannot be
(:func:`check_writable` checks an output folder before any work). Files are read
with a one-line error naming a file that does not parse (:func:`read_csv`,
:func:`read_pickle`, :func:`read_json`).
"""

from __future__ import annotations

import contextlib
import errno
import glob
import json
import os
import pickle
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from aesens.errors import AesensError

if TYPE_CHECKING:
    import pandas as pd


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
    with _replacing(path, prefix=f".{path.stem}.", suffix=f".part{path.suffix}") as tmp:
        yield tmp


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_file`)."""
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding=encoding)


@contextlib.contextmanager
def atomic_rewrite(path: str | os.PathLike, reserve: int = 0,
                   keep_existing: bool = False) -> Iterator[Path]:
    """:func:`atomic_file` for a read-modify-write, under the file's :func:`exclusive_lock`.

    The lock is held from before the block (which may read the existing
    file) to the rename. Partial files that a killed writer of ``path`` left
    behind (``.<name>.*.part``) are removed first.

    Parameters
    ----------
    path : path
        Target file. Its folder is created if needed.
    reserve : int
        Bytes the block will write: if the disk has less room than that (plus
        the existing file with ``keep_existing``), the disk-full error naming
        ``path`` is raised before the block runs.
    keep_existing : bool
        Whether the block copies the existing file into the new one.

    Yields
    ------
    Path
        The temporary file (``.<name>.<random>.part``, empty), to write.

    Raises
    ------
    AesensError
        If the folder cannot be created or written.
    OSError
        Naming ``path``: the disk-full error of the space check, or an error
        of the block that names no file (the partial file is removed).
    """
    path = Path(path)
    _make_folder(path.parent)
    with exclusive_lock(path):
        _remove_stale_parts(path)
        _check_space(path, reserve + (path.stat().st_size if keep_existing and path.exists()
                                      else 0))
        with _replacing(path, prefix=f".{path.name}.", suffix=".part") as tmp:
            yield tmp


@contextlib.contextmanager
def _replacing(path: Path, prefix: str, suffix: str) -> Iterator[Path]:
    """A new temporary file beside ``path``, renamed over it once the block succeeds, else removed.

    Operating-system errors of the block that name no file are re-raised
    naming ``path`` (:func:`_naming_write_errors`).
    """
    tmp = _temporary(path, prefix=prefix, suffix=suffix)
    try:
        with _naming_write_errors(path):
            yield tmp
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


def _remove_stale_parts(path: Path) -> None:
    """Remove the partial files of :func:`atomic_rewrite` of ``path`` (call with its lock held)."""
    for part in path.parent.glob(f".{glob.escape(path.name)}.*.part"):
        part.unlink(missing_ok=True)


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
    not call a function that takes the same file's lock (:func:`atomic_rewrite`
    and the writers of :mod:`aesens.store`: ``atomic_h5``, ``write_embeddings``,
    ``write_arrays``); :func:`atomic_file` and :func:`atomic_write_text` take none.

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


def read_pickle(path: str | os.PathLike) -> dict:
    """A results pickle (``{}`` if missing); one-line error if it does not parse."""
    path = Path(path)
    if not path.exists():
        return {}
    try:
        with open(path, "rb") as handle:
            value = pickle.load(handle)
    except Exception as error:  # noqa: BLE001 - unpickling raises anything
        raise AesensError(f"{path} is not a readable pickle ({type(error).__name__}: {error}); "
                          "repair or move it away and rerun") from None
    if not isinstance(value, dict):
        raise AesensError(f"{path} holds a {type(value).__name__}, not a dictionary by method "
                          "key; move it away and rerun")
    return value


def read_json(path: str | os.PathLike) -> dict:
    """A JSON file of nested dictionaries (``{}`` if missing); one-line error if unreadable."""
    path = Path(path)
    if not path.exists():
        return {}
    try:
        value = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise AesensError(f"{path} is not readable JSON ({error}); repair or move it away and "
                          "rerun") from None
    if not isinstance(value, dict):
        raise AesensError(f"{path} holds a JSON {type(value).__name__}, not an object by method "
                          "key; move it away and rerun")
    return value


def read_csv(path: str | os.PathLike, **kwargs) -> pd.DataFrame:
    """:func:`pandas.read_csv` with a one-line error naming a file that does not parse.

    Raises
    ------
    AesensError
        If the file is missing, empty, not text or not CSV.
    """
    import pandas as pd

    path = Path(path)
    try:
        return pd.read_csv(path, **kwargs)
    except FileNotFoundError:
        raise AesensError(f"{path} does not exist; run the stage that writes it first") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError,
            ValueError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else "no data"
        raise AesensError(f"{path} is not a readable CSV file ({reason}); move it away and "
                          "rerun the stage that writes it") from None
