"""A reader's flat search through 8-bit codes (``indexer.vectors.coded``) gives exactly faiss's
flat search: the same ids, scores and order, ties included, on real e5 vectors."""
from __future__ import annotations

import faiss
import numpy as np
import pytest

from bench.data import SHARED
from bench.speed import questions
from bench.synthetic import real_embeddings
from indexer.store.layout import IndexLayout
from indexer.vectors.coded import CodedScan
from indexer.vectors.encoders import OPENVINO
from indexer.vectors.index import KIND_FLAT, SCAN_FLOAT, SharedReads, VectorIndex, VectorSettings, one_thread
from indexer.vectors.loading import load_encoder

DIM = 384


def flat_search(reader: VectorIndex, query: np.ndarray, limit: int) -> list[tuple[int, float]]:
    """The reader's file searched as before the codes: faiss's flat search, on one thread (on two,
    faiss splits the vectors between them and some scores differ in their last bit)."""
    plain = VectorIndex(reader.layout, DIM, policy=KIND_FLAT, settings=VectorSettings(exact_scan=SCAN_FLOAT),
                        mapped=True)
    return plain.search(query, limit)


def saved_reader(root, vectors: np.ndarray, settings: VectorSettings = VectorSettings()) -> VectorIndex:
    """A serving process's reader of ``vectors`` saved as a flat index file."""
    layout = IndexLayout(root)
    layout.root.mkdir(exist_ok=True)
    writer = VectorIndex(layout, DIM, policy=KIND_FLAT, settings=settings)
    writer.reset()
    # Ids as the store gives them: increasing, with gaps (passages removed).
    writer.add(np.arange(len(vectors), dtype=np.int64) * 3 + 7, vectors)
    writer.save(1)
    return VectorIndex(layout, DIM, policy=KIND_FLAT, settings=settings, mapped=True, shared=SharedReads())


@pytest.fixture(scope="module")
def passages() -> np.ndarray:
    """The shipped real e5 passage vectors, with reprints: 300 of them again under other ids, so
    equal scores fall inside the top k and at its cut."""
    real = real_embeddings()
    return np.concatenate([real, real[:300]])


@pytest.fixture(scope="module")
def asked(passages) -> np.ndarray:
    """Real e5-openvino questions (XQuAD-ar, TyDi-ar), and stored passages as queries (a reprinted
    one ties with its copy at the top)."""
    texts = (questions(SHARED / "eval" / "xquad_ar" / "queries.jsonl", 40)
             + questions(SHARED / "eval" / "tydiqa_goldp_ar_dev" / "queries.jsonl", 20))
    return np.concatenate([load_encoder(OPENVINO, threads=1).encode_queries(texts), passages[[0, 5, 299, 4000]]])


@pytest.mark.parametrize("limit", [1, 10, 100, 1000])
def test_the_coded_scan_finds_exactly_what_flat_search_finds(tmp_path, passages, asked, limit, monkeypatch):
    reader = saved_reader(tmp_path / "index", passages)
    proved = []
    top = CodedScan.top
    monkeypatch.setattr(CodedScan, "top", lambda self, q, k: proved.append(top(self, q, k)) or proved[-1])
    assert [reader.search(q, limit) for q in asked] == [flat_search(reader, q, limit) for q in asked]
    # The codes decided nearly every search up to the depth hybrid search asks (a tie at the cut
    # is left to faiss); deeper than their shortlist they cannot prove the top.
    assert len(proved) == len(asked)
    assert sum(p is not None for p in proved) >= (0.9 * len(asked) if limit <= 100 else 0)


def test_where_the_codes_cannot_prove_the_top_the_floats_are_searched(tmp_path, passages, asked, monkeypatch):
    reader = saved_reader(tmp_path / "index", passages)
    monkeypatch.setattr(CodedScan, "margin", lambda self, *bound_terms: 1.0)
    assert [reader.search(q, 10) for q in asked] == [flat_search(reader, q, 10) for q in asked]


def test_equal_scores_at_the_cut_are_settled_as_faiss_settles_them(tmp_path):
    same = np.repeat(real_embeddings()[:1], 500, axis=0)
    reader = saved_reader(tmp_path / "index", same)
    assert reader.search(same[0], 10) == flat_search(reader, same[0], 10)
    assert CodedScan(reader.index).top(same[0], 10) is None


def test_the_codes_error_bound_holds_for_every_vector(tmp_path, passages, asked):
    """Each vector's flat score is at most its coded score plus the margin (what the proof rests on)."""
    scan = CodedScan(saved_reader(tmp_path / "index", passages).index)
    codes = faiss.vector_to_array(scan.codes.codes).reshape(len(passages), DIM).astype(np.int64) - 128
    with one_thread():    # as ``VectorIndex.search`` runs them
        for query in asked[:10]:
            q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
            exact, order = scan.flat.search(q, len(passages))
            flat_by_row = np.empty(len(passages), np.float32)
            flat_by_row[order[0]] = exact[0]
            coded_query, steps, rounded = scan.code(query)
            coded, where = scan.codes.search(coded_query, len(passages))
            # faiss's scores of the integer query are the exact integer dot products.
            assert np.array_equal(coded[0], codes[where[0]] @ coded_query[0].astype(np.int64))
            bound = scan.margin(query, rounded, steps)
            assert np.all(flat_by_row[where[0]] <= coded[0] / steps + bound)


def test_engines_sharing_a_file_share_its_codes_and_other_readers_never_code(tmp_path, passages, asked):
    first = saved_reader(tmp_path / "index", passages)
    second = VectorIndex(first.layout, DIM, policy=KIND_FLAT, settings=VectorSettings(), mapped=True,
                         shared=first._shared)
    first.search(asked[0], 10), second.search(asked[0], 10)
    assert first._codes(first.index) is second._codes(second.index)
    # The manifest asks for floats; a one-off search (the CLI's); a copy of the file (a writer's).
    plain = VectorIndex(first.layout, DIM, policy=KIND_FLAT, settings=VectorSettings(exact_scan=SCAN_FLOAT),
                        mapped=True, shared=SharedReads())
    alone = VectorIndex(first.layout, DIM, policy=KIND_FLAT, settings=VectorSettings(), mapped=True)
    copied = VectorIndex(first.layout, DIM, policy=KIND_FLAT, settings=VectorSettings(), shared=SharedReads())
    for index in (plain, alone, copied):
        assert index.search(asked[0], 10) == first.search(asked[0], 10) and index._scan is None
