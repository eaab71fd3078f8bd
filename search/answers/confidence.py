"""Does the best sentence ``ask`` found answer the question at all, or is the answer not indexed?

Why a model of its own: the ranking score only has to order the sentences of one question, and
its level does not carry from one kind of question to another (TyDi's short «من هو X؟» questions
score as high on an unrelated article as XQuAD's answerable ones do on theirs).  What does tell
them apart is whether the passage holds the question's *rare* terms (X itself), weighted by how
rare each is in the whole index, and how close question, sentence and passage are in the dense
space.  A logistic model over those features gives a confidence in 0..1; the question is answered
when it reaches ``CONFIDENCE_THRESHOLD``.  Weights, bias and threshold are fitted by
``bench/answerability_fit.py`` (docs/answers.md).
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from indexer.text.analysis import analyze
from search.answers.features import FEATURES, Candidate, weighted
from search.answers.question_words import AMOUNT_FRAMING

CONFIDENCE_FEATURES = ("score", "dense", "passage_dense", "idf_sentence", "idf_context", "idf_passage",
                       "idf_article", "rarest_in_passage", "missing_rare", "answer_type", "margin",
                       "short_question", "unknown_terms")
# Fitted on the fit half (``bench.answers.fit_half``) of XQuAD-ar and of TyDi-ar by
#   python -m bench.answerability_fit --halves --max-false-claims 0.11 --l2 0.1 xquad_ar.npz tydiqa_goldp_ar_dev.npz
# (docs/answers.md).  The weights apply to the raw features (the fit's standardization is folded
# in); the threshold keeps each fitting half's false claims at or under 11%, which kept both
# other halves, and TyDi-ar with 10,000 news distractors, under 15%.
CONFIDENCE_WEIGHTS = np.array([3.009, 28.32, 40.64, -1.008, 2.719, -4.193, 4.657, 0.1835, -0.2336, -1.404, 1.538,
                               -2.679, -3.986])
CONFIDENCE_BIAS = -60.43
CONFIDENCE_THRESHOLD = 0.8052

_DENSE, _PASSAGE_DENSE = FEATURES.index("dense"), FEATURES.index("passage_dense")
_TYPED = [FEATURES.index("number_or_date"), FEATURES.index("entity")]
_FRAMING = frozenset(analyze(" ".join(AMOUNT_FRAMING)))


def confidence_features(scored: list[tuple[Candidate, float]], candidates: list[Candidate],
                        terms: frozenset[str], idf: Callable[[str], float | None],
                        article_terms: frozenset[str]) -> np.ndarray:
    """The features of the best sentence of ``scored`` (best first, non-empty), in
    CONFIDENCE_FEATURES order.  ``idf`` is a term's inverse document frequency in the index, None
    for a term no passage holds; ``article_terms`` the question terms the best sentence's article
    holds anywhere (title, headings, text): a news article names its subject once, near the top.

    A term the index lacks altogether is left out of the coverage features (no passage could
    hold it, so it says nothing about this one) and counted in ``unknown_terms`` instead; so is
    the wording of a quantity question («يبلغ حجم»), which answers do not repeat."""
    best, score = scored[0]
    terms = terms - _FRAMING or terms
    known = {t: idf(t) for t in terms}
    weight = {t: w for t, w in known.items() if w is not None}
    same_passage = [c for c in candidates if c.passage.pid == best.passage.pid]
    context = frozenset().union(*(c.terms for c in same_passage if abs(c.position - best.position) <= 1))
    passage = frozenset().union(*(c.terms for c in same_passage))
    rarest = max(weight.values(), default=0.0)
    missing = [weight[t] for t in weight.keys() - passage]
    return np.array([
        score,
        best.features[_DENSE],
        best.features[_PASSAGE_DENSE],
        weighted(best.terms, weight),
        weighted(context, weight),
        weighted(passage, weight),
        weighted(article_terms, weight),
        float(any(weight.get(t) == rarest for t in passage)),
        max(missing) / rarest if missing and rarest > 0 else 0.0,
        best.features[_TYPED].max(),     # the match of the type asked for (0 when none is)
        score - scored[1][1] if len(scored) > 1 else 0.0,
        1.0 / len(terms),
        1.0 - len(weight) / len(terms),
    ])


def confidence(features: np.ndarray) -> float:
    """The logistic model's probability that the best sentence is an answer."""
    z = float(features @ CONFIDENCE_WEIGHTS + CONFIDENCE_BIAS)
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


def bm25_idf(doc_frequency: int, doc_count: int) -> float | None:
    """BM25's inverse document frequency (never negative); None for a term no document holds."""
    if doc_frequency == 0:
        return None
    return math.log(1.0 + (doc_count - doc_frequency + 0.5) / (doc_frequency + 0.5))
