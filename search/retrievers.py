"""The two retrievers. Both speak ``search(query, k, filters) -> [(passage_id, score)]``
and apply filters inside the index, before their top-k cut."""
from __future__ import annotations

from typing import Callable

from indexer.encoders import Encoder
from indexer.keyword_index import KeywordIndex
from indexer.store import Filters, Store
from indexer.vector_index import VectorIndex
from search.query import ParsedQuery

Hits = list[tuple[int, float]]


class KeywordRetriever:
    """BM25F over passage text, heading and title (Whoosh)."""

    def __init__(self, index: KeywordIndex, store: Store | None = None):
        self.index = index
        self.store = store

    def search(self, query: ParsedQuery, k: int, filters: Filters = Filters()) -> Hits:
        # The store resolves filters to passage ids, which lets the compiled postings serve them.
        allowed = self.store.filtered_pids(filters) if filters.active() and self.store is not None else None
        hits, _ = self.index.search(query.keyword, k, filters, allowed)
        return hits


class DenseRetriever:
    """Inner product of normalized embeddings (faiss); the encoder loads on first use."""

    def __init__(self, vectors: VectorIndex, store: Store, encoder: Callable[[], Encoder]):
        self.vectors = vectors
        self.store = store
        self._encoder = encoder
        self._last: tuple[str, object] | None = None

    def available(self) -> bool:
        self.vectors.reload_if_changed()
        return len(self.vectors) > 0

    def encode(self, text: str):
        # ``ask`` needs the question's vector for the passage search and again for its sentences.
        if self._last is None or self._last[0] != text:
            self._last = (text, self._encoder().encode_queries([text])[0])
        return self._last[1]

    def search(self, query: ParsedQuery, k: int, filters: Filters = Filters()) -> Hits:
        allowed = self.store.filtered_pids(filters) if filters.active() else None
        return self.vectors.search(self.encode(query.dense_text), k, allowed)
