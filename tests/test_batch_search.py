"""`baheth search --batch`: topic formats in, one JSON line per topic out, TREC runs."""
from __future__ import annotations

import io
import json

import pytest
from click.testing import CliRunner

from cli import main
from search.topics import TopicError, Topic, read_topics
from tests.conftest import SEED_ID

TOPICS = [{"qid": "q1", "query": "الكاظمي طهران"}, {"qid": "q2", "query": "أسعار النفط"}]


def run(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


def jsonl(rows) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def test_batch_json_has_one_line_per_topic_in_order(built_index):
    result = run("search", "--batch", "-", "--index", built_index, "--mode", "keyword", "-k", "3", "--json",
                 input=jsonl(TOPICS))
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["qid"] for line in lines] == ["q1", "q2"]
    assert lines[0]["hits"][0]["article_id"] == SEED_ID
    assert lines[1]["hits"][0]["article_id"].startswith("eco-")
    assert all(len(line["hits"]) <= 3 and line["mode"] == "keyword" for line in lines)


def test_batch_line_equals_single_search_plus_qid(built_index):
    single = run("search", TOPICS[0]["query"], "--index", built_index, "--level", "passages", "--json")
    batch = run("search", "--batch", "-", "--index", built_index, "--level", "passages", "--json",
                input=jsonl(TOPICS[:1]))
    assert batch.exit_code == 0 and single.exit_code == 0
    assert json.loads(batch.stdout) == {"qid": "q1", **json.loads(single.stdout)}


def test_trec_run_file(built_index, tmp_path):
    run_file = tmp_path / "run.trec"
    result = run("search", "--batch", "-", "--index", built_index, "-k", "5", "--trec-run", run_file,
                 "--json", input=jsonl(TOPICS))
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in run_file.read_text(encoding="utf-8").splitlines()]
    assert rows and all(len(r) == 6 and r[1] == "Q0" and r[5] == "baheth-hybrid" for r in rows)
    assert rows[0][:4] == ["q1", "Q0", SEED_ID, "1"]
    for qid in ("q1", "q2"):
        ranks = [int(r[3]) for r in rows if r[0] == qid]
        scores = [float(r[4]) for r in rows if r[0] == qid]
        assert ranks == list(range(1, len(ranks) + 1)) and scores == sorted(scores, reverse=True)


def test_trec_run_at_passage_level_names_article_and_span(built_index, tmp_path):
    run_file = tmp_path / "run.trec"
    result = run("search", "--batch", "-", "--index", built_index, "--level", "passages", "--trec-run",
                 run_file, input=jsonl(TOPICS[:1]))
    assert result.exit_code == 0, result.output
    docid = run_file.read_text(encoding="utf-8").split()[2]
    article, _, span = docid.partition(":")
    start, end = map(int, span.split("-"))
    assert article == SEED_ID and 0 <= start < end


def test_a_query_without_search_words_is_skipped_not_fatal(built_index):
    topics = [{"qid": "bad", "query": "في من"}, TOPICS[0]]
    result = run("search", "--batch", "-", "--index", built_index, "--mode", "keyword", "--json",
                 input=jsonl(topics))
    assert result.exit_code == 0
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0]["qid"] == "bad" and lines[0]["hits"] == [] and "error" in lines[0]
    assert lines[1]["hits"][0]["article_id"] == SEED_ID
    assert "skipped query bad" in result.stderr


@pytest.mark.parametrize("args, message", [
    ((), "either a QUERY or --batch"),
    (("الكاظمي", "--batch", "-"), "either a QUERY or --batch"),
    (("الكاظمي", "--trec-run", "x.trec"), "--trec-run needs --batch"),
])
def test_usage_errors(built_index, args, message):
    result = run("search", *args, "--index", built_index, input="")
    assert result.exit_code == 2 and message in result.stderr


def test_bad_topics_file_is_a_one_line_error(built_index):
    result = run("search", "--batch", "-", "--index", built_index, input='{"qid": "q1"}\n')
    assert result.exit_code == 1
    assert result.stderr.strip() == 'Error: line 1: expected a JSON object with "qid" and "query"'


def test_topic_formats():
    trec = ("<top>\n<num> Number: 301\n<title> أسعار النفط\n<desc> Description:\nnothing\n</top>\n"
            "<top>\n<num> Number: 302\n<title>الكاظمي\n</top>\n")
    assert read_topics(io.StringIO(trec)) == [Topic("301", "أسعار النفط"), Topic("302", "الكاظمي")]
    assert read_topics(io.StringIO("7\tأسعار النفط\n\n8\tالكاظمي\n")) == [Topic("7", "أسعار النفط"),
                                                                          Topic("8", "الكاظمي")]
    eval_style = '{"qid": 5, "question": "متى؟", "answers": []}\n'
    assert read_topics(io.StringIO(eval_style)) == [Topic("5", "متى؟")]


def test_duplicate_and_unreadable_topics_are_refused():
    with pytest.raises(TopicError, match="twice"):
        read_topics(io.StringIO("1\ta\n1\tb\n"))
    with pytest.raises(TopicError, match="line 1"):
        read_topics(io.StringIO("no tab here\n"))


def test_fusion_option_keeps_rrf_available(built_index):
    rrf = run("search", "--batch", "-", "--index", built_index, "--fusion", "rrf", "--json", input=jsonl(TOPICS))
    convex = run("search", "--batch", "-", "--index", built_index, "--json", input=jsonl(TOPICS))
    assert rrf.exit_code == 0 and convex.exit_code == 0
    for a, b in zip(rrf.stdout.splitlines(), convex.stdout.splitlines()):
        a, b = json.loads(a), json.loads(b)
        assert a["mode"] == b["mode"] == "hybrid" and a["hits"][0]["article_id"] == b["hits"][0]["article_id"]
        assert [h["score"] for h in a["hits"]] != [h["score"] for h in b["hits"]]


def test_dense_weight_moves_hybrid_between_the_two_retrievers(built_index):
    def top(*args):
        result = run("search", "الكاظمي طهران", "--index", built_index, "--level", "passages", "-k", "3",
                     "--json", *args)
        assert result.exit_code == 0, result.output
        return [h["passage_id"] for h in json.loads(result.output)["hits"]]
    assert top("--dense-weight", "1") == top("--mode", "dense")
    assert top("--dense-weight", "0") == top("--mode", "keyword")
    assert run("search", "x", "--index", built_index, "--dense-weight", "1.5").exit_code == 2
