"""CPU-heavy pure-Python work in a small pool of worker processes, never in the server's own.

    value = await in_worker_process(function, *args)

The query threads (api/calls.py) keep blocking I/O off the event loop, but pure-Python work in a
thread still holds the GIL: measured here, a bounded diff of two 8 MiB, 100,000-line versions in
a query thread stalled the loop for 60 ms at a time (its `splitlines`, `Counter` and list
building are single C calls of 10-20 ms each), and /api/health with it. In a process of its own
it shares nothing with the loop; the server only waits on a pipe.

- `function` must be importable by name (a module-level function) and its arguments and result
  picklable. Send small arguments (ids, not texts): a job that needs large data reads it itself.
- The processes are started with "spawn" (a fresh interpreter, nothing inherited: no database
  connection, socket or lock of the server crosses into them), on the first call, at most
  PROCESSES of them; they stay for the next calls. They run at nice +10 (WORKER_NICENESS), so
  that on busy cores the server's event loop is scheduled before them.
- A job that has not finished within TIMEOUT_SECONDS, or a process that dies (killed, out of
  memory, a crash in C), gives WorkFailed, a FunctionError with a clear message; the pool is
  replaced on the next call. An exception the job raises is raised here as it was.
- `shutdown()` (at the end of the server's lifespan, `lifespan()`, and at exit) stops the
  processes and waits for them.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import multiprocessing
import os
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from api.errors import FunctionError

# Two: the machines this runs on have two cores, which the server's own process also needs.
# More viewers than this queue for a process (each job is bounded; a diff takes under a second).
PROCESSES = 2
TIMEOUT_SECONDS = 60.0
# How long shutdown() lets a busy process finish before it is terminated.
SHUTDOWN_GRACE_SECONDS = 5.0
# The worker processes run at a lower CPU priority than the server (nice +10): when the cores are
# busy, the event loop, which answers everyone, gets them first; a diff only takes longer.
WORKER_NICENESS = 10

_pool: ProcessPoolExecutor | None = None
_lock = threading.Lock()


class WorkFailed(FunctionError):
    """A worker process died or ran out of time; nothing was computed. The caller may retry."""


def _get_pool() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(
                max_workers=PROCESSES,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
            )
        return _pool


def _start_worker() -> None:
    """In each worker process, first: yield the CPU to the server."""
    os.nice(WORKER_NICENESS)


def _forget(pool: ProcessPoolExecutor) -> None:
    """The next call starts a new pool (this one is broken, hung or shut down)."""
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None


def _discard(pool: ProcessPoolExecutor) -> None:
    """Forget `pool` and stop its processes at once (blocking: run it in a thread)."""
    _forget(pool)
    _stop(pool, grace=0.0)


def _stop(pool: ProcessPoolExecutor, grace: float) -> None:
    # The executor has no public way to end a busy or hung process before Python 3.14
    # (terminate_workers); its process table is the one place that has them.
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.join(grace)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(1.0)
        if process.is_alive():
            process.kill()
            process.join()
    # Now that every process has ended, the executor's manager thread ends too.
    pool.shutdown(wait=True)


async def in_worker_process(function, *args: Any, timeout: float | None = None) -> Any:
    """`function(*args)` in a worker process; the event loop waits without blocking."""
    pool = _get_pool()
    try:
        future = pool.submit(function, *args)
    except (BrokenProcessPool, RuntimeError):
        # Broken by an earlier crash, or shut down meanwhile: one new pool, once.
        _forget(pool)
        pool = _get_pool()
        future = pool.submit(function, *args)
    seconds = TIMEOUT_SECONDS if timeout is None else timeout
    try:
        return await asyncio.wait_for(asyncio.wrap_future(future), seconds)
    except BrokenProcessPool:
        await asyncio.to_thread(_discard, pool)
        raise WorkFailed(
            "The worker process computing this stopped unexpectedly; nothing was shown. Try again."
        ) from None
    except TimeoutError:
        # A process cannot be interrupted mid-job: replace the whole pool.
        await asyncio.to_thread(_discard, pool)
        raise WorkFailed(
            f"This took longer than {seconds:g} s to compute and was stopped. Try again later."
        ) from None


def running_processes() -> list[int]:
    """The process ids of the pool's live processes (for tests and diagnostics)."""
    pool = _pool
    processes = (getattr(pool, "_processes", None) or {}).values() if pool else ()
    return [process.pid for process in processes if process.is_alive()]


def shutdown() -> None:
    """Stops the worker processes (busy ones get SHUTDOWN_GRACE_SECONDS) and waits for them.
    A later call starts a new pool."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        _stop(pool, grace=SHUTDOWN_GRACE_SECONDS)


@contextlib.asynccontextmanager
async def lifespan() -> AsyncIterator[None]:
    """For the server's lifespan: nothing at start (the pool starts on first use); at the end,
    shutdown() in a thread, so that the loop goes on while busy processes finish."""
    try:
        yield
    finally:
        await asyncio.to_thread(shutdown)


atexit.register(shutdown)
