"""Sentence vectors: every passage's sentences embedded beside the passage itself.

e5-small matches a question better against the sentence that states a fact than against the
200-word passage around it, so the dense retriever scores a passage by its own cosine and its
best sentence's together (``SentenceVectors.scores``; docs/quality.md, "Sentence vectors"). The
sentences are the ones ``ask`` answers with (``indexer.text.sentences.split_sentences``) and go
through the embedding cache under the passage prompt like any passage text, so a one-sentence
passage is encoded once. The store keeps them (``indexer/store/sentence_table.py``); ``ask`` reads its
candidate sentences' vectors from there instead of encoding them.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from indexer.vectors.cache import EmbeddingCache
from indexer.vectors.encoders import EncoderSpec
from indexer.text.sentences import split_sentences


def sentence_texts(text: str) -> list[str]:
    return [text[s.start:s.end] for s in split_sentences(text)]


def encode_with_sentences(cache: EmbeddingCache, spec: EncoderSpec, texts: Sequence[str],
                          encode: Callable[[Sequence[str]], np.ndarray]) -> tuple[np.ndarray, list[np.ndarray], int]:
    """(passage vectors, each passage's (sentences, dim) matrix, texts run through the model)."""
    groups = [sentence_texts(t) for t in texts]
    vectors, fresh = cache.encode_passages(spec, [*texts, *(s for g in groups for s in g)], encode)
    ends = len(texts) + np.cumsum([len(g) for g in groups], dtype=int)
    starts = np.concatenate(([len(texts)], ends[:-1])).astype(int)
    return vectors[:len(texts)], [vectors[a:b] for a, b in zip(starts, ends)], fresh


class SentenceVectors:
    """The sentence matrices of a list of passages, stacked so that a query costs one product."""

    def __init__(self, matrices: Sequence[np.ndarray | None]):
        counts = np.array([0 if m is None else len(m) for m in matrices], dtype=int)
        self.has = counts > 0
        present = [m for m in matrices if m is not None and len(m)]
        self.matrix = np.concatenate(present) if present else np.empty((0, 0), np.float32)
        self.starts = np.concatenate(([0], np.cumsum(counts[self.has])[:-1])).astype(int)

    def scores(self, cosines: np.ndarray, query: np.ndarray) -> np.ndarray:
        """The mean of each passage's cosine and its best sentence's; a passage without sentence
        vectors (an index from before them, a retired version) counts its own cosine twice."""
        best = np.array(cosines, dtype=np.float32)
        if len(self.matrix):
            best[self.has] = np.maximum.reduceat(self.matrix @ query, self.starts)
        return (np.asarray(cosines, dtype=np.float32) + best) / 2
