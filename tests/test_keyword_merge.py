"""The tiered merge policy: which segments it merges, that no small tier ever holds more than
``MERGE_FACTOR`` segments however commits arrive while bulk segments are left alone, and that a
real index merged by it keeps every article searchable with its compiled postings in step."""
from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.text.articles import Article
from indexer.check import check_index
from indexer.keyword.merge import MERGE_FACTOR, MERGED_TIERS, segments_to_merge, tier
from indexer.pipeline import Indexer
from search.engine import Engine


def test_tiers_are_orders_of_magnitude():
    assert [tier(n) for n in (0, 1, 9, 10, 99, 100, 8_192, 81_920)] == [0, 0, 0, 1, 1, 2, 3, 4]


@given(st.integers(min_value=1, max_value=15))
def test_a_power_of_the_factor_opens_its_tier(exponent):
    # math.log(1000, 10) < 3: a segment of exactly 1,000 documents was small (tier 2).
    assert tier(MERGE_FACTOR ** exponent) == exponent
    assert tier(MERGE_FACTOR ** exponent - 1) == exponent - 1


def test_segments_of_exactly_the_small_limit_are_bulk():
    limit = MERGE_FACTOR ** MERGED_TIERS     # 1,000 live documents
    assert segments_to_merge([limit] * MERGE_FACTOR) == []
    assert segments_to_merge([limit - 1] * MERGE_FACTOR) == list(range(MERGE_FACTOR))


def test_nothing_merges_until_a_tier_is_full():
    assert segments_to_merge([8_000] * (MERGE_FACTOR - 1) + [5, 50_000]) == []


def test_the_smallest_full_tier_merges_and_only_it():
    counts = [500] * MERGE_FACTOR + [3] * MERGE_FACTOR + [90_000]
    assert segments_to_merge(counts) == list(range(MERGE_FACTOR, 2 * MERGE_FACTOR))


def test_bulk_segments_are_never_merged():
    assert segments_to_merge([8_192] * 50 + [90_000] * 20) == []
    # ... unless deletions leave one small: then it joins its small tier.
    assert segments_to_merge([8_192] * 5 + [700] * (MERGE_FACTOR - 1) + [650]) == list(range(5, 5 + MERGE_FACTOR))


def simulate(commits: list[int]) -> list[list[int]]:
    """Live counts of the segments after each commit of ``n`` new documents, as Whoosh applies the
    policy: the merged segments' documents join the new ones in one new segment."""
    segments: list[int] = []
    states = []
    for new in commits:
        chosen = set(segments_to_merge(segments))
        merged = sum(segments[i] for i in chosen)
        segments = [c for i, c in enumerate(segments) if i not in chosen] + [new + merged]
        states.append(list(segments))
    return states


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=20_000), max_size=300))
def test_no_small_tier_ever_holds_more_than_the_factor(commits):
    for segments in simulate(commits):
        per_tier = {}
        for count in segments:
            per_tier[tier(count)] = per_tier.get(tier(count), 0) + 1
        assert all(n <= MERGE_FACTOR for t, n in per_tier.items() if t < MERGED_TIERS)
    if commits:
        assert sum(simulate(commits)[-1]) == sum(commits)


def test_bulk_commits_stay_as_written_and_single_updates_collapse():
    # 30 indexing commits of 8,192 passages: Whoosh's policy would have merged all of them at the
    # 22nd; here no commit pays for a merge of earlier ones.
    assert simulate([8_192] * 30)[-1] == [8_192] * 30
    # 5,000 single-article commits (hourly corrections) end in a handful of segments.
    assert len(simulate([1] * 5_000)[-1]) <= MERGED_TIERS * MERGE_FACTOR


def test_an_index_written_in_many_commits_merges_and_stays_whole(tmp_path):
    index = tmp_path / "index"
    words = ["النفط", "الكهرباء", "الانتخابات", "المياه", "الزراعة", "التعليم"]
    count = MERGE_FACTOR + 2
    with Indexer(index, vectors=False) as indexer:
        for i in range(count):
            body = f"تقرير رقم {i} عن {words[i % len(words)]} في بغداد والبصرة وأربيل هذا الأسبوع."
            indexer.add([Article(id=f"a{i}", title=f"خبر {i}", body=body)])
        segments = list(indexer.keyword._ix._segments())
    # The eleventh commit found ten one-passage segments in tier 0 and merged them with itself.
    assert len(segments) < count
    assert sum(s.doc_count() for s in segments) == count
    assert check_index(index).ok
    with Engine(index) as engine:
        hits = engine.search("الكهرباء", mode="keyword", k=count).hits
    assert sorted(h.article_id for h in hits) == sorted(f"a{i}" for i in range(count) if i % len(words) == 1)


def test_optimize_merges_bulk_segments_into_one_with_the_same_results(tmp_path):
    from click.testing import CliRunner

    from cli import main
    index = tmp_path / "index"
    with Indexer(index, vectors=False) as indexer:
        for run in range(3):
            indexer.add([Article(id=f"r{run}-{i}", title="", body=f"مقال {i} من الدفعة {run} عن النفط والغاز في البصرة.")
                         for i in range(5)])
        assert indexer.keyword.segment_count == 3
    with Engine(index) as engine:
        before = engine.search("النفط البصرة", mode="keyword", level="passages", k=20).hits
    result = CliRunner().invoke(main, ["optimize", "--index", str(index), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["segments_before"] == 3
    assert json.loads(result.output)["segments_after"] == 1
    assert check_index(index).ok
    with Engine(index) as engine:
        after = engine.search("النفط البصرة", mode="keyword", level="passages", k=20).hits
    assert [(h.passage_id, round(h.score, 6)) for h in after] == [(h.passage_id, round(h.score, 6)) for h in before]
