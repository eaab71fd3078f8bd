"""Sorting a ranking by date, and counting its articles by source, section and month.

Dates are compared in UTC (``indexer.text.dates.utc_date``), so a day sorts by its time when one
is given and an offset counts; undated articles go last, in relevance order, and are counted apart.

>>> by_date(["2015-07-21", "", "2016-01-02T10:00:00", "2015-07-21"], "newest")
[2, 0, 3, 1]
>>> by_date(["2020-05-02T01:00:00+00:00", "2020-05-01T23:00:00-05:00"], "newest")
[1, 0]
>>> facet_counts([("2015-07-21", "CNN", "tech"), ("", "cnn", "")])["source"]
[{'value': 'CNN', 'count': 2}]
>>> facet_counts([("2015-07-21", "CNN", "tech"), ("", "cnn", "")])["section"]
[{'value': 'tech', 'count': 1}, {'value': None, 'count': 1}]
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

from indexer.text.dates import utc_date

SORTS = ("relevance", "newest", "oldest")
FACETS = ("source", "section", "month")
UNDATED = "undated"


def by_date(dates: Sequence[str], sort: str) -> list[int]:
    """Positions of ``dates`` (in relevance order) in ``sort`` order: newest or oldest first,
    ties and undated ones (last) in relevance order."""
    if sort == "relevance":
        return list(range(len(dates)))
    dated = [i for i, d in enumerate(dates) if d]
    dated.sort(key=lambda i: utc_date(dates[i]), reverse=sort == "newest")   # stable both ways: ties keep relevance order
    return dated + [i for i, d in enumerate(dates) if not d]


def facet_counts(rows: Iterable[tuple[str, str, str]], top: int | None = None) -> dict[str, list[dict]]:
    """(date, source, section) of every matching article -> counts by source and section (most
    first; one entry per name whatever its case, spelled as most articles spell it; the articles
    without one last, as the value None, so that each facet's counts add up to every article) and
    by month (in UTC, as the date filters count; in time order, undated last)."""
    counts = {name: Counter() for name in FACETS}
    spellings: dict[str, Counter] = {"source": Counter(), "section": Counter()}
    missing = Counter()
    for date, source, section in rows:
        for name, value in (("source", source), ("section", section)):
            if value:
                counts[name][value.casefold()] += 1
                spellings[name][value] += 1
            else:
                missing[name] += 1
        counts["month"][utc_date(date)[:7] if date else UNDATED] += 1
    out = {}
    for name in ("source", "section"):
        spelled = {}
        for value, _ in sorted(spellings[name].items(), key=lambda kv: (-kv[1], kv[0])):
            spelled.setdefault(value.casefold(), value)
        ranked = sorted(counts[name].items(), key=lambda kv: (-kv[1], spelled[kv[0]]))[:top]
        out[name] = [{"value": spelled[v], "count": n} for v, n in ranked]
        if missing[name]:
            out[name].append({"value": None, "count": missing[name]})
    months = sorted(counts["month"].items(), key=lambda kv: (kv[0] == UNDATED, kv[0]))
    out["month"] = [{"value": m, "count": n} for m, n in months]
    return out
