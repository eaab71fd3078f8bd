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
from search.collapse import FOLDED, KEPT, PairKeys, _decide


@dataclass(frozen=True)
class ScoredFolding:
    """What ``collapse_scored`` decided, per article as given."""

    folded: np.ndarray     # bool
    scores: np.ndarray
    ties: np.ndarray
    story: np.ndarray      # each article's story (``PairKeys.stories``), -1 for none
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
    that order. ``numbers``, ``distinct``: as for ``collapse``."""
    node_of = pairs.nodes(keys, numbers, distinct)
    story = np.full(len(keys), -1, dtype=np.int64)
    story[node_of >= 0] = pairs.stories[node_of[node_of >= 0]]
    head = _heads(story, scores, ties, len(pairs.table.keys))
    folded = (story >= 0) & ~head
    items = np.flatnonzero((node_of >= 0) & (story < 0))
    earlier, later = _edges(items, node_of, pairs, scores, ties)
    # Decided among ``items`` alone, numbered in their order: at a million passages they are 3% of
    # the articles a question matches (the median of 30 XQuAD-ar questions), and every other
    # article has no pair here, so ``_decide`` would only keep it, in rounds that each pass over
    # every article. (Numbered through a table: a binary search of each pair's two was slower.)
    local = np.empty(len(keys), dtype=np.int64)
    local[items] = np.arange(len(items))
    first, second = local[earlier], local[later]
    state = _decide(len(items), first, second)
    folded[items[state == FOLDED]] = True
    under = (state[first] == KEPT) & (state[second] == FOLDED)
    return ScoredFolding(folded, scores, ties, story, head, earlier[under], later[under])


def _heads(story: np.ndarray, scores: np.ndarray, ties: np.ndarray, stories: int) -> np.ndarray:
    """Whether each article is the first-ranked of its story's articles given (False outside one)."""
    inside = np.flatnonzero(story >= 0)
    group, values, tie = story[inside], scores[inside], ties[inside]
    top = np.full(stories, -np.inf)
    np.maximum.at(top, group, values)
    level = values == top[group]
    low = np.full(stories, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(low, group[level], tie[level])
    head = np.zeros(len(story), dtype=bool)
    head[inside[level & (tie == low[group])]] = True
    return head


def _edges(items: np.ndarray, node_of: np.ndarray, pairs: PairKeys, scores: np.ndarray,
           ties: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pairs between ``items`` (articles outside a story: their partners are too) as (earlier,
    later) articles. As ``collapse``'s edges, a pair counts from the list of its earlier article."""
    item_of = np.full(len(pairs.table.keys), -1, dtype=np.int64)
    item_of[node_of[items]] = items
    lo = pairs.starts[node_of[items]]
    counts = pairs.starts[node_of[items] + 1] - lo
    owner = np.repeat(items, counts)
    partner = item_of[pairs.partners[spans(lo, counts)]]
    owner, partner = owner[partner >= 0], partner[partner >= 0]
    mine, theirs = scores[owner], scores[partner]
    forward = (mine > theirs) | ((mine == theirs) & (ties[owner] < ties[partner]))
    return owner[forward], partner[forward]
