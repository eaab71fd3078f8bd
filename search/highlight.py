"""Snippets with highlighted query words, located through the analyzer's offsets.

A passage is analyzed as the exact-form fields are (normalized words, not stemmed); every token
whose form is one of the query words' written forms (``ParsedQuery.forms``) is marked at its
original characters, so the highlight covers the word as written (with its diacritics, hamza and
clitics) even when the query spelled it otherwise, and never a shorter word that a stemmer would
have made of it (بن in «محمد بن سلمان» for لبنان).
"""
from __future__ import annotations

import re
from typing import Iterable

from indexer.text.analysis import word_terms
from indexer.text.arabic import WORD_PATTERN

Span = tuple[int, int]

_WHITESPACE_RUN = re.compile(r"\s+")
# The runs ``_one_line`` changes: two or more whitespace characters, or one that is not a space.
# Scanning left to right, a run that starts with a space and goes on is matched whole by the first
# branch, so the matches are exactly the maximal runs other than a lone space.
_RUN_TO_FLATTEN = re.compile(r"\s\s+|[^\S ]")
_group = re.Match.group


def term_spans(text: str, forms: Iterable[str]) -> list[Span]:
    """The ``[start, end)`` spans of the tokens of ``text`` that ``analyze_spans(text, "none")``
    gives a term in ``forms``, in order, a span once per such term (tests/test_highlight.py
    holds the two equal). Each distinct raw word is looked up once, not each token analyzed."""
    wanted = forms if isinstance(forms, (set, frozenset)) else set(forms)
    words = list(WORD_PATTERN.finditer(text))
    raws = list(map(_group, words))
    counts, terms_of = {}, word_terms("none")
    for raw in set(raws):
        terms = terms_of(raw)
        if not wanted.isdisjoint(terms):
            counts[raw] = sum(term in wanted for term in terms)
    if not counts:
        return []
    spans: list[Span] = []
    for word, raw in zip(words, raws):
        if raw in counts:
            spans.extend([word.span()] * counts[raw])
    return spans


def snippet(text: str, spans: list[Span], max_chars: int = 320) -> tuple[str, tuple[Span, ...]]:
    """A one-line window of ``text`` around the densest group of spans, cut at spaces, with the
    spans shifted to the window."""
    text, spans = _one_line(text, spans)
    if len(text) <= max_chars:
        return text, tuple(spans)
    start = _best_window_start(spans, max_chars)
    start = _snap_back(text, start)
    end = min(len(text), start + max_chars)
    if end < len(text):
        cut = text.rfind(" ", start, end)
        end = cut if cut > start else end
    window = text[start:end].strip()
    shift = start + (len(text[start:end]) - len(text[start:end].lstrip()))
    inside = tuple((s - shift, e - shift) for s, e in spans if s >= shift and e <= shift + len(window))
    prefix = "… " if start > 0 else ""
    suffix = " …" if end < len(text) else ""
    shifted = tuple((s + len(prefix), e + len(prefix)) for s, e in inside)
    return prefix + window + suffix, shifted


def _best_window_start(spans: list[Span], width: int) -> int:
    if not spans:
        return 0
    best, best_count = spans[0][0], 0
    for i, (s, _) in enumerate(spans):
        count = sum(1 for s2, e2 in spans[i:] if e2 <= s + width)
        if count > best_count:
            best, best_count = s, count
    # Start a little before the first highlighted word so it reads in context.
    return max(0, best - width // 5)


def _snap_back(text: str, start: int) -> int:
    if start == 0:
        return 0
    space = text.rfind(" ", 0, start)
    return space + 1 if space >= 0 else 0


def _one_line(text: str, spans: list[Span]) -> tuple[str, list[Span]]:
    """Collapse whitespace runs (the paragraph breaks of merged short paragraphs) to one space,
    so a snippet prints as one line, moving the spans with the text."""
    runs = [m.span() for m in _RUN_TO_FLATTEN.finditer(text)]
    if not runs:
        return text, spans
    flat = _WHITESPACE_RUN.sub(" ", text)

    def moved(offset: int) -> int:
        # Spans start and end on token edges, never inside a whitespace run.
        return offset - sum(end - start - 1 for start, end in runs if end <= offset)

    return flat, [(moved(s), moved(e)) for s, e in spans]
