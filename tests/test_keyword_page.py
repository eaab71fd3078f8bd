"""Keyword mode by relevance without ordering every match (``search.keyword_page``): the page,
totals, folded articles and their counts are those of the whole ranking ordered, grouped and
folded (``Engine.search``'s general path), and each piece equals the computation it replaces."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import search.engine
from indexer.keyword.postings import Joined, article_keys
from indexer.keyword.selection import best_first
from indexer.store.filters import Filters
from indexer.text.articles import Article
from search.collapse import PairKeys, collapse
from search.collapse_scored import collapse_scored
from search.engine import Engine
from search.keyword_page import RunArticles
from tests.folding_rule import folded_by_collapse, folded_one_by_one

LETTERS = "abcdefghijkl"
SCORES = st.sampled_from([0.5, 1.0, 1.5, 2.0])   # few values: many ties, as reprints score alike


@settings(deadline=None)
@given(st.lists(SCORES, max_size=60), st.integers(0, 70), st.data())
def test_best_first_is_the_head_of_a_stable_sort(scores, count, data):
    scores = np.array(scores, dtype=np.float64)
    among = np.array(sorted(data.draw(st.sets(st.integers(0, max(len(scores) - 1, 0)))) if len(scores) else []),
                     dtype=np.int64)
    assert best_first(scores, count).tolist() == np.argsort(-scores, kind="stable")[:count].tolist()
    expected = among[np.argsort(-scores[among], kind="stable")][:count] if len(among) else among
    assert best_first(scores, count, among=among).tolist() == expected.tolist()


def story_by_definition(rows: list[tuple[str, str]], node: str) -> str | None:
    """The smallest key of ``node``'s clique on its own, as ``PairKeys.stories`` defines it, or None."""
    lists: dict[str, list[str]] = {}
    for a, b in rows:
        if a != b:
            lists.setdefault(a, []).append(b)
    lists = {a: [b for b in others if b in lists] for a, others in lists.items()}   # as ``PairKeys.of``
    closed = {node, *lists[node]}
    alone = (all(len(lists[u]) == len(set(lists[u])) and {u, *lists[u]} == closed for u in closed)
             and not any(b in closed for a, others in lists.items() if a not in closed for b in others))
    return min(closed, key=lambda a: int(article_keys([a])[0])) if alone else None


@settings(deadline=None)
@given(st.lists(st.tuples(st.sampled_from(LETTERS), st.sampled_from(LETTERS)), max_size=50),
       st.lists(st.sets(st.sampled_from(LETTERS), min_size=2, max_size=5), max_size=3))
def test_stories_are_the_cliques_on_their_own(rows, cliques):
    # Some stories stored whole, both ways; other rows (one way, repeated) may touch them.
    rows = [*rows, *((a, b) for clique in cliques for a in clique for b in clique if a != b)]
    pairs = PairKeys.of(rows)
    keys = pairs.table.keys
    named = {int(article_keys([a])[0]): a for row in rows for a in row}
    for node, story in enumerate(pairs.stories.tolist()):
        expected = story_by_definition(rows, named[int(keys[node])])
        assert (None if story < 0 else named[int(keys[story])]) == expected


def folding_in_order(ranked: list[str], pairs: PairKeys) -> tuple[set[str], dict[str, list[str]]]:
    folding = collapse(article_keys(ranked), pairs)
    kept = folding.kept.tolist()
    return ({ranked[i] for i in range(len(ranked)) if i not in set(kept)},
            {ranked[at]: [ranked[i] for i in folding.under(at).tolist()] for at in kept})


@settings(deadline=None)
@given(st.lists(st.sampled_from(LETTERS), unique=True, max_size=12),
       st.lists(st.tuples(st.sampled_from(LETTERS), st.sampled_from(LETTERS)), max_size=40),
       st.lists(st.sets(st.sampled_from(LETTERS), min_size=2, max_size=6), max_size=3), st.data())
def test_folding_by_scores_decides_as_folding_in_rank_order(articles, rows, cliques, data):
    rows = [*rows, *((a, b) for clique in cliques for a in clique for b in clique if a != b)]
    pairs = PairKeys.of(rows)
    scores = np.array(data.draw(st.lists(SCORES, min_size=len(articles), max_size=len(articles))), dtype=np.float64)
    ties = np.array(data.draw(st.permutations(range(len(articles)))), dtype=np.int64)
    ranked = [articles[i] for i in np.lexsort((ties, -scores)).tolist()]
    folded, under = folding_in_order(ranked, pairs)
    got = collapse_scored(article_keys(articles), pairs, scores, ties)
    assert {a for a, f in zip(articles, got.folded.tolist()) if f} == folded
    kept = np.flatnonzero(~got.folded)
    assert {articles[k]: [articles[i] for i in u.tolist()] for k, u in zip(kept.tolist(), got.under(kept))} == under


def a_run(numbers: list[int], scores: list[float], together: bool = False):
    """What ``RunArticles.of`` reads of a ``MatchRun``: every document a match, numbered by article;
    ``together``: the index says each article's documents are next to each other."""
    numbers = np.array(numbers, dtype=np.int64)
    joined = SimpleNamespace(numbers=(np.arange(numbers.max() + 1 if len(numbers) else 0), numbers),
                             articles_together=together)
    return SimpleNamespace(view=SimpleNamespace(joined=joined), matches=np.arange(len(numbers)),
                           match_scores=np.array(scores, dtype=np.float64))


@settings(deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), SCORES), max_size=30), st.booleans())
def test_each_article_ranks_by_its_first_best_match(matches, together):
    numbers = [n for n, _ in sorted(matches, key=lambda m: m[0])]   # an article's matches together
    scores = [s for _, s in sorted(matches, key=lambda m: m[0])]
    got = RunArticles.of(a_run(numbers, scores, together))
    order = np.argsort(-np.array(scores), kind="stable")   # the run ordered, ties by document
    first = {}
    for at in order.tolist():
        first.setdefault(numbers[at], at)
    assert got.best.tolist() == [first[n] for n in dict.fromkeys(numbers)]
    assert got.scores.tolist() == [scores[first[n]] for n in dict.fromkeys(numbers)]
    assert got.counts.tolist() == [numbers.count(n) for n in dict.fromkeys(numbers)]
    assert got.numbers.tolist() == list(dict.fromkeys(numbers))


@settings(deadline=None)
@given(st.lists(st.integers(-3, 3), max_size=30))
def test_the_index_says_its_articles_are_together_where_each_ones_documents_are(keys):
    joined = Joined(np.zeros(1, dtype=np.int64), np.arange(len(keys), dtype=np.int64), np.array(keys, dtype=np.int64))
    runs = [k for i, k in enumerate(keys) if i == 0 or keys[i - 1] != k]
    assert joined.articles_together == (len(runs) == len(set(runs)))


def test_an_article_whose_matches_are_apart_is_left_to_the_whole_ranking():
    assert RunArticles.of(a_run([0, 1, 0], [1.0, 2.0, 3.0])) is None


@pytest.fixture(scope="module")
def reprints(tmp_path_factory, encoder):
    """The wire fixture (a story told three times, one told once, other news) printed four times
    under other ids, sources and dates, and articles of several passages made of its bodies."""
    import json
    from indexer.pipeline import Indexer
    from tests.conftest import FIXTURES
    wire = [json.loads(line) for line in (FIXTURES / "wire.jsonl").read_text(encoding="utf-8").splitlines() if line]
    articles = [Article(id=f"{a['id']}-{copy}", body=a["body"], date=f"2020-0{1 + copy}-01", source="st"[copy % 2])
                for copy in range(4) for a in wire]
    articles += [Article(id=f"long-{i}", body="\n\n".join(a["body"] for a in wire[i:] + wire[:i]), source="s")
                 for i in range(3)]
    path = tmp_path_factory.mktemp("reprints") / "index"
    with Indexer(path, encoder=encoder) as ix:
        assert ix.add(articles).added == len(articles)
    with Engine(path, encoder=encoder) as engine:
        yield engine


@pytest.mark.parametrize("query", ["واتساب التشفير", "النفط الأسواق", "ما هي ميزة حذف الرسائل في واتساب؟", "زيلينسكي"])
def test_the_keyword_page_is_the_page_of_the_whole_ranking(reprints, monkeypatch, query):
    searches = [dict(level=level, k=k, offset=offset, collapse=collapse, filters=filters)
                for level in ("articles", "passages") for k, offset in ((10, 0), (3, 2), (5, 30), (100, 0))
                for collapse in (True, False) for filters in (Filters(), Filters(source="s", since="2020-02"))]
    used = []
    real = search.engine.keyword_page

    def spy(*args, **kwargs):
        page = real(*args, **kwargs)
        used.append(page is not None)
        return page
    monkeypatch.setattr(search.engine, "keyword_page", spy)
    paged = [reprints.search(query, mode="keyword", **s).to_dict() for s in searches]
    monkeypatch.setattr(search.engine, "keyword_page", lambda *args, **kwargs: None)
    assert [reprints.search(query, mode="keyword", **s).to_dict() for s in searches] == paged
    assert used and all(used)
    assert any(r["matches"] for r in paged) == (query != "زيلينسكي")
    if query == "واتساب التشفير":   # the story of three told four times, and the long articles
        assert any(r["collapsed"] for r in paged) and any(h["more_like_it"] for r in paged for h in r["hits"])
        assert any(h.get("matched_passages", 1) > 1 for r in paged for h in r["hits"])


@settings(deadline=None)
@given(st.lists(st.sampled_from(LETTERS), max_size=40),
       st.sets(st.tuples(st.sampled_from(LETTERS), st.sampled_from(LETTERS)), max_size=12),
       st.lists(st.sets(st.sampled_from(LETTERS), min_size=2, max_size=6), max_size=3))
def test_folding_in_rank_order_folds_stories_as_the_rule_reads(ranked, edges, cliques):
    # ``collapse`` settles clique stories by their first-placed article; the rule read one item
    # after another (repeated ids: one article's several passages) knows nothing of stories.
    duplicates: dict[str, dict[str, float]] = {}
    for a, b in [*edges, *((a, b) for clique in cliques for a in clique for b in clique)]:
        if a != b:
            duplicates.setdefault(a, {})[b] = duplicates.setdefault(b, {})[a] = 1.0
    assert folded_by_collapse(ranked, duplicates) == folded_one_by_one(ranked, duplicates)
