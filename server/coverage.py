"""How coverage of a query changed over time: matching articles counted by month.

Counted over the whole keyword match set (every article whose words match, not only the page
shown), under the engine's filters and read view. The engine does not report facets yet
(issue 18 adds counts by month to ``search --facets``); when it does, ``matches_by_month``
should read them and this module's counting goes away.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from indexer.store.filters import Filters
from search.engine import Engine
from search.query import parse_query, require_terms

UNDATED = ""
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])")
# Past this many months the chart counts by year, so a bar stays wide enough to see.
MAX_MONTH_BARS = 120


@dataclass(frozen=True)
class Bar:
    period: str     # YYYY-MM, or YYYY on a long time line
    count: int
    x: float        # SVG geometry, in the chart's own units
    y: float
    width: float
    height: float


def matches_by_month(engine: Engine, query: str, filters: Filters = Filters()) -> Counter:
    """Articles matching ``query``'s words, by the YYYY-MM of their date (``UNDATED`` for none)."""
    parsed = parse_query(query)
    require_terms(parsed)
    with engine.reading():
        everything = max(1, engine.store.count_passages())
        ranked, _, _ = engine.passage_candidates(parsed, "keyword", everything, filters)
        versions = engine.store.versions(pid for pid, _ in ranked)
        meta = engine.store.articles_meta({v.article_id: v for v in versions.values()}.values())
    return Counter(month_of(row["date"] or "") for row in meta.values())


def month_of(date: str) -> str:
    match = MONTH.match(date)
    return match.group(0) if match else UNDATED


def bars(counts: dict[str, int], width: float = 600, height: float = 120) -> list[Bar]:
    """One bar per month from the first dated month to the last, empty months included, so the
    horizontal axis is time (per year past ``MAX_MONTH_BARS`` months); undated articles are left
    out of the chart."""
    counts = Counter(counts)
    months = sorted(m for m in counts if m != UNDATED)
    if not months:
        return []
    span = month_range(months[0], months[-1])
    if len(span) > MAX_MONTH_BARS:
        counts = Counter({year: sum(n for m, n in counts.items() if m[:4] == year) for year in {m[:4] for m in months}})
        span = [str(y) for y in range(int(months[0][:4]), int(months[-1][:4]) + 1)]
    tallest = max(counts[p] for p in span)
    slot = width / len(span)
    out = []
    for i, period in enumerate(span):
        h = height * counts[period] / tallest
        out.append(Bar(period=period, count=counts[period], x=round(i * slot, 2), y=round(height - h, 2),
                       width=round(max(slot * 0.8, 1.0), 2), height=round(h, 2)))
    return out


def month_range(first: str, last: str) -> list[str]:
    year, month = int(first[:4]), int(first[5:7])
    out = []
    while f"{year:04d}-{month:02d}" <= last:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out
