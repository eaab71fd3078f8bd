"""A query's ranking as it is shown: sorted by date when asked, each near-duplicate folded under
the first of its story shown, and the counts of its matches by source, section and month. It
works on positions into the ranking, so paging through the result keeps one order for every page.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from search.collapse import collapse as fold
from search.ordering import by_date, facet_counts


@dataclass(frozen=True)
class Arrangement:
    order: np.ndarray                      # positions into the ranking, in the order shown
    folded: tuple[tuple[str, ...], ...]    # for each shown position, the article ids folded under it
    undated: int | None                    # shown results without a date (sorted last); None by relevance
    facets: dict | None


def arrange(store, article_ids: Sequence[str], matched: np.ndarray, *, sort: str, collapse: bool,
            facets: bool) -> Arrangement:
    """``article_ids[i]`` owns the ranking's item ``i``; ``matched[i]`` says it holds the query's words."""
    need_facts = sort != "relevance" or facets
    facts = store.article_facts(article_ids) if need_facts else {}
    if sort == "relevance":   # every match is ranked: no list of dates to build then
        dates, order = [], np.arange(len(article_ids), dtype=np.int64)
    else:
        dates = [facts.get(a, ("", "", ""))[0] for a in article_ids]
        order = np.asarray(by_date(dates, sort), dtype=np.int64)
    folded: list[tuple[str, ...]] = [()] * len(order)
    if collapse and len(order):
        ordered = article_ids if sort == "relevance" else [article_ids[i] for i in order.tolist()]
        kept, groups = fold(ordered, store.duplicates.pairs())
        order = order[kept]
        folded = [()] * len(kept)
        for at, position in zip(np.searchsorted(kept, list(groups)).tolist(), groups):
            folded[at] = tuple(groups[position])
    undated = None if sort == "relevance" else sum(not dates[i] for i in order.tolist())
    counted = None
    if facets:
        matching = dict.fromkeys(a for a, m in zip(article_ids, matched.tolist()) if m)
        counted = facet_counts(facts.get(a, ("", "", "")) for a in matching)
    return Arrangement(order=order, folded=tuple(folded), undated=undated, facets=counted)
