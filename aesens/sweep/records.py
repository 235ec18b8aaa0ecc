"""The sweep's cache files: the record of their inputs, and reading many in threads.

The later stages read the raw embeddings and the split CSV, as the published
scripts did, through the averaged (:mod:`aesens.sweep.averaged`), grouped
(:mod:`aesens.sweep.grouped`) and sample-wise CCA
(:mod:`aesens.analysis.directions`) files used as caches. Each written file
records the name, size, modification time and inode of its inputs (HDF5
attribute :data:`SOURCES_ATTR`); it is reused only while they still match,
else rebuilt. A file without the record (written by the published scripts)
is rebuilt when its inputs exist and used as it is when they do not.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import h5py
import numpy as np
from tqdm import tqdm

from aesens import store

T = TypeVar("T")
R = TypeVar("R")


#: HDF5 attribute of a cache file: its inputs' names, sizes and modification times (JSON).
SOURCES_ATTR = "aesens_sources"


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
