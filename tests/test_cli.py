"""The command line, driven with click's CliRunner: output shapes, exit codes, bad input."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cli import main
from tests.conftest import FIXTURES, SEED_ID

HIT_KEYS = {"rank", "score", "article_id", "passage_id", "title", "date", "source", "section",
            "snippet", "highlights"}


def run(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


def test_search_json_shape(built_index):
    result = run("search", "الكاظمي طهران", "--index", built_index, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {"query", "mode", "level", "total", "hits"} <= set(data)
    assert data["mode"] == "hybrid" and data["level"] == "articles"
    assert data["hits"][0]["article_id"] == SEED_ID
    assert set(data["hits"][0]) >= HIT_KEYS
    hit = data["hits"][0]
    assert all(hit["snippet"][s:e] for s, e in hit["highlights"])


def test_search_text_output_bolds_matches(built_index):
    result = CliRunner().invoke(main, ["search", "الكاظمي", "--index", str(built_index), "--mode", "keyword"],
                                color=True)
    assert result.exit_code == 0
    assert "\x1b[1mالكاظمي" in result.output


def test_index_env_var_is_the_fallback(built_index, monkeypatch):
    monkeypatch.setenv("BAHETH_INDEX", str(built_index))
    result = run("stats", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["articles"] == 9


def test_show_json_and_missing_id(built_index):
    result = run("show", SEED_ID, "--index", built_index, "--json")
    assert result.exit_code == 0
    assert json.loads(result.output)["id"] == SEED_ID
    missing = run("show", "nope", "--index", built_index)
    assert missing.exit_code == 1 and "no article with id 'nope'" in missing.output


def test_index_reports_and_replaces_by_id(tmp_path):
    index = tmp_path / "ix"
    first = run("index", FIXTURES / "articles.jsonl", "--index", index, "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["added"] == 8
    changed = tmp_path / "changed.jsonl"
    changed.write_text(json.dumps({"id": "eco-1", "title": "عنوان جديد", "body": "نص مصحح عن الذهب والفضة"},
                                  ensure_ascii=False) + "\n", encoding="utf-8")
    second = run("index", changed, "--index", index, "--json")
    assert json.loads(second.output)["updated"] == 1
    hits = json.loads(run("search", "الذهب", "--index", index, "--mode", "keyword", "--json").output)["hits"]
    assert [h["article_id"] for h in hits] == ["eco-1"]
    old = json.loads(run("search", "أوبك", "--index", index, "--mode", "keyword", "--json").output)["hits"]
    assert old == []


def test_malformed_line_names_file_and_line_and_keeps_the_rest(tmp_path):
    src = tmp_path / "bad.jsonl"
    src.write_text('{"id": "a", "body": "خبر أول عن الاقتصاد"}\n{"id": "b", "body": \n'
                   '{"id": "c", "body": "خبر ثالث عن الرياضة"}\n', encoding="utf-8")
    result = run("index", src, "--index", tmp_path / "ix")
    assert result.exit_code == 1
    assert f"{src}:2: invalid JSON" in result.output
    assert "Traceback" not in result.output
    stats = json.loads(run("stats", "--index", tmp_path / "ix", "--json").output)
    assert stats["articles"] == 2


def test_strict_stops_at_first_bad_line(tmp_path):
    src = tmp_path / "bad.jsonl"
    src.write_text('{"id": "b", "body": 5}\n{"id": "c", "body": "خبر عن الرياضة"}\n', encoding="utf-8")
    result = run("index", src, "--index", tmp_path / "ix", "--strict")
    assert result.exit_code == 1
    assert f"{src}:1: field 'body' must be a string" in result.output


@pytest.mark.parametrize("content, message", [
    (b"\xff\xfe not utf8", "not UTF-8"),
    (b"   \n", "empty body"),
])
def test_bad_text_files(tmp_path, content, message):
    src = tmp_path / "doc.txt"
    src.write_bytes(content)
    result = run("index", src, "--index", tmp_path / "ix")
    assert result.exit_code == 1 and message in result.output
    assert "Traceback" not in result.output


def test_missing_path(tmp_path):
    result = run("index", tmp_path / "nowhere.jsonl", "--index", tmp_path / "ix")
    assert result.exit_code == 1
    assert "nowhere.jsonl: no such file or folder" in result.output


def test_stdin_jsonl(tmp_path):
    line = json.dumps({"id": "s1", "title": "من المدخل", "body": "مقال قادم من المدخل القياسي"}, ensure_ascii=False)
    result = run("index", "-", "--index", tmp_path / "ix", "--no-vectors", "--json", input=line + "\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["added"] == 1


def test_folder_is_read_recursively(tmp_path):
    nested = tmp_path / "src" / "a" / "b"
    nested.mkdir(parents=True)
    (nested / "one.txt").write_text("نص المقال الأول عن السياحة", encoding="utf-8")
    (tmp_path / "src" / "two.jsonl").write_text(json.dumps({"id": "two", "body": "نص ثان"}) + "\n")
    result = run("index", tmp_path / "src", "--index", tmp_path / "ix", "--no-vectors", "--json")
    assert json.loads(result.output)["added"] == 2
    assert run("show", "one", "--index", tmp_path / "ix").exit_code == 0


@pytest.mark.parametrize("query", ["", "؟؟", "في على من"])
def test_bad_queries_exit_1_without_traceback(built_index, query):
    result = run("search", query, "--index", built_index)
    assert result.exit_code == 1
    assert "Error:" in result.output and "Traceback" not in result.output


def test_missing_index_folder(tmp_path):
    result = run("search", "العراق", "--index", tmp_path / "none")
    assert result.exit_code == 1 and "no index at" in result.output


def test_keyword_only_index_falls_back_and_says_so(tmp_path):
    run("index", FIXTURES / "articles.jsonl", "--index", tmp_path / "ix", "--no-vectors")
    result = run("search", "النفط", "--index", tmp_path / "ix", "--json")
    data = json.loads(result.output)
    assert data["mode"] == "keyword" and "no vectors" in data["notice"]
    dense = run("search", "النفط", "--index", tmp_path / "ix", "--mode", "dense")
    assert dense.exit_code == 1 and "baheth embed" in dense.output
