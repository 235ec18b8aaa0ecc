"""Files written safely: atomically, with the default mode, under an inter-process lock.

Every write goes through :func:`atomic_file`: to a temporary file beside the
target which is renamed over it only once complete, so an interrupted run
never loses existing data. The write holds the target's
:func:`exclusive_lock` from before the block (which may read the existing
file) to the rename, removes first the partial files a killed writer of the
same target left behind, and checks the free space first when told how much
it will write. Any error of the block while the disk is full (a library's
own exception too) is re-raised as the disk-full error naming the target,
and the partial file is removed. The renamed file gets the mode a plain
``open()`` gives (``0o666`` less the umask, :func:`set_default_mode`); the
lock file is removed after use. Folders are created as needed, with a
one-line error when they cannot be (:func:`check_writable` checks an output
folder before any work). Files are read with a one-line error naming a file
that does not parse (:func:`read_csv`, :func:`read_pickle`, :func:`read_json`).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import pickle
import re
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
def atomic_file(path: str | os.PathLike, reserve: int = 0,
                keep_existing: bool = False) -> Iterator[Path]:
    """A temporary path beside ``path`` (same suffix), renamed over it once the block succeeds.

    The one atomic write of the package. It holds the file's
    :func:`exclusive_lock` from before the block (which may read the
    existing file) to the rename, so every partial file of ``path`` found
    meanwhile was left by a killed writer: those are removed first
    (:func:`remove_stale_parts`). The renamed file gets the default mode
    (:func:`set_default_mode`). An error of the block while the disk is full
    (a library's own exception, or an operating-system error naming no file)
    is re-raised as the disk-full error naming ``path``; the partial file is
    removed.

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
        The temporary file (``.<stem>.<random>.part<suffix>``, empty), to write.

    Raises
    ------
    AesensError
        If the folder cannot be created or written.
    OSError
        Naming ``path``: the disk-full error, or an error of the block that
        names no file (the partial file is removed).
    """
    path = Path(path)
    _make_folder(path.parent)
    with exclusive_lock(path):
        remove_stale_parts(path)
        _check_space(path, reserve + (path.stat().st_size if keep_existing and path.exists()
                                      else 0))
        tmp = _temporary(path, prefix=f".{path.stem}.", suffix=f".part{path.suffix}")
        try:
            with _naming_write_errors(path, tmp):
                yield tmp
                _replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_file`)."""
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding=encoding)


def atomic_write_csv(path: str | os.PathLike, table: pd.DataFrame, **options) -> Path:
    """Write ``table`` as CSV to ``path`` atomically, without its index (see :func:`atomic_file`).

    ``options`` go to :meth:`pandas.DataFrame.to_csv`. Returns ``path``.
    """
    with atomic_file(path) as tmp:
        table.to_csv(tmp, index=False, **options)
    return Path(path)


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


#: Bytes a folder must still take for a failed write not to count as one of a full disk.
FULL_DISK_PROBE = 64 * 1024


def disk_is_full(folder: str | os.PathLike) -> bool:
    """Whether ``folder``'s file system refuses a :data:`FULL_DISK_PROBE`-byte write (full disk).

    A write probe rather than the free-space figure: reserved blocks and
    quotas make that figure differ from what a write gets.
    """
    try:
        with tempfile.TemporaryFile(dir=folder) as probe:
            probe.write(bytes(FULL_DISK_PROBE))
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as error:
        return error.errno in (errno.ENOSPC, errno.EDQUOT)
    return False


@contextlib.contextmanager
def _naming_write_errors(path: Path, tmp: Path) -> Iterator[None]:
    """Re-raise an error of the block writing ``tmp`` as the disk-full error naming ``path``.

    HDF5's own errors name no file (a disk-full error of the library comes
    back with ``errno.ENOSPC`` so that the message says to free space), and
    libraries writing to a full disk may fail with exceptions of their own
    (matplotlib's ``AttributeError``, pedalboard's ``RuntimeError``): any
    error while the disk is full (:func:`disk_is_full`, checked before the
    partial file is removed) becomes the disk-full error naming ``path``.
    Operating-system errors naming no file are re-raised naming ``path``.
    """
    try:
        yield
    except OSError as error:
        if error.filename is not None and error.filename != str(tmp):
            raise
        code = error.errno
        reason = error.strerror or str(error)
        if code not in (errno.ENOSPC, errno.EDQUOT) and (
                "no space left" in reason.lower() or disk_is_full(path.parent)):
            code, reason = errno.ENOSPC, os.strerror(errno.ENOSPC)
        raise OSError(code, reason, str(path)) from None
    except AesensError:
        raise
    except Exception:
        if disk_is_full(path.parent):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path)) from None
        raise


def _part_pattern(path: Path) -> re.Pattern:
    """The names of :func:`atomic_file`'s temporary files of ``path`` (mkstemp: 8 characters)."""
    return re.compile(rf"\.{re.escape(path.stem)}\.[a-z0-9_]{{8}}\.part{re.escape(path.suffix)}")


def remove_stale_parts(path: str | os.PathLike) -> list[Path]:
    """Remove the partial files a killed writer of ``path`` left (call with its lock held).

    Those of :func:`atomic_file` (``.<stem>.<random>.part<suffix>``) and of
    earlier versions' HDF5 writer (``.<name>.<random>.part``).

    Returns
    -------
    list of Path
        The files removed.
    """
    path = Path(path)
    pattern = _part_pattern(path)
    try:
        names = os.listdir(path.parent)
    except FileNotFoundError:
        return []
    legacy = f".{path.name}."
    stale = [path.parent / name for name in names
             if pattern.fullmatch(name) or (name.startswith(legacy) and name.endswith(".part"))]
    for part in stale:
        part.unlink(missing_ok=True)
    return stale


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


#: The lock files this thread holds (:func:`exclusive_lock` is re-entrant per thread).
_HELD_LOCKS = threading.local()


@contextlib.contextmanager
def exclusive_lock(path: str | os.PathLike) -> Iterator[None]:
    """Serialise the read-modify-write of one file between processes of this machine.

    The lock is an ``flock`` on :func:`lock_path`, which the holder removes
    before releasing it. A process that obtained the lock on a lock file
    removed meanwhile (its inode no longer at the path) tries again, so two
    processes never both hold the lock of one file. Threads of one process
    exclude each other too. A thread already holding the lock of a file takes
    it again at once (re-entrant per thread), so a read-modify-write may hold
    it around :func:`atomic_file` of the same file.

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
    key = os.path.abspath(name)
    held = _HELD_LOCKS.__dict__.setdefault("paths", set())
    if key in held:
        yield
        return
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
    held.add(key)
    try:
        yield
    finally:
        held.discard(key)
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
