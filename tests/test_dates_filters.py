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
