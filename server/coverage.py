"""How coverage of a query changed over time: its matching articles by month as bars, from the
search's month facet (``search.ordering.facet_counts``: every article holding the query's words
under the filters, not only the page shown).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from search.ordering import UNDATED

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
