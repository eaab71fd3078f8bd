"""Search processes fed from one queue: how ``baheth serve`` uses more than one core.

Python runs one thread at a time per process, so the server searches in several processes. The
HTTP side stays in one process and puts every request in one first-come, first-served queue;
each search process takes the next request when it has answered its last one. Before, each
process was a uvicorn worker accepting its own connections: a request went to whichever process
accepted it, busy or not, so one process queued several requests while the other had few, and at
16 clients the slowest twentieth of hybrid requests took 1.85 times the median (docs/performance.md,
"Serving: one queue for the search processes").
"""
from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from concurrent.futures import CancelledError, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from server.batching import Batching
from server.pool import BORROW_TIMEOUT_S, EnginePool, PoolBusy

# How long the search processes get to open the index and load the encoder at start.
START_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class ProcessSettings:
    """What each search process opens: the index, ``ask``'s model (None: the shipped one), its
    query encoder's threads and shapes (``EnginePool``), and its BLAS threads."""
    index_dir: str
    answer_model: Any = None
    encoder_threads: int | None = None
    static_queries: bool = True
    blas_threads: int | None = None


class SearchProcesses:
    """``processes`` search processes, each with one engine (``EnginePool`` of one) and its own
    query encoder, answering ``run``'s calls in the order they came; ``pids``: their process ids
    once all have opened. A call still waiting in this process's queue after ``BORROW_TIMEOUT_S``
    gets ``PoolBusy`` (up to ``processes + 1`` calls beyond those running are handed to the
    processes' own queue ahead of time, and are answered however long they wait); a process that dies takes the calls in hand with it
    (``PoolBusy``), and the next call starts a fresh set with the same settings."""

    def __init__(self, settings: ProcessSettings, processes: int):
        if processes < 1:
            raise ValueError("a server needs at least one search process")
        self.settings = settings
        self.size = processes
        self._lock = threading.Lock()
        self._executor = self._start()
        self._wait_until_open()

    def _start(self) -> ProcessPoolExecutor:
        # spawn, not fork: the server's own threads (the event loop's, anyio's) must not be copied.
        context = multiprocessing.get_context("spawn")
        self._opened = context.Barrier(self.size)
        return ProcessPoolExecutor(self.size, mp_context=context, initializer=_open,
                                   initargs=(self.settings, self._opened))

    def _wait_until_open(self) -> None:
        """Until every process has opened its engine: one call per process, each held until all
        are running, so no process is still loading when the first request comes."""
        try:
            calls = [self._executor.submit(_wait_for_all, START_TIMEOUT_S) for _ in range(self.size)]
            self.pids = sorted(call.result(timeout=START_TIMEOUT_S) for call in calls)
        except BaseException:
            self.close()
            raise

    def run(self, task: Callable, *args, **kwargs):
        """``task(engine, *args, **kwargs)`` in the first search process free (``server.tasks``)."""
        executor = self._executor
        try:
            call = executor.submit(_run, task, args, kwargs)
            try:
                return call.result(timeout=BORROW_TIMEOUT_S)
            except FutureTimeout:
                if call.cancel():   # still waiting for a process; once running, it is waited for
                    raise PoolBusy(f"all {self.size} search processes stayed busy for {BORROW_TIMEOUT_S:.0f} s") from None
                return call.result()
        except BrokenProcessPool:
            self._replace(executor)
            raise PoolBusy("a search process stopped; the server started new ones, try again") from None
        except CancelledError:
            raise PoolBusy("the server is stopping") from None

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        """New processes in place of a broken set (once, whichever caller sees it first)."""
        with self._lock:
            if self._executor is broken:
                broken.shutdown(wait=False, cancel_futures=True)
                self._executor = self._start()

    def close(self) -> None:
        """Stop the processes once the calls in hand are answered; calls still queued get ``PoolBusy``."""
        self._executor.shutdown(wait=True, cancel_futures=True)


# A search process's engines: opened once by ``_open`` when the process starts, for its lifetime.
_engines: EnginePool | None = None
_opened = None


def _open(settings: ProcessSettings, opened) -> None:
    global _engines, _opened
    # Ctrl-C reaches the whole process group; the HTTP process stops these in order (``close``).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, name="baheth-parent-watch", daemon=True).start()
    if settings.blas_threads:
        from threadpoolctl import threadpool_limits
        threadpool_limits(settings.blas_threads, user_api="blas")   # for the life of this process
    _opened = opened
    _engines = EnginePool(Path(settings.index_dir), 1, settings.answer_model, settings.encoder_threads,
                          Batching(max_batch=1), static_queries=settings.static_queries)


def _exit_with_parent() -> None:
    """End this process when the HTTP process ends, however it ends: a killed server must not
    leave its search processes behind (they hold the queue's pipe open, so they never see it close)."""
    multiprocessing.connection.wait([multiprocessing.parent_process().sentinel])
    os._exit(0)


def _wait_for_all(timeout: float) -> int:
    _opened.wait(timeout)
    return os.getpid()


def _run(task: Callable, args: tuple, kwargs: dict):
    return _engines.run(task, *args, **kwargs)
