"""One ranking per query: every passage that matches the query's words, and the passages the dense
side adds by meaning alone (*related*), each in one place that does not depend on the page asked.

The keyword run holds every match; the dense run a fixed top ``CANDIDATES``, from which a related
passage (not a match) is kept only at or above the similarity floor. Hybrid scores are the fusion's,
its normalization measured on each run's top ``CANDIDATES`` (``search.fusion``), so the head of the
ranking is the fusion of the two top-100 lists; every further match follows in a fixed place. Ties
are broken by keyword rank, then passage id.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from indexer.keyword.postings import article_keys
from search.fusion import CANDIDATES, min_max_values, weighted_sum, z_score_values

Hits = list[tuple[int, float]]
NORMALIZATIONS: dict[str, Callable[[np.ndarray, int | None], np.ndarray]] = {
    "zscore": z_score_values, "minmax": min_max_values}
# ``_Positions`` looks passages up in a table indexed by passage id while the largest id is under
# this many slots per passage of the run, plus these (a run of every match holds a good share of
# the index's passages); past that, in the sorted run.
TABLE_SLOTS_PER_ID = 8
TABLE_SLOTS_FREE = 1 << 16


@dataclass(frozen=True)
class Ranking:
    pids: np.ndarray       # int64, best first
    scores: np.ndarray     # float64
    matched: np.ndarray    # bool: the passage holds the query's words (a keyword match)
    # int64: where each passage stands in the keyword run ranked (one of its places, were it there
    # twice; len(run) if not there), known while ranking; None where not given. The engine reads
    # each match's article through it, without a second table of the run.
    run_at: np.ndarray | None = None

    @property
    def matches(self) -> int:
        return int(self.matched.sum())

    @property
    def related(self) -> int:
        return len(self.pids) - self.matches

    def hits(self) -> Hits:
        return list(zip(self.pids.tolist(), self.scores.tolist()))

    def where(self, keep: np.ndarray) -> "Ranking":
        return Ranking(self.pids[keep], self.scores[keep], self.matched[keep],
                       None if self.run_at is None else self.run_at[keep])


# A run as (pids, scores) arrays, best first: the keyword side's every match, without a tuple each.
Run = tuple[np.ndarray, np.ndarray]


def _arrays(hits: Hits | Run) -> Run:
    if isinstance(hits, tuple):
        return hits
    return (np.fromiter((p for p, _ in hits), dtype=np.int64, count=len(hits)),
            np.fromiter((s for _, s in hits), dtype=np.float64, count=len(hits)))


class _Positions:
    """Where each passage stands in a run (its rank from 0), ``len(run)`` for passages not in it;
    a passage twice in the run stands at its first place."""

    def __init__(self, ids: np.ndarray):
        self.size = len(ids)
        self.table = None
        if self.size and ids.min() >= 0 and ids.max() < TABLE_SLOTS_PER_ID * self.size + TABLE_SLOTS_FREE:
            # Passage ids are dense enough for a table indexed by id: no sort of the whole run.
            table = np.full(int(ids.max()) + 1, self.size, dtype=np.int64)
            table[ids[::-1]] = np.arange(self.size - 1, -1, -1, dtype=np.int64)
            self.table = table
            self.unique = bool((table[ids] == np.arange(self.size)).all())
        else:
            self.order = np.argsort(ids, kind="stable")
            self.sorted = ids[self.order]
            self.unique = not (self.sorted[1:] == self.sorted[:-1]).any()

    def of(self, ids: np.ndarray) -> np.ndarray:
        if self.table is not None:
            inside = (ids >= 0) & (ids < len(self.table))
            return np.where(inside, self.table[np.where(inside, ids, 0)], self.size)
        at = np.minimum(np.searchsorted(self.sorted, ids), max(len(self.sorted) - 1, 0))
        found = (self.sorted[at] == ids) if len(self.sorted) else np.zeros(len(ids), bool)
        return np.where(found, self.order[at] if len(self.sorted) else 0, len(self.sorted))


def positions(run: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Where each of ``ids`` stands in ``run`` (from 0), ``len(run)`` for those not in it."""
    return _Positions(run).of(ids)


def keyword_ranking(keyword: Hits | Run) -> Ranking:
    pids, scores = _arrays(keyword)
    return Ranking(pids, scores, np.ones(len(pids), bool), np.arange(len(pids), dtype=np.int64))


def dense_ranking(keyword: Hits | Run, dense: Hits, floor: float) -> Ranking:
    """The dense run (its matches, and its related passages at or above ``floor``), then the
    matches it did not reach, in keyword order, with score 0 (no dense score of their own)."""
    keyword_pids, _ = _arrays(keyword)
    pids, scores = _arrays(dense)
    at = _Positions(keyword_pids).of(pids)
    matched = at < len(keyword_pids)
    head = Ranking(pids, scores, matched, at).where(matched | (scores >= floor))
    rest_at = np.flatnonzero(_Positions(pids).of(keyword_pids) == len(pids))
    return Ranking(np.concatenate([head.pids, keyword_pids[rest_at]]),
                   np.concatenate([head.scores, np.zeros(len(rest_at))]),
                   np.concatenate([head.matched, np.ones(len(rest_at), bool)]), np.concatenate([head.run_at, rest_at]))


def fused_ranking(keyword: Hits | Run, dense: Hits, floor: float, fusion: str, dense_weight: float,
                  rrf_k: int = 60, top: int = CANDIDATES) -> Ranking:
    """Every match and the related passages at or above ``floor``, by fused score."""
    keyword_pids, keyword_scores = _arrays(keyword)
    dense_pids, dense_scores = _arrays(dense)
    if fusion == "rrf":
        values = [1.0 / (rrf_k + 1 + np.arange(len(run), dtype=np.float64)) for run in (keyword_pids, dense_pids)]
        weights: Sequence[float] = (1.0, 1.0)
    else:
        normalize = NORMALIZATIONS[fusion]
        # Measured on the whole top-``top`` dense run, before the floor drops any of it.
        values = [normalize(keyword_scores, top), normalize(dense_scores, top)]
        weights = (1.0 - dense_weight, dense_weight)
    in_keyword = _Positions(keyword_pids)
    dense_rank = in_keyword.of(dense_pids)
    kept = (dense_rank < len(keyword_pids)) | (dense_scores >= floor)
    keyword_values = weights[0] * values[0]
    merged = _merged(keyword_pids, keyword_values, dense_pids[kept], weights[1] * values[1][kept],
                     dense_rank[kept]) if in_keyword.unique else None
    if merged is not None:
        return merged
    pids, scores = weighted_sum([keyword_pids, dense_pids[kept]], [values[0], values[1][kept]], weights)
    keyword_rank = in_keyword.of(pids)
    order = np.lexsort((pids, keyword_rank, -scores))
    return Ranking(pids[order], scores[order], keyword_rank[order] < len(keyword_pids), keyword_rank[order])


def _merged(keyword_pids: np.ndarray, keyword_values: np.ndarray, dense_pids: np.ndarray, dense_values: np.ndarray,
            dense_rank: np.ndarray) -> Ranking | None:
    """``fused_ranking``'s ranking (by fused score, then keyword rank, then passage id) of a keyword
    run without repeats, without sorting every match: the matches the dense side did not reach keep their keyword order, which
    their fused scores follow when they do not rise along it (checked here: None when they rise
    anywhere, or a score is not a number, and the caller sorts); the dense side's hundred
    are sorted and merged in. Scores are summed as ``weighted_sum`` sums them: keyword, then dense."""
    size = len(keyword_pids)
    both = dense_rank < size
    if len(np.unique(dense_pids)) < len(dense_pids):
        return None
    rest = np.ones(size, dtype=bool)
    rest[dense_rank[both]] = False
    rest_rank = np.flatnonzero(rest)
    rest_scores = 0.0 + keyword_values[rest_rank]
    head_scores = np.where(both, 0.0 + keyword_values[np.minimum(dense_rank, max(size - 1, 0))] if size else 0.0, 0.0)
    head_scores = head_scores + dense_values
    if (np.isnan(rest_scores).any() or np.isnan(head_scores).any()
            or (len(rest_scores) > 1 and not (rest_scores[:-1] >= rest_scores[1:]).all())):
        return None
    head = np.lexsort((dense_pids, dense_rank, -head_scores))
    head_pids, head_scores, head_rank = dense_pids[head], head_scores[head], dense_rank[head]
    # How many of the rest come before each of the head: those scored higher, and of those scored
    # the same, those ranked higher by keyword (no passage is in both).
    descending = -rest_scores
    before = np.clip(np.searchsorted(rest_rank, head_rank),
                     np.searchsorted(descending, -head_scores, side="left"),
                     np.searchsorted(descending, -head_scores, side="right"))
    slots = before + np.arange(len(head))
    total = len(rest_rank) + len(head)
    in_head = np.zeros(total, dtype=bool)
    in_head[slots] = True
    pids, scores, rank = np.empty(total, np.int64), np.empty(total, np.float64), np.empty(total, np.int64)
    pids[slots], scores[slots], rank[slots] = head_pids, head_scores, head_rank
    pids[~in_head], scores[~in_head], rank[~in_head] = keyword_pids[rest_rank], rest_scores, rest_rank
    return Ranking(pids, scores, rank < size, rank)


@dataclass(frozen=True)
class ArticleRanking:
    """Articles ranked by their best passage: that passage, its score, whether the article matches
    (any of its passages does) and how many of its passages match, and where that passage stands in
    the passage ranking."""

    best: Ranking
    matched_passages: np.ndarray   # int64, per article
    positions: np.ndarray          # int64, per article


def by_article(ranking: Ranking, numbers: np.ndarray) -> ArticleRanking:
    """``numbers[i]`` is the article number (``Owners.numbers``) of the ranking's item ``i``."""
    size = len(numbers)
    slots = int(numbers.max()) + 1 if size else 0
    # Each article's first (best) place in the ranking; articles come in that order.
    first = np.full(slots, size, dtype=np.int64)
    np.minimum.at(first, numbers, np.arange(size, dtype=np.int64))
    positions = np.sort(first[first < size])
    counts = np.bincount(numbers, weights=ranking.matched, minlength=slots)[numbers[positions]].astype(np.int64)
    best = ranking.where(positions)
    return ArticleRanking(Ranking(best.pids, best.scores, counts > 0, best.run_at), counts, positions)


@dataclass(frozen=True)
class Owners:
    """The article of each item of a ranking: ``keys`` (int64, ``article_keys``, one per article)
    that near-duplicate pairs are matched by, ``numbers`` (int64, small and not negative, one per
    article: the same grouping) to group by in a table, and ``ids`` to read their article ids (all
    of them, or those at the positions given). ``distinct``: where ``numbers`` are the keyword
    index's article numbers, the sorted keys they index (a number past them is an article the
    index does not hold yet), so near-duplicate folding looks up numbers instead of keys; None
    where the numbers are only this ranking's."""

    keys: np.ndarray
    numbers: np.ndarray
    _ids: Callable[[np.ndarray], list[str]]
    distinct: np.ndarray | None = None

    def ids(self, at: np.ndarray | None = None) -> list[str]:
        return self._ids(np.arange(len(self.keys)) if at is None else at)

    def at(self, positions: np.ndarray) -> "Owners":
        """The owners of the items at ``positions``, in that order."""
        return Owners(self.keys[positions], self.numbers[positions], lambda at: self.ids(positions[at]), self.distinct)

    @classmethod
    def of_ids(cls, article_ids: Sequence[str]) -> "Owners":
        """From the article ids themselves, keyed as the compiled postings key them (``article_keys``),
        which the near-duplicate pairs are matched by."""
        ids = np.array(article_ids, dtype=object)
        unique, inverse = np.unique(ids.astype(str), return_inverse=True)
        keys = article_keys(unique.tolist())[inverse.reshape(-1)]
        return cls(keys, np.unique(keys, return_inverse=True)[1].reshape(-1), lambda at: ids[at].tolist())
