"""Public peers the speed benchmark runs side by side with the engine, on the same passages
and queries: bm25s with a Lucene-style Arabic analysis chain (keyword side) and plain
numpy exact search (vector side).

The chain follows Lucene's ``ArabicAnalyzer``: split on non-word characters, lowercase,
``ArabicNormalizationFilter`` (drop diacritics and tatweel; alef forms to ا, ى to ي,
ة to ه), stopwords (ours, so both sides drop the same words), ``ArabicStemFilter``
(Larkey's light stemming: one prefix of ال وال بال كال فال لل و, then suffixes
ها ان ات ون ين يه ية ه ة ي, keeping at least two letters).
"""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from indexer.text.arabic import STOPWORDS

_WORD = re.compile(r"\w+")
_NORMALIZE = str.maketrans({**{c: None for c in "\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652\u0640"},
                            "أ": "ا", "إ": "ا", "آ": "ا", "ى": "ي", "ة": "ه"})
_PREFIXES = ("وال", "بال", "كال", "فال", "ال", "لل", "و")
_SUFFIXES = ("ها", "ان", "ات", "ون", "ين", "يه", "ه", "ي")   # ة and ية are ه and يه once normalized
_STOPS = frozenset(w.translate(_NORMALIZE) for w in STOPWORDS)


def lucene_arabic_terms(text: str) -> list[str]:
    out = []
    for word in _WORD.findall(text.lower().translate(_NORMALIZE)):
        if word in _STOPS:
            continue
        for prefix in _PREFIXES:
            if word.startswith(prefix) and len(word) - len(prefix) >= 2:
                word = word[len(prefix):]
                break
        for suffix in _SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= 2:
                word = word[:-len(suffix)]
        out.append(word)
    return out


class Bm25sPeer:
    """bm25s (Lucene BM25 variant, k1=1.2, b=0.75) over passages; ids are list positions."""

    def __init__(self, texts: Sequence[str]):
        # Imported here: the peer is a benchmark extra, and modules that only need numpy_exact
        # (bench.search_timing, then bench.speed and bench.serve_profile) run in CI without it.
        import bm25s
        self.model = bm25s.BM25(k1=1.2, b=0.75)
        self.model.index(self._tokens([lucene_arabic_terms(t) for t in texts]), show_progress=False)

    def _tokens(self, term_lists: list[list[str]]):
        vocab: dict[str, int] = {}
        ids = [[vocab.setdefault(t, len(vocab)) for t in terms] for terms in term_lists]
        self.vocab = vocab
        from bm25s.tokenization import Tokenized
        return Tokenized(ids=ids, vocab=vocab)

    def search(self, text: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        ids = [self.vocab[t] for t in dict.fromkeys(lucene_arabic_terms(text)) if t in self.vocab]
        if not ids:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        scores = self.model.get_scores_from_ids(ids)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return top, scores[top]


def numpy_exact(vectors: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` rows of ``vectors`` with the largest inner product with ``query``, best first."""
    scores = vectors @ query
    top = np.argpartition(-scores, k - 1)[:k]
    return top[np.argsort(-scores[top])]
