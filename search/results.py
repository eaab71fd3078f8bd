"""Result types, one per level: passages, articles, answers. Frozen, with ``to_dict`` for --json."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache

# A hit's ``label``: the passage (for an article, one of its passages) holds the query's words, or
# it is only close in meaning (hybrid and dense modes, above the similarity floor).
MATCH = "match"
RELATED = "related"


@dataclass(frozen=True)
class PassageHit:
    rank: int
    score: float
    article_id: str
    passage_id: int
    title: str
    date: str
    source: str
    section: str
    snippet: str
    highlights: tuple[tuple[int, int], ...]   # character spans into ``snippet``
    label: str = ""                           # MATCH or RELATED in search results; none in ``ask``'s
    heading: str = ""
    start: int = 0                             # the passage's offsets into the article body
    end: int = 0
    more_like_it: tuple[str, ...] = ()         # near-duplicate articles folded under this hit

    def to_dict(self) -> dict:
        data = _plain_dict(self)
        data["highlights"] = [list(span) for span in self.highlights]
        if not self.label:
            del data["label"]
        return data


@dataclass(frozen=True)
class ArticleHit:
    """An article ranked by its best passage, which it carries as the snippet."""

    rank: int
    score: float
    article_id: str
    passage_id: int
    title: str
    date: str
    source: str
    section: str
    snippet: str
    highlights: tuple[tuple[int, int], ...]
    label: str = MATCH
    matched_passages: int = 1                  # of its passages, those that hold the query's words
    more_like_it: tuple[str, ...] = ()         # near-duplicates of this article folded under it

    def to_dict(self) -> dict:
        data = _plain_dict(self)
        data["highlights"] = [list(span) for span in self.highlights]
        return data


@dataclass(frozen=True)
class SearchResults:
    """One page of a query's ranking. Every count is over the whole ranking, the same for every
    page, and counts articles (passages at passage level):

    - ``matches``: those that hold the query's words, exact, the same in every mode and whether
      near-duplicates are folded or not; ``total`` is ``matches``;
    - ``related``: those the dense side adds by meaning alone (0 in keyword mode), also counted
      before folding;
    - ``collapsed``: those of both folded under an earlier result of their story (``more_like_it``;
      0 with ``collapse=False``);
    - ``ranked``: the results left to page through, ``matches + related - collapsed``: ``offset``
      runs from 0 to ``ranked`` and the last page ends there."""

    query: str
    mode: str
    level: str
    matches: int
    related: int
    hits: tuple
    notice: str = ""      # no match at all; a hybrid search that fell back to keyword mode
    collapsed: int = 0
    undated: int | None = None   # sorted by date: the ranked results without a date, which come last
    facets: dict | None = None   # counts of every matching article by source, section and month

    @property
    def total(self) -> int:
        return self.matches

    @property
    def ranked(self) -> int:
        return self.matches + self.related - self.collapsed

    def to_dict(self) -> dict:
        data = {"query": self.query, "mode": self.mode, "level": self.level, "total": self.total,
                "matches": self.matches, "related": self.related, "collapsed": self.collapsed,
                "ranked": self.ranked, "hits": [hit.to_dict() for hit in self.hits]}
        for key in ("undated", "facets"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        if self.notice:
            data["notice"] = self.notice
        return data


# What ``absence_notice`` calls the level's items, in Arabic and in English.
ITEM_NAMES = {"articles": ("مقالات", "article"), "passages": ("مقاطع", "passage")}


def absence_notice(query: str, level: str) -> str:
    """Said first when nothing holds the query's words, in the reader's language and in English."""
    return f"{absence_in_arabic(query, level)} (no {ITEM_NAMES[level][1]} contains «{query.strip()}»)"


def absence_in_arabic(query: str, level: str) -> str:
    return f"لا توجد {ITEM_NAMES[level][0]} تحتوي على «{query.strip()}»"


@dataclass(frozen=True)
class StoredArticle:
    """An article as ``show`` prints it, with its passages."""

    id: str
    title: str
    date: str
    source: str
    url: str
    section: str
    body: str
    metadata: dict = field(default_factory=dict)
    passages: tuple[dict, ...] = ()

    def to_dict(self) -> dict:
        data = asdict(self)
        data["passages"] = list(self.passages)
        return data


@dataclass(frozen=True)
class Answer:
    """A sentence exactly as written in its article, with the stretch that matches the question."""

    rank: int
    score: float
    sentence: str
    span: tuple[int, int]      # character span into ``sentence``; (0, 0) when no question word is in it
    context_before: str        # the article's sentence before ("" at the start)
    context_after: str
    article_id: str
    passage_id: int
    title: str
    date: str
    source: str

    def to_dict(self) -> dict:
        data = _plain_dict(self)
        data["span"] = list(self.span)
        return data


@dataclass(frozen=True)
class AnswerResults:
    """``answered`` is false when the answerability model (``search.answers.confidence``) does not
    trust the best sentence; then ``answers`` is empty and ``related`` holds the closest passages."""

    question: str
    answered: bool
    answers: tuple[Answer, ...]
    related: tuple[PassageHit, ...] = ()

    def to_dict(self) -> dict:
        return {"question": self.question, "answered": self.answered,
                "answers": [a.to_dict() for a in self.answers],
                "related": [hit.to_dict() for hit in self.related]}


def _plain_dict(result) -> dict:
    """``asdict(result)`` for a result whose fields are strings, numbers and tuples of them: the
    same dict, without ``asdict``'s recursive copy of every value (tests/test_highlight.py holds
    the two equal)."""
    return {name: getattr(result, name) for name in _field_names(type(result))}


@lru_cache(maxsize=None)
def _field_names(cls) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))
