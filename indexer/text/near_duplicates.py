"""Near-duplicate articles, the same story republished or updated under another id.

Each article's body becomes a set of word shingles (runs of ``shingle`` normalized words), and
its MinHash sketch (``datasketch``) estimates the Jaccard similarity of two such sets; an LSH
index over the sketches (datasketch's bands and rows, kept in numpy arrays: ``band_index.py``)
finds the articles that may pass ``threshold`` without comparing every pair, and the sketches then
confirm them. The parameters are recorded in the manifest.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

import numpy as np
from datasketch import MinHash, MinHashLSH

from indexer.text.arabic import normalize
from indexer.text.band_index import BandIndex, band_keys

WORD = re.compile(r"\w+")
# datasketch's 32-bit permutation scheme, named so that a later default cannot silently make new
# sketches incomparable with stored ones.
SCHEME = "affine32"


@dataclass(frozen=True)
class SketchParams:
    num_perm: int = 128      # hash functions per sketch: the similarity estimate's error is about 1/sqrt(128)
    shingle: int = 3         # words per shingle: word order matters, one edited word changes three shingles
    # Stories sharing half their shingles: a wire story reprinted with its own first line or an
    # update that adds up to as much again. Set before any measurement, not fitted (docs/workflow.md).
    threshold: float = 0.5
    # A brief of a few words has a handful of shingles, and two briefs written on one template
    # ("news about the markets in the region") would pass as one story: such bodies get no sketch.
    min_words: int = 20

    def to_dict(self) -> dict:
        return {"num_perm": self.num_perm, "shingle": self.shingle, "threshold": self.threshold,
                "min_words": self.min_words}


def words(text: str) -> list[str]:
    return WORD.findall(normalize(text))


def shingles(text: str, size: int) -> set[bytes]:
    return _shingles(words(text), size)


def _shingles(words: list[str], size: int) -> set[bytes]:
    if len(words) <= size:
        return {" ".join(words).encode("utf-8")}
    return {" ".join(words[i:i + size]).encode("utf-8") for i in range(len(words) - size + 1)}


def sketch(text: str, params: SketchParams) -> np.ndarray:
    """The MinHash of ``text``'s shingles, as ``num_perm`` 32-bit values (datasketch's range);
    empty for a text shorter than ``min_words``, which has no near-duplicates."""
    found = words(text)
    if len(found) < params.min_words:
        return np.empty(0, dtype=np.uint32)
    minhash = MinHash(num_perm=params.num_perm, scheme=SCHEME, permutations=_permutations(params.num_perm))
    minhash.update_batch(list(_shingles(found, params.shingle)))
    return minhash.hashvalues.astype(np.uint32)


@lru_cache(maxsize=None)
def _permutations(num_perm: int) -> np.ndarray:
    """datasketch's permutations for ``num_perm`` (seeded, the same every time): drawing them anew
    for each MinHash took a third of the near-duplicate stage."""
    return MinHash(num_perm=num_perm, scheme=SCHEME).permutations


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of the two shingle sets."""
    return float(np.mean(a == b))


@lru_cache(maxsize=None)
def lsh_shape(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows per band) that datasketch's ``MinHashLSH`` chooses for these parameters (the
    pair minimizing its false positive and negative probabilities: 25 bands of 5 rows for 0.5 and 128)."""
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    return lsh.b, lsh.r


class DuplicateFinder:
    """Sketches by article id, with an LSH index to find the near-duplicates of a new one.

    The articles found are exactly those ``datasketch.MinHashLSH`` proposes (an equal band,
    value for value, with its bands and rows) that pass the threshold. Sketches are kept as
    uint32 rows of fixed-size blocks, the bands as sorted arrays (``BandIndex``): about 1 KiB an
    article where MinHashLSH and a dict of sketches took 9.5 (``python -m bench.duplicate_finder``).
    """

    BLOCK = 4096   # sketch rows a block: growing adds a block and never copies the others

    def __init__(self, params: SketchParams, sketches: Iterable[tuple[str, np.ndarray]] = (),
                 buffer: int = 1024, recent: int = 65536):
        self.params = params
        self.bands, self.rows = lsh_shape(params.threshold, params.num_perm)
        self.index = BandIndex(self.bands, buffer, recent)   # the levels' sizes: BandIndex
        self.ids: list[str | None] = []        # slot -> article id; None for a free slot
        self.slot_of: dict[str, int] = {}
        self.free: list[int] = []
        self.blocks: list[np.ndarray] = []
        self.extend(sketches)

    def __len__(self) -> int:
        return len(self.slot_of)

    @property
    def nbytes(self) -> int:
        """Bytes of the sketches and the bands (the ids are Python strings beside them)."""
        return sum(b.nbytes for b in self.blocks) + self.index.nbytes

    def add(self, article_id: str, values: np.ndarray) -> None:
        self.extend([(article_id, values)])

    def extend(self, sketches: Iterable[tuple[str, np.ndarray]]) -> None:
        """``add`` each, hashing their bands together: a writer's open loads every stored sketch."""
        slots = []
        for article_id, values in sketches:
            self.remove(article_id)
            if len(values):
                slots.append(self._place(article_id, values))
            if len(slots) == self.BLOCK:
                self._index(slots)
                slots = []
        self._index(slots)

    def remove(self, article_id: str) -> None:
        slot = self.slot_of.pop(article_id, None)
        if slot is not None:
            self.index.remove(slot, self._keys(self._sketch(slot)[None])[0])
            self.ids[slot] = None
            self.free.append(slot)

    def matches(self, values: np.ndarray, exclude: str = "") -> list[tuple[str, float]]:
        """(article id, similarity) of the articles at or above the threshold, most similar first."""
        if not len(values):
            return []
        self._check(values)
        slots = [s for s in self.index.lookup(self._keys(values[None])[0]).tolist() if self.ids[s] is not None]
        if not slots:
            return []
        same = np.stack([self._sketch(s) for s in slots]) == values
        # A key is a hash: keep only the candidates with a band equal value for value, as MinHashLSH.
        banded = same[:, :self.bands * self.rows].reshape(len(slots), self.bands, self.rows).all(axis=2).any(axis=1)
        scores = np.count_nonzero(same, axis=1) / len(values)   # similarity(), for every candidate at once
        found = [(self.ids[s], round(float(score), 4)) for s, score, band in zip(slots, scores, banded)
                 if band and score >= self.params.threshold and self.ids[s] != exclude]
        return sorted(found, key=lambda m: (-m[1], m[0]))

    def _place(self, article_id: str, values: np.ndarray) -> int:
        self._check(values)
        if self.free:
            slot = self.free.pop()
            self.ids[slot] = article_id
        else:
            slot = len(self.ids)
            self.ids.append(article_id)
            if slot == len(self.blocks) * self.BLOCK:
                self.blocks.append(np.empty((self.BLOCK, self.params.num_perm), dtype=np.uint32))
        self.blocks[slot // self.BLOCK][slot % self.BLOCK] = values
        self.slot_of[article_id] = slot
        return slot

    def _index(self, slots: list[int]) -> None:
        # A slot freed again within the same call is indexed under the sketch it holds now: a stale
        # entry costs a lookup, never a wrong match (matches() checks the id and the bands).
        if slots:
            self.index.add(np.array(slots, dtype=np.int32), self._keys(np.stack([self._sketch(s) for s in slots])))

    def _sketch(self, slot: int) -> np.ndarray:
        return self.blocks[slot // self.BLOCK][slot % self.BLOCK]

    def _keys(self, sketches: np.ndarray) -> np.ndarray:
        return band_keys(sketches, self.bands, self.rows)

    def _check(self, values: np.ndarray) -> None:
        if len(values) != self.params.num_perm:
            raise ValueError(f"a sketch of {len(values)} values where the index holds {self.params.num_perm}")
