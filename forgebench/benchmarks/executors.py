"""Executors: run the same task function over rows on a local process pool or a Dask cluster.

``executor.map(fn, items, desc)`` yields results in completion order with a
tqdm bar on stderr. Local: ``jobs=1`` runs inline (no subprocesses); more uses a
``concurrent.futures.ProcessPoolExecutor`` with spawned workers (a fresh
interpreter: no inherited threads or ONNX sessions). Dask: ``--scheduler
tcp://HOST:PORT`` connects to an existing cluster; ``--workers N`` starts a
``distributed.LocalCluster`` of N single-threaded worker processes.

Leaving the ``with`` block ends every process the executor started: normally it
waits for them; on an exception (Ctrl-C, :class:`~forgebench.benchmarks.lifetime.Terminated`)
it stops the pool's workers at once. Workers also die with this process when it
is killed outright (:func:`~forgebench.benchmarks.lifetime.die_with_parent`).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from typing import Any

from forgebench.benchmarks.lifetime import die_with_parent, stop_processes
from forgebench.progress import tqdm


def _bar(total: int, desc: str, progress: bool) -> tqdm:
    return tqdm(total=total, desc=desc, unit="clip", file=sys.stderr, disable=not progress, leave=False)


class LocalExecutor:
    """A local process pool (``jobs`` workers); ``jobs <= 1`` runs in this process.

    ``one_task_per_core``: with several workers each task pins itself to one core
    (see :func:`~forgebench.benchmarks.tasks.run_row`); inline, a task may use
    every core (render and encode overlap in two threads).
    """

    def __init__(self, jobs: int = 1, progress: bool = True) -> None:
        self.jobs = max(1, int(jobs))
        self.one_task_per_core = self.jobs > 1
        self.progress = progress
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, exc_type: type[BaseException] | None = None, *exc: object) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if exc_type is not None:  # interrupted or failed: the running tasks' results are not wanted
            stop_processes(list(getattr(pool, "_processes", {}).values()))
        pool.shutdown(wait=True, cancel_futures=True)

    def map(self, fn: Callable[..., Any], items: Iterable[Any], desc: str = "clips") -> Iterator[Any]:
        items = list(items)
        bar = _bar(len(items), desc, self.progress)
        try:
            if self.jobs == 1 or len(items) <= 1:
                for item in items:
                    yield fn(item)
                    bar.update(1)
                return
            if self._pool is None:
                # The kernel's parent-death signal follows the thread that starts a worker: ask for it only
                # when that is the main thread (workers are started by submit, in this thread).
                main = threading.current_thread() is threading.main_thread()
                self._pool = ProcessPoolExecutor(self.jobs, mp_context=get_context("spawn"),
                                                 initializer=die_with_parent, initargs=(os.getpid(), main))
            futures = [self._pool.submit(fn, item) for item in items]
            for fut in as_completed(futures):
                yield fut.result()
                bar.update(1)
        finally:
            bar.close()

    def describe(self) -> str:
        return f"local, {self.jobs} process(es)"


class DaskExecutor:
    """Dask distributed: an existing scheduler (``address``) or a LocalCluster of ``workers`` processes.

    Dask runs one task per worker thread, so each task pins itself to one core
    (``one_task_per_core``): start workers with one thread per core you give them.
    """

    def __init__(self, address: str | None = None, workers: int | None = None, processes: bool = True,
                 progress: bool = True) -> None:
        from distributed import Client, LocalCluster

        # Threads of this one process (processes=False, used by tests) share its libraries' pools: nothing to pin.
        self.one_task_per_core = bool(address) or processes
        self.cluster = None
        if address:
            self.client = Client(address)
        else:
            self.cluster = LocalCluster(n_workers=max(1, int(workers or 1)), threads_per_worker=1,
                                        processes=processes, dashboard_address=None)
            self.client = Client(self.cluster)
        self.progress = progress

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        client, cluster, self.cluster = self.client, self.cluster, None
        client.close()
        if cluster is not None:
            cluster.close()

    def map(self, fn: Callable[..., Any], items: Iterable[Any], desc: str = "clips") -> Iterator[Any]:
        from distributed import as_completed as dask_completed

        items = list(items)
        bar = _bar(len(items), desc, self.progress)
        try:
            futures = self.client.map(fn, items, pure=False)
            for fut in dask_completed(futures):
                yield fut.result()
                bar.update(1)
        finally:
            bar.close()

    def describe(self) -> str:
        n = len(self.client.scheduler_info().get("workers", {}))
        return f"dask, {n} worker(s) at {self.client.scheduler.address}"


def make_executor(jobs: int = 1, workers: int | None = None, scheduler: str | None = None,
                  progress: bool = True) -> LocalExecutor | DaskExecutor:
    if scheduler or workers:
        return DaskExecutor(scheduler, workers, progress=progress)
    return LocalExecutor(jobs, progress=progress)
