"""Whoosh analysis chain for Arabic: one analyzer for indexing and querying.

Whoosh's default tokenizer splits words at every diacritic and its ``ar``
analyzer root-stems without stopwords; this chain keeps words whole, works
per token so that offsets still point into the original text (highlighting),
and lets the stemming variant be chosen by measurement.  The classes live at
module level because Whoosh pickles the schema into the index.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from whoosh.analysis import Analyzer, Filter, Token, Tokenizer

from indexer.arabic import (
    STEM_VARIANTS,
    WORD_PATTERN,
    get_stemmer,
    is_stopword,
    normalize,
    token_words,
)

ANALYZER_NAME = "arabic-light"
ANALYZER_VERSION = 2
# Light prefixes plus light10's suffixes: the best keyword MRR@10 on both eval sets
# (docs/analysis.md); version 1 stripped prefixes only.
DEFAULT_STEM = "light+suffix"


# Longer "words" are encodings, hashes or glued junk, never Arabic words (the longest
# real ones stay under 30 letters even fully vocalized); skipping them keeps hostile input
# from inflating the term dictionary (the compiled postings store terms at fixed width).
MAX_WORD_CHARS = 100


class ArabicTokenizer(Tokenizer):
    """Yields raw words (``WORD_PATTERN`` matches), diacritics included.

    Follows ``RegexTokenizer``'s contract: ``start_pos``, ``start_char``,
    ``keeporiginal``, and ``tokenize=False`` for one whole-text token.
    """

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, tokenize=True,
                 mode="", **kwargs):
        assert isinstance(value, str), f"{value!r} is not a str"
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        # Whole-text tokens (prefix, wildcard, range queries) must stay one
        # token through normalization; the flag rides on the token.
        t.whole = not tokenize
        if not tokenize:
            yield _whole_token(t, value, positions, chars, start_pos, start_char)
            return
        pos = start_pos - 1
        for match in WORD_PATTERN.finditer(value):
            if match.end() - match.start() > MAX_WORD_CHARS:
                continue
            pos += 1
            t.text = match.group()
            t.boost = 1.0
            t.stopped = False
            if keeporiginal:
                t.original = t.text
            if positions:
                t.pos = pos
            if chars:
                t.startchar = start_char + match.start()
                t.endchar = start_char + match.end()
            yield t


def _whole_token(t, value, positions, chars, start_pos, start_char):
    t.original = t.text = value
    t.boost = 1.0
    if positions:
        t.pos = start_pos
    if chars:
        t.startchar = start_char
        t.endchar = start_char + len(value)
    return t


class ArabicNormalizeFilter(Filter):
    """Replaces each token by its normalized word(s) (see ``token_words``).

    Tokens that normalize to nothing are dropped and a ligature that expands
    to several words yields several tokens on the same span, so positions
    are renumbered to stay consecutive.
    """

    def __call__(self, tokens):
        next_pos = None
        for t in tokens:
            if getattr(t, "whole", False):
                t.text = normalize(t.text)
                if t.text:
                    yield t
                continue
            if t.positions and next_pos is None:
                next_pos = t.pos
            for word in token_words(t.text):
                t.text = word
                if t.positions:
                    t.pos = next_pos
                    next_pos += 1
                yield t


class ArabicStopFilter(Filter):
    """Stops Arabic function words, as ``whoosh.analysis.StopFilter`` does.

    With ``removestops=False`` (phrase queries) stopwords pass through with
    ``stopped=True``; otherwise they are dropped and, with ``renumber``, the
    following positions close the gap.
    """

    def __init__(self, renumber: bool = True):
        self.renumber = renumber

    def __call__(self, tokens):
        renumber = self.renumber
        pos = None
        for t in tokens:
            if not is_stopword(t.text):
                if renumber and t.positions:
                    if pos is None:
                        pos = t.pos
                    else:
                        pos += 1
                        t.pos = pos
                t.stopped = False
                yield t
            elif not t.removestops:
                t.stopped = True
                yield t


class ArabicStemFilter(Filter):
    """Stems unstopped tokens with a variant from ``STEM_VARIANTS``."""

    is_morph = True

    def __init__(self, variant: str = DEFAULT_STEM):
        if variant not in STEM_VARIANTS:
            raise ValueError(f"unknown stemmer {variant!r}; expected one of {STEM_VARIANTS}")
        self.variant = variant

    def __call__(self, tokens):
        stem = get_stemmer(self.variant)
        for t in tokens:
            if not t.stopped:
                t.text = stem(t.text)
            yield t


def arabic_analyzer(stem: str = DEFAULT_STEM, stopwords: bool = True) -> Analyzer:
    """Tokenizer | normalize | stop (optional) | stem."""
    chain = ArabicTokenizer() | ArabicNormalizeFilter()
    if stopwords:
        chain = chain | ArabicStopFilter()
    return chain | ArabicStemFilter(stem)


@lru_cache(maxsize=None)
def _shared_analyzer(stem: str, stopwords: bool) -> Analyzer:
    return arabic_analyzer(stem, stopwords)


def analyze(text: str, stem: str = DEFAULT_STEM, stopwords: bool = True) -> list[str]:
    """The index terms of ``text``, in order."""
    return [t.text for t in _shared_analyzer(stem, stopwords)(text)]


@dataclass(frozen=True, slots=True)
class TokenSpan:
    """A term and the ``[start, end)`` slice of the original text it came from."""

    term: str
    start: int
    end: int


def analyze_spans(text: str, stem: str = DEFAULT_STEM, stopwords: bool = True) -> list[TokenSpan]:
    """The index terms of ``text`` with their original character offsets."""
    tokens = _shared_analyzer(stem, stopwords)(text, chars=True)
    return [TokenSpan(t.text, t.startchar, t.endchar) for t in tokens]
