"""Sort by date, facets over every match, near-duplicates collapsed into one result, and stats'
sources, sections and dates, on the wire fixture: one WhatsApp story printed three times
(wa-cnn 2016-04-05, wa-bbc 2016-04-06, wa-sky 2016-04-07), another WhatsApp story (wa-delete,
2017-10-27) and an undated interview (privacy-talk) that names WhatsApp."""
from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

from cli import main
from indexer.pipeline import Indexer
from indexer.store.filters import Filters
from search.engine import Engine
from tests.conftest import FIXTURES

QUERY = "واتساب"


@pytest.fixture(scope="module")
def wire(tmp_path_factory, encoder):
    path = tmp_path_factory.mktemp("wire-sort") / "ix"
    with Indexer(path, encoder=encoder) as ix:
        ix.add_paths([str(FIXTURES / "wire.jsonl")])
    with Engine(path, encoder=encoder) as engine:
        yield engine


def ids(results):
    return [h.article_id for h in results.hits]


@pytest.mark.parametrize("level", ["articles", "passages"])
@pytest.mark.parametrize("mode", ["keyword", "hybrid"])
def test_sort_by_date_with_undated_last(wire, mode, level):
    newest = wire.search(QUERY, mode=mode, level=level, sort="newest", collapse=False, k=20)
    oldest = wire.search(QUERY, mode=mode, level=level, sort="oldest", collapse=False, k=20)
    matching = [i for i in ids(newest) if i in {"wa-delete", "wa-sky", "wa-bbc", "wa-cnn", "privacy-talk"}]
    assert matching == ["wa-delete", "wa-sky", "wa-bbc", "wa-cnn", "privacy-talk"]
    dated = [h.date for h in oldest.hits if h.date]
    assert dated == sorted(dated) and not oldest.hits[-1].date
    assert newest.undated == oldest.undated == sum(not h.date for h in newest.hits) >= 1


@pytest.mark.parametrize("sort", ["relevance", "newest", "oldest"])
def test_paging_a_sorted_collapsed_ranking_is_stable(wire, sort):
    whole = wire.search(QUERY, mode="hybrid", sort=sort, k=50)
    pages = [h for offset in range(len(whole.hits)) for h in wire.search(QUERY, mode="hybrid", sort=sort, k=1,
                                                                          offset=offset).hits]
    assert [(h.article_id, h.more_like_it) for h in pages] == [(h.article_id, h.more_like_it) for h in whole.hits]
    assert [h.rank for h in pages] == list(range(1, len(whole.hits) + 1))


def test_the_story_printed_three_times_is_one_result(wire):
    shown = wire.search(QUERY, mode="keyword", sort="oldest")
    assert ids(shown) == ["wa-cnn", "wa-delete", "privacy-talk"]
    assert shown.hits[0].more_like_it == ("wa-bbc", "wa-sky") and shown.collapsed == 2
    assert all(h.more_like_it == () for h in shown.hits[1:])
    newest = wire.search(QUERY, mode="keyword", sort="newest")
    assert ids(newest) == ["wa-delete", "wa-sky", "privacy-talk"] and newest.hits[1].more_like_it == ("wa-bbc", "wa-cnn")
    everything = wire.search(QUERY, mode="keyword", sort="oldest", collapse=False)
    assert ids(everything) == ["wa-cnn", "wa-bbc", "wa-sky", "wa-delete", "privacy-talk"]
    assert everything.collapsed == 0 and everything.matches == shown.matches == 5   # every print counted
    assert (shown.ranked, everything.ranked) == (3, 5)


def test_facets_count_every_match_not_the_page(wire):
    results = wire.search(QUERY, mode="hybrid", k=1, facets=True)
    assert len(results.hits) == 1
    assert results.facets["source"] == [{"value": "BBC", "count": 2}, {"value": "CNN", "count": 2},
                                        {"value": "Sky News", "count": 1}]
    assert results.facets["section"] == [{"value": "tech", "count": 4}, {"value": "technology", "count": 1}]
    assert results.facets["month"] == [{"value": "2016-04", "count": 3}, {"value": "2017-10", "count": 1},
                                       {"value": "undated", "count": 1}]
    filtered = wire.search(QUERY, mode="keyword", facets=True, filters=Filters(source="cnn"))
    assert filtered.facets["source"] == [{"value": "CNN", "count": 2}]
    assert wire.search(QUERY, mode="keyword").facets is None


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_command_line_sort_facets_and_collapse(wire):
    index = wire.layout.root
    data = json.loads(run("search", QUERY, "--index", index, "--mode", "keyword", "--sort", "newest",
                          "--facets", "--json").stdout)
    assert [h["article_id"] for h in data["hits"]] == ["wa-delete", "wa-sky", "privacy-talk"]
    assert data["hits"][1]["more_like_it"] == ["wa-bbc", "wa-cnn"] and data["undated"] == 1
    assert data["facets"]["month"][0] == {"value": "2016-04", "count": 3}
    text = run("search", QUERY, "--index", index, "--mode", "keyword", "--sort", "newest", "--facets").output
    assert "2 more like it: wa-bbc, wa-cnn" in text and "1 undated result(s) sorted last" in text
    assert "sources: BBC 2, CNN 2, Sky News 1" in text
    rows = list(csv.DictReader(io.StringIO(run("search", QUERY, "--index", index, "--mode", "keyword",
                                               "--no-collapse", "--format", "csv").stdout)))
    assert len(rows) == 5
    bad = run("search", QUERY, "--index", index, "--sort", "latest")
    assert bad.exit_code == 2

