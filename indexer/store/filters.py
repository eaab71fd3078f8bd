"""Search filters: which sources, sections and dates a search keeps, validated when built.

Sources and sections match case-insensitively (``cnn`` finds ``CNN``), any of several; dates
are bounds by day, and ``since``/``until`` may name a whole year or month (``2015``, ``2015-07``).
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from typing import Iterable, Sequence, Union

PARTIAL_DATE = re.compile(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?")
Names = Union[str, Sequence[str], None]


class FilterError(ValueError):
    """A filter value that cannot be used, named with the filter."""


@dataclass(frozen=True)
class Filters:
    """Restrictions applied inside both retrievers, before their top-k cut. ``source`` and
    ``section`` take one name or several (any of them); ``since`` and ``until`` are inclusive
    and become ISO days: ``since="2015"`` is 2015-01-01, ``until="2015-02"`` is 2015-02-28."""

    source: Names = None
    section: Names = None
    since: str | None = None
    until: str | None = None

    def __post_init__(self):
        for name in ("source", "section"):
            object.__setattr__(self, name, _names(name, getattr(self, name)))
        object.__setattr__(self, "since", _day("since", self.since, last=False))
        object.__setattr__(self, "until", _day("until", self.until, last=True))
        if self.since and self.until and self.since > self.until:
            raise FilterError(f"since ({self.since}) is after until ({self.until})")

    def active(self) -> bool:
        return any((self.source, self.section, self.since, self.until))


def _names(name: str, value: Names) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else list(value or ())
    for v in values:
        if not isinstance(v, str) or not v.strip():
            raise FilterError(f"{name} must be a non-empty name, not {v!r}")
    return tuple(dict.fromkeys(v.strip() for v in values))


def _day(name: str, value: str | None, last: bool) -> str | None:
    if value is None or value == "":
        return None
    m = PARTIAL_DATE.fullmatch(value.strip()) if isinstance(value, str) else None
    if m is None:
        raise FilterError(f"{name} must be a date as YYYY, YYYY-MM or YYYY-MM-DD, not {value!r}")
    year, month, day = int(m[1]), int(m[2] or (12 if last else 1)), m[3]
    try:
        day = int(day) if day else (calendar.monthrange(year, month)[1] if last else 1)
        return date(year, month, day).isoformat()
    except ValueError as exc:
        raise FilterError(f"{name}: {value!r} is not a valid date ({exc})") from None


def spellings(wanted: tuple[str, ...], stored: Iterable[str]) -> tuple[str, ...]:
    """``wanted`` with every ``stored`` name that equals one of them but for case: what an exact
    match on the stored names needs to match them case-insensitively."""
    folded = {w.casefold() for w in wanted}
    return tuple(dict.fromkeys([*wanted, *(s for s in stored if s.casefold() in folded)]))


def filter_sql(filters: Filters, alias: str = "a") -> tuple[str, list]:
    """A WHERE clause over the articles table as ``alias``; ``filters`` hold the stored spellings."""
    clauses, args = ["1=1"], []
    for column in ("source", "section"):
        names = getattr(filters, column)
        if names:
            clauses.append(f"{alias}.{column} IN ({','.join('?' * len(names))})"); args.extend(names)
    if filters.since:
        clauses.append(f"{alias}.date != '' AND {day_sql(alias)} >= ?"); args.append(filters.since)
    if filters.until:
        clauses.append(f"{alias}.date != '' AND {day_sql(alias)} <= ?"); args.append(filters.until)
    return " AND ".join(clauses), args


def day_sql(alias: str) -> str:
    """The UTC day of ``alias``.date in SQL (``indexer.text.dates.utc_day``, which the store's
    connections register as ``utc_day``); only a time with an offset (Z, + or - after the day) pays
    for the call, the rest is its first ten characters."""
    date = f"{alias}.date"
    return f"(CASE WHEN substr({date}, 11) GLOB '*[Z+-]*' THEN utc_day({date}) ELSE substr({date}, 1, 10) END)"
