"""``search.collapse``'s folding of articles given in any order, each ranked by a score (and a
tie-break), without putting them in order.

Why: a question at a million passages matches 96,000 articles (the median of 30 XQuAD-ar
questions) and a page shows ten; ordering them all was most of a keyword search's time
(docs/performance.md, "Questions at 1M without ordering every match"). Folding needs only which
of two paired articles ranks first: a story that makes a clique on its own (``PairKeys.stories``)
keeps its first-ranked article and folds the others under it, found by one reduction; the other
articles are decided as ``collapse`` decides them (``_decide``), from their pairs, each pair's
direction given by comparing its two articles.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from indexer.keyword.positions import spans
from search.collapse import FOLDED, KEPT, LOOSE, PairKeys, _decide


@dataclass(frozen=True)
class ScoredFolding:
    """What ``collapse_scored`` decided, per article as given."""

    folded: np.ndarray     # bool
    scores: np.ndarray
    ties: np.ndarray
    story: np.ndarray      # each article's story (``PairKeys.places_of``), negative for none
    head: np.ndarray       # bool: the article kept of its story
    earlier: np.ndarray    # the other articles: the pairs that fold the later under the earlier one
    later: np.ndarray

    def under(self, shown: np.ndarray) -> list[np.ndarray]:
        """For each of the kept articles ``shown``, those folded under it (under the first-ranked of
        their kept earlier partners), best first."""
        home = self._homes(shown)
        out = []
        for article in np.asarray(shown).tolist():
            if self.story[article] >= 0:
                mine = np.flatnonzero((self.story == self.story[article]) & ~self.head)
            else:
                mine = home[1][home[0] == article]
            out.append(mine[np.lexsort((self.ties[mine], -self.scores[mine]))])
        return out

    def _homes(self, shown: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(home, folded article) for each article folded next to one of ``shown`` outside a story:
        its home is the first-ranked of its kept earlier partners."""
        is_shown, near = np.zeros(len(self.folded), dtype=bool), np.zeros(len(self.folded), dtype=bool)
        is_shown[shown] = True
        near[self.later[is_shown[self.earlier]]] = True
        at = np.flatnonzero(near[self.later])
        earlier, later = self.earlier[at], self.later[at]
        order = np.lexsort((self.ties[earlier], -self.scores[earlier], later))
        earlier, later = earlier[order], later[order]
        first = np.ones(len(later), dtype=bool)
        first[1:] = later[1:] != later[:-1]
        return earlier[first], later[first]


def collapse_scored(keys: np.ndarray, pairs: PairKeys, scores: np.ndarray, ties: np.ndarray,
                    numbers: np.ndarray | None = None, distinct: np.ndarray | None = None) -> ScoredFolding:
    """``collapse`` of distinct articles ``keys`` given in any order, ranked by ``scores`` (highest
    first), then ``ties`` (distinct; lowest first): the same decisions as ``collapse`` of them in
    that order. ``numbers``, ``distinct``: as for ``collapse``; ``keys`` may then be None where every
    number is below ``len(distinct)``."""
    story = pairs.places_of(keys, numbers, distinct)
    head = _heads(story, scores, ties, len(pairs.table.keys))
    folded = (story >= 0) & ~head
    items = np.flatnonzero(story == LOOSE)
    earlier, later = _edges(items, pairs.nodes(None if keys is None else keys[items],
                                               None if numbers is None else numbers[items], distinct),
                            pairs, scores, ties)
    # Decided among ``items`` alone, numbered in their order: at a million passages they are 3% of
    # the articles a question matches (the median of 30 XQuAD-ar questions), and every other
    # article has no pair here, so ``_decide`` would only keep it, in rounds that each pass over
    # every article. (Numbered through a table: a binary search of each pair's two was slower.)
    local = np.empty(len(scores), dtype=np.int64)
    local[items] = np.arange(len(items))
    first, second = local[earlier], local[later]
    state = _decide(len(items), first, second)
    folded[items[state == FOLDED]] = True
    under = (state[first] == KEPT) & (state[second] == FOLDED)
    return ScoredFolding(folded, scores, ties, story, head, earlier[under], later[under])


def _heads(story: np.ndarray, scores: np.ndarray, ties: np.ndarray, stories: int) -> np.ndarray:
    """Whether each article is the first-ranked of its story's articles given (False outside one).
    The articles outside a story (``LOOSE``, ``UNPAIRED``: negative) fall in the tables' last two
    entries: every article is reduced in place, none gathered first (most articles of a question
    at 1M are in a story)."""
    top = np.full(stories + 2, -np.inf)
    np.maximum.at(top, story, scores)
    level = scores == top[story]
    low = np.full(stories + 2, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(low, story[level], ties[level])
    return level & (ties == low[story]) & (story >= 0)


def _edges(items: np.ndarray, nodes: np.ndarray, pairs: PairKeys, scores: np.ndarray,
           ties: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pairs between ``items`` (articles outside a story, at ``nodes``: their partners are
    too) as (earlier, later) articles. As ``collapse``'s edges, a pair counts from the list of its
    earlier article."""
    item_of = np.full(len(pairs.table.keys), -1, dtype=np.int64)
    item_of[nodes] = items
    lo = pairs.starts[nodes]
    counts = pairs.starts[nodes + 1] - lo
    owner = np.repeat(items, counts)
    partner = item_of[pairs.partners[spans(lo, counts)]]
    owner, partner = owner[partner >= 0], partner[partner >= 0]
    mine, theirs = scores[owner], scores[partner]
    forward = (mine > theirs) | ((mine == theirs) & (ties[owner] < ties[partner]))
    return owner[forward], partner[forward]
