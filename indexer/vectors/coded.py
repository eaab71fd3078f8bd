"""Exact inner-product search that reads a quarter of the bytes of a flat index.

A scan over 8-bit codes of the vectors (one scale per dimension) picks a shortlist; the float
vectors re-score it with faiss's flat kernel, so the scores are the ones flat search gives; and a
bound on the codes' error proves that no vector outside the shortlist can reach the top
``limit``. Where the proof fails (or equal scores meet at the cut, where faiss's choice depends
on its scan order) the caller searches the floats. faiss's signed 8-bit scan codes the query
too, as integers: its scores are exact integer dot products, and the query's rounding is part
of the bound. At 100k vectors of 384 dimensions flat search reads 153 MB a question, the codes
38 MB, and a question costs 3.3 CPU ms against 9.0 (`python -m bench.coded_scan`,
docs/performance.md).
"""
from __future__ import annotations

import faiss
import numpy as np

# Candidates re-scored with the floats (at least). The codes' provable error is about 0.015 in
# cosine (the median margin): over the 100k serving vectors the codes proved the top 100 of 3 of 300 e5-openvino
# questions over 400 candidates, 182 over 800, 297 over 1,500 (`python -m bench.coded_scan
# --shortlist N`, docs/performance.md). Re-scoring 1,500 vectors reads 2.3 MB of floats.
SHORTLIST = 1500
LEVELS = 127            # codes in -127..127: faiss's signed 8-bit codes hold them exactly
BLOCK = 2048            # rows coded at a time: their float64 temporaries stay small (peak memory, cache)
UNIT_ROUNDOFF = 2.0 ** -24


def stored_rows(flat: faiss.Index) -> np.ndarray:
    """A flat index's vectors as an (n, d) array over faiss's own memory (no copy): valid while
    the index lives."""
    return faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).reshape(flat.ntotal, flat.d)


def sum_error(terms: int) -> float:
    """A float32 sum of ``terms`` products is within this share of the sum of their magnitudes
    of the exact sum, whatever the order (Higham, "Accuracy and Stability", 3.1)."""
    d = terms * UNIT_ROUNDOFF
    return d / (1 - d)


class CodedScan:
    """8-bit codes of the vectors of a flat index under ids (``IndexIDMap2``), and the largest
    error they have. Only for an index never changed in place (a reader's, mapped from its file):
    the codes are not updated."""

    def __init__(self, index: faiss.IndexIDMap2):
        self.index = index      # owns ``flat``: kept alive with it
        self.flat = faiss.downcast_index(index.index)
        self.ids = faiss.vector_to_array(index.id_map)
        rows = stored_rows(self.flat)
        d = self.flat.d
        # The largest magnitude per dimension without an absolute copy of every vector.
        peak = np.maximum(rows.max(axis=0), -rows.min(axis=0)).astype(np.float64) if len(rows) else np.zeros(d)
        self.scale = LEVELS / np.where(peak > 0, peak, 1.0)
        self.codes = faiss.IndexScalarQuantizer(d, faiss.ScalarQuantizer.QT_8bit_direct_signed, faiss.METRIC_INNER_PRODUCT)
        # The largest coding error per dimension and as a norm, the largest code norm and vector
        # norm: float64, exact enough that their own rounding is far below the float32 terms.
        self.worst, self.worst_norm, self.code_norm, self.largest_norm = np.zeros(d), 0.0, 0.0, 0.0
        # Written in place into faiss's storage, sized once (adding block by block grew it by
        # doubling, a copy of the codes at the peak); a code byte is the value plus 128.
        self.codes.codes.resize(len(rows) * d)
        stored = faiss.rev_swig_ptr(self.codes.codes.data(), len(rows) * d).reshape(len(rows), d)
        for start in range(0, len(rows), BLOCK):
            block = rows[start:start + BLOCK].astype(np.float64)
            codes = np.rint(block * self.scale)
            error = codes / self.scale - block
            self.worst = np.maximum(self.worst, np.abs(error).max(axis=0))
            self.worst_norm = max(self.worst_norm, _largest_norm(error))
            self.code_norm = max(self.code_norm, _largest_norm(codes))
            self.largest_norm = max(self.largest_norm, _largest_norm(block))
            stored[start:start + BLOCK] = codes + (LEVELS + 1)
        self.codes.ntotal = len(rows)

    def top(self, query: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Ids and flat-kernel scores of ``query``'s top ``limit`` (best first, equal scores in no
        set order), or None where the codes cannot prove them (the caller then searches the floats)."""
        n = self.flat.ntotal
        keep = min(max(limit, SHORTLIST), n)
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        coded_query, steps, rounded = self.code(query[0])
        rough, positions = self.codes.search(coded_query, keep)
        positions = np.ascontiguousarray(positions[0])
        exact = np.empty(keep, dtype=np.float32)
        self.flat.compute_distance_subset(1, faiss.swig_ptr(query), keep, faiss.swig_ptr(exact), faiss.swig_ptr(positions))
        limit = min(limit, keep)
        order = np.argsort(-exact, kind="stable")
        kth = exact[order[limit - 1]]
        if limit < keep and exact[order[limit]] == kth:
            return None     # equal scores at the cut: which of them faiss keeps is its scan's order
        if keep < n and not kth > rough[0][-1] / steps + self.margin(query[0], rounded, steps):
            return None
        return self.ids[positions[order[:limit]]], exact[order[:limit]]

    def code(self, query: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
        """The query as the scan reads it, (1, d) integers in -127..127, so that faiss's coding of
        it changes nothing; ``steps`` of them per unit of the query over the vectors' scales; and
        what their rounding left out of it (in those units)."""
        scaled = query.astype(np.float64) / self.scale
        steps = LEVELS / max(float(np.abs(scaled).max()), np.finfo(np.float32).tiny)
        coded = np.rint(scaled * steps)
        return coded.astype(np.float32)[None], steps, scaled - coded / steps

    def margin(self, query: np.ndarray, rounded: np.ndarray, steps: float) -> float:
        """How far above its coded score (over ``steps``) a vector's flat-kernel score can be:
        the vectors' coding error, the query's (``rounded``: scaled query less its codes over
        ``steps``), each the smaller of its bounds per dimension and by norms, and the float32
        rounding of the coded sum and of the flat kernel's."""
        q = np.abs(query.astype(np.float64))
        norm = float(np.linalg.norm(q))
        vectors = min(float(q @ self.worst), norm * self.worst_norm)
        queries = min(float(np.abs(rounded).sum()) * LEVELS, float(np.linalg.norm(rounded)) * self.code_norm)
        coded_sum = sum_error(self.flat.d) * LEVELS * LEVELS * self.flat.d / steps
        return vectors + queries + coded_sum + sum_error(self.flat.d) * norm * self.largest_norm


def _largest_norm(rows: np.ndarray) -> float:
    return float(np.sqrt((rows ** 2).sum(axis=1)).max())
