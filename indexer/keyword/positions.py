"""Word positions in the compiled postings, so that names and phrases are checked in numpy.

Why: a name of several words (حزب الله, بان كي مون) matches only where its words stand as typed.
That check decoded Whoosh's positions in Python, document by candidate document, and was a fifth
of a names run at a million passages (docs/performance.md). So each compiled folder also holds,
for every field whose Whoosh format stores positions (``positional``: the exact-form fields and
``text``), all its postings' positions end to end (uint16, in posting order) and where each term's
begin (``indexer/store/layout.py`` names the files). A posting's own first position is its term's
plus the frequencies of the term's postings before it, and a frequency is the posting's weight over
the field's boost (Whoosh's ``Positions`` weighs each occurrence by it): no per-posting offset on
disk. The writer checks that rule as it writes; a field that breaks it, or holds a position past
65,535, gets no positions in that folder, and adjacency reads Whoosh's for it instead.
"""
from __future__ import annotations

from itertools import chain
from pathlib import Path
from typing import Sequence

import numpy as np
from whoosh.formats import Positions

from indexer.store.layout import position_offsets_file, positions_file

POSITION_DTYPE = np.uint16
# Decoded Whoosh values kept (``decode``): a few megabytes; cleared when full.
DECODED_KEPT = 1 << 18
_WHOOSH_POSITIONS = Positions()
_decoded: dict[bytes, tuple[int, ...]] = {}


def positional(schema, fields: Sequence[str]) -> dict[str, float]:
    """Each of ``fields`` whose Whoosh format stores positions, with its field boost."""
    return {f: schema[f].format.field_boost for f in fields if type(schema[f].format) is Positions}


def decode(values: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """(how many positions each of Whoosh's ``Positions`` ``values`` holds, all of them end to
    end). Each distinct value is decoded once, by Whoosh: most postings hold a word once, at one
    of a few hundred places, so a handful of values make up most of a segment's postings."""
    if len(_decoded) > DECODED_KEPT:
        _decoded.clear()
    lists = [_decoded.get(v) or _decode_one(v) for v in values]
    counts = np.fromiter(map(len, lists), np.int64, len(lists))
    return counts, np.fromiter(chain.from_iterable(lists), np.int64, int(counts.sum()))


def _decode_one(value: bytes) -> tuple[int, ...]:
    positions = _decoded[value] = tuple(_WHOOSH_POSITIONS.decode_positions(value))
    return positions


def spans(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The indexes ``starts[i]`` .. ``starts[i] + counts[i] - 1`` of every ``i``, end to end: one
    gather for many ranges."""
    ends = np.cumsum(counts)
    return np.arange(ends[-1] if len(ends) else 0) + np.repeat(starts - (ends - counts), counts)


def in_sorted(values: np.ndarray, sorted_ids: np.ndarray) -> np.ndarray:
    """Which ``values`` are in ``sorted_ids`` (a binary search each)."""
    at = np.searchsorted(sorted_ids, values)
    inside = at < len(sorted_ids)
    inside[inside] = sorted_ids[at[inside]] == values[inside]
    return inside


def occurrences(postings, terms: np.ndarray, docs: np.ndarray, boost: float) -> tuple[np.ndarray, np.ndarray]:
    """(document, position) of each occurrence of any of ``terms`` (a unicode array) in the sorted
    ``docs``, from a ``FieldPostings`` that holds positions; ``boost`` is the field's."""
    starts, ends = postings.ranges(terms)
    held = ends > starts
    starts, counts = starts[held], (ends - starts)[held]
    index = spans(starts, counts)   # every posting of the terms, term after term
    frequency = np.rint(postings.weights[index] / boost).astype(np.int64)
    before = np.cumsum(frequency) - frequency   # positions of the gathered postings before each
    term_first = postings.position_offsets[np.searchsorted(postings.offsets, starts)]
    first = before + np.repeat(term_first - before[np.cumsum(counts) - counts], counts)
    posting_docs = postings.docs[index]
    inside = in_sorted(posting_docs, docs)
    frequency = frequency[inside]
    return (np.repeat(posting_docs[inside].astype(np.int64), frequency),
            postings.positions[spans(first[inside], frequency)].astype(np.int64))


class PositionsWriter:
    """One field's positions, streamed to its file a buffer of postings at a time by
    ``SegmentFolderWriter``; ``close`` writes where each term's begin, or drops the file when
    the field breaks the rules in the module docstring."""

    def __init__(self, folder: Path, field: str, boost: float):
        self.path, self.offsets_path = folder / positions_file(field), folder / position_offsets_file(field)
        self.boost = boost
        self.held = True
        self._out = open(self.path, "wb")
        self._values: list[bytes] = []
        self._term_weights: list[float] = []   # per term, its postings' weights summed
        self._written = 0

    def add(self, new_term: bool, weights, values: Sequence[bytes]) -> None:
        if new_term:
            self._term_weights.append(0.0)
        self._term_weights[-1] += float(sum(weights))
        self._values.extend(values)

    def flush(self, weights: Sequence[float]) -> None:
        """Write the positions of the values added since the last flush; ``weights`` are their
        postings' weights."""
        if self.held and self._values:
            counts, positions = decode(self._values)
            expected = np.rint(np.asarray(weights, dtype=np.float64) / self.boost)
            if not np.array_equal(counts, expected) or positions.max() > np.iinfo(POSITION_DTYPE).max:
                self.held = False
            else:
                positions.astype(POSITION_DTYPE).tofile(self._out)
                self._written += len(positions)
        self._values.clear()

    def close(self) -> None:
        self._out.close()
        offsets = np.zeros(len(self._term_weights) + 1, dtype=np.int64)
        np.cumsum(np.rint(np.array(self._term_weights) / self.boost).astype(np.int64), out=offsets[1:])
        if self.held and offsets[-1] == self._written:
            np.save(self.offsets_path, offsets)
        else:
            self.path.unlink()

    def abort(self) -> None:
        self._out.close()
