"""Which documents hold a sequence of words at given distances, read from Whoosh's positions.

The compiled postings hold no positions; names and phrases need them only for the documents
already known to hold every word. The compiled postings say which of a word's forms each such
document holds, so positions are decoded from the Whoosh segment for exactly those (document,
form) pairs (``skip_to``), never for a whole posting list.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def adjacent(leaves, per_leaf, docs: np.ndarray, sequence: Sequence[tuple[int, frozenset[str]]],
             fields: Sequence[str]) -> np.ndarray:
    """For each of ``docs`` (sorted searcher document numbers): does one of ``fields`` hold, for each
    (offset, forms) of ``sequence``, one of the forms at a start position plus that offset? The
    offsets are the words' places in the query, stopwords counted: the fields leave a stopped
    word's position empty, so «بان كي مون» is بان at 0 and مون at 2. ``per_leaf`` gives each of
    the ``leaves`` its compiled postings and where the leaf starts in them (``PostingsView``)."""
    found = np.zeros(len(docs), dtype=bool)
    for (leaf, base), (segment, start) in zip(leaves, per_leaf):
        lo, hi = np.searchsorted(docs, [base, base + leaf.doc_count_all()])
        if lo == hi:
            continue
        local = docs[lo:hi] - base
        together: set[int] = set()
        for field in fields:
            together |= _adjacent_in_field(leaf, segment.fields[field], start, field, local, sequence)
        found[lo:hi] = [d in together for d in local.tolist()]
    return found


def _adjacent_in_field(leaf, postings, start: int, field: str, docs: np.ndarray, sequence) -> set[int]:
    starts: dict[int, set[int]] | None = None
    first = sequence[0][0]
    for offset, word_forms in sequence:
        offset -= first
        wanted = docs if starts is None else np.array(sorted(starts), dtype=np.int64)
        positions = _positions(leaf, postings, start, field, word_forms, wanted)
        if starts is None:
            starts = positions
        else:
            starts = {d: {p for p in ps if p + offset in positions.get(d, ())} for d, ps in starts.items()}
        starts = {d: ps for d, ps in starts.items() if ps}
        if not starts:
            return set()
    return set(starts)


def _positions(leaf, postings, start: int, field: str, word_forms: frozenset[str],
               docs: np.ndarray) -> dict[int, set[int]]:
    """Positions of any of ``word_forms`` in ``field`` of each of the sorted segment ``docs``;
    ``postings`` number the leaf's documents from ``start``."""
    out: dict[int, set[int]] = {}
    forms = sorted(word_forms)
    for form, held in zip(forms, postings.postings(np.array(forms, dtype=str))):
        if held is None:
            continue
        holding = _among(docs + start, held[0]) - start
        if not len(holding):
            continue
        m = leaf.postings(field, form)
        for d in holding.tolist():
            if m.is_active() and m.id() < d:
                m.skip_to(d)
            if not m.is_active():
                break   # Whoosh's matcher skips deleted documents
            if m.id() == d:
                out.setdefault(d, set()).update(m.value_as("positions"))
    return out


def _among(docs: np.ndarray, sorted_ids: np.ndarray) -> np.ndarray:
    """The ``docs`` that are in ``sorted_ids``: a binary search per doc, as ``docs`` are few."""
    at = np.searchsorted(sorted_ids, docs)
    inside = at < len(sorted_ids)
    inside[inside] = sorted_ids[at[inside]] == docs[inside]
    return docs[inside]
