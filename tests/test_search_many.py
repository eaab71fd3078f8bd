"""``VectorIndex.search_many``: several queries at once, with exactly the results of one by one."""
from __future__ import annotations

import numpy as np
import pytest

from indexer.store.layout import IndexLayout
from indexer.vectors.index import KIND_FLAT, KIND_IVF, MANY_EXTRA, MANY_FROM, VectorIndex, VectorSettings

DIM = 32


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def vector_index(tmp_path, vectors: np.ndarray, kind: str = KIND_FLAT) -> VectorIndex:
    index = VectorIndex(IndexLayout(tmp_path), DIM, policy=kind, settings=VectorSettings())
    index.reset()
    # Ids as the store gives them: increasing, with gaps (passages removed).
    index.add(np.arange(len(vectors), dtype=np.int64) * 3 + 7, vectors)
    if kind != KIND_FLAT:
        index.restructure()
    return index


@pytest.fixture
def vectors():
    rng = np.random.default_rng(5)
    base = unit(rng.normal(size=(3000, DIM)))
    # Reprints: the same vector under several ids, so equal scores straddle every cut.
    base[1000:1400] = np.repeat(base[:40], 10, axis=0)
    return base


@pytest.mark.parametrize("queries, limit", [(MANY_FROM, 10), (16, 100), (9, 3000), (8, 5000)])
def test_many_queries_get_exactly_what_each_gets_alone(tmp_path, vectors, queries, limit):
    index = vector_index(tmp_path, vectors)
    rng = np.random.default_rng(queries)
    # Half the queries are stored vectors: their duplicates tie at the top.
    asked = np.concatenate([vectors[rng.integers(0, 40, queries // 2)], unit(rng.normal(size=(queries - queries // 2, DIM)))])
    assert index.search_many(asked, limit) == [index.search(q, limit) for q in asked]


def test_ties_at_the_cut_are_settled_as_faiss_settles_them(tmp_path):
    # Every stored vector the same: all scores tie, and faiss keeps the first ids it meets.
    same = np.repeat(unit(np.ones((1, DIM))), 200, axis=0)
    index = vector_index(tmp_path, same)
    asked = np.repeat(same[:1], MANY_FROM, axis=0)
    alone = index.search(asked[0], 10)
    assert index.search_many(asked, 10) == [alone] * MANY_FROM
    assert sorted(pid for pid, _ in alone) == [7 + 3 * i for i in range(10)]


def test_only_queries_with_close_candidates_are_searched_alone(tmp_path, monkeypatch):
    """Random queries over distinct vectors take the shared path; one whose candidates beyond
    the cut are within rounding of it (here: every query, by a bound of 1) is searched alone."""
    index = vector_index(tmp_path, unit(np.random.default_rng(2).normal(size=(3000, DIM))))
    asked = unit(np.random.default_rng(1).normal(size=(MANY_FROM, DIM)))
    alone_calls, search = [], index.search
    monkeypatch.setattr(index, "search", lambda q, limit, allowed=None: alone_calls.append(1) or search(q, limit))
    assert index.search_many(asked, 5) == [search(q, 5) for q in asked] and alone_calls == []
    monkeypatch.setattr(index, "_rounding_bound", lambda flat, query: 1.0)
    assert index.search_many(asked, 5) == [search(q, 5) for q in asked]
    assert len(alone_calls) == MANY_FROM and MANY_EXTRA > 0


def test_an_ivf_index_and_few_queries_are_searched_one_by_one(tmp_path, vectors):
    index = vector_index(tmp_path, vectors, KIND_IVF)
    asked = vectors[:MANY_FROM + 1]
    assert index.search_many(asked, 10) == [index.search(q, 10) for q in asked]
    flat = vector_index(tmp_path, vectors)
    assert flat.search_many(vectors[:MANY_FROM - 1], 10) == [flat.search(q, 10) for q in vectors[:MANY_FROM - 1]]
