"""Which documents hold a sequence of words at given distances.

Names and phrases need positions only for the documents already known to hold every word. Where
the compiled postings hold a field's positions (``indexer/keyword/positions.py``), every word's
occurrences in those documents are gathered and intersected as (document, start) keys in numpy.
Elsewhere (a folder from before positions) positions are decoded from the Whoosh segment for
exactly the (document, form) pairs the compiled postings say hold a form (``skip_to``), never for
a whole posting list; both give the same documents (``tests/test_adjacency.py``).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from indexer.keyword.positions import in_sorted, occurrences

# A start key is (document << _POSITION_BITS) | position: positions are uint16.
_POSITION_BITS = 16


def adjacent(view, docs: np.ndarray, sequence: Sequence[tuple[int, frozenset[str]]],
             fields: Sequence[str]) -> np.ndarray:
    """For each of ``docs`` (sorted searcher document numbers): does one of ``fields`` hold, for each
    (offset, forms) of ``sequence``, one of the forms at a start position plus that offset? The
    offsets are the words' places in the query, stopwords counted: the form fields leave a stopped
    word's position empty, so «بان كي مون» is بان at 0 and مون at 2. ``view``: the searcher's
    ``PostingsView``. Deleted documents never hold it, as Whoosh's matchers skip them."""
    found = np.zeros(len(docs), dtype=bool)
    for field in fields:
        boost = view.searcher.schema[field].format.field_boost
        for base, unit in view.units:
            if unit.fields[field].positions is not None:
                _check(found, docs, base, len(unit.pids),
                       lambda local: _adjacent_compiled(unit.fields[field], boost, local, sequence))
        for (leaf, base), (unit, start) in zip(view.leaves, view.per_leaf):
            if unit.fields[field].positions is None:
                _check(found, docs, base, leaf.doc_count_all(),
                       lambda local: _adjacent_in_leaf(leaf, unit.fields[field], start, field, local, sequence))
    return found & view.live[docs]


def _check(found: np.ndarray, docs: np.ndarray, base: int, size: int, holding) -> None:
    """Mark in ``found`` the ``docs`` from ``base`` to ``base + size`` not found yet that
    ``holding`` (numbered from ``base``, sorted, to the sorted ones it holds) says hold it."""
    lo, hi = np.searchsorted(docs, [base, base + size])
    open_ = lo + np.flatnonzero(~found[lo:hi])
    if len(open_):
        local = docs[open_] - base
        found[open_] = in_sorted(local, holding(local))


def _adjacent_compiled(postings, boost: float, docs: np.ndarray, sequence) -> np.ndarray:
    """The sorted ``docs`` (numbered as ``postings`` number them) holding ``sequence`` in the field
    of ``postings``, from its positions: the starts where each word stands, intersected."""
    starts = None
    first = sequence[0][0]
    for offset, word_forms in sequence:
        doc, position = occurrences(postings, np.array(sorted(word_forms), dtype=str), docs, boost)
        shift = offset - first
        at = position >= shift   # the first word would stand before the field's start
        keys = (doc[at] << _POSITION_BITS) | (position[at] - shift)
        starts = np.unique(keys) if starts is None else np.intersect1d(starts, keys)
        docs = np.unique(starts >> _POSITION_BITS)   # only these can still hold the rest
        if not len(docs):
            break
    return docs


def _adjacent_in_leaf(leaf, postings, start: int, field: str, docs: np.ndarray, sequence) -> np.ndarray:
    """``_adjacent_compiled`` for one Whoosh segment reader, from Whoosh's positions: its unit's
    ``postings`` number the leaf's documents from ``start``."""
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
            break
    return np.array(sorted(starts or ()), dtype=np.int64)


def _positions(leaf, postings, start: int, field: str, word_forms: frozenset[str],
               docs: np.ndarray) -> dict[int, set[int]]:
    """Positions of any of ``word_forms`` in ``field`` of each of the sorted segment ``docs``;
    ``postings`` number the leaf's documents from ``start``."""
    out: dict[int, set[int]] = {}
    forms = sorted(word_forms)
    for form, held in zip(forms, postings.postings(np.array(forms, dtype=str))):
        if held is None:
            continue
        holding = docs[in_sorted(docs + start, held[0])]
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
