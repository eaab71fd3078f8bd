"""The query language: words; OR between words; -word; phrases in "double quotes" or «guillemets».

Deliberately small. Nothing a user types is handed to Whoosh's query parser, so field
prefixes, wildcards, AND/NOT and unbalanced brackets are plain text: they can neither fail to
parse nor reach fields or files the user was not meant to touch. What the parts mean is
``KeywordQuery``'s (``indexer/keyword/index.py``): a short query (at most ``SHORT_QUERY_WORDS``
words as typed, stopwords included, and not a question) needs all its words, and a name as a name; a longer one
(a question) ranks the passages holding most of its words first.
"""
from __future__ import annotations

import operator
import re
from dataclasses import dataclass

from indexer.text.arabic import WORD_PATTERN, is_stopword, token_words
from indexer.text.articles import clean_text
from indexer.keyword.query import KeywordQuery, stems

PHRASE = re.compile(r'"([^"]*)"|«([^»]*)»')
QUOTES = re.compile(r'["«»]')
OR = "OR"
EXCLUDE = "-"
# «بان كي مون», «مجلس التعاون لدول الخليج العربية»: news names run to five words; questions are
# longer, or marked as questions: «ما هو الرادار؟» asks about radar, it does not name what it
# wants found.
SHORT_QUERY_WORDS = 5
# A question or an instruction: a question mark anywhere, a sentence's full stop at the end, or an
# interrogative first («كم كان متوسط حجم المنازل»); a name is none of these.
QUESTION = re.compile(r"[؟?]|[.!]\s*$")
INTERROGATIVES = frozenset({"هل", "متي", "اين", "كيف", "لماذا", "ماذا", "كم", "ما", "من", "اي", "ماهو", "ماهي"})


class QueryError(ValueError):
    """A query with nothing to search for."""


class UnknownArticle(QueryError):
    """A request about an article id the index does not hold (HTTP 404, not a bad request)."""


@dataclass(frozen=True)
class ParsedQuery:
    text: str                 # as typed
    dense_text: str           # what the encoder sees: the words without syntax
    keyword: KeywordQuery     # normalized words, grouped

    @property
    def terms(self) -> frozenset[str]:
        """The light stems of every word searched for, for term overlap (answers)."""
        phrase_words = (w for p in self.keyword.phrases for w in p if not is_stopword(w))
        return frozenset(self.keyword.terms) | frozenset(stems(phrase_words))

    @property
    def forms(self) -> frozenset[str]:
        """Every written form of every word searched for: what highlighting marks."""
        words = [w for g in self.keyword.searched for w in g]
        words += [w for p in self.keyword.phrases for w in p if not is_stopword(w)]
        return frozenset().union(*(self.keyword.word_forms(w) for w in words))


def normalized_words(text: str) -> list[str]:
    """The normalized words of ``text``, stopwords included."""
    return [w for raw in WORD_PATTERN.findall(text) for w in token_words(raw)]


def content_words(text: str) -> list[str]:
    """The normalized words of ``text`` that are not stopwords."""
    return [w for w in normalized_words(text) if not is_stopword(w)]


def query_text(text: object) -> str:
    """``text`` as the analyzers and the encoder can take it; a lone surrogate (``$'\\xff'`` on a
    command line, "\\ud800" from an API) is replaced rather than reaching the encoder."""
    if not isinstance(text, str):
        raise QueryError(f"a query must be text, not {type(text).__name__}")
    return clean_text(text)


def parse_query(text: str) -> ParsedQuery:
    text = query_text(text)
    quoted = (tuple(normalized_words(m.group(1) or m.group(2) or "")) for m in PHRASE.finditer(text))
    phrases = [words for words in quoted if any(not is_stopword(w) for w in words)]
    groups: list[list[str]] = []
    offsets: list[int] = []
    excluded: list[str] = []
    position = 0
    join = False
    for chunk in QUOTES.sub(" ", PHRASE.sub(" ", text)).split():
        if chunk == OR:
            join = bool(groups)
            continue
        if _excluding(chunk):
            excluded += content_words(chunk[1:])
            join = False
            continue
        for word in normalized_words(chunk):
            if not is_stopword(word):
                if join:
                    groups[-1].append(word)
                else:
                    groups.append([word])
                    offsets.append(position)
                join = False
            position += 1
    keyword = KeywordQuery(groups=tuple(tuple(dict.fromkeys(g)) for g in groups), offsets=tuple(offsets),
                           phrases=tuple(phrases), excluded=tuple(dict.fromkeys(excluded)),
                           short=position <= SHORT_QUERY_WORDS and not is_question(text))
    dense_text = " ".join(c for c in QUOTES.sub(" ", text).split() if c != OR and not _excluding(c))
    return ParsedQuery(text=text, dense_text=dense_text, keyword=keyword)


def is_question(text: str) -> bool:
    words = normalized_words(text)
    return bool(QUESTION.search(text)) or bool(words and words[0] in INTERROGATIVES)


def _excluding(chunk: str) -> bool:
    return chunk.startswith(EXCLUDE) and len(chunk) > 1


def require_terms(query: ParsedQuery) -> None:
    if not query.terms:
        if not query.text.strip():
            raise QueryError("the query is empty")
        raise QueryError(f"the query «{query.text.strip()}» has no searchable words"
                         " (only punctuation or stopwords)")


def check_count(name: str, value: object, minimum: int) -> int:
    """``value`` as an int of at least ``minimum``: k=2.5 or k="5" is an error, not a TypeError."""
    try:
        number = operator.index(value)
    except TypeError:
        raise QueryError(f"{name} must be a whole number, not {value!r}") from None
    if number < minimum:
        raise QueryError(f"{name} must be at least {minimum}, not {number}")
    return number
