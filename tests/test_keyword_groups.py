"""The writer merges the compiled postings of consecutive bulk segments into groups: searches give
what the segments' own copies give (every kind of query, deletions included), readers never see a
half-written group, and a group goes when one of its segments is merged away."""
from __future__ import annotations

import json
import shutil

import pytest

from indexer.keyword.groups import merge_field, write_group
from indexer.keyword.postings import GROUP_PREFIX, read_members
from indexer.keyword.settings import KeywordSettings
from indexer.pipeline import Indexer
from indexer.text.articles import Article
from search.engine import Engine

BATCH = 1024   # articles per commit: one bulk segment each (the merge policy leaves those over 1,000 alone)
WORDS = ["النفط", "الأسواق", "الحكومة", "المنتخب", "الأمطار", "الجامعة", "المهرجان", "الميناء"]
QUERIES = ["النفط", "الأمم المتحدة", "بان كي مون", "\"الأسواق العالمية\"", "النفط -الحكومة",
           "المنتخب OR الأمطار", "ما الذي قالته الحكومة عن أسعار النفط في الأسواق العالمية"]


def body(i: int) -> str:
    first, second = WORDS[i % len(WORDS)], WORDS[(i // len(WORDS)) % len(WORDS)]
    name = ["قالت الأمم المتحدة", "قال بان كي مون", "قال الأمين بان ثم مون", "قالت الأمم وحدها"][i % 4]
    return f"{name} إن {first} و{second} في الأسواق العالمية تغيرت في اليوم {i % 97}."


def articles(start: int, n: int, version: int = 1) -> list[Article]:
    return [Article(id=f"a{i}", title=f"خبر {WORDS[i % 3]}", body=body(i * version), date="2020-01-01", source="s")
            for i in range(start, start + n)]


def groups_of(index):
    return {p.name: read_members(p) for p in (index / "keyword-postings").glob(f"{GROUP_PREFIX}*")}


def ungrouped_copy(index, target):
    """A copy of ``index`` as a writer that never grouped would have left it."""
    shutil.copytree(index, target)
    for name in groups_of(target):
        shutil.rmtree(target / "keyword-postings" / name)
    state = json.loads((target / "keyword.json").read_text())
    state["files"] = {f: d for f, d in state["files"].items() if GROUP_PREFIX not in f}
    (target / "keyword.json").write_text(json.dumps(state))
    return target


def results(index, encoder):
    with Engine(index, encoder=encoder) as engine:
        out = []
        for query in QUERIES:
            for level in ("articles", "passages"):
                r = engine.search(query, mode="keyword", level=level, k=5000)
                out.append((query, level, r.total, [(h.passage_id, round(h.score, 5), h.more_like_it) for h in r.hits]))
        return out


@pytest.fixture(scope="module")
def grouped(tmp_path_factory, encoder):
    index = tmp_path_factory.mktemp("groups") / "index"
    with Indexer(index, encoder=encoder, vectors=False, keyword=KeywordSettings(merge_segments=2)) as ix:
        for start in range(0, 3 * BATCH, BATCH):
            ix.add(articles(start, BATCH))
    return index


def test_two_bulk_segments_make_one_group_and_search_reads_it(grouped, encoder):
    (members,) = groups_of(grouped).values()
    assert members[1] == (BATCH, BATCH)
    with Engine(grouped, encoder=encoder) as engine:
        view = engine.keyword_index.compiled.view(engine.keyword_index.searcher())
        assert len(view.leaves) == 3 and len(view.units) == 2


def test_a_group_searches_as_its_segments(grouped, encoder, tmp_path):
    expected = results(ungrouped_copy(grouped, tmp_path / "plain"), encoder)
    assert results(grouped, encoder) == expected
    assert all(total > 0 for _, _, total, _ in expected)


def test_deletions_in_grouped_segments_count_live(grouped, encoder, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(grouped, index)
    plain = ungrouped_copy(grouped, tmp_path / "plain")
    for path in (index, plain):
        with Indexer(path, encoder=encoder, vectors=False) as ix:
            ix.add(articles(10, 200, version=3))     # updates: their old passages deleted in grouped segments
            ix.delete(["a1", "a2", "a1500"])
    assert len(groups_of(index)) == 1
    assert results(index, encoder) == results(plain, encoder)


def test_merging_the_segments_away_drops_the_group(grouped, encoder, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(grouped, index)
    with Indexer(index, encoder=encoder, vectors=False) as ix:
        ix.keyword.optimize()
    assert groups_of(index) == {}
    with Indexer(index, encoder=encoder, vectors=False) as ix:
        assert ix.keyword.damage() == []


def test_a_garbled_group_file_is_found_by_check(grouped, encoder, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(grouped, index)
    (name,) = groups_of(index)
    target = index / "keyword-postings" / name / "text.docs.bin"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    with Indexer(index, encoder=encoder, vectors=False) as ix:
        assert [path for path, _ in ix.keyword.damage()] == [target]


def test_a_group_that_failed_half_way_leaves_nothing(grouped, encoder, tmp_path, monkeypatch):
    with Engine(grouped, encoder=encoder) as engine:
        compiled = engine.keyword_index.compiled
        leaves = engine.keyword_index.searcher().reader().leaf_readers()
        members = [(leaf.segment().segment_id(), compiled.segment(leaf)) for leaf, _ in leaves]
    (tmp_path / "out").mkdir()

    def full(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr("indexer.keyword.groups.merge_articles", full)
    with pytest.raises(OSError):
        write_group(tmp_path / "out", members[:2], compiled.fields)
    assert list((tmp_path / "out").iterdir()) == []


def test_merge_field_keeps_each_terms_postings_sorted_by_document():
    from indexer.keyword.postings import FieldPostings
    import numpy as np
    a = FieldPostings(np.array(["x", "y"]), np.array([0, 2, 3]), np.array([0, 1, 1], np.int32),
                      np.array([1, 2, 3], np.float32), np.ones(2, np.float32))
    b = FieldPostings(np.array(["w", "y"]), np.array([0, 1, 3]), np.array([0, 0, 2], np.int32),
                      np.array([4, 5, 6], np.float32), np.ones(3, np.float32))
    terms, offsets, docs, weights = merge_field([a, b], np.array([0, 2]))
    assert terms.tolist() == ["w", "x", "y"] and offsets.tolist() == [0, 1, 3, 6]
    assert docs.tolist() == [2, 0, 1, 1, 2, 4] and weights.tolist() == [4, 1, 2, 3, 5, 6]
