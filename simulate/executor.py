"""One executor for the simulator and batch runs: run independent tasks in this process, on a local
process pool (the default: one worker per core), or on a Dask distributed cluster (`--dask ADDRESS`).

A task is plain data (a dict: scenario data, options) handed to a module-level function that returns its
result as JSON text. Nothing is shared between workers but that data — no files, no globals — so the
same task gives the same text wherever it runs. Results come back in the order of the tasks.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

Task = dict[str, Any]
TaskFunction = Callable[[Task], str]
Progress = Callable[[int], None]
OnError = Callable[[Task, BaseException], str]


class DaskUnavailable(RuntimeError):
    """--dask was asked for but dask.distributed is not installed (pip install 'rebal-opt[dask]')."""


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def _raise(task: Task, exc: BaseException) -> str:
    raise exc


def run_tasks(
    function: TaskFunction,
    tasks: Sequence[Task],
    workers: int | None = None,
    dask_address: str | None = None,
    progress: Progress | None = None,
    on_error: OnError = _raise,
) -> list[str]:
    """Each task's result text, in task order. `progress(n)` is called as each task finishes (n done so
    far). A task whose worker fails (a crashed process, a lost Dask worker) gets `on_error(task, exc)`."""
    if dask_address is not None:
        return _run_dask(function, tasks, dask_address, progress, on_error)
    workers = default_workers() if workers is None else workers
    if workers <= 1 or len(tasks) <= 1:
        results = []
        for n, task in enumerate(tasks, start=1):
            try:
                results.append(function(task))
            except Exception as exc:
                results.append(on_error(task, exc))
            if progress is not None:
                progress(n)
        return results
    return _run_pool(function, tasks, workers, progress, on_error)


def _run_pool(
    function: TaskFunction, tasks: Sequence[Task], workers: int, progress: Progress | None, on_error: OnError
) -> list[str]:
    # spawn, not fork: HiGHS and BLAS keep threads, and a forked child of a threaded parent may deadlock.
    context = multiprocessing.get_context("spawn")
    results: list[str | None] = [None] * len(tasks)
    with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=context) as pool:
        pending: dict[Future[str], int] = {pool.submit(function, task): i for i, task in enumerate(tasks)}
        done_count = 0
        while pending:
            done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for future in done:
                i = pending.pop(future)
                try:
                    results[i] = future.result()
                except Exception as exc:
                    results[i] = on_error(tasks[i], exc)
                done_count += 1
                if progress is not None:
                    progress(done_count)
    return [r if r is not None else "" for r in results]


def _run_dask(
    function: TaskFunction, tasks: Sequence[Task], address: str, progress: Progress | None, on_error: OnError
) -> list[str]:
    try:
        from distributed import Client, as_completed
    except ImportError as exc:
        raise DaskUnavailable("--dask needs dask.distributed: pip install 'rebal-opt[dask]'") from exc
    results: list[str | None] = [None] * len(tasks)
    with Client(address, set_as_default=False) as client:
        futures = client.map(function, list(tasks), pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        for n, future in enumerate(as_completed(futures, loop=client.loop), start=1):
            i = index[future.key]
            try:
                results[i] = future.result()
            except Exception as exc:
                results[i] = on_error(tasks[i], exc)
            if progress is not None:
                progress(n)
    return [r if r is not None else "" for r in results]
