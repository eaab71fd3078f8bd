"""The keyword index's settings (BM25, boosts, stemmers) are passed in when an index is created,
recorded in its manifest, and read back from there by every later reader and writer."""
from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from indexer.keyword.settings import KeywordSettings
from indexer.pipeline import Indexer
from indexer.store.layout import IndexLayout
from indexer.store.manifest import Manifest, ManifestError
from search.engine import Engine
from tests.conftest import FIXTURES, SEED

CUSTOM = KeywordSettings(bm25_b=0.9, bm25_k1=1.6, title_boost=5.0, root_boost=0.0)
STRICT = KeywordSettings(min_should_match=2)
QUERY = "كم يبلغ حجم التبادل التجاري بين العراق وإيران؟"   # a question: stems, BM25F


def keyword_scores(path) -> list[tuple[int, float]]:
    with Engine(path) as engine:
        return [(h.passage_id, h.score) for h in engine.search(QUERY, mode="keyword", level="passages").hits]


@pytest.fixture(scope="module")
def two_indexes(tmp_path_factory, encoder):
    paths = {}
    for name, settings in (("default", None), ("custom", CUSTOM), ("strict", STRICT)):
        paths[name] = tmp_path_factory.mktemp(name) / "index"
        with Indexer(paths[name], encoder=encoder, vectors=False, keyword=settings) as ix:
            ix.add_paths([str(SEED), str(FIXTURES / "articles.jsonl")])
    return paths


def test_the_manifest_records_the_settings_the_index_was_created_with(two_indexes):
    recorded = {name: json.loads(IndexLayout(path).manifest.read_text())["keyword"] for name, path in two_indexes.items()}
    assert recorded == {"default": asdict(KeywordSettings()), "custom": asdict(CUSTOM), "strict": asdict(STRICT)}


def test_search_reads_them_back(two_indexes):
    with Engine(two_indexes["custom"]) as engine:
        assert engine.keyword_index.settings == CUSTOM
        weighting = engine.keyword_index.searcher().weighting
        assert (weighting.B, weighting.K1) == (0.9, 1.6)
        assert engine.stats()["keyword"] == asdict(CUSTOM)
    default, custom = keyword_scores(two_indexes["default"]), keyword_scores(two_indexes["custom"])
    assert default and {pid for pid, _ in default} == {pid for pid, _ in custom}    # the same passages match
    assert [s for _, s in default] != pytest.approx([s for _, s in custom])


def test_other_settings_for_an_existing_index_are_refused(two_indexes):
    with pytest.raises(ManifestError, match="keyword settings"):
        Indexer(two_indexes["custom"], keyword=KeywordSettings())


def test_an_index_from_before_they_were_recorded_reads_the_defaults(two_indexes):
    data = json.loads(IndexLayout(two_indexes["default"]).manifest.read_text())
    del data["keyword"]
    assert Manifest.from_dict(data).keyword == KeywordSettings()


def test_a_question_needs_as_many_of_its_words_as_its_index_says(two_indexes):
    default, strict = keyword_scores(two_indexes["default"]), keyword_scores(two_indexes["strict"])
    assert strict and set(strict) < set(default)    # the same scores, fewer passages
