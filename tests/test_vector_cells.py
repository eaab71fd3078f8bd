"""IVF cells of codes (ivf-sq8, ivf-pq4fs) against exact search, written and read back, and
removals: the ids a search answers with stay those of the vectors found."""
from __future__ import annotations

import json

import faiss
import numpy as np
import pytest

from bench.vector_choice import float_store
from indexer.store.layout import IndexLayout
from indexer.vectors.index import CELL_CODES, KIND_FLAT, KIND_IVF, KIND_IVF_PQ4FS, KIND_IVF_SQ8, RESCORED, VectorIndex, \
    VectorSettings, build_index, wrapped_cells
from tests.test_fast_paths import clustered

DIM = 32
IDS = np.arange(10, 4010, dtype=np.int64)


@pytest.fixture
def stored(tmp_path):
    """4,000 clustered vectors under ids 10.., their floats in a store, and an empty index folder."""
    vectors = clustered(len(IDS))
    store = float_store(tmp_path, np.vstack([np.zeros((10, DIM), np.float32), vectors]))
    layout = IndexLayout(tmp_path / "index")
    layout.root.mkdir()
    yield vectors, store, layout
    store.close()


def exact(vectors: np.ndarray, query: np.ndarray, k: int,
          rows: np.ndarray = np.arange(len(IDS))) -> list[tuple[int, float]]:
    """The top ``k`` (id, score) of ``rows`` of ``vectors`` (stored under ``IDS``) by inner product."""
    scores = vectors[rows] @ query
    order = np.argsort(-scores)[:k]
    return [(int(IDS[rows[i]]), float(scores[i])) for i in order]


@pytest.mark.parametrize("kind", RESCORED)
def test_every_cell_probed_and_every_candidate_rescored_is_exact_search(stored, kind):
    vectors, store, layout = stored
    index = VectorIndex(layout, DIM, policy=kind, settings=VectorSettings(probe_share=1.0, rerank=len(IDS)),
                        floats=store.embeddings)
    index.add(IDS, vectors)
    index.save(1)
    assert index.kind == kind
    every_third = np.arange(0, len(IDS), 3)
    for query in clustered(20, seed=2):
        found, expected = index.search(query, 10), exact(vectors, query, 10)
        assert [pid for pid, _ in found] == [pid for pid, _ in expected]
        assert [s for _, s in found] == pytest.approx([s for _, s in expected], abs=1e-6)
        # A filter is applied in the cells, before the cut: the allowed passages' own top 10.
        within = exact(vectors, query, 10, every_third)
        assert [pid for pid, _ in index.search(query, 10, IDS[every_third])] == [pid for pid, _ in within]


def test_ivf_pq4fs_is_read_back_whole_and_a_reader_keeps_its_version_until_it_reloads(stored):
    vectors, store, layout = stored
    options = dict(policy=KIND_IVF_PQ4FS, settings=VectorSettings(), floats=store.embeddings)
    writer = VectorIndex(layout, DIM, **options)
    writer.add(IDS, vectors)
    writer.save(1)
    queries = clustered(20, seed=2)
    written = [writer.search(q, 10) for q in queries]
    assert json.loads(layout.vectors_state.read_text())["kind"] == KIND_IVF_PQ4FS
    # A serving engine asks for the file mapped; faiss reads fast-scan cells whole instead.
    reader = VectorIndex(layout, DIM, **options, mapped=True)
    assert reader.kind == KIND_IVF_PQ4FS and len(reader) == len(IDS)
    assert [reader.search(q, 10) for q in queries] == written
    assert sorted(reader.ids()) == IDS.tolist()
    writer.remove(IDS[:2000])
    writer.save(2)
    assert [reader.search(q, 10) for q in queries] == written
    reader.reload_if_changed()
    assert all(pid >= 2010 for q in queries for pid, _ in reader.search(q, 10))


def found_as_itself(index: VectorIndex, vectors: np.ndarray, rows) -> bool:
    """Whether each of ``rows`` of ``vectors``, searched for, comes back first under its own id."""
    return all(index.search(vectors[row], 1)[0][0] == IDS[row] for row in rows)


@pytest.mark.parametrize("kind", [KIND_FLAT, KIND_IVF, KIND_IVF_SQ8, KIND_IVF_PQ4FS])
def test_removing_and_adding_keep_every_id_on_its_vector(stored, kind):
    vectors, store, layout = stored
    index = VectorIndex(layout, DIM, policy=kind, settings=VectorSettings(probe_share=1.0), floats=store.embeddings)
    index.add(IDS[:3000], vectors[:3000])
    index.save(1)
    index.remove(IDS[:5])
    index.add(IDS[3000:], vectors[3000:])
    index.save(2)
    reopened = VectorIndex(layout, DIM, policy=kind, settings=VectorSettings(probe_share=1.0), floats=store.embeddings)
    assert sorted(reopened.ids()) == IDS[5:].tolist()
    assert found_as_itself(reopened, vectors, [5, 6, 1500, 2999, 3000, 3999])
    assert not {int(i) for i in IDS[:5]} & {pid for pid, _ in reopened.search(vectors[0], 50)}


@pytest.mark.parametrize("kind", [KIND_IVF, KIND_IVF_SQ8])
def test_an_index_written_with_its_cells_inside_an_id_map_is_rebuilt_before_its_first_removal(stored, kind):
    vectors, store, layout = stored
    old = faiss.index_factory(DIM, f"IDMap2,IVF63,{CELL_CODES[kind]}", faiss.METRIC_INNER_PRODUCT)
    old.train(vectors)
    faiss.extract_index_ivf(old).nprobe = 63
    old.add_with_ids(vectors, IDS)
    faiss.write_index(old, str(layout.vectors))
    layout.vectors_state.write_text(json.dumps({"generation": 1, "kind": kind}))
    index = VectorIndex(layout, DIM, policy=kind, settings=VectorSettings(probe_share=1.0), floats=store.embeddings)
    assert wrapped_cells(index.index) and found_as_itself(index, vectors, [0, 7, 3999])
    # Removed from in place, the old structure answers with the next vector's id.
    broken = faiss.read_index(str(layout.vectors))
    broken.remove_ids(IDS[:1])
    assert broken.search(vectors[7:8], 1)[1][0][0] == IDS[8]
    index.remove(IDS[:1])
    assert not wrapped_cells(index.index) and index.kind == kind
    assert sorted(index.ids()) == IDS[1:].tolist()
    assert found_as_itself(index, vectors, [1, 7, 3999])
