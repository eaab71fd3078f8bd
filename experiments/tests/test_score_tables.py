"""The fusion sweep's score tables (bench/score_tables.py) must be the engine's own scores: cut at
any depth they give each retriever's top hits, and the field split adds up to the keyword score."""
from __future__ import annotations

import pytest

from experiments.fusion_scores_sweep import Question, completed, default
from experiments.score_tables import collect, feedback_terms
from search.engine import CANDIDATES
from search.query import parse_query

# Questions (the sweep's subject): ranked by light stems and roots, matched by light stems.
QUESTIONS = {"q1": "هل زار الكاظمي طهران؟", "q2": "ما حجم التبادل التجاري بين العراق وإيران؟",
             "q3": "ماذا اكتشف علماء الفلك؟"}


@pytest.fixture(scope="module")
def tables(engine):
    return collect(engine, QUESTIONS)


def _order(hits):
    return [pid for pid, _ in hits]


@pytest.mark.parametrize("qid", sorted(QUESTIONS))
def test_the_tables_cut_at_depth_give_each_retrievers_top_hits(engine, unfloored, tables, qid):
    parsed = parse_query(QUESTIONS[qid])
    position = {p: i for i, p in enumerate(tables.pids.tolist())}
    question = Question(tables, qid, position)
    keyword, dense = engine.keyword.search(parsed, CANDIDATES), engine.dense.search(parsed, CANDIDATES)
    assert _order(question.keyword[:CANDIDATES]) == _order(keyword)
    assert _order(question.dense_at(CANDIDATES)) == _order(dense)
    assert dict(question.dense_at(CANDIDATES)) == pytest.approx(dict(dense), abs=1e-5)
    # The sweep's default row is the engine's hybrid ranking.
    hybrid = unfloored.search(QUESTIONS[qid], mode="hybrid", level="passages", k=CANDIDATES).hits
    assert _order(default(CANDIDATES, engine.dense_weight)(question))[:CANDIDATES] == [h.passage_id for h in hybrid]


@pytest.mark.parametrize("qid", sorted(QUESTIONS))
def test_light_and_root_scores_add_up_to_the_keyword_score(tables, qid):
    # The roots re-rank the passages holding a light stem, and match no other.
    assert tables.keyword[qid] and tables.keyword[qid].keys() == tables.light[qid].keys()
    both = {p: tables.light[qid][p] + tables.root[qid].get(p, 0.0) for p in tables.light[qid]}
    assert both == pytest.approx(tables.keyword[qid])


def test_completion_scores_a_passage_missing_from_one_list_by_that_retriever(tables):
    position = {p: i for i, p in enumerate(tables.pids.tolist())}
    question = Question(tables, "q1", position)
    # At depth 1 each list holds its own leader only; completed, both are scored by both.
    fused = completed(1, 0.6)(question)
    union = {question.keyword[0][0], question.dense_at(1)[0][0]}
    assert {p for p, _ in fused} == union


def test_feedback_terms_leave_out_the_questions_terms_and_sum_to_one(engine, tables):
    parsed = parse_query(QUESTIONS["q2"])
    terms = feedback_terms(engine, parsed, tables.keyword["q2"])
    assert terms and not {t for t, _ in terms} & set(parsed.keyword.terms)
    assert sum(w for _, w in terms) == pytest.approx(1.0)
