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

:func:`open_executor` builds the one asked for on the command line, on a
cluster of :mod:`aesens.extraction.cluster`; :func:`iterated_ahead` makes the
items of several slow, independent iterators at once.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import queue
import threading
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from aesens.errors import AesensError
from aesens.extraction.cluster import dask_client, local_cluster_client

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
        processes, closed on exit
        (:func:`~aesens.extraction.cluster.local_cluster_client`).
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
        with local_cluster_client(workers) as client:
            yield DaskExecutor(client, retries=retries)
    else:
        yield InProcessExecutor()
