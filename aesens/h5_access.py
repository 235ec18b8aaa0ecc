"""Opening HDF5 files that other processes may hold, and the bytes a write adds.

Two facts of the HDF5 library that every reader and writer of
:mod:`aesens.store` needs. A file that another process holds open for
writing is locked by the library (its file lock): it is in use, not
damaged, so :func:`open_h5` waits a bounded time for it and then stops with
one line. The library may crash on a disk that fills up under a write, so
writers check the free space first against :func:`h5_size`, an upper bound
of the bytes a write adds, from the real element counts and dtypes.
"""

from __future__ import annotations

import errno
import os
import sys
import time
from collections.abc import Mapping

import h5py
import numpy as np

from aesens.errors import AesensError

#: Seconds to wait for a file another process holds open for writing (its HDF5 file lock).
LOCK_WAIT = 10.0
#: Seconds between two attempts to open a file in use.
LOCK_POLL = 0.2


def _in_use(error: OSError) -> bool:
    """Whether an HDF5 open failed on the file lock of another process (the file is in use)."""
    text = str(error).lower()
    return "unable to lock file" in text or error.errno in (errno.EAGAIN, errno.EWOULDBLOCK)


def open_h5(path: str | os.PathLike, mode: str = "r") -> h5py.File:
    """Open an existing HDF5 file, waiting up to :data:`LOCK_WAIT` s (saying so on stderr)
    while another process holds it open for writing.

    A file in use (HDF5's file lock held by a notebook's ``h5py.File(...,
    "a")``, the published extraction script, another run) is not a damaged
    file: it is never set aside nor written over.

    Raises
    ------
    AesensError
        If the file is still in use after the wait (one line naming it).
    OSError
        The library's error for a file that cannot be read otherwise.
    """
    deadline = None
    while True:
        try:
            return h5py.File(path, mode)
        except OSError as error:
            if not _in_use(error):
                raise
            if deadline is None:
                deadline = time.monotonic() + LOCK_WAIT
                print(f"{path} is open for writing in another process; waiting up to "
                      f"{LOCK_WAIT:g} s for it", file=sys.stderr)
            if time.monotonic() >= deadline:
                raise AesensError(f"{path} is open for writing in another process (its HDF5 "
                                  f"file lock is held; waited {LOCK_WAIT:g} s): close it there "
                                  "(a notebook's h5py.File, another extraction) and rerun"
                                  ) from None
            time.sleep(LOCK_POLL)


#: Bytes of an HDF5 file beyond its data: superblock, object headers, B-trees and heaps of a
#: few groups and datasets with their attributes (measured: 12 KiB for one embedding),
#: with room to spare.
H5_FILE_OVERHEAD = 64 * 1024
#: Bytes of each dataset's and group's own metadata (object header, attributes), with room.
H5_OBJECT_OVERHEAD = 4 * 1024
#: Bytes of one variable-length string beyond its UTF-8 text (rounded up to 8 bytes): its
#: 16-byte reference in the dataset and its 16-byte global-heap object header.
H5_STRING_OVERHEAD = 32


def h5_size(arrays: Mapping[str, np.ndarray], attrs: Mapping[str, object] | None = None) -> int:
    """Bytes that writing ``arrays`` (string arrays as variable-length UTF-8) adds to a file.

    From the real element counts and dtypes: numbers take their ``nbytes``,
    each string its UTF-8 length rounded up to 8 plus
    :data:`H5_STRING_OVERHEAD`, each object :data:`H5_OBJECT_OVERHEAD`, and
    the global heap's collections up to 1/16 more of the strings' space; an
    upper bound, checked against written files of many shapes.
    """
    total = H5_OBJECT_OVERHEAD * (len(arrays) + 1)
    for value in arrays.values():
        value = np.asarray(value)
        if value.dtype.kind in ("U", "O", "S"):
            lengths = [len(str(item.decode("utf-8") if isinstance(item, bytes) else item)
                           .encode("utf-8", "surrogateescape")) for item in value.ravel()]
            strings = sum(-(-length // 8) * 8 + H5_STRING_OVERHEAD for length in lengths)
            total += strings + strings // 16
        else:
            total += value.nbytes
    for value in (attrs or {}).values():
        total += len(str(value).encode("utf-8", "surrogateescape")) + 64
    return total
