"""The query language: words, and phrases in "double quotes" or «guillemets».

Deliberately small. Nothing a user types is handed to Whoosh's query parser, so field
prefixes, wildcards, AND/OR/NOT and unbalanced brackets are plain text: they can
neither fail to parse nor reach fields or files the user was not meant to touch.
"""
from __future__ import annotations

import operator
import re
from dataclasses import dataclass

from indexer.text.analysis import ROOT_STEM, analyze
from indexer.text.articles import clean_text
from indexer.keyword.index import KeywordQuery

PHRASE = re.compile(r'"([^"]*)"|«([^»]*)»')
QUOTES = re.compile(r'["«»]')


class QueryError(ValueError):
    """A query with nothing to search for."""


@dataclass(frozen=True)
class ParsedQuery:
    text: str                 # as typed
    dense_text: str           # what the encoder sees: the text without quote marks
    keyword: KeywordQuery     # analyzed terms and phrases

    @property
    def terms(self) -> frozenset[str]:
        """Every analyzed term, for highlighting and term overlap."""
        return frozenset(self.keyword.terms) | {t for p in self.keyword.phrases for t in p}


def analyze_roots(text: str) -> list[str]:
    """The ISRI roots searched in the text's root field (not highlighted: too coarse)."""
    return analyze(text, ROOT_STEM)


def query_text(text: object) -> str:
    """``text`` as the analyzers and the encoder can take it; a lone surrogate (``$'\\xff'`` on a
    command line, "\\ud800" from an API) is replaced rather than reaching the encoder."""
    if not isinstance(text, str):
        raise QueryError(f"a query must be text, not {type(text).__name__}")
    return clean_text(text)


def parse_query(text: str) -> ParsedQuery:
    text = query_text(text)
    phrases = []
    for match in PHRASE.finditer(text):
        terms = tuple(analyze(match.group(1) or match.group(2) or ""))
        if terms:
            phrases.append(terms)
    rest = QUOTES.sub(" ", PHRASE.sub(" ", text))
    keyword = KeywordQuery(terms=tuple(dict.fromkeys(analyze(rest))), phrases=tuple(phrases),
                           roots=tuple(dict.fromkeys(analyze_roots(rest))))
    dense_text = " ".join(QUOTES.sub(" ", text).split())
    return ParsedQuery(text=text, dense_text=dense_text, keyword=keyword)


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
