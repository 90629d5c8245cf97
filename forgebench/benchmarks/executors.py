"""Executors: run the same task function over rows on a local process pool or a Dask cluster.

``executor.map(fn, items, desc)`` yields results in completion order with a
tqdm bar on stderr. Local: ``jobs=1`` runs inline (no subprocesses); more uses a
``concurrent.futures.ProcessPoolExecutor`` with spawned workers (a fresh
interpreter: no inherited threads or ONNX sessions). Dask: ``--scheduler
tcp://HOST:PORT`` connects to an existing cluster; ``--workers N`` starts a
``distributed.LocalCluster`` of N single-threaded worker processes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from typing import Any

from tqdm import tqdm


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

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

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
                self._pool = ProcessPoolExecutor(self.jobs, mp_context=get_context("spawn"))
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
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

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
