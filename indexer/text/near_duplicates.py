"""Near-duplicate articles, the same story republished or updated under another id.

Each article's body becomes a set of word shingles (runs of ``shingle`` normalized words), and
its MinHash sketch (``datasketch``) estimates the Jaccard similarity of two such sets; an LSH
index over the sketches finds the articles that may pass ``threshold`` without comparing every
pair, and the sketches then confirm them. The parameters are recorded in the manifest.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

import numpy as np
from datasketch import MinHash, MinHashLSH

from indexer.text.arabic import normalize

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


class DuplicateFinder:
    """Sketches by article id, with an LSH index to find the near-duplicates of a new one."""

    def __init__(self, params: SketchParams, sketches: Iterable[tuple[str, np.ndarray]] = ()):
        self.params = params
        self.lsh = MinHashLSH(threshold=params.threshold, num_perm=params.num_perm)
        self.sketches: dict[str, np.ndarray] = {}
        for article_id, values in sketches:
            self.add(article_id, values)

    def add(self, article_id: str, values: np.ndarray) -> None:
        self.remove(article_id)
        if not len(values):
            return
        self.lsh.insert(article_id, self._minhash(values))
        self.sketches[article_id] = values

    def remove(self, article_id: str) -> None:
        if self.sketches.pop(article_id, None) is not None:
            self.lsh.remove(article_id)

    def matches(self, values: np.ndarray, exclude: str = "") -> list[tuple[str, float]]:
        """(article id, similarity) of the articles at or above the threshold, most similar first."""
        found = []
        for other in self.lsh.query(self._minhash(values)) if len(values) else ():
            score = similarity(values, self.sketches[other])
            if other != exclude and score >= self.params.threshold:
                found.append((other, round(score, 4)))
        return sorted(found, key=lambda m: (-m[1], m[0]))

    def _minhash(self, values: np.ndarray) -> MinHash:
        return MinHash(num_perm=self.params.num_perm, hashvalues=values.astype(np.uint64), scheme=SCHEME,
                       permutations=_permutations(self.params.num_perm))
