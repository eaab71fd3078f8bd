"""Passages with exact character offsets into the article body (sentences: ``indexer.text.sentences``).

Why offsets and not copied strings: the passage store, the keyword index, the
vector index and the highlighter must all agree on *where* a passage or an
answer sentence sits in the original article, so every unit here is a
``(start, end)`` span and the text is always ``body[start:end]``.

Why passages of about ``min_words..max_words`` words that follow paragraphs:
dense encoders (e5-small reads at most 512 tokens) and BM25 length
normalisation both work best on short, topically coherent units, and news
paragraphs already are such units.  Subheadings are short lines that label the
paragraphs below them; they are returned as each passage's ``heading`` instead
of as passages of their own, so they can be indexed with every passage they
describe without diluting one of them.

This runs on every indexed article, so it is pure Python over a handful of
precompiled regular expressions and counts words at most once per paragraph
or sentence.

Passage rules:

* Paragraphs are non-blank lines (news bodies use a single ``\\n``).
* A subheading is a paragraph of at most ``heading_max_words`` words whose
  last character (ignoring closing quotes/brackets) is not punctuation, that
  is not the last paragraph, and whose neighbours are not short
  unpunctuated lines themselves -- that last condition keeps poems, lists and
  bylines from being read as a cascade of headings.
* Within the paragraphs under one heading, paragraphs longer than
  ``max_words`` are cut at sentence boundaries into roughly equal pieces near
  ``target_words``; a sentence longer than ``max_words`` is cut at commas and,
  failing that, at word boundaries.  Paragraphs shorter than ``min_words``
  are then merged forward with the following paragraphs while the result
  stays within ``max_words``; a unit still short after that (the end of a
  section, or one followed by a long paragraph) joins whichever neighbour
  gives the smaller passage, again within ``max_words``.
* Passages never cross a subheading and never exceed ``max_words``.  They can
  be shorter than ``min_words`` when the text under one heading is shorter
  than that, or when merging would exceed ``max_words``.
* A body with fewer than ``min_words`` words is one passage (no heading
  detection), and an empty body gives ``[]``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from indexer.text.sentences import (
    CLOSERS, LINE_BREAKS, Sentence, count_words, split_at_commas, split_sentences, trim_span,
)


# Raise on any change to where passages start or end or to their headings, for the same
# ChunkingParams (a change of the sentence splitter, where long paragraphs are cut, counts through
# SPLITTER_VERSION). The manifest records it; `baheth embed` re-chunks an index chunked otherwise,
# so every article's passages come from one chunker. 0: before versions were recorded.
CHUNKER_VERSION = 1


@dataclass(frozen=True)
class PassageSpan:
    """``body[start:end]`` is the passage text (trimmed).

    ``heading`` is the subheading the passage falls under, exactly as written
    ("" when there is none).
    """

    start: int
    end: int
    heading: str


@dataclass(frozen=True)
class ChunkingParams:
    """Passage size limits, in words (see ``count_words``)."""

    min_words: int = 40
    max_words: int = 200
    # A news paragraph is typically 30-80 words; 120 keeps a cut paragraph
    # close to the size of an uncut one.  To be tuned by retrieval runs.
    target_words: int = 120
    heading_max_words: int = 8


_LINE_RE = re.compile(rf"[^{LINE_BREAKS}]+")
_SPACE_RE = re.compile(r"\S+")
_HAS_ALNUM_RE = re.compile(r"[^\W_]")
_HEADING_END_PUNCT = frozenset(".!?؟؛;…:،,-–—")


@dataclass(frozen=True)
class _Unit:
    """A piece of passage text: a paragraph or a cut of a long one."""

    start: int
    end: int
    words: int


def split_passages(body: str, params: ChunkingParams = ChunkingParams()) -> list[PassageSpan]:
    """Passages of ``body`` with their subheadings (see module doc for rules)."""
    paragraphs = [_Unit(*span, count_words(body[span[0]:span[1]])) for span in _paragraph_spans(body)]
    if not paragraphs:
        return []
    if sum(p.words for p in paragraphs) < params.min_words:
        return [PassageSpan(paragraphs[0].start, paragraphs[-1].end, "")]
    passages: list[PassageSpan] = []
    for heading, section in _sections(body, paragraphs, params):
        units = [u for p in section for u in _cut_long_paragraph(body, p, params)]
        passages.extend(PassageSpan(u.start, u.end, heading) for u in _merge_short(units, params))
    return passages


def _paragraph_spans(body: str) -> list[tuple[int, int]]:
    spans = []
    for m in _LINE_RE.finditer(body):
        a, b = trim_span(body, m.start(), m.end())
        if a < b:
            spans.append((a, b))
    return spans


def _sections(
    body: str, paragraphs: list[_Unit], params: ChunkingParams
) -> list[tuple[str, list[_Unit]]]:
    """Group paragraphs under the subheading that precedes them."""
    short = [_looks_like_heading(body, p, params) for p in paragraphs]
    sections: list[tuple[str, list[_Unit]]] = [("", [])]
    last = len(paragraphs) - 1
    for i, p in enumerate(paragraphs):
        is_heading = (
            short[i]
            and i < last
            and not short[i + 1]
            and (i == 0 or not short[i - 1])
        )
        if is_heading:
            sections.append((body[p.start:p.end], []))
        else:
            sections[-1][1].append(p)
    return [(h, ps) for h, ps in sections if ps]


def _looks_like_heading(body: str, p: _Unit, params: ChunkingParams) -> bool:
    if not 0 < p.words <= params.heading_max_words:
        return False
    last_char = body[p.start:p.end].rstrip(CLOSERS)[-1:]
    return last_char not in _HEADING_END_PUNCT


def _cut_long_paragraph(body: str, p: _Unit, params: ChunkingParams) -> list[_Unit]:
    """Cut a paragraph over ``max_words`` into sentence-aligned pieces near the target."""
    if p.words <= params.max_words:
        return [p]
    pieces = [
        piece
        for s in split_sentences(body, p.start, p.end)
        for piece in _fit_sentence(body, s, params.max_words)
    ]
    total = sum(u.words for u in pieces)
    n_chunks = max(round(total / params.target_words), math.ceil(total / params.max_words), 1)
    return _balanced_groups(pieces, total / n_chunks, params.max_words)


def _fit_sentence(body: str, s: Sentence, max_words: int) -> list[_Unit]:
    """A sentence as units of <= max_words words: whole, at commas, or at words."""
    words = count_words(body[s.start:s.end])
    if words <= max_words:
        return [_Unit(s.start, s.end, words)]
    units = []
    for c in split_at_commas(body, s.start, s.end, max_words):
        c_words = count_words(body[c.start:c.end])
        if c_words <= max_words:
            units.append(_Unit(c.start, c.end, c_words))
        else:
            units.extend(_split_at_words(body, c.start, c.end, max_words))
    return units


def _split_at_words(body: str, a: int, b: int, max_words: int) -> list[_Unit]:
    """Last resort for a comma-less run-on: near-equal pieces cut between tokens."""
    n_pieces = math.ceil(count_words(body[a:b]) / max_words)
    per_piece = math.ceil(count_words(body[a:b]) / n_pieces)
    units: list[_Unit] = []
    x, y, words = -1, -1, 0
    for m in _SPACE_RE.finditer(body, a, b):
        is_word = _HAS_ALNUM_RE.search(m.group()) is not None
        if is_word and words == per_piece:
            units.append(_Unit(x, y, words))
            x, words = -1, 0
        x = m.start() if x < 0 else x
        y, words = m.end(), words + is_word
    if x >= 0:
        units.append(_Unit(x, y, words))
    return units


def _balanced_groups(pieces: list[_Unit], goal: float, max_words: int) -> list[_Unit]:
    """Group consecutive pieces, cutting where a group's size is closest to goal."""
    groups: list[_Unit] = []
    cur: _Unit | None = None
    for piece in pieces:
        if cur is None:
            cur = piece
            continue
        merged = cur.words + piece.words
        closer_without = abs(cur.words - goal) <= abs(merged - goal)
        if merged > max_words or (merged > goal and closer_without):
            groups.append(cur)
            cur = piece
        else:
            cur = _Unit(cur.start, piece.end, merged)
    if cur is not None:
        groups.append(cur)
    return groups


def _merge_short(units: list[_Unit], params: ChunkingParams) -> list[_Unit]:
    """Merge units under ``min_words`` with their neighbours within ``max_words``.

    A forward pass first, so runs of short paragraphs (lists, one-line
    quotes) join the text they introduce; then each unit still short (its
    follower was too long, or it ends the section) joins whichever neighbour
    gives the smaller passage.
    """
    merged: list[_Unit] = []
    for u in units:
        prev = merged[-1] if merged else None
        if prev is not None and prev.words < params.min_words and prev.words + u.words <= params.max_words:
            merged[-1] = _join(prev, u)
        else:
            merged.append(u)
    i = 0
    while i < len(merged):
        i = _absorb_if_short(merged, i, params)
    return merged


def _absorb_if_short(units: list[_Unit], i: int, params: ChunkingParams) -> int:
    """Join ``units[i]`` to its smaller fitting neighbour; return the next index."""
    u = units[i]
    if u.words >= params.min_words:
        return i + 1
    fits = [
        j for j in (i - 1, i + 1)
        if 0 <= j < len(units) and units[j].words + u.words <= params.max_words
    ]
    if not fits:
        return i + 1
    j = min(fits, key=lambda k: units[k].words)
    lo = min(i, j)
    units[lo:lo + 2] = [_join(units[lo], units[lo + 1])]
    return lo if units[lo].words < params.min_words else lo + 1


def _join(a: _Unit, b: _Unit) -> _Unit:
    return _Unit(a.start, b.end, a.words + b.words)
