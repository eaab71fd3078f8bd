"""Rank fusion: the pure functions on hand-made runs, and the engine's hybrid order on the fixtures."""
from __future__ import annotations

import math

import pytest
from click.testing import CliRunner

from cli import main
from search.engine import CANDIDATES, DEFAULT_FUSION, Engine
from search.fusion import convex_combination, min_max, reciprocal_rank_fusion, z_score
from search.query import QueryError, parse_query
from tests.conftest import SEED_ID

# The keyword leader «b» barely stands out (20 against 18, 14, ...); the dense leader «c» stands
# far clear of a bunched field (0.89 against 0.80, 0.79, ...).
KEYWORD = [("b", 20.0), ("f", 18.0), ("d", 14.0), ("e", 14.0), ("c", 13.0), ("a", 11.0)]
DENSE = [("c", 0.89), ("b", 0.80), ("d", 0.79), ("e", 0.79), ("f", 0.78), ("a", 0.70)]


def order(fused):
    return [doc for doc, _ in fused]


def test_z_score_counts_standard_deviations_above_the_lowest_hit():
    spread = math.sqrt(2 / 3)   # population standard deviation of 3, 2, 1
    assert z_score([("a", 3.0), ("b", 2.0), ("c", 1.0)]) == pytest.approx({"a": 2 / spread, "b": 1 / spread, "c": 0})


@pytest.mark.parametrize("scale, shift", [(10.0, 0.0), (0.01, -5.0), (3.0, 100.0)])
def test_z_score_ignores_the_units_of_a_run(scale, shift):
    rescaled = [(doc, scale * s + shift) for doc, s in KEYWORD]
    assert z_score(rescaled) == pytest.approx(z_score(KEYWORD))


def test_z_score_of_a_run_without_spread_gives_every_hit_one_unit():
    assert z_score([]) == {}
    assert z_score([("a", 7.0)]) == {"a": 1.0}
    assert z_score([("a", 2.0), ("b", 2.0)]) == {"a": 1.0, "b": 1.0}


def test_z_score_lets_a_clear_dense_leader_beat_a_narrow_keyword_leader():
    # Min-max gives each run's leader a full 1 whatever its lead; z-score weighs a lead against
    # the run's spread, so the dense leader's clear lead counts for more than the keyword one's.
    assert order(convex_combination([KEYWORD, DENSE], [0.4, 0.6])) == ["b", "c", "f", "d", "e", "a"]
    assert order(convex_combination([KEYWORD, DENSE], [0.4, 0.6], z_score)) == ["c", "b", "f", "d", "e", "a"]
    assert order(reciprocal_rank_fusion([KEYWORD, DENSE])) == ["b", "c", "d", "f", "e", "a"]


def test_a_document_missing_from_a_run_gets_that_runs_lowest_value():
    keyword, dense = [("a", 3.0), ("b", 2.0), ("c", 1.0)], [("d", 0.9), ("b", 0.8), ("a", 0.7)]
    top = 2 / math.sqrt(2 / 3)
    fused = convex_combination([keyword, dense], [0.4, 0.6], z_score)
    assert order(fused) == ["d", "b", "a", "c"]
    assert dict(fused) == pytest.approx({"d": 0.6 * top, "b": 0.5 * top, "a": 0.4 * top, "c": 0.0})


def test_min_max_is_unchanged():
    assert min_max([("a", 3.0), ("b", 2.0), ("c", 1.0)]) == {"a": 1.0, "b": 0.5, "c": 0.0}


# -- the engine ------------------------------------------------------------------------------

def test_z_score_fusion_is_the_default(engine):
    assert DEFAULT_FUSION == "zscore" and engine.fusion == "zscore"


@pytest.mark.parametrize("query", ["الكاظمي طهران", "التبادل التجاري", "السماء والمجرات"])
def test_hybrid_passages_follow_the_z_score_fusion_of_both_retrievers(engine, unfloored, query):
    # Every keyword match of these 9 articles is in the top 100, so the whole ranking is the fusion
    # of the two top-100 lists; the similarity floor then leaves out related passages under it.
    parsed = parse_query(query)
    keyword = engine.keyword.search(parsed, CANDIDATES)
    dense = engine.dense.search(parsed, CANDIDATES)
    expected = order(convex_combination([keyword, dense], [0.4, 0.6], z_score))
    hits = unfloored.search(query, mode="hybrid", level="passages", k=len(expected)).hits
    assert [h.passage_id for h in hits] == expected
    kept = {pid for pid, _ in keyword} | {pid for pid, s in dense if s >= engine.related_floor}
    hits = engine.search(query, mode="hybrid", level="passages", k=len(expected)).hits
    assert [h.passage_id for h in hits] == [pid for pid in expected if pid in kept]


@pytest.mark.parametrize("fusion", ["zscore", "minmax", "rrf"])
def test_every_fusion_finds_the_seed_first(built_index, encoder, fusion):
    with Engine(built_index, encoder=encoder, fusion=fusion) as engine:
        assert engine.search("الكاظمي طهران", mode="hybrid").hits[0].article_id == SEED_ID


def test_unknown_fusion_is_refused(built_index, encoder):
    with pytest.raises(QueryError, match="fusion must be one of zscore, minmax, rrf"):
        Engine(built_index, encoder=encoder, fusion="convex")


def test_cli_takes_each_fusion(built_index):
    for fusion in ("zscore", "minmax"):
        result = CliRunner().invoke(main, ["search", "الكاظمي طهران", "--index", str(built_index),
                                           "--fusion", fusion, "--json"])
        assert result.exit_code == 0, result.output
        assert f'"article_id": "{SEED_ID}"' in result.stdout.split('"hits"')[1][:400]
