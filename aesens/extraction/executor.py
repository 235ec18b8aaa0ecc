"""Executors: run independent work units in this process or on a Dask cluster.

An executor maps a function over work items and yields the results as they
complete; it knows nothing about audio. Two exist:

- :class:`InProcessExecutor` (the default) runs the items in this process:
  items of one *lane* (a key the caller gives, e.g. one effect setting
  whose units continue one chain) one after the other in order, and
  :attr:`~InProcessExecutor.lanes` lanes at once in threads, so that a lane
  whose work is serial leaves no core idle; the function may use threads of
  its own (:attr:`~InProcessExecutor.prepare_threads` says how many are
  worth it).
- :class:`DaskExecutor` submits them to a ``dask.distributed`` cluster: a
  scheduler you started (``--scheduler tcp://host:8786``, e.g. SLURM jobs
  started with dask-jobqueue) or a :class:`distributed.LocalCluster` of
  single-threaded worker processes (``--workers N``). A bounded number of
  items is in flight, submitted in order with decreasing priority, so the
  results of early items come back first and the caller holds few partial
  results. A failing item is retried ``retries`` times; an item whose worker
  dies is rescheduled by Dask on another worker (``distributed.scheduler.
  allowed-failures`` times), so a lost worker costs only its items.

:func:`open_executor` builds the one asked for on the command line;
:func:`joblib_on_dask` sends joblib's parallel loops (the classification
grid) to a cluster; :func:`iterated_ahead` makes the items of several slow,
independent iterators at once.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import queue
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, TypeVar

from aesens.errors import AesensError

Item = TypeVar("Item")
Result = TypeVar("Result")

#: Retries of a failed work unit on a Dask cluster.
DEFAULT_RETRIES = 2


class Executor(Protocol):
    """What the extraction needs from an executor."""

    #: Whether items run in this process (so they may hold unpicklable objects).
    in_process: bool
    #: Whether the items of one lane run one after the other in the order given (so one
    #: may continue where the previous one stopped).
    in_order: bool
    #: Threads an item may use to prepare its inputs ahead of the main computation.
    prepare_threads: int

    def map_unordered(self, function: Callable[[Item], Result], items: Iterable[Item],
                      lane: Callable[[Item], Hashable] | None = None) -> Iterator[Result]:
        """Apply ``function`` to every item; yield the results as they complete.

        ``lane(item)`` groups the items that must run in order (see ``in_order``).
        """
        ...


class InProcessExecutor:
    """Run work items in this process: each lane in order, several lanes at once.

    Parameters
    ----------
    prepare_threads : int, optional
        Threads an item may use for its input preparation (default: the
        number of CPU cores, at most 16: on a GPU machine reading and
        effecting the audio is the work the cores are there for).
    lanes : int, optional
        Lanes run at once, each in a thread of its own (default:
        :data:`DEFAULT_LANES`, at most the number of CPU cores). The
        function must be safe to call from several threads; the
        extraction's serialises its model calls.
    """

    in_process = True
    in_order = True

    def __init__(self, prepare_threads: int | None = None, lanes: int | None = None) -> None:
        cores = os.cpu_count() or 1
        self.prepare_threads = prepare_threads or max(1, min(16, cores))
        self.lanes = lanes or max(1, min(DEFAULT_LANES, cores))

    def map_unordered(self, function: Callable[[Item], Result], items: Iterable[Item],
                      lane: Callable[[Item], Hashable] | None = None) -> Iterator[Result]:
        """Apply ``function`` to each item, yielding each result when it is ready.

        Without ``lane`` (or with one lane) the items run one after the other
        in this thread. Otherwise the items of one lane run in the order
        given, in one thread, and up to :attr:`lanes` lanes at once, started
        in the order of their first items.

        Raises
        ------
        Exception
            The first error of an item; the lanes still running finish their
            current item and start no other.
        """
        if lane is None or self.lanes == 1:
            for item in items:
                yield function(item)
            return
        yield from _run_lanes(function, items, lane, self.lanes)


#: Lanes an in-process executor runs at once by default: two keep both cores of a small
#: machine busy when one lane's work is serial (a chained reverb).
DEFAULT_LANES = 2


def _run_lanes(function: Callable[[Item], Result], items: Iterable[Item],
               lane: Callable[[Item], Hashable], n_lanes: int) -> Iterator[Result]:
    """:meth:`InProcessExecutor.map_unordered` over several lanes, in daemon threads.

    The items are all taken first (in this process they are cheap to make).
    Daemon threads let an interrupted process exit without waiting for the
    items still running; any other end (an error, the caller stopping)
    waits for them, so that nothing runs on behind the caller's back.
    """
    grouped: dict[Hashable, list[Item]] = {}
    for item in items:
        grouped.setdefault(lane(item), []).append(item)
    waiting: queue.SimpleQueue[list[Item]] = queue.SimpleQueue()
    for lane_items in grouped.values():
        waiting.put(lane_items)
    done: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            try:
                lane_items = waiting.get_nowait()
            except queue.Empty:
                return
            for item in lane_items:
                if stop.is_set():
                    return
                try:
                    done.put((True, function(item)))
                except BaseException as error:  # handed to the caller's thread
                    done.put((False, error))
                    return

    threads = [threading.Thread(target=run, name=f"aesens-lane-{index}", daemon=True)
               for index in range(min(n_lanes, len(grouped)))]
    for thread in threads:
        thread.start()
    interrupted = False
    try:
        for _ in range(sum(map(len, grouped.values()))):
            succeeded, value = done.get()
            if not succeeded:
                raise value
            yield value
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        stop.set()
        if not interrupted:
            for thread in threads:
                thread.join()


#: End of one iterator in :func:`iterated_ahead`.
_EXHAUSTED = object()


def iterated_ahead(iterators: Sequence[Iterator[Item]], workers: int) -> Iterator[Item]:
    """The items of every iterator in turn, up to ``workers`` iterators run ahead in threads.

    For iterators that are slow to advance and independent of each other
    (the extraction's units of settings whose making runs a serial
    effect-only pass): the first ``workers`` run at once, the next starts
    when one ends, and their items come out in order, iterator by iterator.
    An iterator's error is raised here when its items are reached; on any
    end the threads stop at their next item and are waited for.
    """
    if workers < 2 or len(iterators) < 2:
        yield from itertools.chain.from_iterable(iterators)
        return
    made: list[queue.SimpleQueue[tuple[bool, Any]]] = [queue.SimpleQueue() for _ in iterators]
    stop = threading.Event()

    def advance(iterator: Iterator[Item], out: queue.SimpleQueue) -> None:
        try:
            for item in iterator:
                if stop.is_set():
                    return
                out.put((True, item))
            out.put((True, _EXHAUSTED))
        except BaseException as error:  # handed to the caller's thread
            out.put((False, error))

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="aesens-ahead")
    try:
        for iterator, out in zip(iterators, made, strict=True):
            pool.submit(advance, iterator, out)
        for out in made:
            while True:
                succeeded, value = out.get()
                if not succeeded:
                    raise value
                if value is _EXHAUSTED:
                    break
                yield value
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor:
    """Run work items on a ``dask.distributed`` cluster.

    Parameters
    ----------
    client : distributed.Client
        A client connected to the cluster.
    retries : int
        Times a failed item is resubmitted before its error is raised here.
    max_in_flight : int, optional
        Items submitted but not yet collected (default: twice the cluster's
        worker threads at the time, at least 2; see :meth:`window`).
    """

    in_process = False
    in_order = False
    #: Each single-threaded worker reads and effects the next batch in one
    #: extra thread while its model embeds the current one.
    prepare_threads = 1

    def __init__(self, client: Any, retries: int = DEFAULT_RETRIES,
                 max_in_flight: int | None = None) -> None:
        self.client = client
        self.retries = retries
        self.max_in_flight = max_in_flight

    def window(self) -> int:
        """Items to keep in flight: ``max_in_flight``, else twice the worker threads now.

        Asked again after every result, so workers that join later (a SLURM
        job starting) get work too.
        """
        if self.max_in_flight:
            return self.max_in_flight
        return max(2, 2 * sum(self.client.nthreads().values()))

    def map_unordered(self, function: Callable[[Item], Result], items: Iterable[Item],
                      lane: Callable[[Item], Hashable] | None = None) -> Iterator[Result]:
        """Submit items in order (earlier ones first) and yield results as they complete.

        Items are independent on a cluster (``in_order`` is false), so
        ``lane`` is not needed.

        Raises
        ------
        Exception
            The error of an item that still failed after its retries; the
            items not yet finished are cancelled.
        """
        from distributed import as_completed

        queue = iter(enumerate(items))
        running = as_completed()
        pending = set()

        def fill_window() -> None:
            window = self.window()
            while len(pending) < window:
                entry = next(queue, None)
                if entry is None:
                    return
                position, item = entry
                future = self.client.submit(function, item, pure=False, retries=self.retries,
                                            priority=-position)
                pending.add(future)
                running.add(future)

        fill_window()
        try:
            for future in running:
                result = future.result()
                pending.discard(future)
                future.release()
                fill_window()
                yield result
        finally:
            if pending:
                self.client.cancel(list(pending))


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
    never finished starting.
    """
    from distributed.deploy.spec import SpecCluster

    for cluster in list(SpecCluster._instances):
        with contextlib.suppress(Exception):
            cluster.close(timeout=10)
        SpecCluster._instances.discard(cluster)


@contextlib.contextmanager
def open_executor(scheduler: str | None = None, workers: int | None = None,
                  retries: int = DEFAULT_RETRIES) -> Iterator[Executor]:
    """The executor asked for: in-process, an existing Dask scheduler, or a local cluster.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``) or the
        path of its scheduler file.
    workers : int, optional
        Start a :class:`distributed.LocalCluster` of this many worker
        processes (at most the usable cores, :func:`capped_workers`), one
        thread each, in sessions of their own (a terminal's Ctrl-C reaches
        this process only, which stops them), closed on exit. Their logs
        and the scheduler's are silenced but for critical ones: a failed
        unit's error reaches this process, and the shutdown after Ctrl-C
        would print heartbeat tracebacks of workers losing the scheduler.
    retries : int
        Retries of a failed work unit on a cluster.

    Yields
    ------
    Executor

    Raises
    ------
    AesensError
        If both or invalid values are given, Dask is missing, or the
        scheduler cannot be reached.
    """
    if scheduler and workers:
        raise AesensError("give either --scheduler (an existing cluster) or --workers (a local "
                          "cluster), not both")
    if workers is not None and workers < 1:
        raise AesensError(f"--workers must be at least 1, not {workers}")
    if retries < 0:
        raise AesensError(f"--retries must not be negative, not {retries}")
    if scheduler:
        with dask_client(scheduler) as client:
            yield DaskExecutor(client, retries=retries)
    elif workers:
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
                yield DaskExecutor(client, retries=retries)
    else:
        yield InProcessExecutor()
