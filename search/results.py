"""Result types, one per level: passages, articles, answers. Frozen, with ``to_dict`` for --json."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


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
    heading: str = ""
    start: int = 0                             # the passage's offsets into the article body
    end: int = 0

    def to_dict(self) -> dict:
        data = asdict(self)
        data["highlights"] = [list(span) for span in self.highlights]
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
    matched_passages: int = 1

    def to_dict(self) -> dict:
        data = asdict(self)
        data["highlights"] = [list(span) for span in self.highlights]
        return data


@dataclass(frozen=True)
class SearchResults:
    query: str
    mode: str
    level: str
    total: int            # hits available to page through (capped by the candidate depth)
    hits: tuple
    notice: str = ""      # e.g. why a hybrid search fell back to keyword mode

    def to_dict(self) -> dict:
        data = {"query": self.query, "mode": self.mode, "level": self.level, "total": self.total,
                "hits": [hit.to_dict() for hit in self.hits]}
        if self.notice:
            data["notice"] = self.notice
        return data


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
        data = asdict(self)
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
