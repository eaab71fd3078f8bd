"""Question-driven lookup: question -> passages -> sentences -> ranked answers.

>>> from search import Engine
>>> with Engine("index") as engine:
...     results = engine.ask("كم يبلغ حجم التبادل التجاري بين العراق وإيران؟", k=1)
...     print([a.sentence for a in results.answers] if results.answered else results.related)

Why two stages: the hybrid passage search already finds the right passage most of the time,
but the sentence inside it that answers the question is often not the one that repeats the
question's words.  So every sentence of the top ``CANDIDATE_PASSAGES`` passages gets features
(``search.answers.features``: its similarity to the question, from the sentence vectors the index
stores, ``indexer/vectors/sentence_vectors.py``, a sentence without one, in an index from before
them, encoded through the embedding cache until ``baheth embed``; its share of the question's
terms weighted by how rare each is among the candidates, alone and with its neighbours, and those it
holds only in another form of their root; the answer-type match, and for «كم» a number in the unit
asked for; its article's rank; its passage's similarity), and a linear score ranks them.
Whether the best sentence answers at all is a separate model (``search.answers.confidence``).
Both are fitted on data, their constants in ``search/answers/model.json`` (``bench/answer_fit.py``;
see docs/answers.md).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from indexer.text.analysis import analyze_spans
from indexer.text.sentences import split_sentences
from indexer.vectors.cache import EmbeddingCache
from indexer.store.sqlite import Filters
from search.answers.features import Candidate, candidates, held_terms, question_pairs, question_roots
from search.answers.confidence import bm25_idf, confidence_rows, evidence, keyword_first
from search.answers.model import AnswerModel, shipped
from search.fusion import CANDIDATES
from search.query import ParsedQuery, QueryError, check_count, parse_query, query_text
from search.answers.types import quantity_cue, typed_spans
from search.answers.question import AnswerType, QuestionAnalysis, analyze_question
from search.results import Answer, AnswerResults

if TYPE_CHECKING:  # the engine calls this module (Engine.ask); a runtime import would be a cycle
    from search.engine import Engine

CANDIDATE_PASSAGES = 5    # passages whose sentences compete
RELATED_PASSAGES = 3      # shown instead of answers when nothing answers


@dataclass(frozen=True)
class Lookup:
    """Everything the ranking saw for one question: for ``ask`` and for the benchmark."""

    analysis: QuestionAnalysis
    parsed: ParsedQuery
    ranked: list[tuple[int, float]]      # fused passages, best first
    candidates: list[Candidate]
    keyword_ranks: dict[int, int]        # passage id -> its rank in the keyword run (absent: not in it)

    def keyword_rank(self, candidate: Candidate) -> int:
        return self.keyword_ranks.get(candidate.passage.pid, -1)


class AnswerFinder:
    def __init__(self, engine: Engine, cache_dir: Path | None = None, model: AnswerModel | None = None):
        self.engine = engine
        self.cache = EmbeddingCache(cache_dir)
        self._model = model

    @property
    def model(self) -> AnswerModel:
        """The model given, else the shipped one, read when first needed: ``lookup`` and ``embed``
        need none, so ``bench.answer_features`` can extract features that the shipped model was not
        fitted on yet."""
        return self._model or shipped()

    def close(self) -> None:
        self.cache.close()

    def ask(self, question: str, *, k: int = 3, filters: Filters = Filters(),
            all_from_article: bool = False) -> AnswerResults:
        k, question = check_count("k", k, 1), query_text(question)
        with self.engine.reading():
            lookup, scored = self.rank(question, filters)
            return self.answer(lookup, scored, k, all_from_article)

    def rank(self, question: str, filters: Filters = Filters()) -> tuple[Lookup, list[tuple[Candidate, float]]]:
        lookup = self.lookup(question, filters)
        return lookup, self.score(lookup, self.model.weights)

    def answer(self, lookup: Lookup, scored: list[tuple[Candidate, float]], k: int,
               all_from_article: bool) -> AnswerResults:
        """The best sentences when the confidence model trusts the first; else the closest passages."""
        if not self.answerable(lookup, scored):
            related = self.engine.passage_hits(lookup.ranked, lookup.parsed, RELATED_PASSAGES, 0)
            return AnswerResults(question=lookup.parsed.text, answered=False, answers=(), related=tuple(related))
        picked = distinct(scored, k, all_from_article)
        return AnswerResults(question=lookup.parsed.text, answered=True,
                             answers=tuple(self._answers(picked, lookup.parsed, lookup.analysis.answer_type)))

    def answerable(self, lookup: Lookup, scored: list[tuple[Candidate, float]]) -> bool:
        return bool(scored) and self.model.confidence(self.confidence_features(lookup, scored)) >= self.model.threshold

    def confidence_features(self, lookup: Lookup, scored: list[tuple[Candidate, float]]) -> np.ndarray:
        """``search.answers.confidence``'s features of the best sentence of ``scored`` (non-empty)."""
        best = scored[0][0]
        first = keyword_first(best.passage.article_id,
                              [(c.passage.article_id, lookup.keyword_rank(c)) for c in lookup.candidates])
        return confidence_rows(best.features, self.evidence(lookup, best), first)

    def evidence(self, lookup: Lookup, candidate: Candidate) -> np.ndarray:
        """``search.answers.confidence.evidence`` for one candidate, with index-wide term rarity."""
        terms = lookup.parsed.terms
        return evidence(candidate, lookup.candidates, terms, self.term_idf(), self.article_terms(candidate, terms),
                        question_pairs(lookup.analysis.keyword_text, terms))

    def term_idf(self) -> Callable[[str], float | None]:
        """A term's BM25 IDF over the whole index's passage text (None for a term none holds)."""
        searcher = self.engine.keyword_index.searcher()
        doc_count = searcher.doc_count_all()
        return lambda term: bm25_idf(searcher.doc_frequency("text", term), doc_count)

    def article_terms(self, candidate: Candidate, terms: frozenset[str]) -> frozenset[str]:
        """The ``terms`` the candidate's article holds in its title, headings or text."""
        passage = candidate.passage
        title = self.engine.store.articles_meta([passage])[passage.article_id]["title"]
        texts = [title, *(f"{p.heading} {p.text}" for p in self.engine.store.passages_of(passage.article_id,
                                                                                          passage.retired))]
        return frozenset().union(*(held_terms(text, terms) for text in texts))

    def lookup(self, question: str, filters: Filters = Filters(),
               passages: int = CANDIDATE_PASSAGES) -> Lookup:
        """Retrieve passages and give every sentence of the top ones its cheap features."""
        analysis = analyze_question(question)
        parsed = _question_query(question, analysis)
        ranked, keyword, _, _ = self.engine.passage_candidates(parsed, "hybrid", CANDIDATES, filters)
        top = [pid for pid, _ in ranked[:passages]]
        stored = self.engine.store.passages(top)
        question_vector = self.engine.dense.encode(parsed.dense_text)
        vectors = {int(pid): v for ids, vecs in self.engine.store.embeddings(top) for pid, v in zip(ids, vecs)}
        # A passage not embedded yet (``baheth embed`` pending) counts as unrelated.
        passage_dense = [float(vectors[pid] @ question_vector) if pid in vectors else 0.0 for pid in top]
        found = candidates([stored[pid] for pid in top], passage_dense, parsed.terms, analysis.answer_type,
                           quantity_cue(analysis), question_roots(analysis.keyword_text, parsed.terms))
        return Lookup(analysis, parsed, ranked, found, {pid: rank for rank, (pid, _) in enumerate(keyword)})

    def embed(self, lookup: Lookup, candidates: Sequence[Candidate]) -> None:
        """Fill in the dense feature: cosine of the question and each sentence, from the sentence
        vectors the index stores; sentences without one (an index from before them, or split
        otherwise since) are encoded through the embedding cache."""
        if not candidates:
            return
        question = self.engine.dense.encode(lookup.parsed.dense_text)
        stored = self.engine.store.sentences.get({c.passage.pid for c in candidates})
        sentences_in = Counter(c.passage.pid for c in lookup.candidates)
        missing = []
        for c in candidates:
            matrix = stored.get(c.passage.pid)
            if matrix is not None and len(matrix) == sentences_in[c.passage.pid]:
                c.features[0] = float(matrix[c.position] @ question)
            else:
                missing.append(c)
        if missing:
            encoder = self.engine.encoder()
            vectors, _ = self.cache.encode_passages(encoder.spec, [c.text for c in missing], encoder.encode_passages)
            for c, similarity in zip(missing, vectors @ question):
                c.features[0] = float(similarity)

    def score(self, lookup: Lookup, weights: np.ndarray) -> list[tuple[Candidate, float]]:
        """Every candidate scored with the weights, dense similarity included, best first."""
        self.embed(lookup, [c for c in lookup.candidates if np.isnan(c.features[0])])
        scored = [(c, float(c.features @ weights)) for c in lookup.candidates]
        return sorted(scored, key=lambda cs: -cs[1])

    def _answers(self, picked: list[tuple[Candidate, float]], parsed: ParsedQuery,
                 answer_type: AnswerType) -> list[Answer]:
        meta = self.engine.store.articles_meta(c.passage for c, _ in picked)
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
        body = self.engine.store.article(c.passage.article_id, c.passage.retired)["body"]
        start, end = c.passage.start + c.sentence.start, c.passage.start + c.sentence.end
        sentences = [s for p in self.engine.store.passages_of(c.passage.article_id, c.passage.retired)
                     for s in split_sentences(body, p.start, p.end)]
        before = [s for s in sentences if s.end <= start]
        after = [s for s in sentences if s.start >= end]
        return (body[before[-1].start:before[-1].end] if before else "",
                body[after[0].start:after[0].end] if after else "")


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
