"""Executors: run independent work units in this process or on a Dask cluster.

An executor maps a function over work items and yields the results as they
complete; it knows nothing about audio. Two exist:

- :class:`InProcessExecutor` (the default) runs the items one after the
  other in this process; the function may use threads of its own
  (:attr:`~InProcessExecutor.prepare_threads` says how many are worth it).
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
grid) to a cluster.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
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
    #: Whether items run one after the other in the order given (so one may continue
    #: where the previous one stopped).
    in_order: bool
    #: Threads an item may use to prepare its inputs ahead of the main computation.
    prepare_threads: int

    def map_unordered(self, function: Callable[[Item], Result],
                      items: Iterable[Item]) -> Iterator[Result]:
        """Apply ``function`` to every item; yield the results as they complete."""
        ...


class InProcessExecutor:
    """Run work items one after the other in this process.

    Parameters
    ----------
    prepare_threads : int, optional
        Threads an item may use for its input preparation (default: the
        number of CPU cores, at most 16: on a GPU machine reading and
        effecting the audio is the work the cores are there for).
    """

    in_process = True
    in_order = True

    def __init__(self, prepare_threads: int | None = None) -> None:
        self.prepare_threads = prepare_threads or max(1, min(16, os.cpu_count() or 1))

    def map_unordered(self, function: Callable[[Item], Result],
                      items: Iterable[Item]) -> Iterator[Result]:
        """Apply ``function`` to each item in order, yielding each result when it is ready."""
        for item in items:
            yield function(item)


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

    def map_unordered(self, function: Callable[[Item], Result],
                      items: Iterable[Item]) -> Iterator[Result]:
        """Submit items in order (earlier ones first) and yield results as they complete.

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


@contextlib.contextmanager
def dask_client(scheduler: str) -> Iterator[Any]:
    """A ``distributed.Client`` connected to a running scheduler, closed on exit.

    Parameters
    ----------
    scheduler : str
        Address (``tcp://host:8786``) or path of a scheduler file.

    Raises
    ------
    AesensError
        If Dask is not installed or the scheduler cannot be reached.
    """
    distributed = _import_distributed()
    connection = (dict(scheduler_file=scheduler) if os.path.isfile(scheduler)
                  else dict(address=scheduler))
    try:
        client = distributed.Client(**connection)
    except (OSError, TimeoutError, ValueError) as error:
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
        processes, one thread each, closed on exit.
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
        with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cluster, \
                distributed.Client(cluster) as client:
            yield DaskExecutor(client, retries=retries)
    else:
        yield InProcessExecutor()
