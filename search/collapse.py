"""One story once: a ranked list with each near-duplicate folded under the first result it
duplicates (``indexer/text/near_duplicates.py`` found the pairs at indexing time).

Not transitive: an article joins a shown result only if it is itself a near-duplicate of that
result, so a chain of updates that drifts away from the first version is not swallowed whole.

Articles are decided in the order they first appear: one is folded when a near-duplicate that
appeared before it was kept, under the first-placed of those; else it is kept. Every place of an
article in the ranking (at the passage level, one per passage) goes the same way, since the
articles kept before it do not change. The decision is made in rounds over arrays, not in a loop
over the ranking: a ranking holds every match (hundreds of thousands at a million passages), and
on a corpus of reprints most of them have near-duplicates. Each round settles every article whose
earlier near-duplicates are all settled; a story printed ten times takes two rounds.

>>> pairs = PairKeys.of([("c", "a"), ("a", "c")])
>>> folding = collapse(article_keys(["a", "b", "c"]), pairs)
>>> folding.kept.tolist(), folding.under(0).tolist()
([0, 1], [2])
"""
from __future__ import annotations

from dataclasses import dataclass
from array import array
from typing import Iterable

import numpy as np

from indexer.keyword.postings import article_key, article_keys


@dataclass(frozen=True)
class PairKeys:
    """The near-duplicate pairs as article keys (``article_keys``), both ways: ``src`` sorted, its
    partner in ``dst``, and ``having`` the keys that have any."""

    src: np.ndarray
    dst: np.ndarray
    having: np.ndarray

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, str]]) -> "PairKeys":
        """From (article id, other id) rows, stored both ways: each id hashed once, no row kept
        (a million passages of reprints have 1.3 million rows)."""
        key: dict[str, int] = {}
        src, dst = array("q"), array("q")
        for a, other in pairs:
            if a == other:
                continue
            for article, out in ((a, src), (other, dst)):
                k = key.get(article)
                out.append(key.setdefault(article, article_key(article)) if k is None else k)
        src_keys, dst_keys = np.frombuffer(src, dtype=np.int64), np.frombuffer(dst, dtype=np.int64)
        order = np.argsort(src_keys, kind="stable")
        return cls(src_keys[order], dst_keys[order], np.unique(src_keys))


@dataclass(frozen=True)
class Folding:
    """What ``collapse`` decided, as positions in the ranking it was given."""

    kept: np.ndarray     # the positions kept, in rank order
    folded: np.ndarray   # the first position of each article folded, by (``into``, position)
    into: np.ndarray     # the kept position each of those is folded under, ascending

    def under(self, position: int) -> np.ndarray:
        """The first position of each article folded under the kept ``position``, in rank order."""
        lo, hi = np.searchsorted(self.into, [position, position + 1]).tolist()
        return self.folded[lo:hi]


def collapse(keys: np.ndarray, pairs: PairKeys) -> Folding:
    """``keys[i]``: the article of the ranking's item ``i``."""
    everything = np.arange(len(keys))
    candidates = everything[_member(keys, pairs.having)]
    if not len(candidates):
        return Folding(everything, everything[:0], everything[:0])
    nodes, first_at, node_of = np.unique(keys[candidates], return_index=True, return_inverse=True)
    first = candidates[first_at]                      # each article's first position
    earlier, later = _edges(nodes, first, pairs)
    state = _decide(len(nodes), earlier, later)
    # Each folded article goes under the first-placed of its kept earlier partners.
    under = (state[earlier] == KEPT) & (state[later] == FOLDED)
    by_later = np.lexsort((first[earlier[under]], later[under]))
    folded_nodes, at = np.unique(later[under][by_later], return_index=True)
    into = first[earlier[under][by_later][at]]
    order = np.lexsort((first[folded_nodes], into))
    kept = np.ones(len(keys), dtype=bool)
    kept[candidates[state[node_of.reshape(-1)] == FOLDED]] = False
    return Folding(np.flatnonzero(kept), first[folded_nodes][order], into[order])


def _member(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    if not len(sorted_set):
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_set, values), len(sorted_set) - 1)
    return sorted_set[at] == values


UNDECIDED, KEPT, FOLDED = 0, 1, 2


def _edges(nodes: np.ndarray, first: np.ndarray, pairs: PairKeys) -> tuple[np.ndarray, np.ndarray]:
    """The pairs between ranked articles as (earlier, later) node numbers, by first position."""
    lo = np.searchsorted(pairs.src, nodes, side="left")
    counts = np.searchsorted(pairs.src, nodes, side="right") - lo
    owner = np.repeat(np.arange(len(nodes)), counts)
    at = np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(int(counts.sum()))
    partner_keys = pairs.dst[at]
    partner = np.minimum(np.searchsorted(nodes, partner_keys), len(nodes) - 1)
    ranked = (nodes[partner] == partner_keys) & (partner != owner)
    a, b = owner[ranked], partner[ranked]
    forward = first[a] < first[b]
    return a[forward], b[forward]


def _decide(n: int, earlier: np.ndarray, later: np.ndarray) -> np.ndarray:
    """KEPT or FOLDED per node: folded once an earlier partner is kept, kept once every earlier
    partner is settled and none is kept. The first undecided node in rank order always settles, so
    every round makes progress."""
    state = np.zeros(n, dtype=np.int8)
    while (state == UNDECIDED).any():
        before = state[earlier]
        has_kept = np.bincount(later[before == KEPT], minlength=n) > 0
        has_open = np.bincount(later[before == UNDECIDED], minlength=n) > 0
        open_now = state == UNDECIDED
        state[open_now & has_kept] = FOLDED
        state[open_now & ~has_kept & ~has_open] = KEPT
    return state
