"""``ask``'s fitted model: the shipped constants are the fit of the committed feature files, the
fit's replay is what ``AnswerFinder`` does, and the fit's rules do what they say."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from bench.answer_features import SETS, arrays, features_path, question_rows
from bench.answer_fit import (FeatureSet, answers, concat, fit, fit_families, fit_logistic, fit_ranking, fit_signed_logistic,
                              keyword_firsts, leave_one_set_out, load_sets, replay, threshold_table)
from indexer.vectors.encoders import DEFAULT_ENCODER
from search.answers.confidence import EVIDENCE, keyword_first
from search.answers.features import FEATURES
from search.answers.finder import AnswerFinder
from search.answers.model import AnswerModel, shipped
from cli import main

QUESTIONS = {"trade": ("كم يبلغ حجم التبادل التجاري بين العراق وإيران؟", ("13 مليار",)),
             "visit": ("متى زار الكاظمي طهران أول مرة؟", ("2020",)),
             "nobel": ("من فاز بجائزة نوبل للآداب عام 1988؟", ("نجيب محفوظ",))}


def test_the_shipped_model_is_the_fit_of_the_committed_feature_files():
    model = fit(load_sets())
    np.testing.assert_allclose(model.weights, shipped().weights, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(model.confidence_weights, shipped().confidence_weights, rtol=1e-6, atol=1e-9)
    assert model.confidence_bias == pytest.approx(shipped().confidence_bias, rel=1e-6)
    assert model.threshold == pytest.approx(shipped().threshold, rel=1e-6)


@pytest.mark.parametrize("name", SETS)
def test_the_feature_files_are_the_default_encoders_similarities(name):
    # The model is fitted on the cosines `baheth ask` computes with the encoder it uses by default.
    assert str(np.load(features_path(name))["encoder"]).split()[0] == DEFAULT_ENCODER


@pytest.fixture(scope="module")
def seed_rows(engine):
    finder = AnswerFinder(engine)
    rows = [{"qid": qid, "group": qid, "answerable": True, **question_rows(finder, question, golds)}
            for qid, (question, golds) in QUESTIONS.items()]
    return finder, rows


def test_the_fit_replays_what_ask_does(seed_rows):
    finder, rows = seed_rows
    replayed = replay(FeatureSet.from_arrays("seed", arrays(rows)), shipped().weights)
    for i, (question, _) in enumerate(QUESTIONS.values()):
        lookup, scored = finder.rank(question)
        best = lookup.candidates.index(scored[0][0])
        assert np.allclose(rows[i]["features"][best], scored[0][0].features, atol=1e-6)
        np.testing.assert_allclose(replayed.rows[i], finder.confidence_features(lookup, scored), rtol=1e-5, atol=1e-5)


def toy_set(name: str, rng, answer_shift: float, negative_shift: float, n: int = 200) -> FeatureSet:
    """n answerable questions whose answer-holding sentence (the first) is ``answer_shift`` higher on
    feature 1, and n without an answer whose candidates are all ``negative_shift`` lower on it."""
    features = rng.normal(size=(2 * n, 4, len(FEATURES)))
    labels = np.zeros((2 * n, 4), bool)
    labels[:n, 0] = True
    features[:n, 0, 1] += answer_shift
    features[n:, :, 1] -= negative_shift
    passage_rank = np.broadcast_to(np.array([0, 0, 1, 2], np.int16), (2 * n, 4))   # the first two share a passage
    return FeatureSet(name, np.array([f"{name}{i % 40}" for i in range(2 * n)]), np.arange(2 * n) < n, features,
                      rng.normal(size=(2 * n, 4, len(EVIDENCE))), labels, np.ones((2 * n, 4), bool), passage_rank,
                      passage_rank.copy())


def test_negatives_without_the_answer_passages_keep_only_the_other_passages():
    s = toy_set("a", np.random.default_rng(3), 2.0, 0.0, n=5)
    s.labels[1, 3] = True     # a second passage holding the answer goes too
    gone = s.without_answer_passages()
    assert len(gone.group) == 5 and not gone.answerable.any() and not gone.labels.any()
    assert gone.valid[0].tolist() == [False, False, True, True]
    assert gone.valid[1].tolist() == [False, False, True, False]


def test_an_answerable_question_whose_best_sentence_misses_the_answer_is_a_negative_for_the_confidence():
    s = toy_set("a", np.random.default_rng(3), 0.0, 0.0, n=3)
    s.features[:] = 0.0
    s.features[:, 0, 1] = 1.0                 # the first candidate is every question's best sentence
    s.labels[1] = [False, False, True, False]  # question 1's answer is in a sentence ranked below it
    weights = np.eye(len(FEATURES))[1]
    assert answers(s, replay(s, weights)).tolist() == [True, False, True, False, False, False]


def test_the_ranking_fit_weighs_the_feature_that_marks_answers():
    weights = fit_ranking(toy_set("a", np.random.default_rng(0), 2.0, 0.0))
    assert np.argmax(np.abs(weights)) == 1 and weights[1] > 0
    assert replay(toy_set("b", np.random.default_rng(1), 2.0, 0.0), weights).correct[:200].mean() > 0.7   # chance is 0.25


def test_the_threshold_keeps_every_fitting_sets_false_claims_under_the_rule():
    rng = np.random.default_rng(2)
    easy, hard = toy_set("easy", rng, 2.0, 3.0), toy_set("hard", rng, 2.0, 0.5)
    model = fit([easy, hard], false_claims=0.1)
    for s in (easy, hard, concat([easy, hard])):
        r = replay(s, model.weights)
        claims = [model.confidence(row) >= model.threshold for row in r.rows[~s.answerable]]
        assert np.mean(claims) <= 0.1


def test_the_threshold_table_at_a_models_own_threshold_is_its_leave_one_set_out_row():
    rng = np.random.default_rng(4)
    sets = [toy_set("easy", rng, 2.0, 3.0), toy_set("hard", rng, 2.0, 0.5)]
    loso, models = leave_one_set_out(sets)
    for s in sets:
        row = threshold_table(sets, np.array([models[s.name].threshold])).splitlines()[sets.index(s) + 2]
        cells = row.strip("|").split("|")
        m = loso[s.name]
        assert [float(c) for c in cells[2:5]] == [m["answered"], m["answered_correct"], m["false_claims"]]


def test_a_set_whose_no_answer_questions_are_easy_still_holds_the_hard_ones_to_their_bound():
    # The dense similarity (a confidence feature): the answer's sentence highest, the other passages
    # of answerable questions close behind it, every candidate of a no-answer question far below.
    easy = toy_set("easy", np.random.default_rng(6), 2.0, 0.0)
    easy.features[:200, :, 0] += 1.0
    easy.features[:200, 0, 0] += 1.0
    easy.features[200:, :, 0] -= 3.0
    hard = easy.without_answer_passages()

    def hard_claims(model):
        r = replay(hard, model.weights)
        return np.mean([model.confidence(row) >= model.threshold for row in r.rows[r.has]])

    assert hard_claims(fit([easy], false_claims=0.15, hard_false_claims=1.0)) > 0.4
    assert hard_claims(fit([easy], false_claims=0.15, hard_false_claims=0.2)) <= 0.2


def test_the_confidence_fit_keeps_each_weight_on_its_side():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(400, 2))
    y = (x[:, 0] + 0.3 * rng.normal(size=400) > 0).astype(float)
    x[:, 1] = -x[:, 0] + 0.1 * rng.normal(size=400)     # the same evidence, upside down
    assert fit_logistic(x, y)[0][1] < 0
    weights, _ = fit_signed_logistic(x, y, (1, 1))
    assert weights[0] > 0 and weights[1] == 0
    assert fit_signed_logistic(x, y, (1, 0))[0][1] < 0     # a free feature keeps its sign


def test_a_family_that_adds_nothing_beside_the_other_keeps_its_weight():
    rng = np.random.default_rng(5)
    strong = rng.normal(size=600)
    y = (strong + 0.3 * rng.normal(size=600) > 0).astype(float)
    x = np.c_[strong, strong + rng.normal(size=600)]      # the second: the same evidence, blurred
    assert fit_signed_logistic(x, y, (1, 1))[0][1] < 0.1 * fit_signed_logistic(x, y, (1, 1))[0][0]
    weights, bias = fit_families(x, y, ("a", "b"), (1, 1))
    alone = [fit_signed_logistic(x[:, [i]], y, (1,)) for i in (0, 1)]
    assert weights[1] > 0.2 * weights[0]
    np.testing.assert_allclose(weights, [alone[0][0][0] / 2, alone[1][0][0] / 2])
    assert bias == pytest.approx((alone[0][1] + alone[1][1]) / 2)


def test_ask_takes_another_answer_model_and_refuses_a_bad_file(built_index, tmp_path, answer_everything_file):
    never = tmp_path / "never.json"
    AnswerModel(shipped().weights, shipped().confidence_weights, shipped().confidence_bias, 1.01).save(never)
    runner = CliRunner()
    question = QUESTIONS["trade"][0]

    def ask(model):
        args = ["ask", question, "--index", str(built_index), "--json", "--answer-model", str(model)]
        return json.loads(runner.invoke(main, args).output)

    answered, refused = ask(answer_everything_file), ask(never)
    assert answered["answered"] and not refused["answered"] and refused["related"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**shipped().to_dict(), "features": ["dense"]}), encoding="utf-8")
    result = runner.invoke(main, ["ask", question, "--index", str(built_index), "--answer-model", str(bad)])
    assert result.exit_code != 0 and "not an answer model" in result.output and "Traceback" not in result.output


def test_keyword_first_asks_whether_the_keyword_runs_best_candidate_is_of_the_best_sentences_article():
    ranked = [("a", 3), ("a", 3), ("b", 0), ("c", -1)]
    assert keyword_first("b", ranked) == 1.0
    assert keyword_first("a", ranked) == 0.0
    assert keyword_first("c", ranked) == 0.0                          # not in the keyword run at all
    assert keyword_first("a", [("a", 7), ("a", 2), ("b", 5)]) == 1.0  # another passage of the same article
    assert keyword_first("a", [("a", -1), ("b", -1)]) == 0.0


def test_the_fits_keyword_first_is_asks_and_follows_the_passages_left():
    # Four candidates: two sentences of article 1 (keyword rank 4), one of article 2 (rank 1), one
    # of article 3 (not in the keyword run); "article" is 1/(1 + the article's rank).
    article = FEATURES.index("article")
    features = np.zeros((1, 4, len(FEATURES)))
    features[0, :, article] = [1.0, 1.0, 0.5, 1 / 3]
    keyword_rank = np.array([[4, 4, 1, -1]], np.int16)
    s = FeatureSet("k", np.array(["g"]), np.array([True]), features, np.zeros((1, 4, len(EVIDENCE))),
                   np.zeros((1, 4), bool), np.ones((1, 4), bool), np.array([[0, 0, 1, 2]], np.int16), keyword_rank)
    ids = {1.0: "a1", 0.5: "a2", 1 / 3: "a3"}
    for best in range(4):
        expected = keyword_first(ids[features[0, best, article]],
                                 [(ids[features[0, c, article]], int(keyword_rank[0, c])) for c in range(4)])
        assert keyword_firsts(s, np.array([best]))[0] == expected
    assert keyword_firsts(s, np.array([0])).tolist() == [0.0]
    left = FeatureSet("k", s.group, s.answerable, s.features, s.evidence, s.labels,
                      np.array([[True, True, False, True]]), s.passage_rank, s.keyword_rank)   # article 2 gone
    assert keyword_firsts(left, np.array([0])).tolist() == [1.0]
