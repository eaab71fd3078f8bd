"""Question-driven lookup: question -> passages -> sentences -> ranked answers.

>>> from search import Engine
>>> with Engine("index") as engine:
...     print(engine.ask("كم يبلغ حجم التبادل التجاري بين العراق وإيران؟", k=1).answers[0].sentence)

Why two stages: the hybrid passage search already finds the right passage most of the time,
but the sentence inside it that answers the question is often not the one that repeats the
question's words.  So every sentence of the top ``CANDIDATE_PASSAGES`` passages gets cheap
features (its share of the question's terms, plain and weighted by how rare each term is among
the candidates; the same for it and its neighbours together, and for the sentence before it,
since an answer often follows the sentence that names the question's subject; its length;
answer-type match; the passage's rank), the best ``DENSE_SENTENCES`` of them by those features are embedded (the
slow part, ~10-20 ms a sentence on a CPU, so it is bounded and goes through the embedding
cache), and the final score adds their similarity to the question.  The weights and the
threshold below which nothing is claimed as an answer are fitted on data by
``bench/answers.py`` (see docs/answers.md).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from indexer.analysis import analyze, analyze_spans
from indexer.chunking import Sentence, count_words, split_sentences
from indexer.embedding_cache import EmbeddingCache
from indexer.store import Filters, StoredPassage
from search.engine import CANDIDATES, Engine
from search.query import ParsedQuery, QueryError, parse_query
from search.answer_types import answer_type_match, typed_spans
from search.question import AnswerType, QuestionAnalysis, analyze_question
from search.results import Answer, AnswerResults

CANDIDATE_PASSAGES = 5    # passages whose sentences compete
DENSE_SENTENCES = 8       # sentences embedded per question (bounds the encoding cost)
RELATED_PASSAGES = 3      # shown instead of answers when nothing answers
# Sentences this long or longer get the full length feature: an answer needs room for more
# than the question's words, a three-word fragment cut at «؛» seldom has it.
LONG_WORDS = 30

FEATURES = ("dense", "overlap", "weighted_overlap", "weighted_context", "previous_overlap", "length",
            "answer_type", "passage")
# Fitted on XQuAD-ar (no distractors) and confirmed on TyDi-ar by
#   python -m bench.answer_fit xquad_ar.npz tydiqa_goldp_ar_dev.npz   (2026-11-29, 5ae00be + work tree)
# (docs/answers.md).  The threshold is the lowest best-sentence score at which at most 15% of
# XQuAD-ar's questions asked of an index without their article are still answered; it does not
# carry over to TyDi-ar, whose short questions score higher on unrelated articles (see the doc).
WEIGHTS = np.array([1.0, 0.08, 0.02, 0.02, 0.0, 0.0, 0.02, 0.0])
ANSWER_THRESHOLD = 0.8599


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved passage, located by offsets into the passage text."""

    passage: StoredPassage
    passage_rank: int          # 0 for the best passage
    sentence: Sentence
    features: np.ndarray       # in FEATURES order; dense is NaN until embedded

    @property
    def text(self) -> str:
        return self.passage.text[self.sentence.start:self.sentence.end]


@dataclass(frozen=True)
class Lookup:
    """Everything the ranking saw for one question: for ``ask`` and for the benchmark."""

    analysis: QuestionAnalysis
    parsed: ParsedQuery
    ranked: list[tuple[int, float]]      # fused passages, best first
    candidates: list[Candidate]


class AnswerFinder:
    def __init__(self, engine: Engine, cache_dir: Path | None = None):
        self.engine = engine
        self.cache = EmbeddingCache(cache_dir)

    def close(self) -> None:
        self.cache.close()

    def ask(self, question: str, *, k: int = 3, filters: Filters = Filters(),
            all_from_article: bool = False) -> AnswerResults:
        if k < 1:
            raise QueryError("k must be at least 1")
        with self.engine.store.snapshot():
            lookup, scored = self.rank(question, filters)
            return self.answer(lookup, scored, k, all_from_article)

    def rank(self, question: str, filters: Filters = Filters()) -> tuple[Lookup, list[tuple[Candidate, float]]]:
        lookup = self.lookup(question, filters)
        return lookup, self.score(lookup, WEIGHTS)

    def answer(self, lookup: Lookup, scored: list[tuple[Candidate, float]], k: int,
               all_from_article: bool) -> AnswerResults:
        """The sentences that clear the threshold; when none does, the closest passages."""
        if not is_answer(scored):
            related = self.engine.passage_hits(lookup.ranked, lookup.parsed, RELATED_PASSAGES, 0)
            return AnswerResults(question=lookup.parsed.text, answered=False, answers=(), related=tuple(related))
        picked = distinct([(c, s) for c, s in scored if s >= ANSWER_THRESHOLD], k, all_from_article)
        return AnswerResults(question=lookup.parsed.text, answered=True,
                             answers=tuple(self._answers(picked, lookup.parsed, lookup.analysis.answer_type)))

    def lookup(self, question: str, filters: Filters = Filters(),
               passages: int = CANDIDATE_PASSAGES) -> Lookup:
        """Retrieve passages and give every sentence of the top ones its cheap features."""
        analysis = analyze_question(question)
        parsed = _question_query(question, analysis)
        ranked, _, _ = self.engine.passage_candidates(parsed, "hybrid", CANDIDATES, filters)
        top = ranked[:passages]
        stored = self.engine.store.passages(pid for pid, _ in top)
        units = []   # (passage rank, passage, its sentences, each sentence's question terms)
        for rank, (pid, _) in enumerate(top):
            p = stored[pid]
            sentences = split_sentences(p.text)
            units.append((rank, p, sentences,
                          [frozenset(analyze(p.text[s.start:s.end])) & parsed.terms for s in sentences]))
        weight = _term_weights(parsed.terms, [t for *_, term_sets in units for t in term_sets])
        candidates = []
        for rank, p, sentences, term_sets in units:
            for i, s in enumerate(sentences):
                text = p.text[s.start:s.end]
                around = term_sets[i].union(*term_sets[max(0, i - 1):i + 2])
                features = np.array([
                    np.nan,
                    len(term_sets[i]) / len(parsed.terms),
                    _weighted(term_sets[i], weight),
                    _weighted(around, weight),
                    _weighted(term_sets[i - 1], weight) if i else 0.0,
                    min(count_words(text), LONG_WORDS) / LONG_WORDS,
                    answer_type_match(text, analysis.answer_type),
                    1.0 / (1 + rank),
                ])
                candidates.append(Candidate(p, rank, s, features))
        return Lookup(analysis, parsed, ranked, candidates)

    def embed(self, lookup: Lookup, candidates: Sequence[Candidate]) -> None:
        """Fill in the dense feature: cosine of the question and each sentence (cached vectors)."""
        if not candidates:
            return
        encoder = self.engine.encoder()
        texts = [c.text for c in candidates]
        vectors, _ = self.cache.encode_passages(encoder.spec, texts, encoder.encode_passages)
        question = self.engine.dense.encode(lookup.parsed.dense_text)
        for c, similarity in zip(candidates, vectors @ question):
            c.features[0] = float(similarity)

    def score(self, lookup: Lookup, weights: np.ndarray,
              dense_limit: int = DENSE_SENTENCES) -> list[tuple[Candidate, float]]:
        """The top ``dense_limit`` candidates by cheap features, re-scored with the dense one."""
        cheap = [float(c.features[1:] @ weights[1:]) for c in lookup.candidates]
        order = np.argsort([-s for s in cheap], kind="stable")[:dense_limit]
        kept = [lookup.candidates[i] for i in order]
        self.embed(lookup, [c for c in kept if np.isnan(c.features[0])])
        scored = [(c, cheap[i] + weights[0] * float(c.features[0])) for c, i in zip(kept, order)]
        return sorted(scored, key=lambda cs: -cs[1])

    def _answers(self, picked: list[tuple[Candidate, float]], parsed: ParsedQuery,
                 answer_type: AnswerType) -> list[Answer]:
        meta = self.engine.store.articles_meta(c.passage.article_id for c, _ in picked)
        answers = []
        for rank, (c, score) in enumerate(picked, start=1):
            a = meta[c.passage.article_id]
            before, after = self._context(c)
            answers.append(Answer(rank=rank, score=round(float(score), 4), sentence=c.text,
                                  span=answer_span(c.text, parsed.terms, answer_type), context_before=before,
                                  context_after=after, article_id=c.passage.article_id,
                                  passage_id=c.passage.pid, title=a["title"], date=a["date"],
                                  source=a["source"]))
        return answers

    def _context(self, c: Candidate) -> tuple[str, str]:
        """The article's sentences just before and after, across passage borders but never a
        subheading (headings sit outside the passages' text)."""
        body = self.engine.store.article(c.passage.article_id)["body"]
        start, end = c.passage.start + c.sentence.start, c.passage.start + c.sentence.end
        sentences = [s for p in self.engine.store.passages_of(c.passage.article_id)
                     for s in split_sentences(body, p.start, p.end)]
        before = [s for s in sentences if s.end <= start]
        after = [s for s in sentences if s.start >= end]
        return (body[before[-1].start:before[-1].end] if before else "",
                body[after[0].start:after[0].end] if after else "")


def _term_weights(terms: frozenset[str], sentence_terms: list[frozenset[str]]) -> dict[str, float]:
    """Inverse frequency of each question term among the candidate sentences: a term that every
    candidate holds cannot tell them apart, one that few hold can."""
    n = len(sentence_terms)
    return {t: math.log((n + 1) / (0.5 + sum(t in found for found in sentence_terms))) for t in terms}


def _weighted(found: frozenset[str], weight: dict[str, float]) -> float:
    total = sum(weight.values())
    return sum(weight[t] for t in found) / total if total > 0 else 0.0


def is_answer(scored: list[tuple[Candidate, float]]) -> bool:
    return bool(scored) and scored[0][1] >= ANSWER_THRESHOLD


def _question_query(question: str, analysis: QuestionAnalysis) -> ParsedQuery:
    """Keywords without the interrogative; the dense side reads the whole question."""
    keyword = parse_query(analysis.keyword_text).keyword
    parsed = ParsedQuery(text=question, dense_text=" ".join(question.split()), keyword=keyword)
    if not parsed.terms:
        raise QueryError(f"the question «{question.strip()}» has no searchable words")
    return parsed


def distinct(scored: list[tuple[Candidate, float]], k: int,
              all_from_article: bool) -> list[tuple[Candidate, float]]:
    """Best first, one sentence per article unless asked for all; never the same sentence twice."""
    picked, articles, texts = [], set(), set()
    for c, score in scored:
        if c.text in texts or (not all_from_article and c.passage.article_id in articles):
            continue
        picked.append((c, score))
        articles.add(c.passage.article_id)
        texts.add(c.text)
        if len(picked) == k:
            break
    return picked


def answer_span(sentence: str, terms: frozenset[str], answer_type: AnswerType) -> tuple[int, int]:
    """What to highlight: for a question that asks for a number or a date, the stretch of that
    type nearest to the question's words («13 مليار» for «كم يبلغ حجم التبادل التجاري»);
    otherwise, or when the sentence has none, the stretch holding the question's words."""
    matched = best_span(sentence, terms)
    typed = typed_spans(sentence, answer_type)
    if not typed:
        return matched
    centre = (matched[0] + matched[1]) / 2 if matched[1] > matched[0] else 0.0
    return min(typed, key=lambda span: (abs((span[0] + span[1]) / 2 - centre), span[0]))


def best_span(sentence: str, terms: frozenset[str]) -> tuple[int, int]:
    """The shortest stretch of ``sentence`` holding the most distinct question terms;
    (0, 0) when it holds none."""
    tokens = [(t.start, t.end, t.term) for t in analyze_spans(sentence) if t.term in terms]
    best, best_key = (0, 0), (0, 0)
    for i in range(len(tokens)):
        seen = set()
        for j in range(i, len(tokens)):
            seen.add(tokens[j][2])
            key = (len(seen), -(tokens[j][1] - tokens[i][0]))
            if key > best_key:
                best, best_key = (tokens[i][0], tokens[j][1]), key
    return best
