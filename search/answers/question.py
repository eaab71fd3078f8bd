"""Question analysis for question-driven lookup.

Why: a question such as «كم يبلغ حجم التبادل التجاري بين العراق وإيران؟»
carries two different signals.  Its content words are what the keyword and
dense retrievers should look for, while the interrogative («كم») says what the
answer must contain (a number).  Feeding the interrogative to BM25 only adds
noise -- «ما» and «من» occur in nearly every passage -- and ignoring it throws
away the cheapest way to tell an answer sentence from one that merely repeats
the question.  So ``analyze_question`` splits the question into
``keyword_text`` and an ``AnswerType``; ``search.answers.types`` scores how
well a candidate sentence fits that type.

Rules chosen (all cheap, lexical, and documented here so they can be tuned):

* Interrogative patterns are matched at the start of the question, after an
  optional attached «و»/«ف» («وما هو»).  If none is found there, patterns
  built on an unambiguous interrogative («متى», «أين», «كم», «كيف», «لماذا»,
  «هل», «في أي مدينة» ...) are also looked for further in («نجيب محفوظ، متى
  ولد؟»).  «من», «ما», «لم» and a bare «أي» are only read as interrogatives
  at the start, because mid-sentence they are a preposition, a relative or
  negation, and «that is».
* «من» at the start is a preposition, not "who", when followed by one of the
  set phrases news statements open with («من المتوقع», «من جهة», «من خلال»
  ...); «ما» is negation before «زال/يزال/دام»; «لم» is "why" only when the
  text carries a question mark, since without one it is the past negation
  «لم يحضر».
* «أي» (and «في/إلى/من/بـ/لـ أي») takes its type from the noun after it:
  time nouns → DATE, place nouns → PLACE, person/organisation nouns → PERSON.
  «ما/ما هو/ما هي/شو/إيش» likewise look at their head noun: «عدد/نسبة/مساحة
  ...» → NUMBER, «تاريخ/موعد» → DATE, «عاصمة/موقع» → PLACE, «سبب» → REASON,
  «اسم» → PERSON unless a place noun follows («ما اسم مدينة ...» → PLACE).
* ``keyword_text`` drops the matched pattern, the generic nouns that are part
  of it («عدد» in «كم عدد», «اسم» in «ما اسم», «عام/مدينة ...» after «أي»),
  and every «؟ ?»; informative head nouns such as «عاصمة» are kept.
* ``interrogative`` is the matched pattern as written, without the attached
  «و»/«ف».
* Words are compared after ``indexer.text.arabic.normalize`` (the word lists, in
  ``search.answers.question_words``, are stored that way), so hamza, diacritic and
  tatweel variants all match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from indexer.text.arabic import normalize
from search.answers.question_words import (
    DATE_NOUNS, DATE_OR_PLACE_NOUNS, GENERIC_NOUNS, MA_NEGATION, MIN_PREPOSITIONAL, NAME_NOUNS,
    NUMBER_NOUNS, PLACE_NOUNS, REASON_NOUNS, UNAMBIGUOUS, WHAT_DATE_NOUNS,
    WHAT_PERSON_NOUNS, WHICH_PERSON_NOUNS, WORD_CORE_RE,
)

__all__ = ["AnswerType", "QuestionAnalysis", "analyze_question"]


class AnswerType(str, Enum):
    NUMBER = "number"
    DATE = "date"
    PLACE = "place"
    PERSON = "person"  # a person or an organisation
    REASON = "reason"
    MANNER = "manner"
    YESNO = "yesno"
    OTHER = "other"


@dataclass(frozen=True)
class QuestionAnalysis:
    question: str
    keyword_text: str
    answer_type: AnswerType
    interrogative: str


# ------------------------------------------------------------ tokens

_QUESTION_MARKS_RE = re.compile("[؟?？⸮]")
_TOKEN_RE = re.compile(r"\S+")
_MARK_RE = re.compile(r"[\u064B-\u065F\u0670\u0640]*")


@dataclass(frozen=True)
class _Token:
    start: int  # offsets of the word core in the question
    end: int
    norm: str  # normalized core


def _tokens(text: str) -> list[_Token]:
    tokens = []
    for m in _TOKEN_RE.finditer(text):
        core = WORD_CORE_RE.search(m.group())
        if core is None:
            continue
        # The question is normalized token by token so offsets stay in the original.
        norm = normalize(core.group())
        if norm:
            tokens.append(_Token(m.start() + core.start(), m.start() + core.end(), norm))
    return tokens


# ------------------------------------------------------------ patterns

class _Kind(Enum):
    """How the word after a pattern refines its answer type (see ``_refine``)."""

    PLAIN = "plain"  # fixed type
    WHICH = "which"  # «أي» + type noun
    WHAT = "what"  # «ما (هو)» + head noun
    NAMED = "named"  # «ماسم» + noun


_PLAIN, _WHICH, _WHAT, _NAMED = _Kind.PLAIN, _Kind.WHICH, _Kind.WHAT, _Kind.NAMED


@dataclass(frozen=True)
class _Pattern:
    words: tuple[str, ...]  # normalized
    answer_type: AnswerType
    kind: _Kind = _PLAIN


def _p(phrase: str, answer_type: AnswerType, kind: _Kind = _PLAIN) -> _Pattern:
    return _Pattern(tuple(normalize(phrase).split()), answer_type, kind)


def _which_patterns() -> list[_Pattern]:
    patterns = []
    for which in ("أي", "أية"):
        patterns.append(_p(which, AnswerType.OTHER, _WHICH))
        patterns += [_p(f"{prep} {which}", AnswerType.OTHER, _WHICH) for prep in ("في", "إلى", "من", "على", "عن")]
        patterns += [_p(f"{prep}{which}", AnswerType.OTHER, _WHICH) for prep in ("ب", "ل")]
    return patterns


# Spelling variants (أين/اين, ما هى/ما هي, إمتى/امتى) need no entries of their
# own: patterns and questions are compared normalized.  Longest first.
_T = AnswerType
_PATTERNS: list[_Pattern] = sorted(
    [
        *(_p(w, _T.NUMBER) for w in ("كم", "بكم", "قديش", "قداش", "منذ كم", "كم عدد")),
        *(_p(w, _T.DATE) for w in ("متى", "منذ متى", "إلى متى", "حتى متى", "لمتى", "امتى", "وقتاش")),
        *(_p(w, _T.PLACE) for w in ("أين", "من أين", "إلى أين", "وين", "فين", "منين", "لوين")),
        *(_p(w, _T.PERSON) for w in ("من", "من هو", "من هي", "من هم", "لمن", "ممن", "عمن", "مين", "مين هو", "شكون")),
        *(_p(w, _T.REASON) for w in ("لماذا", "لم", "ليش", "ليه", "علاش", "لأي سبب")),
        *(_p(w, _T.MANNER) for w in ("كيف", "ازاي", "كيفاش")),
        _p("هل", _T.YESNO),
        *(_p(w, _T.OTHER) for w in ("ماذا", "ما الذي", "ما التي", "اش", "بماذا", "بم", "مم", "فيم", "إلى ماذا", "عن ماذا", "على ماذا", "من ماذا")),
        *(_p(w, _T.OTHER, _WHAT) for w in ("ما", "ما هو", "ما هي", "ماهو", "ماهي", "ما هم", "ما هما", "شو", "إيش", "شنو", "شنوة", "اذكر")),
        # «ماسم» is a common typing of «ما اسم».
        _p("ماسم", _T.PERSON, _NAMED),
        *_which_patterns(),
    ],
    key=lambda p: -len(p.words),
)

_CONJUNCTIONS = "وف"


@dataclass(frozen=True)
class _Match:
    first: int  # token indices, inclusive..exclusive, removed from keywords
    last: int
    answer_type: AnswerType
    conj: bool  # the first token carries an attached «و»/«ف»


def analyze_question(question: str) -> QuestionAnalysis:
    """Split a question into keyword text and the type its answer should have."""
    tokens = _tokens(question)
    norms = [t.norm for t in tokens]
    has_mark = _QUESTION_MARKS_RE.search(question) is not None
    match = _match_at(norms, 0, has_mark, anywhere=False) or _match_inside(norms, has_mark)
    if match is None:
        return QuestionAnalysis(question, _keyword_text(question, None, tokens), AnswerType.OTHER, "")
    return QuestionAnalysis(
        question,
        _keyword_text(question, match, tokens),
        match.answer_type,
        _interrogative_text(question, match, tokens),
    )


def _match_inside(norms: list[str], has_mark: bool) -> _Match | None:
    for i in range(1, len(norms)):
        match = _match_at(norms, i, has_mark, anywhere=True)
        if match is not None:
            return match
    return None


def _match_at(norms: list[str], i: int, has_mark: bool, anywhere: bool) -> _Match | None:
    if i >= len(norms):
        return None
    for conj, head in _conjunction_readings(norms[i]):
        # Patterns are at most three words, plus two nouns _refine looks at.
        words = [head, *norms[i + 1:i + 5]]
        for pattern in _PATTERNS:
            n = len(pattern.words)
            if tuple(words[:n]) != pattern.words:
                continue
            if not _pattern_applies(pattern, words, has_mark, anywhere):
                continue
            return _refine(pattern, words, i, conj)
    return None


def _conjunction_readings(token: str) -> list[tuple[bool, str]]:
    """The token as is, then without an attached «و»/«ف» («وما» → «ما»)."""
    readings = [(False, token)]
    if len(token) > 2 and token[0] in _CONJUNCTIONS:
        readings.append((True, token[1:]))
    return readings


def _pattern_applies(pattern: _Pattern, words: list[str], has_mark: bool, anywhere: bool) -> bool:
    after = words[len(pattern.words)] if len(words) > len(pattern.words) else ""
    if anywhere and not _anywhere_safe(pattern, after):
        return False
    if pattern.words == ("من",) and after in MIN_PREPOSITIONAL:
        return False
    if pattern.words == ("ما",) and after in MA_NEGATION:
        return False
    if pattern.words == ("لم",) and not has_mark:
        return False
    return True


def _anywhere_safe(pattern: _Pattern, after: str) -> bool:
    if pattern.kind == _WHICH:
        return _strip_article(after) in DATE_OR_PLACE_NOUNS
    return any(w in UNAMBIGUOUS for w in pattern.words)


def _refine(pattern: _Pattern, words: list[str], i: int, conj: bool) -> _Match:
    """Let the noun after «أي» / «ما هو» decide the type and whether it is removed."""
    n = len(pattern.words)
    answer_type, consumed = pattern.answer_type, 0
    if pattern.kind == _WHICH:
        answer_type, consumed = _which_type(words[n:n + 1])
    elif pattern.kind == _WHAT:
        answer_type, consumed = _what_type(words[n:n + 2])
    elif pattern.kind == _NAMED:
        answer_type = _name_type(words[n:n + 1])
    return _Match(i, i + n + consumed, answer_type, conj)


def _strip_article(word: str) -> str:
    return word[2:] if word.startswith("ال") and len(word) > 4 else word


def _which_type(following: list[str]) -> tuple[AnswerType, int]:
    noun = _strip_article(following[0]) if following else ""
    consumed = int(noun in GENERIC_NOUNS)
    if noun in DATE_NOUNS:
        return AnswerType.DATE, consumed
    if noun in PLACE_NOUNS:
        return AnswerType.PLACE, consumed
    if noun in WHICH_PERSON_NOUNS:
        return AnswerType.PERSON, consumed
    return AnswerType.OTHER, 0


def _what_type(following: list[str]) -> tuple[AnswerType, int]:
    head = _strip_article(following[0]) if following else ""
    if head in NAME_NOUNS:
        return _name_type(following[1:2]), 1
    if head in NUMBER_NOUNS:
        return AnswerType.NUMBER, int(head == normalize("عدد"))
    for nouns, answer_type in (
        (WHAT_DATE_NOUNS, AnswerType.DATE),
        (PLACE_NOUNS, AnswerType.PLACE),
        (WHAT_PERSON_NOUNS, AnswerType.PERSON),
        (REASON_NOUNS, AnswerType.REASON),
    ):
        if head in nouns:
            return answer_type, 0
    return AnswerType.OTHER, 0


def _name_type(following: list[str]) -> AnswerType:
    """«ما اسم X»: a person or organisation, unless X is a place noun."""
    noun = _strip_article(following[0]) if following else ""
    return AnswerType.PLACE if noun in PLACE_NOUNS else AnswerType.PERSON


def _keyword_text(question: str, match: _Match | None, tokens: list[_Token]) -> str:
    text = question
    if match is not None:
        a, b = tokens[match.first].start, tokens[match.last - 1].end
        text = question[:a] + " " + question[b:]
    text = _QUESTION_MARKS_RE.sub(" ", text)
    return " ".join(text.split()).strip(" ،,:؛;-–—")


def _interrogative_text(question: str, match: _Match, tokens: list[_Token]) -> str:
    a, b = tokens[match.first].start, tokens[match.last - 1].end
    if match.conj:
        a += 1
        a += _MARK_RE.match(question, a).end() - a  # diacritics on the «و»
    return question[a:b]
