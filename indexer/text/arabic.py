"""Arabic text normalization and stopwords, as pure functions (stemmers: ``indexer.text.stemmers``).

Index and query text must pass through exactly the same steps, or a query
spelled «إيران» never meets a document spelled «ايران»; keeping those steps
here, free of Whoosh, lets the analyzer, the query builder and the answer
extractor share one definition.

Design notes:

* ``normalize`` is NFKC, then lowercase, then a character map (diacritics,
  tatweel and invisible joiners/bidi controls dropped; alef, yeh, teh marbuta,
  waw/yeh hamza and eastern digits folded), repeated until stable so that it
  is idempotent.
* NFKC may turn one presentation-form character into several words (ﷺ is
  «صلى الله عليه وسلم»).  ``token_words`` therefore returns a *tuple* of
  words for a raw token: the ``WORD_PATTERN`` matches of its normalized text.
  All of them keep the raw token's span, so the terms sharing one span are
  exactly ``[stem(w) for w in token_words(original[start:end]) if not
  is_stopword(w)]``; in the usual case, where the normalized slice is one
  word, simply ``term == stem(normalize(original[start:end]))``.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Harakat, shadda, sukun, superscript alef, Quranic annotation marks.
DIACRITICS = (
    "".join(map(chr, range(0x0610, 0x061B)))
    + "".join(map(chr, range(0x064B, 0x0660)))
    + "\u0670"
    + "".join(map(chr, range(0x06D6, 0x06DD)))
    + "".join(map(chr, range(0x06DF, 0x06E5)))
    + "\u06e7\u06e8"
    + "".join(map(chr, range(0x06EA, 0x06EE)))
    + "".join(chr(c) for c in range(0x08CA, 0x0900) if c != 0x08E2)
)
TATWEEL = "\u0640"
# Zero-width characters, bidi controls and the soft hyphen: invisible, and
# pasted into the middle of words by editors and web pages.
INVISIBLES = (
    "\u00ad\u061c\u200b\u200c\u200d\u200e\u200f\u2060\ufeff"
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)

_LETTER_FOLDS = {
    "آ": "ا", "أ": "ا", "إ": "ا", "ٱ": "ا", "ٲ": "ا", "ٳ": "ا",
    "ى": "ي", "ی": "ي", "ئ": "ي",
    "ة": "ه",
    "ؤ": "و",
    "ک": "ك",
}
_TRANSLATION = str.maketrans(
    {
        **{ch: None for ch in DIACRITICS + TATWEEL + INVISIBLES},
        **_LETTER_FOLDS,
        **{chr(0x0660 + d): str(d) for d in range(10)},
        **{chr(0x06F0 + d): str(d) for d in range(10)},
        # ﷽ has no NFKC decomposition; spell it out so its words are found.
        "\ufdfd": "بسم الله الرحمن الرحيم",
    }
)

# Presentation forms are letters to a reader even where Unicode calls them
# symbols (﷽, ﷼); the ornate parentheses ﴾﴿ and the noncharacters are not.
_PRESENTATION = "\ufb50-\ufd3d\ufd40-\ufdcf\ufdf0-\ufdff\ufe70-\ufefe"
# Marks that continue a word: Arabic diacritics and generic combining blocks.
# Other scripts' vowel signs are out of scope and split words as in Whoosh.
_MARKS = (
    re.escape(DIACRITICS)
    + "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe00-\ufe0f\ufe20-\ufe2f"
)
_INVISIBLE_CLASS = re.escape(INVISIBLES)
# A word starts with a letter or digit, may hold marks, tatweel, joiners and
# bidi controls, and never ends on an invisible (so highlights do not swallow
# them).  Underscores split words: hashtags join words with them (#براد_بيت).
WORD_PATTERN = re.compile(
    rf"(?:[^\W_]|[{_PRESENTATION}])"
    rf"(?:(?!_)[\w{_PRESENTATION}{_MARKS}{_INVISIBLE_CLASS}])*"
    rf"(?<![{_INVISIBLE_CLASS}])"
)


def _normalize_once(text: str) -> str:
    # lower(), not casefold(): casefold and NFKC undo each other on some Greek and Latin
    # letters (U+1FB6, U+01F0, ...), so a loop over both never settles.
    return unicodedata.normalize("NFKC", text).lower().translate(_TRANSLATION)


def normalize(text: str) -> str:
    """Fold ``text`` to its search form; idempotent.

    Deleting a character can let NFKC compose its neighbours (``e`` ZWJ
    U+0301), and lowercasing can leave non-NFKC text, so the steps repeat
    until nothing changes (a few rounds at most; bounded so no input can hang it).
    """
    out = _normalize_once(text)
    for _ in range(_MAX_ROUNDS):
        again = _normalize_once(out)
        if again == out:
            break
        out = again
    return out


_MAX_ROUNDS = 8


@lru_cache(maxsize=1 << 17)
def token_words(raw: str) -> tuple[str, ...]:
    """The normalized word(s) of one raw token; empty when nothing is left.

    Usually one word.  Several when NFKC expands a ligature into a phrase or
    into punctuation (ﷺ, ⑴); none for a token made only of tatweel.
    """
    norm = normalize(raw)
    if WORD_PATTERN.fullmatch(norm):
        return (norm,)
    words = (normalize(w) for w in WORD_PATTERN.findall(norm))
    return tuple(w for w in words if w)


# Written in ordinary spelling for readability; stored normalized.
_STOPWORD_SOURCE = """
من إلى عن على في مع حتى منذ لدى عند بين نحو حول دون خلال عبر ضد قبل
بعد فوق تحت أمام وراء خلف ضمن عدا سوى رغم بدون تجاه حيال أثناء إزاء
أنا نحن أنت أنتم أنتما هو هي هم هما هن إياه إياها إياهم
له لها لهم لهما لك لكم لنا لي به بها بهم بي بنا
منه منها منهم مني منا عنه عنها عنهم عني عنا فيه فيها فيهم
عليه عليها عليهم علينا إليه إليها إليهم إلينا معه معها معهم معنا
لديه لديها لديهم لدينا عنده عندها عندهم بينهم بينهما
هذا هذه هذان هذين هؤلاء ذلك تلك ذاك أولئك هنا هناك
هكذا كذلك لذلك بذلك لذا لهذا لهذه بهذا بهذه
الذي التي الذين اللذان اللتان اللذين اللتين اللاتي اللواتي
و ثم أو بل لكن إما أما إذا إذ إن أن لأن كأن لو لولا كي لكي حيث حين عندما
بينما كلما لما مما ممن عما فيما بما كما إنما إلا لا لم لن ما ليس ليست
إنه إنها إنهم أنه أنها أنهم إنني أنني إننا أننا لأنه لأنها
قد لقد سوف كان كانت كانوا كانا يكون تكون يكن تكن أصبح أصبحت صار ظل
مازال لازال يزال تزال تم يتم
هل متى أين كيف لماذا ماذا كم أي كل بعض غير أيضا جدا فقط إذن يا
"""
STOPWORDS: frozenset[str] = frozenset(normalize(w) for w in _STOPWORD_SOURCE.split())

_CONJUNCTIONS = frozenset("وف")
# و/ف + stopword that is, far more often, a content word in news text:
# «ولي العهد» (crown prince), «فهم» (understanding).
_CLITIC_STOP_EXCEPTIONS = frozenset({"ولي", "فهم"})


def is_stopword(normalized_token: str) -> bool:
    """True for a stopword, bare or behind the conjunction و or ف («وفي»)."""
    if normalized_token in STOPWORDS:
        return True
    return (
        len(normalized_token) > 2
        and normalized_token[0] in _CONJUNCTIONS
        and normalized_token[1:] in STOPWORDS
        and normalized_token not in _CLITIC_STOP_EXCEPTIONS
    )
