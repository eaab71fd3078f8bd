"""Does the best sentence ``ask`` found answer the question at all, or is the answer not indexed?

Why a model of its own: the ranking score only has to order the sentences of one question, and
its level does not carry from one kind of question to another (TyDi's short «من هو X؟» questions
score as high on an unrelated article as XQuAD's answerable ones do on theirs).  What does tell
them apart is whether the passage holds the question's *rare* terms (X itself), weighted by how
rare each is in the whole index, and how close question, sentence and passage are in the dense
space.  A logistic model over those features gives a confidence in 0..1; the question is answered
when it reaches the model's threshold.  Its weights, bias and threshold are in
``search/answers/model.json``, written by ``bench/answer_fit.py`` (docs/answers.md).

The features come in two parts so that the fit can replay any ranking: ``evidence`` describes one
candidate sentence as if it were the best (its question-term coverage), and ``confidence_row``
adds what only the ranking knows (its score and its margin over the second sentence).
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from indexer.text.analysis import analyze
from search.answers.features import FEATURES, Candidate, weighted
from search.answers.question_words import AMOUNT_FRAMING

EVIDENCE = ("idf_sentence", "idf_context", "idf_passage", "idf_article", "rarest_in_passage", "missing_rare",
            "unknown_terms", "passage_fused")
CONFIDENCE_FEATURES = ("score", "dense", "passage_dense", *EVIDENCE[:6], "answer_type", "margin", *EVIDENCE[6:])

_DENSE, _PASSAGE_DENSE = FEATURES.index("dense"), FEATURES.index("passage_dense")
_TYPED = [FEATURES.index("number_or_date"), FEATURES.index("entity")]
_FRAMING = frozenset(analyze(" ".join(AMOUNT_FRAMING)))


def evidence(best: Candidate, candidates: list[Candidate], terms: frozenset[str],
             idf: Callable[[str], float | None], article_terms: frozenset[str], fused: float) -> np.ndarray:
    """What the index says for ``best`` (one of ``candidates``) answering, in EVIDENCE order.
    ``idf`` is a term's inverse document frequency in the index, None for a term no passage holds;
    ``article_terms`` the question terms ``best``'s article holds anywhere (title, headings, text):
    a news article names its subject once, near the top; ``fused`` its passage's hybrid score.
    With z-score fusion that score says how far the passage stands out from the other passages
    retrieved, which does not depend on how a set words its questions, as raw cosines do.

    A term the index lacks altogether is left out of the coverage features (no passage could
    hold it, so it says nothing about this one) and counted in ``unknown_terms`` instead; so is
    the wording of a quantity question («يبلغ حجم»), which answers do not repeat."""
    terms = terms - _FRAMING or terms
    known = {t: idf(t) for t in terms}
    weight = {t: w for t, w in known.items() if w is not None}
    same_passage = [c for c in candidates if c.passage.pid == best.passage.pid]
    context = frozenset().union(*(c.terms for c in same_passage if abs(c.position - best.position) <= 1))
    passage = frozenset().union(*(c.terms for c in same_passage))
    rarest = max(weight.values(), default=0.0)
    missing = [weight[t] for t in weight.keys() - passage]
    return np.array([
        weighted(best.terms, weight),
        weighted(context, weight),
        weighted(passage, weight),
        weighted(article_terms, weight),
        float(any(weight.get(t) == rarest for t in passage)),
        max(missing) / rarest if missing and rarest > 0 else 0.0,
        1.0 - len(weight) / len(terms),
        fused,
    ])


def confidence_rows(features: np.ndarray, found: np.ndarray, score, margin) -> np.ndarray:
    """Confidence features in CONFIDENCE_FEATURES order of one best sentence or of an array of
    them (the fit's): its ranking ``features`` (FEATURES order, last axis), its ``evidence``, its
    ranking ``score`` and its ``margin`` over the second sentence (0 when there is none)."""
    score, margin = np.asarray(score, float)[..., None], np.asarray(margin, float)[..., None]
    return np.concatenate([score, features[..., [_DENSE, _PASSAGE_DENSE]], found[..., :6],
                           features[..., _TYPED].max(-1, keepdims=True), margin, found[..., 6:]], axis=-1)


def bm25_idf(doc_frequency: int, doc_count: int) -> float | None:
    """BM25's inverse document frequency (never negative); None for a term no document holds."""
    if doc_frequency == 0:
        return None
    return math.log(1.0 + (doc_count - doc_frequency + 0.5) / (doc_frequency + 0.5))
