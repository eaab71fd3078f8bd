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

    def __init__(self, index: KeywordIndex):
        self.index = index

    def search(self, query: ParsedQuery, k: int, filters: Filters = Filters()) -> Hits:
        hits, _ = self.index.search(query.keyword, k, filters)
        return hits


class DenseRetriever:
    """Inner product of normalized embeddings (faiss); the encoder loads on first use."""

    def __init__(self, vectors: VectorIndex, store: Store, encoder: Callable[[], Encoder]):
        self.vectors = vectors
        self.store = store
        self._encoder = encoder

    def available(self) -> bool:
        self.vectors.reload_if_changed()
        return len(self.vectors) > 0

    def encode(self, text: str):
        return self._encoder().encode_queries([text])[0]

    def search(self, query: ParsedQuery, k: int, filters: Filters = Filters()) -> Hits:
        allowed = self.store.filtered_pids(filters) if filters.active() else None
        return self.vectors.search(self.encode(query.dense_text), k, allowed)
