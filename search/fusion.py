"""Rank fusion as pure functions over runs of (id, score) pairs, best first.

References: Cormack, Clarke & Buettcher (2009), "Reciprocal Rank Fusion outperforms
Condorcet and individual rank learning methods" (RRF, k=60); Bruch, Gai & Ingber (2023),
"An Analysis of Fusion Functions for Hybrid Retrieval" (min-max convex combination, which
they find better than RRF once its weight is tuned). ``z_score`` scales each run by its spread,
like distribution-based score fusion (DBSF, as in Qdrant).

A normalization measures its statistics on the run's first ``top`` hits only (all of it when
``top`` is None) and applies them to every hit, so a run of every keyword match is scaled as its
top ``top`` alone would be: the order of the top of a fused ranking does not depend on how deep
the runs go, and paging deeper never changes it. Hits below the measured set's lowest count as
its lowest (0), the value a document missing from the run gets.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

import numpy as np

# Passages taken from each retriever before fusion, and the depth a fused normalization measures.
CANDIDATES = 100

Run = Sequence[tuple[Hashable, float]]
Normalization = Callable[[Run], dict[Hashable, float]]


def reciprocal_rank_fusion(runs: Sequence[Run], k: int = 60) -> list[tuple[Hashable, float]]:
    scores: dict[Hashable, float] = {}
    for run in runs:
        for rank, (doc, _) in enumerate(run, start=1):
            scores[doc] = scores.get(doc, 0.0) + 1.0 / (k + rank)
    return _sorted(scores)


def min_max_values(scores: np.ndarray, top: int | None = None) -> np.ndarray:
    """Scores scaled so the first ``top``'s lowest is 0 and highest 1."""
    if not len(scores):
        return np.zeros(0)
    reference = scores[:top]
    low, span = reference.min(), reference.max() - reference.min()
    return _clipped(scores, low, span)


def z_score_values(scores: np.ndarray, top: int | None = None) -> np.ndarray:
    """Distance above the lowest of the first ``top`` scores in standard deviations of them.

    A z-score shifted so the lowest hit is 0, the value a missing document gets (DBSF's
    mean ± 3σ scaling puts it lower, at mean - 3σ; otherwise the same ranking). Unlike min-max,
    which gives a run's leader a full 1 however narrow its lead, a lead counts in proportion to
    how far it stands out of the run's spread (docs/quality.md, "Fusion")."""
    if not len(scores):
        return np.zeros(0)
    reference = scores[:top]
    return _clipped(scores, reference.min(), reference.std())


def _clipped(scores: np.ndarray, low: float, unit: float) -> np.ndarray:
    if unit > 0:
        return np.maximum((scores - low) / unit, 0.0)
    # No spread in the measured set: each of its hits gets one unit, anything lower none.
    return (scores >= low).astype(np.float64)


def min_max(run: Run, top: int | None = None) -> dict[Hashable, float]:
    return _as_dict(run, min_max_values, top)


def z_score(run: Run, top: int | None = None) -> dict[Hashable, float]:
    return _as_dict(run, z_score_values, top)


def _as_dict(run: Run, values: Callable[[np.ndarray, int | None], np.ndarray], top: int | None) -> dict:
    scores = np.fromiter((s for _, s in run), dtype=np.float64, count=len(run))
    return dict(zip((doc for doc, _ in run), values(scores, top).tolist()))


def convex_combination(runs: Sequence[Run], weights: Sequence[float],
                       normalize: Normalization = min_max) -> list[tuple[Hashable, float]]:
    """Weighted sum of normalized scores; a document missing from a run gets that run's
    minimum (0 after normalization), as Pyserini does."""
    normalized = [normalize(run) for run in runs]
    if not any(normalized):
        return []
    union, summed = weighted_sum([np.array(list(n), dtype=object) for n in normalized],
                                 [np.fromiter(n.values(), dtype=np.float64, count=len(n)) for n in normalized],
                                 weights)
    return _sorted(dict(zip(union.tolist(), summed.tolist())))


def weighted_sum(ids: Sequence[np.ndarray], values: Sequence[np.ndarray],
                 weights: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """``convex_combination`` on arrays: (the union of ``ids``, sorted, and each one's weighted
    sum of ``values``), for runs too long for a Python loop (every keyword match)."""
    all_ids = np.concatenate(ids)
    union, position = np.unique(all_ids, return_inverse=True)
    summed = np.bincount(position, weights=np.concatenate([w * v for w, v in zip(weights, values)]),
                         minlength=len(union))
    return union, summed


def _sorted(scores: dict[Hashable, float]) -> list[tuple[Hashable, float]]:
    # Ties broken by id so results are deterministic.
    return sorted(scores.items(), key=lambda item: (-item[1], str(item[0])))
