"""The confidence model that decides whether ``ask`` answers at all, and its fit."""
from __future__ import annotations

import numpy as np
import pytest

from bench.answer_fit import fit_logistic
from indexer.store.sqlite import StoredPassage
from indexer.text.analysis import analyze
from search.answers.confidence import EVIDENCE, bm25_idf, evidence
from search.answers.features import candidates
from search.answers.question import AnswerType
from search.answers.finder import AnswerFinder
from search.answers.model import shipped

VISIT = "متى زار الكاظمي طهران؟"
# The same question about a city the index knows from another article, and one it has never seen.
OTHER_CITY = "متى زار الكاظمي القاهرة؟"
UNKNOWN_CITY = "متى زار الكاظمي نيودلهي؟"


@pytest.fixture(scope="module")
def finder(engine):
    return AnswerFinder(engine)


def features(finder, question):
    lookup, scored = finder.rank(question)
    return dict(zip(EVIDENCE, finder.evidence(lookup, scored[0][0])))


def test_every_question_term_is_found_in_the_answering_passage(finder):
    found = features(finder, VISIT)
    assert (found["rarest_in_passage"], found["missing_rare"]) == (1.0, 0.0)
    assert found["idf_passage"] == 1.0


def test_a_named_term_the_passage_lacks_is_missing(finder):
    found = features(finder, OTHER_CITY)
    assert found["missing_rare"] > 0.0
    assert found["idf_passage"] < 1.0


def test_a_term_no_passage_holds_is_missing_and_as_rare_as_the_rarest_known_one(finder):
    # A larger index would know «نيودلهي» from another article: missing from this passage all the same.
    found = features(finder, UNKNOWN_CITY)
    assert found["missing_rare"] == 1.0
    assert found["idf_passage"] < 1.0


def test_missing_and_unknown_terms_lower_the_confidence(finder):
    def conf(question):
        return shipped().confidence(finder.confidence_features(*finder.rank(question)))
    assert conf(OTHER_CITY) < conf(VISIT)
    assert conf(UNKNOWN_CITY) < conf(VISIT)


def test_idf_falls_with_document_frequency_and_is_none_for_unknown_terms():
    assert bm25_idf(1, 1000) > bm25_idf(100, 1000) > bm25_idf(1000, 1000) >= 0.0
    assert bm25_idf(0, 1000) is None


def test_logistic_fit_separates_and_works_on_raw_features():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 2)) * [1.0, 50.0] + [0.0, 100.0]   # scales far apart on purpose
    y = (x[:, 0] + (x[:, 1] - 100.0) / 50.0 > 0).astype(float)
    weights, bias = fit_logistic(x, y)
    predicted = (x @ weights + bias) > 0
    assert (predicted == y.astype(bool)).mean() > 0.95


def test_the_wording_of_a_quantity_question_is_not_counted():
    # «يبلغ» and «حجم» frame the question; the answer says «13 مليار دولار» instead.
    text = "بلغ التبادل التجاري بين البلدين 13 مليار دولار."
    found = candidates([StoredPassage(0, "a", 0, 0, len(text), "", text)], [0.8], frozenset(analyze(text)),
                       AnswerType.NUMBER)

    def coverage(question):
        terms = frozenset(analyze(question))
        return evidence(found[0], found, terms, lambda term: 1.0, terms & found[0].terms)

    assert (coverage("كم يبلغ حجم التبادل التجاري") == coverage("كم التبادل التجاري")).all()
    assert coverage("كم التبادل التجاري")[EVIDENCE.index("idf_sentence")] == 1.0
