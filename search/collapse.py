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

from dataclasses import dataclass, field
from functools import cached_property
from array import array
from typing import Iterable

import numpy as np

from indexer.keyword.positions import spans
from indexer.keyword.postings import article_key


# ``PairKeys.places_of`` of an article outside a story (its node's pairs decide it) and of one
# without pairs; a story is a node number, from 0.
LOOSE, UNPAIRED = -1, -2


@dataclass(frozen=True)
class PairKeys:
    """The near-duplicate pairs as a graph over article keys (``article_keys``): ``table`` holds the
    keys that have any, and the ``i``-th of them pairs with ``partners[starts[i]:starts[i + 1]]``
    (indexes into the same keys). Built once per reading of the pairs, so a search only gathers."""

    table: "KeyTable"
    # int32 (a search gathers from them; a million passages of reprints have 1.3 million pairs)
    starts: np.ndarray     # one more than the keys
    partners: np.ndarray
    # (sorted distinct keys, the node of each or -1, the place of each) for the last keys ``nodes``
    # or ``places_of`` was given numbers of: the keyword index's article keys, the same array until
    # its segments change.
    _numbered: list = field(default_factory=lambda: [None], compare=False, repr=False)

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
        table = KeyTable.of(np.unique(src_keys))
        node, partner = table.find(src_keys), table.find(dst_keys)
        # A partner without pairs of its own (a table stored one way) is never folded with.
        node, partner = node[partner >= 0], partner[partner >= 0]
        order = np.argsort(node, kind="stable")
        starts = np.searchsorted(node[order], np.arange(len(table.keys) + 1))
        return cls(table, starts.astype(np.int32), partner[order].astype(np.int32))

    @cached_property
    def stories(self) -> np.ndarray:
        """Each node's story where the nodes paired with it make a clique on their own: each paired
        with every other, both ways, and none with a node outside. Folding keeps the first-ranked
        of a story and folds every other under it, so a search decides those by one reduction
        instead of gathering their n(n - 1) pairs (``collapse``, ``search.collapse_scored``): at a
        million passages of reprints, 97% of the nodes. A story is its smallest node; -1 for
        other nodes."""
        count = len(self.table.keys)
        degree = np.diff(self.starts.astype(np.int64))
        owner = np.repeat(np.arange(count), degree)
        partners = self.partners.astype(np.int64)
        story = np.arange(count)
        np.minimum.at(story, owner, partners)
        # A node is in a clique on its own when its partners are its story's other nodes, each once.
        fine = degree == np.bincount(story, minlength=count)[story] - 1
        apart = story[owner] != story[partners]
        fine[owner[apart]] = False
        fine[partners[apart]] = False
        pair = np.sort(owner * count + partners)
        fine[pair[1:][pair[1:] == pair[:-1]] // count] = False
        spoiled = np.zeros(count, dtype=bool)
        spoiled[story[~fine]] = True
        return np.where(spoiled[story], -1, story)

    @cached_property
    def places(self) -> np.ndarray:
        """Each node's story (``stories``), or ``LOOSE`` for a node outside one, and one more entry,
        ``UNPAIRED``: indexed by a node, or by -1 for a key without pairs (``places_of``)."""
        return np.append(np.where(self.stories >= 0, self.stories, LOOSE), UNPAIRED)

    def nodes(self, keys: np.ndarray, numbers: np.ndarray | None = None,
              distinct: np.ndarray | None = None) -> np.ndarray:
        """The node (index in ``table.keys``) of each of ``keys``, -1 for one without pairs. Given
        ``numbers`` that index ``distinct`` (sorted keys: ``distinct[numbers[i]] == keys[i]`` where
        ``numbers[i] < len(distinct)``), a gather from each distinct key's node, looked up once for
        that ``distinct``: the key lookup was a fifth of folding a question's matches at a million
        passages. Numbers past ``distinct`` are looked up by key."""
        if distinct is None:
            return self.table.find(keys)
        return self._by_number(keys, numbers, distinct, 1)

    def places_of(self, keys: np.ndarray, numbers: np.ndarray | None = None,
                  distinct: np.ndarray | None = None) -> np.ndarray:
        """The story of each of ``keys`` (``stories``), ``LOOSE`` for a node outside one,
        ``UNPAIRED`` for a key without pairs; ``numbers``, ``distinct`` as for ``nodes``, each
        distinct key's place found once, so an article's is one gather (not its node's, then the
        node's story)."""
        if distinct is None:
            return self.places[self.table.find(keys)]
        return self._by_number(keys, numbers, distinct, 2)

    def _by_number(self, keys: np.ndarray, numbers: np.ndarray, distinct: np.ndarray, column: int) -> np.ndarray:
        """Column 1 (nodes) or 2 (places) of ``distinct``'s numbering, for each of ``numbers``."""
        last = self._numbered[0]   # one read: another thread may replace it
        if last is None or last[0] is not distinct:
            node = self.table.find(distinct)
            last = (distinct, node, self.places[node])
            self._numbered[0] = last
        known = numbers < len(distinct)
        if known.all():   # ``keys`` is not read: it may be None
            return last[column][numbers]
        out = np.empty(len(keys), dtype=np.int64)
        out[known] = last[column][numbers[known]]
        node = self.table.find(keys[~known])
        out[~known] = node if column == 1 else self.places[node]
        return out


@dataclass(frozen=True)
class KeyTable:
    """Sorted distinct int64 ``keys`` that are hashes (``article_keys``: uniform over int64), and
    where each key a search brings is among them. A directory of the keys' top bits sends a key
    to the one or two keys that share them, so a batch is looked up in a few gathers: a binary
    search of an unsorted batch (``np.searchsorted``) misses the cache at nearly every step, and
    took most of a search's time folding the matches of a question at a million passages."""

    keys: np.ndarray
    shift: int               # a key's bucket is its top 64 - shift bits
    directory: np.ndarray    # int32: where each bucket's keys start among ``keys``, and the end

    @classmethod
    def of(cls, keys: np.ndarray) -> "KeyTable":
        # At most one key per bucket on average (2**bits > len(keys)); keys that do not spread
        # (not hashes) are still found, only more slowly.
        shift = 64 - max(1, len(keys).bit_length())
        directory = np.searchsorted(_bucket(keys, shift), np.arange((1 << (64 - shift)) + 1))
        return cls(keys, shift, directory.astype(np.int32))

    def find(self, wanted: np.ndarray) -> np.ndarray:
        """The index in ``keys`` of each of ``wanted``, -1 where it is not there."""
        bucket = _bucket(wanted, self.shift)
        at, end = self.directory[bucket], self.directory[bucket + 1]
        found = np.full(len(wanted), -1, dtype=np.int64)
        looking = np.flatnonzero(at < end)
        while len(looking):   # once per key of the fullest bucket met, at most
            here = at[looking]
            hit = self.keys[here] == wanted[looking]
            found[looking[hit]] = here[hit]
            at[looking] = here + 1
            looking = looking[~hit & (here + 1 < end[looking])]
        return found


def _bucket(keys: np.ndarray, shift: int) -> np.ndarray:
    """The top bits of signed ``keys``, from 0."""
    return (np.asarray(keys, dtype=np.int64) >> shift) + (1 << (63 - shift))


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


def collapse(keys: np.ndarray, pairs: PairKeys, numbers: np.ndarray | None = None,
             distinct: np.ndarray | None = None) -> Folding:
    """``keys[i]``: the article of the ranking's item ``i``; ``numbers`` and ``distinct``, where
    known, the same articles as numbers (``PairKeys.nodes``), which are quicker to look up."""
    everything = np.arange(len(keys))
    node_of = pairs.nodes(keys, numbers, distinct)   # each item's article among those with pairs, or -1
    candidates = np.flatnonzero(node_of >= 0)
    if not len(candidates):
        return Folding(everything, everything[:0], everything[:0])
    nodes, first, rank = _first_places(node_of[candidates], candidates, len(pairs.table.keys), len(keys))
    # A clique story (``PairKeys.stories``) keeps its first-placed article and folds the others
    # under it; only the other articles are decided from their pairs. Nodes are numbered in rank
    # order, so the first-placed is the smallest number.
    story = pairs.stories[nodes]
    member = np.flatnonzero(story >= 0)
    head = np.full(len(pairs.table.keys), len(nodes), dtype=np.int64)
    np.minimum.at(head, story[member], member)
    earlier, later = _edges(np.flatnonzero(story < 0), nodes, rank, pairs)
    state = _decide(len(nodes), earlier, later)
    home = np.full(len(nodes), len(nodes), dtype=np.int64)
    home[member] = head[story[member]]
    state[member[home[member] != member]] = FOLDED
    # Each other folded article goes under the first-placed of its kept earlier partners (every
    # folded one has one).
    under = (state[earlier] == KEPT) & (state[later] == FOLDED)
    np.minimum.at(home, later[under], earlier[under])
    folded_nodes = np.flatnonzero(state == FOLDED)
    into = first[home[folded_nodes]]
    order = np.argsort(into, kind="stable")   # by (into, position): folded nodes ascend by position
    kept = np.ones(len(keys), dtype=bool)
    kept[candidates[state[rank[node_of[candidates]]] == FOLDED]] = False
    return Folding(np.flatnonzero(kept), first[folded_nodes][order], into[order])


def _first_places(node_of: np.ndarray, positions: np.ndarray, nodes: int,
                  size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The articles ranked (``node_of[j]`` is at ascending ``positions[j]``; an article may be at
    several), numbered in the order they first appear: (each one's node, its first position), and
    each node's number, -1 for those not ranked."""
    first_at = np.full(nodes, size, dtype=np.int64)
    np.minimum.at(first_at, node_of, positions)
    is_first = first_at[node_of] == positions
    ranked, first = node_of[is_first], positions[is_first]
    rank = np.full(nodes, -1, dtype=np.int64)
    rank[ranked] = np.arange(len(ranked))
    return ranked, first, rank


UNDECIDED, KEPT, FOLDED = 0, 1, 2


def _edges(owners: np.ndarray, nodes: np.ndarray, rank: np.ndarray, pairs: PairKeys) -> tuple[np.ndarray, np.ndarray]:
    """The pairs from the ranked articles ``owners`` to later ranked ones as (earlier, later)
    numbers (``_first_places``)."""
    lo = pairs.starts[nodes[owners]]
    counts = pairs.starts[nodes[owners] + 1] - lo
    owner = np.repeat(owners, counts)
    partner = rank[pairs.partners[spans(lo, counts)]]
    forward = partner > owner     # unranked partners are -1
    return owner[forward], partner[forward]


def _decide(n: int, earlier: np.ndarray, later: np.ndarray) -> np.ndarray:
    """KEPT or FOLDED per node: folded once an earlier partner is kept, kept once every earlier
    partner is settled and none is kept. The first undecided node in rank order always settles, so
    every round makes progress; a pair whose later node is settled is not looked at again."""
    state = np.zeros(n, dtype=np.int8)
    while (state == UNDECIDED).any():
        before = state[earlier]
        has_kept = np.bincount(later[before == KEPT], minlength=n) > 0
        has_open = np.bincount(later[before == UNDECIDED], minlength=n) > 0
        open_now = state == UNDECIDED
        state[open_now & has_kept] = FOLDED
        state[open_now & ~has_kept & ~has_open] = KEPT
        pending = state[later] == UNDECIDED
        earlier, later = earlier[pending], later[pending]
    return state
