"""Sentences with exact character offsets: ``text[s.start:s.end]`` is the sentence.

The answer extractor ranks sentences and the chunker cuts long paragraphs at them.

Sentence rules (kept simple on purpose):

* A sentence ends after a run of ``؟ ? ! . …`` plus any closing quotes or
  brackets glued to it, and at every line break. A semicolon (``؛ ;``) joins
  clauses of one sentence, as a comma does: Wikipedia-style leads write
  «أنغريت كرامب كارينباور ؛ (مواليد 1962) سياسية ألمانية...», and a split there
  left the name alone as a "sentence" that answered «من هي ...» questions.
* A ``.`` is *not* a boundary when it sits between two digits (``3.5``,
  ``13.000``), when the word before it is a single letter (initials and
  abbreviations such as «د.» «م.» «ج.ك.» «د.ب.أ») or a Latin letter's name
  written in Arabic after a word that is not one, as transliterated middle
  initials are («جون سي. ميسنجر», «جيمس أو. ماكينزي»; «أو» «في» «إن», which
  double as letter names, never end a sentence, while an acronym such as
  «بي بي سي.» or «سي إن إن.» does and still ends it), or when it is glued to a
  following letter or digit (``aawsat.com``, «العربية.نت», «ان.بي.سي») --
  except between two Arabic words of three or more letters each
  («افضل.ويتقمص»), which in scraped news is a missing space after a full stop.
* A sentence longer than ``LONG_SENTENCE_WORDS`` words is further cut at
  semicolons and at the Arabic comma «،» (or a Latin comma not between digits),
  packing clauses greedily so each piece stays within the limit when they allow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from indexer.text.arabic import is_stopword, normalize

# Raise on any change to where a sentence starts or ends. The store keeps each passage's sentence
# vectors by position, so an index split by another version would pair vectors with the wrong
# sentences: its manifest records the version, search refuses the index, and `baheth embed`
# re-splits and re-embeds it (indexer/pipeline.py, ``Indexer.resplit``). 0 is an index from
# before versions were recorded.
SPLITTER_VERSION = 1

# Above this many words a "sentence" is usually a run-on chain of clauses
# joined by commas (common in Arabic news), too long to be a useful answer.
LONG_SENTENCE_WORDS = 60


@dataclass(frozen=True)
class Sentence:
    """``text[start:end]`` is the sentence, without surrounding whitespace."""

    start: int
    end: int


CLOSERS = "\"'»)]}”’›"
LINE_BREAKS = "\n\r\u2028\u2029"
# A sentence end: a line break, or a run of terminators with the closing
# quotes/brackets glued to it.
_BOUNDARY_RE = re.compile(
    rf"[{LINE_BREAKS}]|[.!?؟…]+[{re.escape(CLOSERS)}]*"
)
_COMMA_RE = re.compile(r"[،,؛;]")
# A word is a whitespace-delimited token holding at least one letter or digit,
# so a lone dash or quote is not a word but a diacritic inside one is kept:
# each such token yields one match, from its first letter or digit to its end.
_WORD_RE = re.compile(r"[^\W_]\S*")
_ARABIC_LETTER_RE = re.compile(r"[\u0621-\u064A]")
# Latin letter names as Arabic writes them (A to Z, with and without hamza).
LATIN_LETTER_NAMES = frozenset(
    "إيه أيه ايه بي سي دي إي اي إف اف جي إتش اتش إيتش ايتش آي أي جيه جاي كيه كي إل إم ام إن"
    " أو او كيو آر ار إس اس تي يو في دبليو إكس اكس واي زد زي".split())
# The shortest text that can hold more than LONG_SENTENCE_WORDS words (one
# character and one space per word); shorter sentences skip word counting.
_LONG_SENTENCE_MIN_CHARS = 2 * LONG_SENTENCE_WORDS + 1


def count_words(text: str) -> int:
    """Number of whitespace-separated tokens that contain a letter or digit."""
    return len(_WORD_RE.findall(text))


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[Sentence]:
    """Sentences of ``text[start:end]`` as spans into ``text``."""
    end = len(text) if end is None else end
    sentences: list[Sentence] = []
    seg_start = start
    for m in _BOUNDARY_RE.finditer(text, start, end):
        if m.group() == "." and not _is_full_stop(text, m.start(), start, end):
            continue
        _emit_sentence(text, seg_start, m.end(), sentences)
        seg_start = m.end()
    _emit_sentence(text, seg_start, end, sentences)
    return sentences


def _is_full_stop(text: str, i: int, lo: int, hi: int) -> bool:
    """Whether the lone ``.`` at ``text[i]`` ends a sentence (see module doc)."""
    before = text[i - 1] if i > lo else " "
    after = text[i + 1] if i + 1 < hi else " "
    if before.isdigit() and after.isdigit():
        return False
    if before.isalpha() and (i - 1 == lo or not text[i - 2].isalnum()):
        return False  # a single-letter word: initials, «د.»
    if _middle_initial(text, i, lo, hi):
        return False
    if after.isalnum():
        return _glued_arabic_words(text, i, lo, hi)
    return True


def _middle_initial(text: str, i: int, lo: int, hi: int) -> bool:
    """A letter name between a word that is not one and a word that is not a stopword:
    «جون سي. ميسنجر», not the acronym of «بي بي سي.» nor «باسم إكس. ما يعني»."""
    initial, a = _word_before(text, i, lo)
    if initial not in LATIN_LETTER_NAMES:
        return False
    while a > lo and text[a - 1] == " ":
        a -= 1
    name, _ = _word_before(text, a, lo)
    following = text[i + 1:min(hi, i + 40)].split(maxsplit=1)
    return (bool(name) and name not in LATIN_LETTER_NAMES
            and not (following and is_stopword(normalize(following[0]))))


def _word_before(text: str, i: int, lo: int) -> tuple[str, int]:
    """The word of letters that ends at ``text[i]`` and where it starts ("" if none)."""
    a = i
    while a > lo and text[a - 1].isalpha():
        a -= 1
    return (text[a:i], a) if a == lo or not text[a - 1].isalnum() else ("", i)


def _glued_arabic_words(text: str, i: int, lo: int, hi: int) -> bool:
    """True for «افضل.ويتقمص»: 3+ Arabic letters on both sides of the dot."""
    left = text[max(lo, i - 3):i]
    right = text[i + 1:min(hi, i + 4)]
    return (
        len(left) == 3
        and len(right) == 3
        and all(_ARABIC_LETTER_RE.match(c) for c in left + right)
    )


def _emit_sentence(text: str, a: int, b: int, out: list[Sentence]) -> None:
    """Append the trimmed span ``[a, b)`` (cut at commas when too long)."""
    a, b = trim_span(text, a, b)
    if a >= b:
        return
    if b - a >= _LONG_SENTENCE_MIN_CHARS and count_words(text[a:b]) > LONG_SENTENCE_WORDS:
        out.extend(split_at_commas(text, a, b, LONG_SENTENCE_WORDS))
    else:
        out.append(Sentence(a, b))


def trim_span(text: str, a: int, b: int) -> tuple[int, int]:
    """``(a, b)`` without the whitespace at either end (an empty span at ``b`` if blank)."""
    piece = text[a:b]
    stripped = piece.strip()
    if not stripped:
        return b, b
    a += piece.index(stripped[0])
    return a, a + len(stripped)


def split_at_commas(text: str, a: int, b: int, limit: int) -> list[Sentence]:
    """Pack comma clauses of ``text[a:b]`` greedily into pieces of <= limit words."""
    cuts = [m.end() for m in _COMMA_RE.finditer(text, a, b) if _is_clause_comma(text, m.start(), a, b)]
    clauses = [trim_span(text, x, y) for x, y in zip([a, *cuts], [*cuts, b])]
    clauses = [(x, y) for x, y in clauses if x < y]
    return [Sentence(x, y) for x, y in _pack(text, clauses, limit)]


def _is_clause_comma(text: str, i: int, lo: int, hi: int) -> bool:
    """A comma between digits (``13,000``) does not separate clauses."""
    return not (i > lo and i + 1 < hi and text[i - 1].isdigit() and text[i + 1].isdigit())


def _pack(text: str, spans: list[tuple[int, int]], limit: int) -> list[tuple[int, int]]:
    """Merge consecutive spans greedily while the merged span has <= limit words."""
    packed: list[tuple[int, int]] = []
    cur_start, cur_end, cur_words = -1, -1, 0
    for x, y in spans:
        words = count_words(text[x:y])
        if cur_start >= 0 and cur_words + words <= limit:
            cur_end, cur_words = y, cur_words + words
            continue
        if cur_start >= 0:
            packed.append((cur_start, cur_end))
        cur_start, cur_end, cur_words = x, y, words
    if cur_start >= 0:
        packed.append((cur_start, cur_end))
    return packed
