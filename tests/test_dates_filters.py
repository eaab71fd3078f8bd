"""Dates checked at ingest (ISO kept, unambiguous forms converted and counted, the rest a
file:line error) and filters that repeat, match any case and refuse bad values."""
from __future__ import annotations

import json
import shutil
from datetime import date

import pytest
from click.testing import CliRunner
from hypothesis import given, strategies as st

from cli import main
from indexer.pipeline import Indexer
from indexer.store.filters import FilterError, Filters
from indexer.text.articles import Article
from indexer.text.dates import DateError, normalize_date


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.mark.parametrize("written, stored", [
    ("21/07/2015", "2015-07-21"), ("07/21/2015", "2015-07-21"), ("2015/7/21", "2015-07-21"),
    ("21.07.2015 14:30", "2015-07-21T14:30:00"), ("٢١/٠٧/٢٠١٥", "2015-07-21"),
    ("21 July 2015", "2015-07-21"), ("July 21, 2015", "2015-07-21"), ("الثلاثاء 21 يوليو 2015", "2015-07-21"),
    ("21 كانون الثاني 2015", "2015-01-21"), ("Tue, 21 Jul 2015 10:00:00 +0300", "2015-07-21T10:00:00+03:00"),
])
def test_unambiguous_forms_are_converted(written, stored):
    assert normalize_date(written) == (stored, True)


@pytest.mark.parametrize("written", ["03/04/2015", "yesterday", "2015", "2015-13-01", "31/02/2015", "21 Juli 2015"])
def test_ambiguous_or_unknown_dates_are_refused(written):
    with pytest.raises(DateError):
        normalize_date(written)


@given(st.dates(min_value=date(1000, 1, 1)), st.sampled_from(["", "T10:20", "T10:20:30", "T10:20:30+03:00", "T10:20:30Z"]))
def test_iso_dates_and_datetimes_are_kept_as_written(day, time):
    written = day.isoformat() + time
    assert normalize_date(written) == (written, False)


@given(st.dates(min_value=date(1000, 1, 1)).filter(lambda d: d.day > 12))
def test_day_first_dates_convert_to_the_same_day(day):
    assert normalize_date(f"{day.day}/{day.month:02d}/{day.year}") == (day.isoformat(), True)


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def test_index_converts_counts_and_refuses_dates(tmp_path):
    src = write_jsonl(tmp_path / "dates.jsonl", [
        {"id": "iso", "body": "خبر عن أسعار النفط في الأسواق", "date": "2015-07-22T08:00:00"},
        {"id": "slash", "body": "خبر آخر عن أسعار النفط والذهب", "date": "21/07/2015"},
        {"id": "bad", "body": "خبر ثالث عن النفط", "date": "أمس"},
    ])
    result = run("index", src, "--index", tmp_path / "ix", "--no-vectors", "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["added"] == 2 and report["failed"] == 1 and report["dates_converted"] == 1
    assert f"{src}:3: article 'bad': field 'date' 'أمس' is not a date" in result.output
    shown = json.loads(run("show", "slash", "--index", tmp_path / "ix", "--json").output)
    assert shown["date"] == "2015-07-21"
    late = json.loads(run("search", "النفط", "--index", tmp_path / "ix", "--since", "2030-01-01", "--json").output)
    assert late["hits"] == []
    july = json.loads(run("search", "النفط", "--index", tmp_path / "ix", "--since", "2015-07", "--until", "2015-07-21",
                          "--json").output)
    assert [h["article_id"] for h in july["hits"]] == ["slash"]


def test_articles_from_code_have_their_dates_checked(tmp_path):
    with Indexer(tmp_path / "ix", vectors=False) as ix:
        report = ix.add([Article(id="a", body="نص عن الاقتصاد", date="21/07/2015"),
                         Article(id="b", body="نص عن الرياضة", date="soon")])
    assert (report.added, report.failed, report.dates_converted) == (1, 1, 1)
    assert report.errors == ["article 'b': field 'date' 'soon' is not a date (expected ISO 8601,"
                             " such as 2015-07-21 or 2015-07-21T10:30:00)"]


@pytest.mark.parametrize("since, until, bounds", [
    ("2015", "2015", ("2015-01-01", "2015-12-31")),
    ("2016-02", "2016-02", ("2016-02-01", "2016-02-29")),
    ("2015-07-21", None, ("2015-07-21", None)),
])
def test_partial_dates_become_day_bounds(since, until, bounds):
    filters = Filters(since=since, until=until)
    assert (filters.since, filters.until) == bounds


@pytest.mark.parametrize("kwargs, message", [
    ({"since": "15-07-2015"}, "since must be a date as YYYY, YYYY-MM or YYYY-MM-DD"),
    ({"until": "2015-02-30"}, "until: '2015-02-30' is not a valid date"),
    ({"since": "2016", "until": "2015"}, "since (2016-01-01) is after until (2015-12-31)"),
    ({"source": ""}, "source must be a non-empty name"),
    ({"section": ["a", 3]}, "section must be a non-empty name, not 3"),
])
def test_bad_filter_values_are_refused(kwargs, message):
    with pytest.raises(FilterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Filters(**kwargs)


def test_repeated_sources_and_sections_are_kept_as_tuples():
    assert Filters(source=["CNN", "BBC", "CNN"]).source == ("CNN", "BBC")
    assert Filters(section="tech").section == ("tech",)


@pytest.fixture(scope="module")
def outlets(tmp_path_factory):
    path = tmp_path_factory.mktemp("outlets") / "ix"
    src = write_jsonl(path.parent / "outlets.jsonl", [
        {"id": "c1", "body": "تقرير عن الانتخابات الأمريكية والمرشحين", "source": "CNN", "section": "Politics"},
        {"id": "c2", "body": "تقرير ثان عن الانتخابات الأمريكية", "source": "cnn", "section": "politics"},
        {"id": "b1", "body": "تقرير عن الانتخابات الأمريكية من لندن", "source": "BBC", "section": "World"},
        {"id": "s1", "body": "تقرير عن الانتخابات الأمريكية من أبوظبي", "source": "Sky News", "section": "World"},
    ])
    assert run("index", src, "--index", path, "--no-vectors").exit_code == 0
    return path


def found(index, *options):
    result = run("search", *options, "--index", index, "--mode", "keyword", "--json")
    assert result.exit_code == 0, result.output
    return sorted(h["article_id"] for h in json.loads(result.output)["hits"])


@pytest.mark.parametrize("query", ["الانتخابات الأمريكية", '"الانتخابات الأمريكية"'])   # compiled postings, Whoosh
def test_sources_repeat_and_match_any_case(outlets, query):
    assert found(outlets, query, "--source", "cnn") == ["c1", "c2"]
    assert found(outlets, query, "--source", "CNN", "--source", "bbc") == ["b1", "c1", "c2"]
    assert found(outlets, query, "--section", "WORLD", "--section", "politics") == ["b1", "c1", "c2", "s1"]
    assert found(outlets, query, "--source", "sky news", "--section", "world") == ["s1"]
    assert found(outlets, query, "--source", "Reuters") == []


@pytest.mark.parametrize("mode", ["keyword", "dense", "hybrid"])
def test_several_sources_in_every_mode(engine, mode):
    hits = engine.search("الاقتصاد OR والأسعار", mode=mode, k=10,
                         filters=Filters(source=["وكالة الأنباء", "مجلة العلوم"])).hits
    assert hits and {h.source for h in hits} <= {"وكالة الأنباء", "مجلة العلوم"}


def test_bad_filter_on_the_command_line_is_one_line(outlets):
    result = run("search", "الانتخابات", "--index", outlets, "--since", "21/07/2015")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip() == "Error: since must be a date as YYYY, YYYY-MM or YYYY-MM-DD, not '21/07/2015'"


def test_delete_by_source_matches_any_case(outlets, tmp_path):
    index = tmp_path / "ix"
    shutil.copytree(outlets, index)
    result = run("delete", "--source", "CNN", "--index", index, "--json")
    assert sorted(json.loads(result.output)["deleted"]) == ["c1", "c2"]


# -- dates with offsets sort and filter in UTC, and show as written ------------------------------
from datetime import datetime, timedelta, timezone  # noqa: E402

from indexer.text.dates import utc_date  # noqa: E402
from search.engine import Engine  # noqa: E402
from search.query import parse_query  # noqa: E402

ZONED = {   # id: date as written; what they have in common: the word الانتخابات
    "east": "2020-05-01T23:00:00-05:00",      # 2020-05-02 04:00 UTC
    "utc": "2020-05-02T01:00:00+00:00",
    "day": "2020-05-01",
    "month-end": "2020-05-31T22:00:00-05:00",  # 2020-06-01 03:00 UTC
}


@pytest.mark.parametrize("stored, key", [
    ("2020-05-01T23:00:00-05:00", "2020-05-02T04:00:00"), ("2020-05-02T01:00:00+00:00", "2020-05-02T01:00:00"),
    ("2020-05-01T23:00Z", "2020-05-01T23:00:00"), ("2020-05-01T01:30:00+0300", "2020-04-30T22:30:00"),
    ("2020-05-01T23:00:00,5+01", "2020-05-01T22:00:00.500000"), ("2020-05-01 23:00", "2020-05-01T23:00:00"),
    ("2020-05-01T23:00:00", "2020-05-01T23:00:00"), ("2020-05-01", "2020-05-01"), ("", ""),
])
def test_utc_date(stored, key):
    assert utc_date(stored) == key


moments = st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2200, 1, 1)).map(lambda d: d.replace(microsecond=0))
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@given(moments, offsets, moments, offsets)
def test_dates_with_offsets_sort_as_the_moments_they_name(a, zone_a, b, zone_b):
    a, b = a.replace(tzinfo=zone_a), b.replace(tzinfo=zone_b)
    key_a, key_b = utc_date(a.isoformat()), utc_date(b.isoformat())
    assert (key_a < key_b) == (a < b) and (key_a == key_b) == (a == b)
    assert key_a[:10] == a.astimezone(timezone.utc).date().isoformat()


@pytest.fixture(scope="module")
def zoned(tmp_path_factory):
    path = tmp_path_factory.mktemp("zoned") / "ix"
    with Indexer(path, vectors=False) as ix:
        ix.add([Article(id=i, title="", body=f"تقرير عن الانتخابات رقم {n}", date=d)
                for n, (i, d) in enumerate(ZONED.items())])
    with Engine(path) as engine:
        yield engine


def zoned_ids(engine, **options):
    return [h.article_id for h in engine.search("الانتخابات", mode="keyword", collapse=False, **options).hits]


def test_offsets_count_when_sorting_and_dates_show_as_written(zoned):
    assert zoned_ids(zoned, sort="newest") == ["month-end", "east", "utc", "day"]
    assert zoned_ids(zoned, sort="oldest") == ["day", "utc", "east", "month-end"]
    shown = {h.article_id: h.date for h in zoned.search("الانتخابات", mode="keyword", collapse=False).hits}
    assert shown == ZONED


@pytest.mark.parametrize("filters, expected", [
    (Filters(until="2020-05-01"), {"day"}),                  # east is on 2 May in UTC
    (Filters(since="2020-05-02", until="2020-05-02"), {"east", "utc"}),
    (Filters(since="2020-06"), {"month-end"}),
])
def test_date_filters_take_the_utc_day(zoned, filters, expected):
    assert set(zoned_ids(zoned, filters=filters)) == expected
    # Whoosh's own date field (a filter without the store's pids) agrees.
    hits, _ = zoned.keyword_index.search(parse_query("الانتخابات").keyword, 10, filters)
    assert {zoned.store.passages([pid])[pid].article_id for pid, _ in hits} == expected


def test_months_and_the_date_range_are_utc(zoned):
    months = zoned.search("الانتخابات", mode="keyword", facets=True).facets["month"]
    assert months == [{"value": "2020-05", "count": 3}, {"value": "2020-06", "count": 1}]
    assert zoned.catalogue()["dates"]["first"] == "2020-05-01" and zoned.catalogue()["dates"]["last"] == "2020-06-01"
    assert sorted(zoned.store.article_ids(before="2020-05-02")) == ["day"]
