"""Article dates at ingest: ISO 8601 kept as written, other unambiguous forms converted to it,
anything else refused. A stored date is shown as written and sorts and filters as ``utc_date``
has it: 2020-05-01T23:00:00-05:00 is 2020-05-02T04:00:00 there, after 2020-05-02T01:00:00+00:00.

>>> normalize_date("2015-07-21T02:51:32")
('2015-07-21T02:51:32', False)
>>> normalize_date("21/07/2015")
('2015-07-21', True)
"""
from __future__ import annotations

import re
from datetime import date, datetime, timezone
from email.utils import parsedate_to_datetime
from functools import lru_cache

# ISO 8601 as stored: an extended calendar date, optionally with a time and an offset.
ISO_EXTENDED = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?")
TIME = r"(?:[T ,]+(?P<time>\d{1,2}:\d{2}(?::\d{2})?))?"
DAY_MONTH_YEAR = re.compile(r"(?P<a>\d{1,2})[/.-](?P<b>\d{1,2})[/.-](?P<year>\d{4})" + TIME)
YEAR_MONTH_DAY = re.compile(r"(?P<year>\d{4})[/.](?P<month>\d{1,2})[/.](?P<day>\d{1,2})" + TIME)
NAMED_DAY_FIRST = re.compile(r"(?:\w+،?,? +)?(?P<day>\d{1,2}) +(?P<month>[^\W\d]+(?: [^\W\d]+)?\.?),? +(?P<year>\d{4})" + TIME)
NAMED_MONTH_FIRST = re.compile(r"(?P<month>[^\W\d]+(?: [^\W\d]+)?\.?) +(?P<day>\d{1,2}),? +(?P<year>\d{4})" + TIME)
MONTHS = {name: i for i, names in enumerate([
    ("january", "jan", "يناير", "كانون الثاني", "جانفي"),
    ("february", "feb", "فبراير", "شباط", "فيفري"),
    ("march", "mar", "مارس", "آذار", "اذار"),
    ("april", "apr", "أبريل", "ابريل", "إبريل", "نيسان", "أفريل", "افريل"),
    ("may", "مايو", "أيار", "ايار", "ماي"),
    ("june", "jun", "يونيو", "حزيران", "جوان"),
    ("july", "jul", "يوليو", "تموز", "جويلية"),
    ("august", "aug", "أغسطس", "اغسطس", "آب", "اب", "أوت", "اوت"),
    ("september", "sep", "sept", "سبتمبر", "أيلول", "ايلول"),
    ("october", "oct", "أكتوبر", "اكتوبر", "تشرين الأول"),
    ("november", "nov", "نوفمبر", "تشرين الثاني"),
    ("december", "dec", "ديسمبر", "كانون الأول"),
], start=1) for name in names}
EASTERN_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "0123456789" * 2)


class DateError(ValueError):
    """A date that is not ISO 8601 and cannot be read unambiguously as another form."""


def normalize_date(text: str) -> tuple[str, bool]:
    """``(date, converted)``: ``text`` itself when it is ISO 8601 (``converted`` False), the
    ISO form of an unambiguous other form, or ``""`` for an empty one; raises ``DateError``."""
    text = text.strip()
    if not text:
        return "", False
    if ISO_EXTENDED.fullmatch(text) and _is_iso(text):
        return text, False
    value = _converted(text.translate(EASTERN_DIGITS))
    if value is None:
        raise DateError(f"{text!r} is not a date (expected ISO 8601, such as 2015-07-21 or 2015-07-21T10:30:00)")
    return value, True


@lru_cache(maxsize=1 << 16)
def utc_date(stored: str) -> str:
    """What a stored date sorts and filters by: a time with an offset moved to UTC and written
    without it (2020-05-01T23:00:00-05:00 -> 2020-05-02T04:00:00); a time without one as it reads
    (its zone is unknown), written alike (2020-05-01 23:00 -> 2020-05-01T23:00:00); a day as
    stored. Its first ten characters are its day."""
    if len(stored) <= len("YYYY-MM-DD"):
        return stored
    try:
        moment = datetime.fromisoformat(stored.replace(",", "."))
    except ValueError:   # a store written before dates were checked at ingest: as it was
        return stored
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.isoformat()


def utc_day(stored: str) -> str:
    """The day ``utc_date`` puts ``stored`` on ("" for no date)."""
    return utc_date(stored)[:10]


def _is_iso(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace(",", "."))
    except ValueError as exc:
        raise DateError(f"{text!r} is not a valid date ({exc})") from None
    return True


def _converted(text: str) -> str | None:
    if ISO_EXTENDED.fullmatch(text):            # only Eastern Arabic digits differed
        return text if _is_iso(text) else None
    if m := DAY_MONTH_YEAR.fullmatch(text):
        day, month = _day_and_month(text, int(m["a"]), int(m["b"]))
        return _iso(text, int(m["year"]), month, day, m["time"])
    if m := YEAR_MONTH_DAY.fullmatch(text):
        return _iso(text, int(m["year"]), int(m["month"]), int(m["day"]), m["time"])
    for pattern in (NAMED_DAY_FIRST, NAMED_MONTH_FIRST):
        m = pattern.fullmatch(text)
        if m and (month := MONTHS.get(m["month"].rstrip(".").casefold())):
            return _iso(text, int(m["year"]), month, int(m["day"]), m["time"])
    return _rfc_2822(text)


def _day_and_month(text: str, a: int, b: int) -> tuple[int, int]:
    """21/07/2015 and 07/21/2015 are both July 21st; 03/04/2015 could be March or April."""
    if a > 12 >= b or a == b:
        return a, b
    if b > 12 >= a:
        return b, a
    raise DateError(f"{text!r} is ambiguous (day/month or month/day); write it as ISO 8601 (YYYY-MM-DD)")


def _iso(text: str, year: int, month: int, day: int, time: str | None) -> str:
    try:
        value = date(year, month, day).isoformat()
        if time:
            hour, minute, *second = (int(x) for x in time.split(":"))
            value = datetime(year, month, day, hour, minute, *second).isoformat()
    except ValueError as exc:
        raise DateError(f"{text!r} is not a valid date ({exc})") from None
    return value


def _rfc_2822(text: str) -> str | None:
    """E-mail and RSS dates: ``Tue, 21 Jul 2015 10:00:00 +0300``."""
    try:
        return parsedate_to_datetime(text).isoformat()
    except (TypeError, ValueError, IndexError):
        return None
