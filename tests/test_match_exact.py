"""Keyword matching at speed gives what its definition gives, bit for bit: every matching passage,
in the same order, with the same score, and the same count. The reference below reads the compiled
postings term by term and adds each (field, group)'s BM25F score to a dense array in the query's
order of fields and groups (the order the scores are summed in), then sorts by (score, document).

The index: reprinted stories (equal passages, equal scores: ties), several segments, some grouped
(``merge_segments=2``), and replaced articles (deleted documents)."""
from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from whoosh.scoring import bm25

from indexer.keyword.index import _match, _once
from indexer.keyword.query import KeywordQuery
from indexer.keyword.postings import _TermStats
from indexer.keyword.settings import KeywordSettings
from indexer.pipeline import Indexer
from indexer.text.articles import Article
from search.engine import Engine

WORDS = ("النفط الحكومة الوزير البرلمان الشركة السوق الأسعار الإنتاج الصادرات الميناء الناقلة الحقل الخام "
         "الطلب المخزون المصفاة الاستثمار الموازنة العجز الضرائب بالنفط والحكومة للوزير وزير أسعار سوق "
         "الطاقة الغاز").split()
ABSENT = "الفلك"


def body(rng: random.Random) -> str:
    # Skewed: the first words are in most passages, as a question's common words are.
    return " ".join(WORDS[min(int(rng.expovariate(0.12)), len(WORDS) - 1)] for _ in range(rng.randint(50, 160))) + "."


def batches() -> list[list[Article]]:
    rng = random.Random(7)
    stories = [(body(rng), " ".join(rng.sample(WORDS, 3))) for _ in range(14)]
    out = []
    for b in range(4):
        # Each story again under a new id (a reprint: the same passages), and two articles replaced.
        out.append([Article(id=f"s{s}-{b}", title=title, body=text, date="2021-03-0%d" % (1 + b), source="A")
                    for s, (text, title) in enumerate(stories) if (s + b) % 3])
        out[-1] += [Article(id=f"s{b}-0", title="تحديث", body=body(rng), date="2021-04-01", source="B")
                    for _ in range(1) if b]
    return out


@pytest.fixture(scope="module")
def keyword(tmp_path_factory):
    path = tmp_path_factory.mktemp("exact") / "index"
    with Indexer(path, vectors=False, keyword=KeywordSettings(merge_segments=2)) as ix:
        for batch in batches():
            ix.add(batch)
    with Engine(path) as engine:
        view = engine.keyword_index._view()
        assert len(view.leaves) > 1 and not view.live.all()
        yield engine.keyword_index


def postings(view, field: str, group) -> tuple[dict[int, float], dict[int, float]]:
    """Each document holding any of ``group``'s terms in ``field``: its summed term weights and its
    field length, read term by term."""
    weights, lengths = {}, {}
    for base, segment in view.units:
        fp = segment.fields[field]
        for hit in fp.postings(np.array(list(dict.fromkeys(group)), dtype=str)):
            if hit is not None:
                for doc, weight in zip(hit[0].tolist(), hit[1].tolist()):
                    weights[base + doc] = weights.get(base + doc, 0.0) + weight
                    lengths[base + doc] = float(fp.lengths[doc])
    return weights, lengths


def reference(view, entries, required: int, held_in: int, excluded: tuple[str, ...],
              form_fields) -> tuple[list[int], list[float]]:
    """(pids best first, their scores) of the live documents holding at least ``required`` of the
    groups in the first ``held_in`` entries' fields and none of the ``excluded`` forms in ``form_fields``."""
    weighting, total = view.searcher.weighting, view.total_docs
    scores, holding = np.zeros(total), {}
    for n, (field, boost, groups) in enumerate(entries):
        for g, group in enumerate(groups):
            weights, lengths = postings(view, field, group)
            if n < held_in:
                for doc in weights:
                    holding.setdefault(doc, set()).add(g)
            if weights:
                docs = np.array(sorted(weights))
                idf = weighting.idf(_TermStats(total, len(docs)), field, group[0])
                scores[docs] += boost * bm25(idf, np.array([weights[d] for d in docs.tolist()]),
                                             np.array([lengths[d] for d in docs.tolist()]),
                                             view.searcher.avg_field_length(field) or 1,
                                             weighting._field_B.get(field, weighting.B), weighting.K1)
    out = {doc for doc, groups in holding.items() if len(groups) >= required and view.live[doc]}
    for field in form_fields if excluded else ():
        out -= set(postings(view, field, excluded)[0])
    ranked = sorted(out, key=lambda doc: (-scores[doc], doc))
    return view.joined.pids[ranked].tolist(), scores[ranked].tolist()


QUERY_WORDS = st.sampled_from([*WORDS, ABSENT])


@settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(QUERY_WORDS, min_size=1, max_size=2), min_size=1, max_size=6),
       st.integers(1, 3), st.lists(QUERY_WORDS, max_size=1))
def test_a_question_matches_and_ranks_as_its_definition(keyword, groups, required, excluded):
    query = keyword.read_clitics(KeywordQuery(groups=tuple(map(tuple, groups)), short=False,
                                              excluded=tuple(excluded)))
    config = replace(keyword.settings, min_should_match=required)
    view = keyword._view()
    stems, roots = _once(config.stems(g) for g in query.searched), _once(config.roots(g) for g in query.searched)
    entries = [*((f, b, stems) for f, b in config.stem_fields), *((f, b, roots) for f, b in config.root_fields)]
    run = view.run(*_match(view, query, config))
    pids, scores = reference(view, entries, required, len(config.stem_fields), query.forms(excluded),
                             [f for f, _ in config.form_fields])
    assert (run.pids.tolist(), run.scores.tolist(), run.total) == (pids, scores, len(pids))


@settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(QUERY_WORDS, min_size=1, max_size=2), st.lists(QUERY_WORDS, max_size=1), st.integers(1, 30))
def test_a_word_matches_and_ranks_as_its_definition(keyword, words, excluded, limit):
    query = keyword.read_clitics(KeywordQuery(groups=(tuple(words),), short=True, excluded=tuple(excluded)))
    view = keyword._view()
    fields = keyword.settings.form_fields
    entries = [(f, b, [query.forms(g) for g in query.searched]) for f, b in fields]
    pids, scores = reference(view, entries, 1, len(entries), query.forms(excluded), [f for f, _ in fields])
    run = keyword.matches(query, limit=limit)
    assert (run.pids.tolist(), run.scores.tolist(), run.total) == (pids[:limit], scores[:limit], len(pids))
