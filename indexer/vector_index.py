"""The faiss vector index over passage embeddings, keyed by the store's passage ids.

Exact inner-product search (``IndexFlatIP`` inside an ``IndexIDMap2`` so passages can be
removed by id). The file is written under a temporary name and renamed into place,
and ``vectors.json`` records the store generation it reflects.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Sequence

import faiss
import numpy as np

from indexer.layout import IndexLayout, read_json, write_json_atomic
from indexer.store import Store

KIND_FLAT = "flat"


class VectorIndex:
    def __init__(self, layout: IndexLayout, dim: int):
        self.layout = layout
        self.dim = dim
        self._index: faiss.Index | None = None
        self._loaded_mtime: float | None = None

    def _empty(self) -> faiss.Index:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))

    @property
    def index(self) -> faiss.Index:
        if self._index is None:
            self.load()
        return self._index

    def load(self) -> None:
        path = self.layout.vectors
        if path.exists():
            self._loaded_mtime = path.stat().st_mtime
            self._index = faiss.read_index(str(path))
        else:
            self._index = self._empty()

    def reload_if_changed(self) -> None:
        path = self.layout.vectors
        if path.exists() and path.stat().st_mtime != self._loaded_mtime:
            self.load()

    def reset(self) -> None:
        self._index = self._empty()

    @property
    def generation(self) -> int:
        return int(read_json(self.layout.vectors_state, {"generation": -1})["generation"])

    def __len__(self) -> int:
        return int(self.index.ntotal)

    # -- writing -------------------------------------------------------------------
    def remove(self, pids: Sequence[int]) -> None:
        if len(pids) and self.index.ntotal:
            self.index.remove_ids(np.asarray(pids, dtype=np.int64))

    def add(self, pids: np.ndarray, vectors: np.ndarray) -> None:
        if len(pids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                                    np.asarray(pids, dtype=np.int64))

    def apply(self, store: Store, pids: Sequence[int]) -> None:
        """Make the vectors agree with the store for ``pids`` (drop each, re-add stored ones)."""
        self.remove(pids)
        for ids, vecs in store.embeddings(pids):
            self.add(ids, vecs)

    def rebuild(self, store: Store) -> None:
        self.reset()
        for ids, vecs in store.embeddings():
            self.add(ids, vecs)
        self.save(store.generation())

    def save(self, generation: int) -> None:
        path = self.layout.vectors
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".vectors.", suffix=".tmp")
        os.close(fd)
        try:
            faiss.write_index(self.index, tmp)
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._loaded_mtime = path.stat().st_mtime
        write_json_atomic(self.layout.vectors_state, {"generation": generation, "kind": KIND_FLAT})

    # -- reading -------------------------------------------------------------------
    def search(self, query: np.ndarray, limit: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top ``limit`` (pid, cosine) pairs, restricted to ``allowed`` pids before the cut."""
        index = self.index
        if index.ntotal == 0 or limit <= 0:
            return []
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        params = None
        if allowed is not None:
            if len(allowed) == 0:
                return []
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64)))
        scores, ids = index.search(q, min(limit, index.ntotal), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def all_pids(self) -> set[int]:
        if self.index.ntotal == 0:
            return set()
        return set(faiss.vector_to_array(self.index.id_map).tolist())
