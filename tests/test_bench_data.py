"""The benchmark's loaders index titles only when asked and only Arabic ones (bench/data.py), and a
distractor paragraph then carries its news article's title."""
from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from bench.data import distractor_paragraphs, eval_passages
from bench.harness import eval_task


def _jsonl(path, rows, opener=open):
    with opener(path, "wt", encoding="utf-8") as out:
        out.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


@pytest.fixture()
def shared(tmp_path):
    eval_dir = tmp_path / "eval" / "mini"
    eval_dir.mkdir(parents=True)
    _jsonl(eval_dir / "corpus.jsonl", [
        {"id": "p1", "article_id": "a1", "title": "جمال عبد الناصر", "text": "ولد جمال عبد الناصر في الإسكندرية."},
        {"id": "p2", "article_id": "a2", "title": "Warsaw", "text": "وارسو هي عاصمة بولندا وأكبر مدنها."},
    ])
    _jsonl(eval_dir / "queries.jsonl", [
        {"qid": "q1", "question": "أين ولد عبد الناصر؟", "answers": ["الإسكندرية"], "answer_starts": [20],
         "positive_passage_id": "p1", "positive_article_id": "a1"},
    ])
    np.save(eval_dir / "e5-small-q4.passages.f16.npy", np.zeros((2, 384), np.float16))
    distractors = tmp_path / "corpus" / "distractors"
    distractors.mkdir(parents=True)
    _jsonl(distractors / "paragraphs-10k.jsonl.gz", [
        {"id": "news:n1:p2", "article_id": "news:n1", "text": "ارتفعت أسعار النفط في الأسواق العالمية اليوم."},
        {"id": "news:n2:p1", "article_id": "news:n2", "text": "فاز الفريق بالمباراة النهائية بهدفين."},
    ], gzip.open)
    np.save(distractors / "e5-small-q4.passages-10k.f16.npy", np.zeros((2, 384), np.float16))
    (tmp_path / "corpus" / "snn").mkdir()
    _jsonl(tmp_path / "corpus" / "snn" / "articles.jsonl.gz", [
        {"id": "n1", "title": "النفط يرتفع", "body": "ارتفعت أسعار النفط في الأسواق العالمية اليوم."},
        {"id": "n2", "title": "نهائي الكأس", "body": "فاز الفريق بالمباراة النهائية بهدفين."},
    ], gzip.open)
    return tmp_path


def test_titles_are_left_out_unless_asked(shared):
    assert [a.title for a in eval_passages(shared / "eval" / "mini")] == ["", ""]
    articles, _ = distractor_paragraphs(2, shared)
    assert [a.title for a in articles] == ["", ""]


def test_asked_for_only_arabic_titles_are_indexed(shared):
    # XQuAD's titles are English Wikipedia names: never used as Arabic titles.
    assert [a.title for a in eval_passages(shared / "eval" / "mini", titles=True)] == ["جمال عبد الناصر", ""]


def test_a_distractor_gets_its_news_articles_title(shared):
    articles, vectors = distractor_paragraphs(1, shared, titles=True)
    assert [(a.id, a.title) for a in articles] == [("distractor-news:n1:p2", "النفط يرتفع")]
    assert vectors.shape == (1, 384)


def test_the_task_name_says_titles_were_indexed(shared):
    task = eval_task(shared / "eval" / "mini", 2, shared, titles=True)
    assert task.name == "mini+2d+titles"
    assert {a.title for a in task.articles} == {"جمال عبد الناصر", "", "النفط يرتفع", "نهائي الكأس"}
