"""--format on the commands that print results, the input counted for the progress bar's total,
and Ctrl-C during indexing: what was committed is kept and reported."""
from __future__ import annotations

import csv
import gzip
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from cli import main
from indexer.pipeline import Indexer, Interrupted
from indexer.text.articles import Article, count_records
from search.engine import Engine
from tests.conftest import ROOT, SEED_ID


def run(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


def test_search_jsonl_is_one_hit_per_line(built_index):
    as_json = json.loads(run("search", "الكاظمي طهران", "--index", built_index, "--json").stdout)
    lines = run("search", "الكاظمي طهران", "--index", built_index, "--format", "jsonl").stdout.splitlines()
    assert [json.loads(line) for line in lines] == as_json["hits"]
    assert json.loads(lines[0])["article_id"] == SEED_ID


def test_search_csv_has_a_header_and_a_row_per_hit(built_index):
    result = run("search", "الكاظمي طهران", "--index", built_index, "--format", "csv", "-k", "3", "--level", "passages")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert result.exit_code == 0 and len(rows) == 3
    assert [r["rank"] for r in rows] == ["1", "2", "3"] and rows[0]["article_id"] == SEED_ID
    assert json.loads(rows[0]["highlights"])   # lists stay JSON inside one cell


def test_batch_csv_writes_the_header_once(built_index):
    topics = "q1\tالكاظمي طهران\nq2\tأسعار OR النفط OR الاقتصاد\n"
    result = run("search", "--batch", "-", "--index", built_index, "--format", "csv", "-k", "2", "--level", "passages",
                 input=topics)
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["qid"] for r in rows] == ["q1", "q1", "q2", "q2"]
    assert result.stdout.count("qid,") == 1


@pytest.mark.parametrize("command", [["stats"], ["show", SEED_ID], ["check"]])
def test_every_result_command_takes_every_format(built_index, command):
    for fmt in ("text", "json", "jsonl", "csv"):
        result = run(*command, "--index", built_index, "--format", fmt)
        assert result.exit_code == 0, (fmt, result.output)
    stats = list(csv.DictReader(io.StringIO(run("stats", "--index", built_index, "--format", "csv").stdout)))
    assert {"key": "articles", "value": "9"} in stats and {"key": "encoder.dim", "value": "384"} in stats


def test_json_and_another_format_disagree(built_index):
    result = run("stats", "--index", built_index, "--json", "--format", "csv")
    assert result.exit_code == 2 and "--json and --format csv disagree" in result.output


def test_ask_batch_jsonl(built_index):
    result = run("ask", "--batch", "-", "--index", built_index, "--format", "jsonl",
                 input='{"qid": "a", "question": "متى زار الكاظمي طهران؟"}\n')
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.exit_code == 0 and rows and all(r["qid"] == "a" for r in rows)


def test_records_are_counted_for_the_progress_bar(tmp_path):
    (tmp_path / "in" / "deep").mkdir(parents=True)
    (tmp_path / "in" / "a.jsonl").write_text('{"id": 1, "body": "x"}\n\n{"id": 2, "body": "y"}\n')
    with gzip.open(tmp_path / "in" / "deep" / "b.jsonl.gz", "wt") as f:
        f.write('{"id": 3, "body": "z"}\n')
    (tmp_path / "in" / "deep" / "c.txt").write_text("نص")
    (tmp_path / "in" / "notes.md").write_text("not read")
    assert count_records([str(tmp_path / "in")]) == 4
    assert count_records([str(tmp_path / "in"), "-"]) is None


def articles(n):
    for i in range(n):
        if i == 130:
            # What Python's SIGINT handler raises. `signal.raise_signal(SIGINT)` is ignored when the
            # suite was started in the background by a non-interactive shell, which sets SIGINT to
            # SIG_IGN; the real signal is sent to a real `baheth index` in the command-line test below.
            raise KeyboardInterrupt
        yield Article(id=f"a{i}", body=f"خبر رقم {i} عن الاقتصاد والأسواق")


@pytest.mark.parametrize("vectors", [False, True])
def test_ctrl_c_keeps_the_committed_batches(tmp_path, encoder, vectors):
    index = tmp_path / "ix"
    with Indexer(index, encoder=encoder, vectors=vectors) as ix:
        with pytest.raises(Interrupted) as stop:
            ix.add(articles(300), batch_size=50)
    report = stop.value.report
    assert report.interrupted and report.added in (100, 50)   # the batch being encoded is not committed
    with Engine(index, encoder=encoder) as engine:
        assert engine.stats()["articles"] == report.added
        assert len(engine.search("الاقتصاد", mode="keyword", k=1000).hits) == report.added
    with Indexer(index, encoder=encoder, vectors=vectors) as ix:
        again = ix.add(Article(id=f"a{i}", body=f"خبر رقم {i} عن الاقتصاد والأسواق") for i in range(300))
    assert (again.unchanged, again.added) == (report.added, 300 - report.added)


def test_ctrl_c_on_the_command_line_says_what_was_kept(tmp_path):
    index = tmp_path / "ix"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # A suite started in the background by a non-interactive shell (`make test &`) inherits SIGINT
    # ignored, and so would the child: give it the default disposition a terminal's Ctrl-C meets.
    proc = subprocess.Popen([sys.executable, "-m", "cli", "index", "-", "--index", str(index), "--no-vectors"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = "".join(json.dumps({"id": f"a{i}", "body": f"خبر رقم {i}"}, ensure_ascii=False) + "\n" for i in range(130))
    proc.stdin.write(lines.encode("utf-8"))
    proc.stdin.flush()
    deadline = time.monotonic() + 120
    while committed(index) < 128:   # two batches of 64; the rest waits for more input
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "interrupted: the 128 article(s) committed before it are kept" in err.decode("utf-8")
    assert "Traceback" not in err.decode("utf-8") and "128 added" in out.decode("utf-8")


def committed(index) -> int:
    try:
        with sqlite3.connect(f"file:{index / 'store.sqlite'}?mode=ro", uri=True) as conn:
            return conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
    except sqlite3.Error:
        return 0
