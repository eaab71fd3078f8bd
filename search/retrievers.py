"""The two retrievers. Both speak ``search(query, k, filters, allowed) -> [(passage_id, score)]``
and apply filters inside the index, before their top-k cut. ``allowed`` is the filters resolved
to passage ids by the store, once per search for both retrievers."""
from __future__ import annotations

from typing import Callable

import numpy as np

from indexer.vectors.encoders import Encoder
from indexer.keyword.index import KeywordIndex
from indexer.vectors.sentence_vectors import SentenceVectors
from indexer.store.sqlite import Filters
from indexer.vectors.index import VectorIndex
from search.query import ParsedQuery

Hits = list[tuple[int, float]]
# (question, vector index, limit) -> (the question's vector, its top ``limit`` hits): the same as
# encoding it and searching the index, by another route (``baheth serve``'s batcher).
BatchedSearch = Callable[[str, VectorIndex, int], tuple[np.ndarray, Hits]]


class KeywordRetriever:
    """BM25F over passage text, heading and title (Whoosh)."""

    def __init__(self, index: KeywordIndex):
        self.index = index

    def search(self, query: ParsedQuery, k: int, filters: Filters = Filters(),
               allowed: np.ndarray | None = None) -> Hits:
        # ``allowed`` lets the compiled postings serve filtered searches; ``filters`` is for Whoosh.
        hits, _ = self.index.search(query.keyword, k, filters, allowed)
        return hits


class DenseRetriever:
    """Inner product of normalized embeddings (faiss); the encoder loads on first use. The top
    ``k`` passages by their own vector are re-scored with their sentences' vectors
    (``indexer.vectors.sentence_vectors.SentenceVectors``), which ``sentences`` reads from the store."""

    def __init__(self, vectors: VectorIndex, encoder: Callable[[], Encoder],
                 sentences: Callable[[list[int]], dict[int, np.ndarray]], batched: BatchedSearch | None = None):
        self.vectors = vectors
        self._encoder = encoder
        self._sentences = sentences
        self._batched = batched
        self._last: tuple[str, object] | None = None

    def available(self) -> bool:
        # No reload here: ``Engine.reading`` moves the vectors to the latest file, before its snapshot.
        return len(self.vectors) > 0

    def encode(self, text: str):
        # ``ask`` needs the question's vector for the passage search and again for its sentences.
        if self._last is None or self._last[0] != text:
            self._last = (text, self._encoder().encode_queries([text])[0])
        return self._last[1]

    def search(self, query: ParsedQuery, k: int, allowed: np.ndarray | None = None) -> Hits:
        if self._batched is not None and allowed is None:   # filtered searches stay on their own
            vector, hits = self._batched(query.dense_text, self.vectors, k)
            self._last = (query.dense_text, vector)
            return self.rescore(hits, vector)
        vector = self.encode(query.dense_text)
        return self.rescore(self.vectors.search(vector, k, allowed), vector)

    def rescore(self, hits: Hits, vector: np.ndarray) -> Hits:
        """``hits`` by passage cosine, re-scored and re-ordered with their sentence vectors."""
        found = self._sentences([pid for pid, _ in hits])
        sentences = SentenceVectors([found.get(pid) for pid, _ in hits])
        scores = sentences.scores(np.array([c for _, c in hits], dtype=np.float32), vector)
        return sorted(zip((pid for pid, _ in hits), scores.tolist()), key=lambda hit: (-hit[1], hit[0]))
