"""Every passage's score from every retriever, per question: the raw material of fusion sweeps
that go beyond each retriever's top 100 (completed candidate scores, depth, a third run, query
expansion).

    tables = collect(engine, questions)   # then fuse from tables.keyword / .light / .root / .cosines

Per question: the keyword retriever's score of every matching passage; the same BM25F split by
field group (the light stems in text, title and heading; the ISRI roots in ``text_root``: the
keyword score is their sum unless the question quotes a phrase, which must then match); the
cosine of every passage's vector and the dense retriever's score of every passage (that cosine
averaged with its best sentence's, ``indexer.vectors.sentence_vectors``); and an RM3-style expansion run (the BM25F of the top
``FEEDBACK_TERMS`` terms of the keyword retriever's top ``FEEDBACK_PASSAGES`` passages, weights
summing to 1, in the text field: the expanded keyword score is ``keyword + lambda * expansion``,
linear, so any lambda is swept without searching again). All come from the engine's own scorers
(the compiled postings, the faiss vectors), so a run cut from a table at depth 100 is the
retriever's top 100 (``experiments/tests/test_score_tables.py``).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from indexer.text.analysis import analyze
from indexer.keyword.index import field_terms
from indexer.vectors.sentence_vectors import SentenceVectors
from search.engine import Engine
from search.query import ParsedQuery, parse_query

Scores = dict[int, float]
FEEDBACK_PASSAGES = 3
FEEDBACK_TERMS = 10


@dataclass(frozen=True)
class ScoreTables:
    keyword: dict[str, Scores]     # qid -> the keyword retriever's score, matching passages only
    light: dict[str, Scores]       # qid -> BM25F of the light stems (text, title, heading), phrases ignored
    root: dict[str, Scores]        # qid -> BM25F of the roots in text_root
    expansion: dict[str, Scores]   # qid -> BM25F of the feedback terms, weights summing to 1
    pids: np.ndarray               # int64: the passages with vectors, in ``cosines`` order
    cosines: dict[str, np.ndarray]  # qid -> float32 cosine of each passage vector of ``pids``
    dense: dict[str, np.ndarray]   # qid -> the dense retriever's score of each passage (sentences included)
    owner: dict[int, str]          # pid -> article id


def collect(engine: Engine, questions: dict[str, str]) -> ScoreTables:
    index = engine.keyword_index
    searcher = index.searcher()
    total = searcher.doc_count_all()
    pids = engine.vector_index.ids()
    matrix = engine.vector_index._vectors()
    sentences = SentenceVectors(list(map(engine.store.sentences.get(pids.tolist()).get, pids.tolist())))
    keyword, light, root, expansion, cosines, dense = {}, {}, {}, {}, {}, {}
    for qid, question in questions.items():
        parsed = parse_query(question)
        entries = field_terms(parsed.keyword, index.settings)
        fields = len(index.settings.stem_fields)
        keyword[qid] = dict(engine.keyword.search(parsed, total))
        light[qid] = dict(index.compiled.search(searcher, entries[:fields], total)[0])
        root[qid] = dict(index.compiled.search(searcher, entries[fields:], total)[0])
        expansion[qid] = _expansion(engine, parsed, keyword[qid], total)
        vector = engine.dense.encode(parsed.dense_text)
        cosines[qid] = matrix @ vector
        dense[qid] = sentences.scores(cosines[qid], vector)
    return ScoreTables(keyword, light, root, expansion, pids, cosines, dense, engine.store.article_of(pids.tolist()))


def feedback_terms(engine: Engine, parsed: ParsedQuery, keyword: Scores) -> list[tuple[str, float]]:
    """RM3's relevance model without the question's own terms: each term's frequency share in a
    top passage, weighted by that passage's share of the top passages' scores; weights sum to 1."""
    top = sorted(keyword.items(), key=lambda item: (-item[1], item[0]))[:FEEDBACK_PASSAGES]
    norm = sum(s for _, s in top)
    if not top or norm <= 0:
        return []
    texts = engine.store.passages(pid for pid, _ in top)
    model: Counter = Counter()
    for pid, s in top:
        terms = analyze(texts[pid].text)
        for term, n in Counter(terms).items():
            model[term] += (s / norm) * n / len(terms)
    chosen = [(t, w) for t, w in model.most_common() if t not in parsed.keyword.terms][:FEEDBACK_TERMS]
    mass = sum(w for _, w in chosen)
    return [(t, w / mass) for t, w in chosen]


def _expansion(engine: Engine, parsed: ParsedQuery, keyword: Scores, total: int) -> Scores:
    index = engine.keyword_index
    entries = [("text", w, (t,)) for t, w in feedback_terms(engine, parsed, keyword)]
    return dict(index.compiled.search(index.searcher(), entries, total)[0]) if entries else {}
