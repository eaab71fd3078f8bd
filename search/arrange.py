"""A query's ranking as it is shown: sorted by date when asked, each near-duplicate folded under
the first of its story shown, and the counts of its matches by source, section and month. It
works on positions into the ranking, so paging through the result keeps one order for every page.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from search.collapse import PairKeys, collapse as fold
from search.ordering import by_date, facet_counts
from search.ranking import Owners


@dataclass(frozen=True)
class Arrangement:
    order: np.ndarray                      # positions into the ranking, in the order shown
    undated: int | None                    # shown results without a date (sorted last); None by relevance
    facets: dict | None
    collapsed: int = 0                     # items folded under an earlier one of their story
    _more: Callable[[int], tuple[str, ...]] = lambda shown: ()

    def more_like(self, shown: int) -> tuple[str, ...]:
        """The article ids folded under the result shown at ``shown`` (from 0), in rank order."""
        return self._more(shown)


def arrange(store, owners: Owners, matched: np.ndarray, *, sort: str, collapse: bool,
            facets: bool) -> Arrangement:
    """``owners`` says which article holds the ranking's item ``i``; ``matched[i]`` says it holds
    the query's words. Article ids are read only where dates or facets need them, and for the
    results shown: a ranking holds every match."""
    need_facts = sort != "relevance" or facets
    article_ids = owners.ids() if need_facts else []
    facts = store.article_facts(article_ids) if need_facts else {}
    if sort == "relevance":   # every match is ranked: no list of dates to build then
        dates, order = [], np.arange(len(owners.keys), dtype=np.int64)
    else:
        dates = [facts.get(a, ("", "", ""))[0] for a in article_ids]
        order = np.asarray(by_date(dates, sort), dtype=np.int64)
    more = Arrangement._more
    if collapse and len(order):
        before = order
        folding = fold(owners.keys[before], store.duplicates.derived(PairKeys.of), owners.numbers[before], owners.distinct)
        order = before[folding.kept]

        def more(shown: int) -> tuple[str, ...]:
            under = folding.under(int(folding.kept[shown]))
            return tuple(owners.ids(before[under])) if len(under) else ()
    undated = None if sort == "relevance" else sum(not dates[i] for i in order.tolist())
    counted = None
    if facets:
        matching = dict.fromkeys(a for a, m in zip(article_ids, matched.tolist()) if m)
        counted = facet_counts(facts.get(a, ("", "", "")) for a in matching)
    return Arrangement(order=order, undated=undated, facets=counted, collapsed=len(owners.keys) - len(order),
                       _more=more)
