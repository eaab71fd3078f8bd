"""Search reads each keyword match's article from the compiled postings, not the store: the same
results as an index whose segments do not record articles (one written before they were), which
reads them from the store; and the next writer records them in such an index."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from indexer.keyword.postings import Joined, SegmentArticles, SegmentPostings
from indexer.pipeline import Indexer
from indexer.text.articles import Article
from search.engine import Engine
from search.query import parse_query
from tests.conftest import SEED_ID

# Articles of one passage and of several (the seed article: 7 passages hold «العراق»).
QUERIES = ["الكاظمي طهران", "النفط", "الاقتصاد OR الأسعار", "قال", "الوزير OR الرئيس", "العراق"]


def strip_articles(index) -> int:
    """Make ``index`` look written before segments recorded articles: files and their digests gone."""
    removed = 0
    for folder in (index / "keyword-postings").iterdir():
        for name in SegmentArticles.FILES:
            (folder / f"{name}.npy").unlink()
            removed += 1
    state = json.loads((index / "keyword.json").read_text())
    state["files"] = {f: d for f, d in state["files"].items() if not f.split("/")[-1].startswith("article_")}
    (index / "keyword.json").write_text(json.dumps(state))
    return removed


def everything(engine, query, mode, level):
    results = engine.search(query, mode=mode, level=level, k=1000)
    page = engine.search(query, mode=mode, level=level, k=2, offset=1)
    shown = lambda r: [(h.rank, h.passage_id, h.article_id, round(h.score, 6), h.label,
                        getattr(h, "matched_passages", None), h.more_like_it) for h in r.hits]
    return results.total, results.matches, results.related, results.collapsed, shown(results), shown(page)


@pytest.fixture(scope="module")
def old_index(built_index, tmp_path_factory):
    target = tmp_path_factory.mktemp("old") / "index"
    shutil.copytree(built_index, target)
    assert strip_articles(target) > 0
    return target


@pytest.mark.parametrize("level", ["articles", "passages"])
@pytest.mark.parametrize("mode", ["keyword", "hybrid", "dense"])
def test_articles_from_the_postings_rank_as_articles_from_the_store(built_index, old_index, encoder, mode, level):
    with Engine(built_index, encoder=encoder) as new, Engine(old_index, encoder=encoder) as old:
        assert new.keyword_index.matches(parse_query("النفط").keyword).keys is not None
        assert old.keyword_index.matches(parse_query("النفط").keyword).keys is None
        matches = []
        for query in QUERIES:
            expected = everything(old, query, mode, level)
            assert everything(new, query, mode, level) == expected
            matches.append(expected[1])
        assert sum(m > 1 for m in matches) >= 3


def test_sorted_and_faceted_results_agree_too(built_index, old_index, encoder):
    with Engine(built_index, encoder=encoder) as new, Engine(old_index, encoder=encoder) as old:
        for sort in ("newest", "oldest"):
            a = new.search("النفط", mode="hybrid", sort=sort, facets=True, k=50)
            b = old.search("النفط", mode="hybrid", sort=sort, facets=True, k=50)
            assert [h.passage_id for h in a.hits] == [h.passage_id for h in b.hits]
            assert a.facets == b.facets and a.undated == b.undated


def test_the_next_writer_records_the_articles_of_old_segments(old_index, tmp_path, encoder):
    index = tmp_path / "index"
    shutil.copytree(old_index, index)
    with Indexer(index, encoder=encoder) as ix:
        ix.add([Article(id="late", title="خبر متأخر", body="وصل الخبر المتأخر عن أسعار النفط مساء الأحد.")])
    folders = list((index / "keyword-postings").iterdir())
    assert folders and all(SegmentArticles.load(f) is not None for f in folders)
    with Engine(index, encoder=encoder) as engine:
        run = engine.keyword_index.matches(parse_query("النفط").keyword)
        assert run.keys is not None and "late" in run.article_ids(range(len(run.pids)))


def test_article_ids_read_by_number_are_those_of_the_segments(built_index):
    with Engine(built_index) as engine:
        view = engine.keyword_index._view()
        docs = np.arange(view.total_docs)[::-1]
        assert view.joined.names is not None
        by_number = view.article_ids(docs).tolist()
        view.joined.__dict__["names"] = None   # as where two ids share a key: each segment's names read
        assert by_number == view.article_ids(docs).tolist() and SEED_ID in by_number


def test_two_ids_sharing_a_key_are_read_from_their_segments():
    shared = SegmentArticles(np.array(["a", "b"]), np.array([0, 1], np.int32), np.array([7, 9], np.int64))
    other = SegmentArticles(np.array(["c"]), np.array([0], np.int32), np.array([7], np.int64))   # c's key is a's
    joined = Joined.of([(0, SegmentPostings(np.array([1, 2]), {}, shared)), (2, SegmentPostings(np.array([3]), {}, other))])
    assert joined.names is None and joined.numbers[1].tolist() == [0, 1, 0]
    alone = Joined.of([(0, SegmentPostings(np.array([1, 2]), {}, shared))])
    assert alone.names.tolist() == ["a", "b"]


def test_while_vectors_are_committed_matches_still_come_from_the_postings(built_index, tmp_path, encoder, monkeypatch):
    # `baheth embed` moves the store's generation past the keyword index's for hours at a million
    # passages, and gives passages vectors only: every match is still current.
    from indexer.store.sqlite import Store
    index = tmp_path / "index"
    shutil.copytree(built_index, index)
    with Engine(index, encoder=encoder) as engine:
        before = everything(engine, "العراق", "keyword", "articles")
    with Indexer(index, encoder=encoder) as ix:
        pids = [pid for pid, _ in ix.store.conn.execute("SELECT pid, 1 FROM passages LIMIT 3")]
        with ix.store.transaction():
            ix.store.set_embeddings(pids, np.ones((3, 384), dtype=np.float32) / np.sqrt(384))
    checked = []
    monkeypatch.setattr(Store, "visible", lambda self, pids, generation: checked.append(generation) or {})
    with Engine(index, encoder=encoder) as engine:
        assert engine._generations is None and engine.keyword_index.generation < engine.store.generation()
        assert everything(engine, "العراق", "keyword", "articles") == before and not checked
    with Indexer(index, encoder=encoder) as ix:   # a replaced article, its passages logged and gone
        with ix.store.transaction():
            ix.store.replace_article(Article(id=before[4][0][2], title="بدل", body="نص آخر تماما"), "digest", [])
    with Engine(index, encoder=encoder) as engine:
        engine.search("العراق", mode="keyword")
        assert checked   # the keyword index still holds the old version: checked one by one
