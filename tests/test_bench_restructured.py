"""bench.restructured: another vector structure searched over a finished index's files, which
stay byte for byte as they were."""
from __future__ import annotations

import json

from bench.restructured import restructured
from indexer.store.layout import IndexLayout, file_digest
from indexer.vectors.index import KIND_IVF_PQ4FS
from search.engine import Engine


def test_the_restructured_folder_searches_as_the_index_and_leaves_it_unchanged(index_copy, encoder, tmp_path):
    files = sorted(p for p in index_copy.rglob("*") if p.is_file() and not p.name.endswith("-shm"))
    before = {p: file_digest(p) for p in files}
    target = tmp_path / "restructured"
    figures = restructured(index_copy, KIND_IVF_PQ4FS, target)
    assert figures["kind"] == KIND_IVF_PQ4FS
    assert json.loads(IndexLayout(target).vectors_state.read_text())["kind"] == KIND_IVF_PQ4FS
    assert json.loads(IndexLayout(target).manifest.read_text())["vector_index"] == KIND_IVF_PQ4FS
    with Engine(index_copy, encoder=encoder) as engine, Engine(target, encoder=encoder) as other:
        assert other.vector_index.kind == KIND_IVF_PQ4FS
        for text in ("الكاظمي طهران", "أسعار النفط"):
            # A tiny index has one cell and every candidate is re-scored: exact search here.
            expected = engine.search(text, mode="hybrid", k=5)
            found = other.search(text, mode="hybrid", k=5)
            assert [h.passage_id for h in found.hits] == [h.passage_id for h in expected.hits]
    assert {p: file_digest(p) for p in files} == before
