"""Arabic stemmers over normalized tokens (``indexer.text.arabic.normalize``), by variant name.

Light stemming follows light10 (Larkey, Ballesteros & Connell, 2007) with changes made for
consistency, documented on ``light_stem``; Snowball (PyStemmer) and ISRI (Whoosh's copy of
NLTK's) are the measured alternatives, ISRI also the root field's stemmer (docs/analysis.md).
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Callable

# Letters a clitic may be, with the letters that must remain after stripping
# it.  و/ف: light10's three.  ب/ك/ل: four, since far more words start with
# them (كتاب، لجنه، بلاد must survive).  The article ال: three, so «ألين» and
# «الان» keep it (light10 allows two).
_CLITIC_FLOORS = {"و": 3, "ف": 3, "ب": 4, "ك": 4, "ل": 4}
_ARTICLE = "ال"
_ARTICLE_FLOOR = 3
# light10's list on normalized text (ية and ة fold to يه and ه).
_SUFFIXES = ("ها", "ان", "ات", "ون", "ين", "يه", "ه", "ي")


def light_stem(token: str, *, prefixes: bool = True, suffixes: bool = False,
               min_stem: int = 2) -> str:
    """Light-stem a normalized token.

    Prefixes: the one-letter clitics و ف ب ك ل, in any order and number,
    and the article ال once, each only while its floor in letters remains
    (``_CLITIC_FLOORS``, ``_ARTICLE_FLOOR``, raised to ``min_stem``).
    «لل» needs no rule of its own: it is ل + ل.  Unlike light10, stripping
    is state-free, so a clitic in front never changes the stem: «وزير»,
    «الوزير», «للوزير»; «واشنطن», «بواشنطن»; «بلدين», «البلدين» each share
    one.  Precisely, ``light_stem(c + w) == light_stem(w)`` for a clitic
    ``c`` when ``w`` is at least as long as ``c``'s floor and ``w`` has no
    article of its own after its leading clitic letters.  The price is that
    a word's own first letter goes when it is a clitic letter (واشنطن ->
    اشنطن), consistently in every form.

    Suffixes (optional, light10): one pass over ها ان ات ون ين يه ه ي in
    that order, removing each one found while ``min_stem`` letters remain.

    ``min_stem`` below 2 is refused: no stem is ever shorter than two
    letters unless the token already was.
    """
    return _light_stem(token, prefixes, suffixes, min_stem)


# Not memoized here: the analyzer memoizes each stemmer it uses (indexer/text/analysis.py,
# ``_memo_stemmer``), and a second cache under it only saw the first one's misses (150,000 hits
# for 222,000 misses over 20,000 articles) while holding 131,072 entries (docs/performance.md).
def _light_stem(token: str, prefixes: bool, suffixes: bool, min_stem: int) -> str:
    if min_stem < 2:
        raise ValueError(f"min_stem must be at least 2, got {min_stem}")
    if prefixes:
        token = _strip_prefixes(token, min_stem)
    if suffixes:
        token = _strip_suffixes(token, min_stem)
    return token


def _strip_prefixes(word: str, min_stem: int) -> str:
    article_floor = max(_ARTICLE_FLOOR, min_stem)
    article_done = False
    while True:
        floor = _CLITIC_FLOORS.get(word[:1])
        if floor is not None and len(word) > max(floor, min_stem):
            word = word[1:]
        elif (not article_done and word.startswith(_ARTICLE)
              and len(word) - len(_ARTICLE) >= article_floor):
            word = word[len(_ARTICLE):]
            article_done = True
        else:
            return word


def _strip_suffixes(word: str, floor: int) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= floor:
            word = word[: -len(suffix)]
    return word


@lru_cache(maxsize=1)
def _snowball():
    import Stemmer  # PyStemmer: loaded only when this variant is asked for

    return Stemmer.Stemmer("arabic")


@lru_cache(maxsize=1 << 17)
def snowball_stem(token: str) -> str:
    """Snowball's Arabic stemmer, kept to the two-letter minimum."""
    stem = _snowball().stemWord(token)
    return stem if len(stem) >= min(2, len(token)) else token


@lru_cache(maxsize=1 << 17)
def isri_stem(token: str) -> str:
    """The ISRI root-ish stem (Taghva et al., 2005; Whoosh's copy of NLTK's), kept to two letters.

    Far more aggressive than ``light_stem`` (أمريكا -> امر): it serves as a low-precision
    recall field beside the light stem, never alone (docs/analysis.md).
    """
    stem = _isri().stem(token)
    return stem if len(stem) >= min(2, len(token)) else token


_ISRI = threading.local()


def _isri():
    # The stemmer keeps the word being stemmed on the instance (stem() resets it): one per thread.
    # Building one per word cost a fifth of each stem.
    if not hasattr(_ISRI, "stemmer"):
        from whoosh.lang.isri import ISRIStemmer

        _ISRI.stemmer = ISRIStemmer()
    return _ISRI.stemmer


def _no_stem(token: str) -> str:
    return token


def _light_suffix_stem(token: str) -> str:
    return _light_stem(token, True, True, 2)


def _light_suffix3_stem(token: str) -> str:
    # Candidate for the next analyzer version (docs/analysis.md): suffixes come off only while
    # three letters remain, so short words keep their shape (مرة -> مره, not مر).
    return _strip_suffixes(_light_stem(token, True, False, 2), 3)


_STEMMERS: dict[str, Callable[[str], str]] = {
    "none": _no_stem,
    "light": light_stem,
    "light+suffix": _light_suffix_stem,
    "light+suffix3": _light_suffix3_stem,
    "snowball": snowball_stem,
    "isri": isri_stem,
}
STEM_VARIANTS = tuple(_STEMMERS)


def get_stemmer(variant: str) -> Callable[[str], str]:
    """The stemming function for a variant name in ``STEM_VARIANTS``."""
    try:
        return _STEMMERS[variant]
    except KeyError:
        raise ValueError(
            f"unknown stemmer {variant!r}; expected one of {STEM_VARIANTS}"
        ) from None
