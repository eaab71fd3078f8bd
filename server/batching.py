"""Dynamic micro-batching: requests that arrive together share one call.

A ``MicroBatcher`` owns one worker thread. A caller puts its item in the queue and waits for
its own result; the worker takes the first item waiting, then whatever else arrives within
``max_wait_s`` of that item's arrival, up to ``max_batch`` items, and hands them to ``run`` in
one call. A lone request waits at most ``max_wait_s`` for company; one that already waited that
long for the worker (which was busy with the batch before) waits no more. If ``run`` fails, every caller of that batch
gets a ``BatchFailed`` naming the cause (none is left waiting); after ``close`` a caller gets
``BatcherClosed`` instead of waiting forever.
"""
from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from typing import Callable, Generic, Sequence, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")
_STOP = object()   # put in the queue by ``close``: the worker ends after the batch in hand

# Searches the server answers at once when it runs in one process (``--workers 1``). Python runs
# one thread at a time per process, and threads of one process contending for it cost CPU: at 16
# clients one process with 16 engines spent 41.6 server CPU ms a keyword request, two processes
# with 1 or 2 engines 13.5 to 14.4, the same as one request at a time (11.5) (`python -m
# bench.serve_load`, docs/performance.md, "Serving: one process per core"). Two, not one, so a
# request waiting for SQLite or for the query encoder does not hold up the process.
DEFAULT_ENGINES = 2


@dataclass(frozen=True)
class Batching:
    """``baheth serve``'s batching of the questions' encoding and dense search: at most
    ``max_batch`` requests a batch (1: none, each request encodes and searches on its own
    thread), a request waiting at most ``max_wait_ms`` for others to join it."""
    max_batch: int = 16
    max_wait_ms: float = 2.0


class BatchFailed(RuntimeError):
    """The batch a request was part of failed; ``__cause__`` is the original error."""


class BatcherClosed(RuntimeError):
    """The batcher was closed (the server is stopping) before the request was answered."""


class MicroBatcher(Generic[Item, Result]):
    def __init__(self, run: Callable[[Sequence[Item]], Sequence[Result]], *, max_batch: int,
                 max_wait_s: float, name: str = "batcher"):
        """``run`` maps a batch of items to their results, in order, on the worker thread."""
        if max_batch < 1 or max_wait_s < 0:
            raise ValueError("a batcher needs max_batch >= 1 and max_wait_s >= 0")
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._run = run
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._closed = threading.Event()
        self._worker = threading.Thread(target=self._serve, name=name, daemon=True)
        self._worker.start()

    def submit(self, item: Item) -> Result:
        """``item``'s result, once its batch has run (on the worker thread)."""
        if self._closed.is_set():
            raise BatcherClosed("the batcher is closed")
        future: Future = Future()
        self._queue.put((item, future, time.monotonic()))
        if self._closed.is_set():   # closed between the check and the put: the worker may be gone
            self._fail([(item, future, 0.0)], BatcherClosed("the batcher is closed"))
        return future.result()

    def close(self) -> None:
        """Answer the batch in hand, refuse the rest, and stop the worker; a second call does nothing."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._queue.put(_STOP)
        self._worker.join()
        self._fail(self._drain(), BatcherClosed("the batcher closed before this request's batch ran"))

    def _serve(self) -> None:
        while True:
            batch, stop = self._next_batch()
            if self._closed.is_set():   # closing: what was not in hand is refused, not run
                self._fail(batch, BatcherClosed("the batcher closed before this request's batch ran"))
                return
            self._answer(batch)
            if stop:
                return

    def _next_batch(self) -> tuple[list, bool]:
        """The first request waiting (blocking), then whatever else arrives within ``max_wait_s``
        of it. Waited out with a sleep, not a queue wait with a timeout: a worker of a 16-engine
        server stayed 18 minutes in ``SimpleQueue.get(timeout=0.002)`` (py-spy) while its request
        waited for it."""
        first = self._queue.get()
        if first is _STOP:
            return [], True
        batch = [first]
        stop = self._take_waiting(batch)
        remaining = first[2] + self.max_wait_s - time.monotonic()
        if not stop and remaining > 0 and len(batch) < self.max_batch:
            time.sleep(remaining)
            stop = self._take_waiting(batch)
        return batch, stop

    def _take_waiting(self, batch: list) -> bool:
        """Add to ``batch`` what is waiting, up to ``max_batch``; whether ``close`` was asked."""
        while len(batch) < self.max_batch:
            try:
                entry = self._queue.get_nowait()
            except queue.Empty:
                return False
            if entry is _STOP:
                return True
            batch.append(entry)
        return False

    def _answer(self, batch: list) -> None:
        try:
            results = self._run([item for item, _, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} got {len(results)} results")
        except Exception as exc:   # every caller learns why; the worker goes on with the next batch
            failed = BatchFailed(f"the batch of {len(batch)} this request was in failed: {exc}")
            failed.__cause__ = exc
            self._fail(batch, failed)
            return
        for (_, future, _), result in zip(batch, results):
            future.set_result(result)

    def _drain(self) -> list:
        left = []
        while True:
            try:
                entry = self._queue.get_nowait()
            except queue.Empty:
                return left
            if entry is not _STOP:
                left.append(entry)

    @staticmethod
    def _fail(batch: list, error: BaseException) -> None:
        for _, future, _ in batch:
            try:
                future.set_exception(error)
            except InvalidStateError:   # answered meanwhile (close and a late submit both fail it)
                pass
