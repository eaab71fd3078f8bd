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
from typing import Callable

from whoosh.analysis import Analyzer, CompositeAnalyzer, Filter, Token, Tokenizer

from indexer.text.arabic import WORD_PATTERN, is_stopword, normalize, token_words
from indexer.text.stemmers import STEM_VARIANTS, get_stemmer

ANALYZER_NAME = "arabic-light"
ANALYZER_VERSION = 4
# Light prefixes plus light10's suffixes: the best keyword MRR@10 on both eval sets
# (docs/analysis.md); version 1 stripped prefixes only.
DEFAULT_STEM = "light+suffix"
# Version 3 adds a second field analyzed to ISRI roots: too coarse alone, but beside the light
# stem it finds the passages a question words differently (+1.2 / +1.6 MRR@10, docs/analysis.md).
ROOT_STEM = "isri"
# Version 4 adds the exact-form fields (text_form, title_form, heading_form: normalized words, no
# stemming) that names and phrases match in (indexer/text/forms.py, docs/analysis.md).


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


class ArabicAnalyzer(CompositeAnalyzer):
    """The chain, with the words before stemming kept for the next texts.

    Indexing analyzes every passage twice, for ``text`` (light stems) and ``text_root`` (ISRI
    roots), and the article title once per passage: tokenizing, normalizing and stopping are the
    same each time, only the stemmer differs. So the stemmer runs on memoized (word, position,
    offsets, stopped) tuples (``_unstemmed``), and stems are memoized per word; the tokens are the
    chain's. Calls the memo does not cover (whole-text tokens, offsets into a larger text, kept
    originals, ``no_morph``) run the chain itself.
    """

    def index_terms(self, value: str) -> list[tuple[str, int]]:
        """(term, position) of each token indexing keeps, as the chain yields them."""
        stem = _memo_stemmer(self.items[-1].variant)
        return [(stem(word), pos) for word, pos, _, _, _ in _unstemmed(value, True, *self._stopwords)]

    @property
    def _stopwords(self) -> tuple[bool, bool]:
        """(stopwords stopped, positions renumbered over them)."""
        stop = self.items[-2]
        return (True, stop.renumber) if isinstance(stop, ArabicStopFilter) else (False, True)

    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True,
                 start_pos=0, start_char=0, tokenize=True, mode="", no_morph=False, **kwargs):
        if keeporiginal or no_morph or not tokenize or start_pos or start_char:
            return super().__call__(value, positions=positions, chars=chars, keeporiginal=keeporiginal,
                                    removestops=removestops, start_pos=start_pos, start_char=start_char,
                                    tokenize=tokenize, mode=mode, no_morph=no_morph, **kwargs)
        words = _unstemmed(value, removestops, *self._stopwords)
        return _stemmed_tokens(words, _memo_stemmer(self.items[-1].variant),
                               Token(positions, chars, removestops=removestops, mode=mode, **kwargs))


def _stemmed_tokens(words, stem, t: Token):
    positions, chars = t.positions, t.chars
    t.boost = 1.0
    t.stopped = False
    if t.removestops and not chars:
        # What indexing asks for: no stopped tokens (Whoosh drops them), no offsets.
        for text, pos, _, _, _ in words:
            t.text = stem(text)
            if positions:
                t.pos = pos
            yield t
        return
    for text, pos, startchar, endchar, stopped in words:
        t.text = text if stopped else stem(text)
        t.stopped = stopped
        if positions:
            t.pos = pos
        if chars:
            t.startchar = startchar
            t.endchar = endchar
        yield t


# A few texts suffice: a passage's two fields come one after the other, its title just before.
@lru_cache(maxsize=16)
def _unstemmed(value: str, removestops: bool, stopwords: bool, renumber: bool = True) -> tuple[tuple, ...]:
    """(word, position, start, end, stopped) as tokenizer | normalize | stop yield them, positions
    and offsets on; one loop instead of three generators (tests/test_analyzer_memo.py keeps the two
    equal)."""
    words = []
    next_pos, kept_pos = 0, None
    for match in WORD_PATTERN.finditer(value):
        start, end = match.span()
        if end - start > MAX_WORD_CHARS:
            continue
        for word in token_words(match.group()):
            pos, next_pos = next_pos, next_pos + 1
            if not stopwords:
                words.append((word, pos, start, end, False))
            elif is_stopword(word):
                if not removestops:
                    words.append((word, pos, start, end, True))
            else:
                kept_pos = pos if kept_pos is None or not renumber else kept_pos + 1
                words.append((word, kept_pos, start, end, False))
    return tuple(words)


@lru_cache(maxsize=None)
def _memo_stemmer(variant: str):
    # News vocabulary repeats: most words of a batch were stemmed before. Bounded, and not around
    # a stemmer that memoizes itself (ISRI, Snowball), so memory stays flat however much is indexed.
    stem = get_stemmer(variant)
    return stem if hasattr(stem, "cache_info") else lru_cache(maxsize=1 << 16)(stem)


def arabic_analyzer(stem: str = DEFAULT_STEM, stopwords: bool = True, renumber: bool = True) -> Analyzer:
    """Tokenizer | normalize | stop (optional) | stem. Without ``renumber``, a stopped word keeps
    its position empty, so words it stood between are not adjacent (the exact-form fields)."""
    items = [ArabicTokenizer(), ArabicNormalizeFilter(), *([ArabicStopFilter(renumber)] if stopwords else []),
             ArabicStemFilter(stem)]
    return ArabicAnalyzer(*items)


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


def term_set(text: str, stem: str = DEFAULT_STEM) -> set[str]:
    """``set(analyze(text, stem))``, each distinct word of ``text`` analyzed once and remembered
    (``word_terms``): search analyzes the same news vocabulary for every hit and answer."""
    return set().union(*map(word_terms(stem), set(WORD_PATTERN.findall(text))))


@lru_cache(maxsize=None)
def word_terms(stem: str = DEFAULT_STEM) -> Callable[[str], tuple[str, ...]]:
    """The function giving the index terms ``analyze`` gives one raw word (a ``WORD_PATTERN``
    match), in order: its normalized words that are not stopwords, stemmed; none for a word the
    tokenizer skips. It remembers the words it has seen (bounded, like ``token_words``)."""
    stem_word = _memo_stemmer(stem)

    @lru_cache(maxsize=1 << 17)
    def terms(raw: str) -> tuple[str, ...]:
        if len(raw) > MAX_WORD_CHARS:
            return ()
        return tuple(stem_word(w) for w in token_words(raw) if not is_stopword(w))
    return terms
