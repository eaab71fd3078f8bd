"""Does the best sentence ``ask`` found answer the question at all, or is the answer not indexed?

Why a model of its own: the ranking score only has to order the sentences of one question, and
its level does not carry from one kind of question to another (TyDi's short «من هو X؟» questions
score as high on an unrelated article as XQuAD's answerable ones do on theirs).  What does tell
them apart is whether the passage holds the question's *rare* terms (X itself), weighted by how
rare each is in the whole index, and its phrases as phrases (``phrases``: «نهر الأردن», not «نهر»
here and «الأردن» there), how close question, sentence and passage are in the dense space, and
whether the keyword run agrees on the article.  A logistic model over those features
(the mean of one fitted on the cosines, one on the term features and one on the keyword run's
agreement, ``FAMILIES``) gives a confidence in 0..1 that the best sentence holds the answer (it is
fitted on that, not on whether the answer is indexed somewhere: an answerable question whose best
sentence misses the answer is a wrong claim too); the question is answered when it reaches the
model's threshold.  Its weights, bias and threshold are in
``search/answers/model.json``, written by ``bench/answer_fit.py`` (docs/answers.md).

Every feature but one describes the best sentence, its passage and its article against the
question on a fixed scale (cosines, shares of the question's IDF mass, a ratio of IDFs), never
against the other candidates or the index's size: a user's index can hold 9 articles or a million,
and the same sentence must get the same confidence in both.  The exception, ``keyword_first``, is a
yes/no comparison with the other candidates (does the keyword run rank none of their passages above
the best sentence's article's?): it stays the same for the same answer among more articles unless
another article matches the question's words better, and in an index of one article it is 1 for
any question (docs/answers.md).  So neither the ranking score (its term weights are
rarities among the candidates, its article feature a rank among them), nor the margin to the second
sentence, nor the passage's fused hybrid score (a z-score over the retrieved list) is a feature,
and the share of question terms the index lacks is not one either (a small index lacks most words).
IDFs enter only as shares and ratios, so their scale (log N) cancels.  ``evidence`` describes one
candidate as if it were the best, so the fit can replay any ranking.
"""
from __future__ import annotations

import math
from typing import Callable, Hashable, Sequence

import numpy as np

from indexer.text.analysis import analyze
from search.answers.features import FEATURES, Candidate, phrases_held, weighted
from search.answers.question_words import AMOUNT_FRAMING

EVIDENCE = ("idf_sentence", "idf_context", "idf_passage", "idf_article", "rarest_in_passage", "missing_rare",
            "question_terms", "phrases")
_SHARES = 4     # the first four: the question's IDF mass held ever further from the sentence
# The four shares enter as their mean, ``idf_coverage``: a term in the sentence counts 1, one only
# in its neighbours 3/4, elsewhere in the passage 1/2, elsewhere in the article 1/4.  Nested, they
# are collinear; fitted one weight each, some took the wrong sign and were dropped, and which ones
# depended on the fitting set (fitted on TyDi-ar alone, all but the passage's share).
CONFIDENCE_FEATURES = ("dense", "passage_dense", "idf_coverage", *EVIDENCE[_SHARES:], "answer_type", "keyword_first")
# Which way each feature may move the confidence (0: either): more of the question found, closer
# in the dense space, a type match are evidence *for* an answer, a rarer term missing against it.
# The fit keeps every weight on its side (bench/answer_fit.py): fitted freely, the collinear IDF
# shares took weights of opposite signs (more of the question in the sentence lowered it).
SIGNS = tuple({"missing_rare": -1, "question_terms": 0}.get(f, 1) for f in CONFIDENCE_FEATURES)
# Kinds of evidence, fitted apart and averaged (bench/answer_fit.py).  Two are how close the
# question is to the sentence and its passage in the dense space, and which of its terms they
# hold.  Which kind
# carries a set depends on how its questions were written: TyDi-ar's, asked before the answer was
# seen and answered by the subject's lead, are close in the dense space to their answers (and to
# related leads), so a model fitted on it alone leaned on the cosines and dropped the term
# features, and refused XQuAD-ar's paraphrased questions, whose cosines are lower but whose terms
# are in the answer (docs/answers.md, "Why the model did not transfer").
#
# The third family is one feature, ``keyword_first``: whether the keyword run ranks a passage of the
# best sentence's article above every other candidate passage (2026-12-05), i.e. whether the two ways of finding
# the answer agree (the sentence ranking leans on the dense similarity).  A related passage without the
# answer is often brought up by its closeness in the dense space alone (docs/answers.md).
FAMILIES = tuple("dense" if f in ("dense", "passage_dense") else "keyword" if f == "keyword_first" else "terms"
                 for f in CONFIDENCE_FEATURES)

_DENSE, _PASSAGE_DENSE = FEATURES.index("dense"), FEATURES.index("passage_dense")
_TYPED = [FEATURES.index("number_or_date"), FEATURES.index("entity")]
_FRAMING = frozenset(analyze(" ".join(AMOUNT_FRAMING)))


def evidence(best: Candidate, candidates: list[Candidate], terms: frozenset[str],
             idf: Callable[[str], float | None], article_terms: frozenset[str],
             pairs: tuple[tuple[str, str], ...] = ()) -> np.ndarray:
    """What the index says for ``best`` (one of ``candidates``) answering, in EVIDENCE order.
    ``idf`` is a term's inverse document frequency in the index, None for a term no passage holds;
    ``article_terms`` the question terms ``best``'s article holds anywhere (title, headings, text):
    a news article names its subject once, near the top.

    A term the index lacks altogether weighs as much as its rarest known term: adding unrelated
    articles would make it known and rare, and missing from this passage all the same.  The
    wording of a quantity question («يبلغ حجم») is not counted: answers do not repeat it.

    A term counts as held in any form of its root (``Candidate.held``: «تأسست» in «أُسست»): XQuAD-ar's
    translated questions ask with one form of a word what the answer states with another, and a
    share of exact terms took them for related passages without the answer.  The article holds what
    its text holds exactly and what its passage holds in any form.

    ``question_terms`` (the log of how many terms are counted) says how coarse the shares are: a
    two-term question covers half its IDF mass with one word a related passage happens to share,
    a seven-term one does not; it describes the question alone, so it is the same in any index.

    ``phrases``: the share of the weight of the question's phrases (``pairs``, its terms held by
    neighbouring words: ``search.answers.features.question_pairs``) that ``best``'s passage holds as
    neighbouring words too (a phrase weighs the mean of its two terms; 1 for a question without
    one).  A related passage shares the question's words, an answer its names: «كم يبلغ طول نهر
    الأردن» and a passage on a Jordanian city hold «نهر» and «الأردن», not «نهر الأردن»."""
    weight = index_weights(terms, idf)
    context, passage = surroundings(best, candidates)
    pair_weight = phrase_weights(pairs, weight)
    return evidence_from(weight, best.held, context, passage, article_terms | passage, pair_weight,
                         phrases_held(best.passage.text, tuple(pair_weight)))


def phrase_weights(pairs: tuple[tuple[str, str], ...], weight: dict[str, float]) -> dict[tuple[str, str], float]:
    """Each of the question's phrases whose two terms are counted (``index_weights``), weighing the
    mean of theirs."""
    return {p: (weight[p[0]] + weight[p[1]]) / 2 for p in pairs if p[0] in weight and p[1] in weight}


def index_weights(terms: frozenset[str], idf: Callable[[str], float | None]) -> dict[str, float]:
    """Each counted question term's weight: its IDF in the index, the rarest known term's for a term
    the index lacks; the wording of a quantity question left out (``evidence``)."""
    terms = terms - _FRAMING or terms
    known = {t: idf(t) for t in terms}
    rarest = max((w for w in known.values() if w is not None), default=0.0)
    return {t: rarest if w is None else w for t, w in known.items()}


def surroundings(best: Candidate, candidates: list[Candidate]) -> tuple[frozenset[str], frozenset[str]]:
    """The question terms ``best`` holds with its neighbouring sentences, and those its passage holds,
    each in any form of its root (``Candidate.held``)."""
    same_passage = [c for c in candidates if c.passage.pid == best.passage.pid]
    context = frozenset().union(*(c.held for c in same_passage if abs(c.position - best.position) <= 1))
    return context, frozenset().union(*(c.held for c in same_passage))


def evidence_from(weight: dict, sentence: frozenset, context: frozenset, passage: frozenset,
                  article: frozenset, pair_weight: dict | None = None,
                  passage_pairs: frozenset = frozenset()) -> np.ndarray:
    """EVIDENCE from the terms' weights (``index_weights``), the terms held ever further from the
    sentence, the phrases' weights (``phrase_weights``) and those the passage holds; any hashable
    stands for a term or a phrase (``bench.answer_features`` stores them as indices)."""
    rarest = max(weight.values(), default=0.0)
    missing = [weight[t] for t in weight.keys() - passage]
    return np.array([
        weighted(sentence, weight),
        weighted(context, weight),
        weighted(passage, weight),
        weighted(article, weight),
        float(any(weight.get(t) == rarest for t in passage)),
        max(missing) / rarest if missing and rarest > 0 else 0.0,
        math.log(len(weight)),
        weighted(passage_pairs, pair_weight) if pair_weight else 1.0,
    ])


def confidence_rows(features: np.ndarray, found: np.ndarray, first: np.ndarray | float) -> np.ndarray:
    """Confidence features in CONFIDENCE_FEATURES order of one best sentence or of an array of
    them (the fit's): its ranking ``features`` (FEATURES order, last axis), its ``evidence`` and
    ``keyword_first``."""
    first = np.asarray(first, dtype=np.float64)[..., None]
    return np.concatenate([features[..., [_DENSE, _PASSAGE_DENSE]], found[..., :_SHARES].mean(-1, keepdims=True),
                           found[..., _SHARES:], features[..., _TYPED].max(-1, keepdims=True), first], axis=-1)


def keyword_first(article: Hashable, ranked: Sequence[tuple[Hashable, int]]) -> float:
    """1.0 when, of the candidate passages the keyword run holds (``ranked``: each candidate's article
    and its passage's rank in the run, -1 when not in it), the one it ranks highest is of ``article``,
    the best sentence's.

    The article, not the passage: a news article spans several passages, and the keyword run often
    ranks the one that names the subject above the one that answers (as the ranking's ``article``
    feature, ``search.answers.features``).  It compares the best sentence with the other candidates,
    not with the index: the same answer keeps it among more articles as long as no other article's
    passage matches the question's words better (``tests/test_confidence_invariance.py``)."""
    held = [(rank, a) for a, rank in ranked if rank >= 0]
    return float(bool(held) and min(held, key=lambda ra: ra[0])[1] == article)


def bm25_idf(doc_frequency: int, doc_count: int) -> float | None:
    """BM25's inverse document frequency (never negative); None for a term no document holds."""
    if doc_frequency == 0:
        return None
    return math.log(1.0 + (doc_count - doc_frequency + 0.5) / (doc_frequency + 0.5))
