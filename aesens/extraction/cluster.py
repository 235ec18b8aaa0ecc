"""Where the work runs: a Dask scheduler to connect to, a local cluster to start, and how many
worker processes this machine can use.

- :func:`dask_client` connects to a running scheduler (``--scheduler``: an
  address or a scheduler file), after checking that it answers as Dask
  (:func:`scheduler_address`, :func:`check_scheduler_answers`);
  :func:`joblib_on_dask` sends joblib's parallel loops (the classification
  grid) to it.
- :func:`local_cluster_client` starts a :class:`distributed.LocalCluster`
  (``--workers N``) whose workers a terminal's Ctrl-C does not reach.
- :func:`usable_cores` and :func:`capped_workers`: the worker count to start.

:mod:`aesens.extraction.executor` runs work units on what these give.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from aesens.errors import AesensError


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise AesensError("--scheduler and --workers need Dask: pip install 'aesens[dask]'"
                          ) from None
    return distributed


#: Seconds to wait for a scheduler to answer (connection and Dask's greeting).
CONNECT_TIMEOUT = 20.0


#: Largest greeting a Dask scheduler sends on a new connection (its handshake), in bytes.
_MAX_GREETING = 1 << 20


def scheduler_address(scheduler: str) -> str:
    """The address of ``--scheduler``: itself, or the ``address`` of the scheduler file it names.

    Raises
    ------
    AesensError
        A missing, incomplete or foreign scheduler file, or a value that is
        neither an address nor a file (one line each).
    """
    if "://" in scheduler:
        return scheduler
    path = Path(scheduler)
    if not path.exists() and path.suffix != ".json" and os.sep not in scheduler \
            and ":" in scheduler:
        return f"tcp://{scheduler}"  # host:port
    if not path.is_file():
        raise AesensError(f"the scheduler file {scheduler} does not exist (nor is it an address "
                          "such as tcp://host:8786); start the scheduler with --scheduler-file "
                          f"{scheduler}, or give its address")
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise AesensError(f"{scheduler} is not a complete Dask scheduler file ({error}); if the "
                          "scheduler is starting, wait for it, else restart it") from None
    address = info.get("address") if isinstance(info, dict) else None
    if not isinstance(address, str) or "://" not in address:
        raise AesensError(f"{scheduler} is not a Dask scheduler file (no scheduler address in "
                          "it); give the file the scheduler wrote (--scheduler-file)")
    return address


def check_scheduler_answers(address: str, timeout: float) -> None:
    """Check that a Dask scheduler answers at a ``tcp://`` address, within ``timeout`` seconds.

    A Dask scheduler greets each new connection with its handshake (an
    8-byte length, then that many bytes of msgpack); Dask's own client waits
    for it without a time limit and trusts its length. Anything else on the
    port (a dashboard, another service, garbage) is refused here in one line.
    Other protocols (TLS, ...) are left to Dask.

    Raises
    ------
    AesensError
        Nothing listens, nothing answers in time, or what answers is not Dask.
    """
    if not address.startswith("tcp://"):
        return
    host, _, port = address[len("tcp://"):].rpartition(":")
    host = host.strip("[]")
    if not port.isdigit():
        raise AesensError(f"{address} has no port number; give tcp://host:port")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as connection:
            connection.settimeout(timeout)
            header = _receive(connection, 8)
            size = int.from_bytes(header, "little")
            if not 0 < size <= _MAX_GREETING:
                raise ValueError("not Dask's greeting")
            greeting = _receive(connection, size)
    except TimeoutError:
        raise AesensError(f"the Dask scheduler {address} did not answer within {timeout:g} s "
                          "(something else listens there, e.g. the dashboard port?); give the "
                          "scheduler's address (tcp://host:8786) or its scheduler file"
                          ) from None
    except OSError as error:
        raise AesensError(f"cannot reach the Dask scheduler {address} ({error.strerror or error})"
                          "; start it (dask scheduler) or check the address") from None
    except ValueError:
        greeting = b""
    if b"pickle-protocol" not in greeting:
        raise AesensError(f"{address} answers, but not as a Dask scheduler (another service on "
                          "that port?); give the scheduler's address (tcp://host:8786) or its "
                          "scheduler file")


def _receive(connection: socket.socket, size: int) -> bytes:
    """Exactly ``size`` bytes from ``connection`` (``ValueError`` if it closes first)."""
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise ValueError("closed")
        data += chunk
    return data


@contextlib.contextmanager
def dask_client(scheduler: str) -> Iterator[Any]:
    """A ``distributed.Client`` connected to a running scheduler, closed on exit.

    The scheduler is first checked to answer as Dask within
    :data:`CONNECT_TIMEOUT` seconds (:func:`check_scheduler_answers`).

    Parameters
    ----------
    scheduler : str
        Address (``tcp://host:8786``) or path of a scheduler file.

    Raises
    ------
    AesensError
        If Dask is not installed, the scheduler file is missing or incomplete,
        or the scheduler cannot be reached or does not answer as Dask.
    """
    distributed = _import_distributed()
    address = scheduler_address(scheduler)
    check_scheduler_answers(address, CONNECT_TIMEOUT)
    try:
        client = distributed.Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError, MemoryError, AssertionError) as error:
        raise AesensError(f"cannot reach the Dask scheduler {scheduler} ({error}); start it "
                          "(dask scheduler) or check the address") from None
    with client:
        yield client


@contextlib.contextmanager
def joblib_on_dask(scheduler: str | None) -> Iterator[None]:
    """Run the joblib ``Parallel`` calls of the block on a Dask cluster (no-op for ``None``).

    Inside the block joblib uses its ``dask`` backend through a client of
    ``scheduler``; give ``Parallel`` ``n_jobs=-1`` to use all the cluster's
    worker threads.
    """
    if scheduler is None:
        yield
        return
    import joblib

    with dask_client(scheduler), joblib.parallel_config(backend="dask"):
        yield


def usable_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def capped_workers(requested: int, option: str, tasks: int | None = None) -> int:
    """``requested`` worker processes, at most the usable cores and ``tasks``; says so if capped.

    More processes than cores only add memory (each loads its own libraries
    and data: about 100 MiB) and more than tasks sit idle.

    Parameters
    ----------
    requested : int
        The count asked for with ``option``.
    option : str
        The option, as the message names it (``-k``, ``--workers``).
    tasks : int, optional
        Tasks to run, when known.

    Returns
    -------
    int
        The count to start; a line on stderr says why when it is below ``requested``.
    """
    cores = usable_cores()
    limit = cores if tasks is None else max(1, min(cores, tasks))
    if requested <= limit:
        return requested
    why = (f"this machine runs {cores} at once" if limit == cores
           else f"there are {tasks} tasks")
    print(f"{option} {requested}: starting {limit} worker(s), as {why}", file=sys.stderr)
    return limit


#: Processes started by :func:`_spawn_in_new_session`, kept so that ``subprocess`` never
#: reaps them (``multiprocessing`` waits for them itself).
_SESSION_CHILDREN: list[subprocess.Popen] = []


def _spawn_in_new_session(path: str, args: list[str], passfds: Iterable[int]) -> int:
    """``multiprocessing.util.spawnv_passfds`` whose process starts a session of its own."""
    child = subprocess.Popen(args, executable=path, pass_fds=tuple(sorted(map(int, passfds))),
                             close_fds=True, start_new_session=True)
    _SESSION_CHILDREN.append(child)
    return child.pid


@contextlib.contextmanager
def _workers_in_own_sessions() -> Iterator[None]:
    """Processes that ``multiprocessing`` spawns in the block start sessions of their own.

    A terminal's Ctrl-C reaches every process of its foreground group: the
    workers of a local cluster would print their own tracebacks (four with
    two workers) before this process's one line. In a session of their own
    they never see it; this process stops them by closing the cluster.
    """
    from multiprocessing import util

    original = util.spawnv_passfds
    util.spawnv_passfds = _spawn_in_new_session
    try:
        yield
    finally:
        util.spawnv_passfds = original


def _close_unfinished_clusters() -> None:
    """Close the clusters whose start was interrupted, quietly.

    Dask would close them at exit and print a traceback, as their workers
    never finished starting; the start-up tasks that failed with them would
    print theirs when collected (asyncio's "Task exception was never
    retrieved"), so asyncio's log is silenced but for critical messages.
    """
    from distributed.deploy.spec import SpecCluster

    logging.getLogger("asyncio").setLevel(logging.CRITICAL)

    for cluster in list(SpecCluster._instances):
        with contextlib.suppress(Exception):
            cluster.close(timeout=10)
        SpecCluster._instances.discard(cluster)


@contextlib.contextmanager
def local_cluster_client(workers: int) -> Iterator[Any]:
    """A ``distributed.Client`` of a new :class:`distributed.LocalCluster`, both closed on exit.

    ``workers`` single-threaded worker processes (at most the usable cores,
    :func:`capped_workers`), in sessions of their own (a terminal's Ctrl-C
    reaches this process only, which stops them). Their logs and the
    scheduler's are silenced but for critical ones: a failed unit's error
    reaches this process, and the shutdown after Ctrl-C would print heartbeat
    tracebacks of workers losing the scheduler.

    Raises
    ------
    AesensError
        If Dask is not installed.
    """
    distributed = _import_distributed()
    workers = capped_workers(workers, "--workers")
    with _workers_in_own_sessions():
        try:
            cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                               processes=True, dashboard_address=None,
                                               silence_logs=logging.CRITICAL)
        except BaseException:  # Ctrl-C while the workers start
            _close_unfinished_clusters()
            raise
        with cluster, distributed.Client(cluster) as client:
            yield client
