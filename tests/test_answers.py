"""Question-driven lookup on the seed index: answer sentences, context, no-answer, CLI.

Which sentence ``ask`` picks is tested through ``answering_engine`` (the shipped ranking, every
question answered); whether it answers at all is the fitted confidence's call, tested for a
question the index cannot answer and in tests/test_answerability.py."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cli import main
from indexer.text.analysis import analyze
from indexer.store.sqlite import Filters
from search.answers.finder import answer_span, best_span
from search.answers.question import analyze_question
from search.query import QueryError
from tests.conftest import SEED_ID

TRADE = "كم يبلغ حجم التبادل التجاري بين العراق وإيران؟"
FIRST_VISIT = "متى زار الكاظمي طهران أول مرة؟"
ABSENT = "من فاز بجائزة نوبل للآداب عام 1988؟"


@pytest.fixture(scope="module")
def trade(answering_engine):
    return answering_engine.ask(TRADE, k=3)


def test_trade_question_ranks_the_13_billion_sentence_first(trade):
    top = trade.answers[0]
    assert "13 مليار دولار" in top.sentence
    assert top.article_id == SEED_ID


def test_first_visit_ranks_the_july_2020_sentence_first(answering_engine):
    top = answering_engine.ask(FIRST_VISIT, k=1).answers[0]
    assert "تموز يوليو عام 2020" in top.sentence


def test_first_visit_july_2020_sentence_is_among_the_first_two(answering_engine):
    answers = answering_engine.ask(FIRST_VISIT, k=2, all_from_article=True).answers
    assert any("تموز يوليو عام 2020" in a.sentence for a in answers)
    assert all(a.article_id == SEED_ID for a in answers)


def test_answer_is_one_sentence_as_written_with_its_neighbours(answering_engine, trade):
    top = trade.answers[0]
    body = answering_engine.article(top.article_id).body
    assert top.sentence in body
    assert top.sentence.startswith("يشار الى ان الكاظمي") and top.sentence.endswith("سكك حديد البلدين.")
    assert top.context_before.endswith("في عملية تحد واستعراض للقوة.")
    assert top.context_after == ""   # the article's last sentence
    assert (top.title, top.date, top.source) == ("", "", "")  # the seed is a bare .txt file
    assert body.index(top.context_before) < body.index(top.sentence)


def test_span_is_the_number_that_answers_a_how_much_question(trade):
    top = trade.answers[0]
    start, end = top.span
    assert 0 <= start < end <= len(top.sentence)
    # «كم» asks for a quantity: of the two in the sentence, the one nearest the question's words.
    assert top.sentence[start:end] == "13 مليار"


def test_first_visit_span_is_the_date(answering_engine):
    top = answering_engine.ask(FIRST_VISIT, k=1).answers[0]
    assert top.sentence[top.span[0]:top.span[1]] == "تموز يوليو عام 2020"


@pytest.mark.parametrize("sentence, question, expected", [
    ("بلغ عدد الضحايا ٢٥ شخصا في الحادث", "كم عدد الضحايا؟", "٢٥"),
    ("افتتح الجسر عام 1998 بحضور الوزير", "متى افتتح الجسر؟", "عام 1998"),
    ("افتتح الوزير الجسر الجديد", "من افتتح الجسر؟", "افتتح الوزير الجسر"),
    ("افتتح الوزير الجسر الجديد", "كم طول الجسر؟", "الجسر"),    # no number: the question's words
    # a year is not a quantity; every date form the ranking reads is marked
    ("يبلغ عدد سكان المدينة 530 ألف نسمة حسب تعداد 2017", "كم عدد سكان المدينة؟", "530 ألف"),
    ("ظل الطاعون حتى الربع الثاني من القرن التاسع عشر", "متى انتهى الطاعون؟", "القرن التاسع عشر"),
    ("فرض الصيام في السنة الثانية من الهجرة", "متى فرض الصيام؟", "السنة الثانية"),
    ("تجدد الاهتمام بالرواية منذ التسعينيات", "متى تجدد الاهتمام بالرواية؟", "التسعينيات"),
    ("دخلت الخلية منذ حوالي مليار سنة", "منذ متى دخلت الخلية؟", "مليار سنة"),
    ("ولد في مارس 1892م بالمدية", "متى ولد؟", "مارس 1892م"),
])
def test_answer_span_by_question_type(sentence, question, expected):
    analysis = analyze_question(question)
    start, end = answer_span(sentence, frozenset(analyze(analysis.keyword_text)), analysis.answer_type)
    assert sentence[start:end] == expected


def test_one_answer_per_article_unless_asked(answering_engine):
    distinct = answering_engine.ask(FIRST_VISIT, k=5)
    assert len({a.article_id for a in distinct.answers}) == len(distinct.answers)
    repeated = answering_engine.ask(FIRST_VISIT, k=5, all_from_article=True)
    seed_answers = [a for a in repeated.answers if a.article_id == SEED_ID]
    assert len(seed_answers) > 1
    assert len({a.sentence for a in seed_answers}) == len(seed_answers)
    assert [a.rank for a in repeated.answers] == list(range(1, len(repeated.answers) + 1))


def test_question_about_something_absent_is_not_answered(engine):
    result = engine.ask(ABSENT)
    assert not result.answered and result.answers == ()
    assert result.related          # the closest passages, shown as related
    assert result.to_dict()["answered"] is False


def test_filters_apply_to_the_passages(engine):
    result = engine.ask(FIRST_VISIT, k=3, filters=Filters(source="no-such-source"))
    assert not result.answered and result.related == ()
    dated = engine.ask(TRADE, k=3, filters=Filters(since="2022-01-01"))
    assert all(a.date >= "2022-01-01" for a in dated.answers + tuple(dated.related))


def test_a_question_with_nothing_to_search_is_a_user_error(engine):
    with pytest.raises(QueryError):
        engine.ask("ما هو؟")


@pytest.mark.parametrize(("sentence", "question", "expected"), [
    ("زار الوزير القاهرة أمس ثم زار القاهرة الجديدة", "متى زار القاهرة؟", "زار القاهرة"),
    ("لا شيء هنا", "متى زار القاهرة؟", ""),
])
def test_best_span_is_the_shortest_stretch_with_the_most_terms(sentence, question, expected):
    start, end = best_span(sentence, frozenset(analyze(question)))
    assert sentence[start:end] == expected


# -- command line ------------------------------------------------------------------

def run(*args, input=None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def test_cli_ask_json_has_the_documented_shape(built_index, answer_everything_file):
    result = run("ask", TRADE, "--index", str(built_index), "-k", "1", "--json",
                 "--answer-model", str(answer_everything_file))
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) == {"question", "answered", "answers", "related"}
    assert data["question"] == TRADE and data["answered"] is True
    answer = data["answers"][0]
    assert set(answer) == {"rank", "score", "sentence", "span", "context_before", "context_after",
                           "article_id", "passage_id", "title", "date", "source"}
    assert "13 مليار دولار" in answer["sentence"] and len(answer["span"]) == 2


def test_cli_ask_prints_the_answer_and_its_article(built_index, answer_everything_file):
    result = run("ask", TRADE, "--index", str(built_index), "-k", "1", "--answer-model", str(answer_everything_file))
    assert result.exit_code == 0
    assert "13 مليار دولار" in result.output and SEED_ID in result.output


def test_cli_ask_says_so_when_nothing_answers(built_index):
    result = run("ask", ABSENT, "--index", str(built_index))
    assert result.exit_code == 0
    assert result.output.startswith("no answer in the index")


def test_cli_ask_batch_writes_one_line_per_question(built_index, engine):
    lines = "\n".join(json.dumps({"qid": q, "question": text}, ensure_ascii=False)
                      for q, text in (("q1", TRADE), ("q2", ABSENT), ("q3", "ما هو؟")))
    result = CliRunner().invoke(main, ["ask", "--batch", "-", "--json", "--index", str(built_index)],
                                                input=lines)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["qid"] for r in rows] == ["q1", "q2", "q3"]
    assert [r["answered"] for r in rows] == [engine.ask(TRADE).answered, False, False]
    assert "error" in rows[2] and "skipped question" in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    ((), "give either a QUESTION or --batch FILE"),
    (("--batch", "-"), "--batch writes one JSON object per line: add --json"),
])
def test_cli_ask_usage_errors(built_index, args, message):
    result = run("ask", *args, "--index", str(built_index), input="")
    assert result.exit_code == 2 and message in result.output
