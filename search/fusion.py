"""Rank fusion as pure functions over runs of (id, score) pairs, best first.

References: Cormack, Clarke & Buettcher (2009), "Reciprocal Rank Fusion outperforms
Condorcet and individual rank learning methods" (RRF, k=60); Bruch, Gai & Ingber (2023),
"An Analysis of Fusion Functions for Hybrid Retrieval" (min-max convex combination, which
they find better than RRF once its weight is tuned). ``z_score`` scales each run by its spread,
like distribution-based score fusion (DBSF, as in Qdrant).
"""
from __future__ import annotations

import statistics
from collections.abc import Callable, Hashable, Sequence

# Passages taken from each retriever before fusion.
CANDIDATES = 100

Run = Sequence[tuple[Hashable, float]]
Normalization = Callable[[Run], dict[Hashable, float]]


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


def z_score(run: Run) -> dict[Hashable, float]:
    """Distance above the run's lowest score in standard deviations of the run's scores.

    A z-score shifted so the lowest hit is 0, the value a missing document gets (DBSF's
    mean ± 3σ scaling puts it lower, at mean - 3σ; otherwise the same ranking). Unlike min-max,
    which gives a run's leader a full 1 however narrow its lead, a lead counts in proportion to
    how far it stands out of the run's spread (docs/quality.md, "Fusion")."""
    if not run:
        return {}
    values = [s for _, s in run]
    low, spread = min(values), statistics.pstdev(values)
    return {doc: (s - low) / spread if spread > 0 else 1.0 for doc, s in run}


def convex_combination(runs: Sequence[Run], weights: Sequence[float],
                       normalize: Normalization = min_max) -> list[tuple[Hashable, float]]:
    """Weighted sum of normalized scores; a document missing from a run gets that run's
    minimum (0 after normalization), as Pyserini does."""
    scores: dict[Hashable, float] = {}
    for run, weight in zip(runs, weights):
        for doc, s in normalize(run).items():
            scores[doc] = scores.get(doc, 0.0) + weight * s
    return _sorted(scores)


def _sorted(scores: dict[Hashable, float]) -> list[tuple[Hashable, float]]:
    # Ties broken by id so results are deterministic.
    return sorted(scores.items(), key=lambda item: (-item[1], str(item[0])))
