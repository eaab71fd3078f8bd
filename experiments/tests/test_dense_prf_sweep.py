"""The dense-feedback sweep (bench/dense_prf_sweep.py) must rank as the engine does: its default
row is the engine's hybrid order, and a feedback row is what faiss returns for the moved query,
re-scored with the sentence vectors."""
from __future__ import annotations

import numpy as np
import pytest

from experiments.dense_prf_sweep import Sweep, text_variants
from search.engine import CANDIDATES
from search.query import parse_query

QUESTIONS = {"q1": "ما علاقة الكاظمي بطهران؟", "q2": "كم يبلغ حجم التبادل التجاري بين العراق وإيران؟"}


@pytest.fixture(scope="module")
def sweep(engine):
    sweep = Sweep(engine)
    for qid, question in QUESTIONS.items():
        sweep.ask(qid, question)
    return sweep


@pytest.mark.parametrize("qid", sorted(QUESTIONS))
def test_the_default_row_is_the_engines_hybrid_order(engine, unfloored, sweep, qid):
    hits = unfloored.search(QUESTIONS[qid], mode="hybrid", level="passages", k=CANDIDATES).hits
    assert sweep.rows["z-score w=0.6, whole question"][qid].tolist() == [h.passage_id for h in hits]
    dense = engine.dense.search(parse_query(QUESTIONS[qid]), CANDIDATES)
    assert sweep.rows["dense, whole question"][qid].tolist() == [pid for pid, _ in dense]


@pytest.mark.parametrize("qid", sorted(QUESTIONS))
def test_a_feedback_row_is_faiss_search_with_the_moved_query(engine, sweep, qid):
    query = engine.dense.encode(parse_query(QUESTIONS[qid]).dense_text)
    top = [pid for pid, _ in engine.dense.search(parse_query(QUESTIONS[qid]), 2)]
    centroid = np.mean([engine.vector_index.index.reconstruct(pid) for pid in top], axis=0)
    moved = (query + 0.6 * centroid) / np.linalg.norm(query + 0.6 * centroid)
    expected = engine.dense.rescore(engine.vector_index.search(moved, CANDIDATES), moved)
    assert sweep.rows["dense, PRF from dense top 2, alpha=0.6"][qid].tolist() == [pid for pid, _ in expected]


def test_text_variants_drop_the_final_question_mark_or_the_interrogative():
    variants = text_variants("متى ولد نجيب محفوظ ؟")
    assert variants["whole question"] == "متى ولد نجيب محفوظ ؟"
    assert variants["without the final ؟"] == "متى ولد نجيب محفوظ"
    assert variants["without the interrogative (and ؟)"] == "ولد نجيب محفوظ"
    assert variants["without the interrogative, with ؟"] == "ولد نجيب محفوظ ؟"
