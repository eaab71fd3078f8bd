"""The ranking's fast paths give the rankings of the sorts they replace: a hybrid ranking merges
the dense side's hundred into the keyword order instead of sorting every match, positions in a
run are looked up in a table indexed by passage id instead of the sorted run, and matches are
grouped by article number in a table instead of by sorting their article keys."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from search.engine import _article_numbers
from search.fusion import weighted_sum
from search.ranking import NORMALIZATIONS, Ranking, _Positions, by_article, dense_ranking, fused_ranking, \
    keyword_ranking

FAST = settings(derandomize=True, max_examples=400, deadline=None)


def fused_by_sorting(keyword, dense, floor, fusion, dense_weight, rrf_k=60, top=100):
    """``fused_ranking`` as first written: the union sorted by (fused score, keyword rank, pid)."""
    keyword_pids, keyword_scores = keyword
    dense_pids, dense_scores = dense
    if fusion == "rrf":
        values = [1.0 / (rrf_k + 1 + np.arange(len(run), dtype=np.float64)) for run in (keyword_pids, dense_pids)]
        weights = (1.0, 1.0)
    else:
        values = [NORMALIZATIONS[fusion](keyword_scores, top), NORMALIZATIONS[fusion](dense_scores, top)]
        weights = (1.0 - dense_weight, dense_weight)
    in_keyword = positions_by_sorting(keyword_pids)
    kept = (in_keyword(dense_pids) < len(keyword_pids)) | (dense_scores >= floor)
    pids, scores = weighted_sum([keyword_pids, dense_pids[kept]], [values[0], values[1][kept]], weights)
    keyword_rank = in_keyword(pids)
    order = np.lexsort((pids, keyword_rank, -scores))
    return pids[order], scores[order], keyword_rank[order] < len(keyword_pids)


def positions_by_sorting(run):
    order = np.argsort(run, kind="stable")
    ordered = run[order]

    def of(ids):
        at = np.minimum(np.searchsorted(ordered, ids), max(len(ordered) - 1, 0))
        found = (ordered[at] == ids) if len(ordered) else np.zeros(len(ids), bool)
        return np.where(found, order[at] if len(ordered) else 0, len(ordered))
    return of


@st.composite
def runs(draw):
    """A keyword run (best first, with ties, maybe a repeated passage) and a dense run that shares
    some passages with it; pids small, or far apart (the sorted path)."""
    spread = draw(st.sampled_from([1, 1, 10**7]))
    pool = draw(st.lists(st.integers(0, 300), min_size=1, max_size=120, unique=True))
    pids = np.array(pool, dtype=np.int64) * spread
    cut = draw(st.integers(0, len(pids)))
    keyword_pids = pids[:cut]
    if len(keyword_pids) > 1 and draw(st.booleans()):
        keyword_pids = np.append(keyword_pids, keyword_pids[0])
    levels = draw(st.sampled_from([3, 1000]))   # few distinct scores: many ties
    keyword_scores = -np.sort(-np.array(draw(st.lists(st.integers(0, levels), min_size=len(keyword_pids),
                                                        max_size=len(keyword_pids))), dtype=np.float64) / 7)
    dense_pool = draw(st.permutations(pool))[:draw(st.integers(0, min(len(pool), 100)))]
    dense_pids = np.array(dense_pool, dtype=np.int64) * spread
    dense_scores = np.array(draw(st.lists(st.integers(0, levels), min_size=len(dense_pids), max_size=len(dense_pids))),
                            dtype=np.float64) / levels
    return (keyword_pids, keyword_scores), (dense_pids, -np.sort(-dense_scores))


@FAST
@given(runs(), st.sampled_from(["zscore", "minmax", "rrf"]), st.sampled_from([0.0, 0.6, 1.0, 1.5, -0.5]),
       st.sampled_from([0.0, 0.5, 2.0]), st.sampled_from([100, 3]))
def test_merged_hybrid_ranking_is_the_sorted_one(both, fusion, dense_weight, floor, top):
    keyword, dense = both
    got = fused_ranking(keyword, dense, floor, fusion, dense_weight, top=top)
    pids, scores, matched = fused_by_sorting(keyword, dense, floor, fusion, dense_weight, top=top)
    assert got.pids.tolist() == pids.tolist()
    assert got.scores.tolist() == scores.tolist()     # the same floats, summed in the same order
    assert got.matched.tolist() == matched.tolist()
    assert_stands_in_run(got, keyword[0])


def assert_stands_in_run(ranking, run):
    """``run_at`` holds a place of each passage in the run (a passage twice there: either), and
    len(run) for each passage not in it."""
    inside = ranking.run_at < len(run)
    assert run[ranking.run_at[inside]].tolist() == ranking.pids[inside].tolist()
    assert inside.tolist() == (positions_by_sorting(run)(ranking.pids) < len(run)).tolist()
    assert (ranking.run_at[~inside] == len(run)).all()


@FAST
@given(runs(), st.sampled_from([0.0, 0.5, 2.0]))
def test_dense_and_keyword_rankings_know_where_each_passage_stands_in_the_run(both, floor):
    keyword, dense = both
    for got in (dense_ranking(keyword, dense, floor), keyword_ranking(keyword)):
        assert_stands_in_run(got, keyword[0])
        assert got.where(got.scores > 0.5).run_at.tolist() == got.run_at[got.scores > 0.5].tolist()


@FAST
@given(st.lists(st.integers(0, 500), max_size=80), st.lists(st.integers(-3, 600), max_size=40),
       st.sampled_from([1, 10**9]))
def test_positions_by_table_are_positions_in_the_sorted_run(run, ids, spread):
    run, ids = np.array(run, dtype=np.int64) * spread, np.array(ids, dtype=np.int64) * spread
    assert _Positions(run).of(ids).tolist() == positions_by_sorting(run)(ids).tolist()
    assert _Positions(run).unique == (len(set(run.tolist())) == len(run))


def by_article_by_sorting(ranking, keys):
    """``by_article`` as first written, on any int64 keys: articles found by sorting the keys."""
    _, first, group = np.unique(keys, return_index=True, return_inverse=True)
    number = np.empty(len(first), dtype=np.int64)
    number[np.argsort(first, kind="stable")] = np.arange(len(first))
    group = number[group.reshape(-1)]
    positions = np.sort(first)
    counts = np.bincount(group, weights=ranking.matched, minlength=len(first)).astype(np.int64)
    best = ranking.where(positions)
    return best.pids, best.scores, counts > 0, counts, positions


@FAST
@given(st.lists(st.tuples(st.integers(0, 30), st.booleans()), max_size=120), st.integers(0, 2**40))
def test_articles_grouped_by_number_are_those_grouped_by_key(items, salt):
    numbers = np.array([n for n, _ in items], dtype=np.int64)
    ranking = Ranking(np.arange(len(items), dtype=np.int64) * 3, np.linspace(1, 0, len(items)),
                      np.array([m for _, m in items], dtype=bool))
    hashed = (numbers * 7919 + salt) ^ 0x5DEECE66D   # any one-to-one keys group the same
    got = by_article(ranking, numbers)
    expected = by_article_by_sorting(ranking, hashed)
    for a, b in zip((got.best.pids, got.best.scores, got.best.matched, got.matched_passages, got.positions),
                    expected, strict=True):
        assert a.dtype == b.dtype and a.tolist() == b.tolist()


@FAST
@given(st.lists(st.integers(-50, 50), unique=True, max_size=20), st.lists(st.integers(-60, 60), max_size=30))
def test_article_numbers_are_one_to_one_with_keys(distinct, keys):
    distinct, keys = np.array(sorted(distinct), dtype=np.int64), np.array(keys, dtype=np.int64)
    numbers = _article_numbers(keys, distinct)
    assert len(set(zip(keys.tolist(), numbers.tolist()))) == len(set(keys.tolist())) == len(set(numbers.tolist()))
    assert all(distinct[n] == k for k, n in zip(keys.tolist(), numbers.tolist()) if n < len(distinct))
    assert all(n >= len(distinct) for k, n in zip(keys.tolist(), numbers.tolist()) if k not in distinct.tolist())
