"""The fast indexing path (ArabicText fields, memoized analysis) writes the same segments as Whoosh's
own path over the plain analyzer chain, so searches return the same passages with the same scores."""
from __future__ import annotations

from whoosh import scoring
from whoosh.analysis import CompositeAnalyzer
from whoosh.fields import TEXT

import indexer.keyword.index as keyword_index
from indexer.keyword.index import build_query, field_terms
from indexer.keyword.query import KeywordQuery
from indexer.keyword.postings import CompiledPostings
from search.query import content_words
from tests.test_keyword_writer import FIELDS, SETTINGS, rows, write_in_commits  # noqa: F401 (fixture)


def whoosh_path(monkeypatch):
    """make_schema as before the fast path: Whoosh's TEXT over the plain chain."""
    fast_analyzer = keyword_index.arabic_analyzer
    monkeypatch.setattr(keyword_index, "ArabicText", TEXT)
    monkeypatch.setattr(keyword_index, "arabic_analyzer",
                        lambda *a, **k: CompositeAnalyzer(*fast_analyzer(*a, **k).items))


def search_all(ix, compiled, queries):
    with ix.searcher(weighting=scoring.BM25F(B=SETTINGS.bm25_b, K1=SETTINGS.bm25_k1)) as searcher:
        postings = CompiledPostings(compiled, FIELDS)
        postings.sync(ix)
        return [([(hit["pid"], hit.score) for hit in searcher.search(build_query(q, SETTINGS), limit=10)],
                 postings.search(searcher, field_terms(q, SETTINGS), 10)) for q in queries]


def test_fast_path_writes_the_same_segments_and_finds_the_same(rows, tmp_path, monkeypatch):
    (tmp_path / "fast").mkdir()
    (tmp_path / "whoosh").mkdir()
    fast, fast_ix = write_in_commits(tmp_path / "fast", rows, tmp_path / "fast-compiled")
    with monkeypatch.context() as patch:
        whoosh_path(patch)
        plain, plain_ix = write_in_commits(tmp_path / "whoosh", rows, tmp_path / "whoosh-compiled")
    assert type(plain_ix.schema["text_root"]) is TEXT
    assert type(fast_ix.schema["text_root"]) is keyword_index.ArabicText
    assert fast == plain
    texts = [passage.text for passage, _ in rows[:12]]
    queries = [KeywordQuery(groups=tuple((w,) for w in content_words(t)[:6]), short=False) for t in texts]
    found = search_all(fast_ix, tmp_path / "fast-compiled", queries)
    assert all(whoosh_hits for whoosh_hits, _ in found)
    assert found == search_all(plain_ix, tmp_path / "whoosh-compiled", queries)
