"""Rank fusion as pure functions over runs of (id, score) pairs, best first.

References: Cormack, Clarke & Buettcher (2009), "Reciprocal Rank Fusion outperforms
Condorcet and individual rank learning methods" (RRF, k=60); Bruch, Gai & Ingber (2023),
"An Analysis of Fusion Functions for Hybrid Retrieval" (min-max convex combination, which
they find better than RRF once its weight is tuned).
"""
from __future__ import annotations

from typing import Hashable, Sequence

Run = Sequence[tuple[Hashable, float]]


def reciprocal_rank_fusion(runs: Sequence[Run], k: int = 60) -> list[tuple[Hashable, float]]:
    scores: dict[Hashable, float] = {}
    for run in runs:
        for rank, (doc, _) in enumerate(run, start=1):
            scores[doc] = scores.get(doc, 0.0) + 1.0 / (k + rank)
    return _sorted(scores)


def min_max(run: Run) -> dict[Hashable, float]:
    if not run:
        return {}
    values = [s for _, s in run]
    low, high = min(values), max(values)
    span = high - low
    return {doc: (s - low) / span if span > 0 else 1.0 for doc, s in run}


def convex_combination(runs: Sequence[Run], weights: Sequence[float]) -> list[tuple[Hashable, float]]:
    """Weighted sum of min-max normalized scores; a document missing from a run gets that
    run's minimum (0 after normalization), as Pyserini does."""
    scores: dict[Hashable, float] = {}
    for run, weight in zip(runs, weights):
        for doc, s in min_max(run).items():
            scores[doc] = scores.get(doc, 0.0) + weight * s
    return _sorted(scores)


def _sorted(scores: dict[Hashable, float]) -> list[tuple[Hashable, float]]:
    # Ties broken by id so results are deterministic.
    return sorted(scores.items(), key=lambda item: (-item[1], str(item[0])))
