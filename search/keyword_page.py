"""Keyword mode in relevance order: one page of a query's results and its counts, without ordering
every match.

Why: a question matches a good share of a million passages (159,000 passages of 96,000 articles,
medians over 30 XQuAD-ar questions) and a page shows ten. Ordering them all (the keyword run),
then grouping them by article and folding near-duplicates in that order, was 37 of the 57 CPU ms
of such a search (docs/performance.md, "Questions at 1M without ordering every match"). Here
the matches stay in document order: an article's are next to each other there, so each article's
best passage is a reduction; near-duplicates are folded by comparing the two articles of each
pair (``search.collapse_scored``); and only the page's best few are put in order.

The page, counts and folded articles are those ``Engine.search`` shows from the whole ranking
(``search.ranking``, ``search.arrange``): an article ranks by its best passage (by score, then
document number, the keyword run's order); ``tests/test_keyword_page.py`` holds it to that.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from indexer.keyword.postings import MatchRun
from indexer.keyword.selection import best_first
from search.collapse import PairKeys
from search.collapse_scored import collapse_scored


@dataclass(frozen=True)
class RunArticles:
    """A keyword run's matches (``MatchRun.matches``, in document order) grouped by article: each
    article's first match and best match (positions in the matches), that one's score, how many
    of its passages match, and its number (``Joined.numbers``)."""

    starts: np.ndarray
    best: np.ndarray
    scores: np.ndarray
    counts: np.ndarray
    numbers: np.ndarray

    @classmethod
    def of(cls, run: MatchRun) -> "RunArticles | None":
        """None where an article's matches are not next to each other in document order (so far,
        a writer adds an article's passages together). Each article's best is found by ``ufunc.at``
        over its number among the run's articles, not by ``reduceat``, which pays a call per
        article: 1.6 to 1.8 CPU ms a question at 1M against 3.7 (``bench.serve_stages``, "matches
        by article", docs/performance.md)."""
        joined = run.view.joined
        numbers = joined.numbers[1][run.matches]
        if not len(numbers):
            empty = np.zeros(0, dtype=np.int64)
            return cls(empty, empty, np.zeros(0), empty, empty)
        new = _changes(numbers)
        starts = np.flatnonzero(new)
        if not joined.articles_together and np.bincount(numbers[starts]).max() > 1:
            return None
        article = np.cumsum(new) - 1   # each match's article, numbered in the run
        scores = np.full(len(starts), -np.inf)
        np.maximum.at(scores, article, run.match_scores)   # a NaN stays: the caller checks for one
        counts = np.diff(np.append(starts, len(numbers)))
        # The first of an article's matches with its best score: ties go to the lower document.
        at_best = np.flatnonzero(run.match_scores == scores[article])
        best = at_best[_changes(article[at_best])]
        return cls(starts, best, scores, counts, numbers[starts])


def _changes(values: np.ndarray) -> np.ndarray:
    """True where a value differs from the one before it, and at the first."""
    out = np.empty(len(values), dtype=bool)
    out[:1] = True
    np.not_equal(values[1:], values[:-1], out=out[1:])
    return out


@dataclass(frozen=True)
class KeywordPage:
    """Results ``offset`` to ``offset + k`` (passages, or articles by their best passage), best
    first, and the counts of the whole ranking (``search.results.SearchResults``)."""

    pids: np.ndarray
    scores: np.ndarray
    matched_passages: np.ndarray    # of each article shown; at the passage level, ones
    more_like: list[tuple[str, ...]]
    matches: int
    collapsed: int


def keyword_page(run: MatchRun, pairs: PairKeys | None, level: str, k: int, offset: int) -> KeywordPage | None:
    """The page of ``run`` (every match, from ``KeywordIndex.matches``, on an index whose compiled
    postings know each match's article) at ``level``, near-duplicates folded by ``pairs`` (None:
    not folded). None where the matches do not allow it (``RunArticles.of``, or a score that is
    not a number); the caller then ranks every match."""
    articles = RunArticles.of(run)
    if articles is None or np.isnan(articles.scores).any():
        return None
    view = run.view
    docs = run.matches[articles.best]   # each article's best passage, whose document breaks ties
    folded = np.zeros(len(docs), dtype=bool)
    folding = None
    if pairs is not None and len(docs):
        # Every article's number is one of the index's: no key needs looking up (``PairKeys.nodes``).
        folding = collapse_scored(None, pairs, articles.scores, docs, articles.numbers, view.joined.numbers[0])
        folded = folding.folded
    if level == "articles":
        shown = best_first(articles.scores, offset + k, among=np.flatnonzero(~folded))[offset:]
        shown_best, counted, collapsed = articles.best[shown], articles.counts[shown], int(folded.sum())
        heads = shown
    else:
        kept = np.flatnonzero(~np.repeat(folded, articles.counts))
        shown_best = best_first(run.match_scores, offset + k, among=kept)[offset:]
        counted = np.ones(len(shown_best), dtype=np.int64)
        collapsed = int(articles.counts[folded].sum())
        # Only an article's best passage carries the articles folded under it, as in ``arrange``.
        owner = np.searchsorted(articles.starts, shown_best, side="right") - 1
        heads = np.where(articles.best[owner] == shown_best, owner, -1)
    more = [()] * len(heads)
    if folding is not None and (heads >= 0).any():
        for i, under in zip(np.flatnonzero(heads >= 0).tolist(), folding.under(heads[heads >= 0])):
            more[i] = tuple(view.article_ids(docs[under]).tolist())
    shown_docs = run.matches[shown_best]
    return KeywordPage(view.joined.pids[shown_docs], run.match_scores[shown_best], counted, more,
                       len(docs) if level == "articles" else run.total, collapsed)
