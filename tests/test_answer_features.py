"""The cheap sentence features ``ask`` ranks by: term matching and the article-rank feature."""
from __future__ import annotations

import pytest

from indexer.text.analysis import analyze
from indexer.store.sqlite import StoredPassage
from search.answers.confidence import EVIDENCE, evidence
from search.answers.features import FEATURES, candidates, held_terms, phrases_held, question_pairs, question_roots, weighted
from search.answers.question import AnswerType

CAPITAL = frozenset(analyze("عاصمة منغوليا"))


def test_a_noun_with_a_possessive_suffix_holds_the_question_noun():
    # The stemmer gives «عاصم» for «عاصمة» but «عاصمت» for «عاصمتها».
    assert held_terms("عاصمتها هي أولان باتور", CAPITAL) == frozenset(analyze("عاصمة"))
    assert held_terms("منغوليا دولة في آسيا", CAPITAL) == frozenset(analyze("منغوليا"))
    assert held_terms("لا شيء هنا", CAPITAL) == frozenset()


def passage(pid: int, article_id: str, text: str) -> StoredPassage:
    return StoredPassage(pid, article_id, pid, 0, len(text), "", text)


def test_the_article_feature_ranks_articles_not_passages():
    found = candidates([passage(0, "a", "منغوليا دولة."), passage(1, "a", "عاصمتها أولان باتور."),
                        passage(2, "b", "عاصمة منغوليا.")], [0.9, 0.8, 0.7], CAPITAL, AnswerType.PLACE)
    article = FEATURES.index("article")
    assert [c.passage_rank for c in found] == [0, 1, 2]
    assert [c.features[article] for c in found] == [1.0, 1.0, 0.5]


def test_root_overlap_counts_a_question_word_held_only_in_another_form():
    # «تأسست» and «أُسست» share the root «أسس», which the light stem does not join.
    question = "جامعة هايدلبرغ تأسست"
    terms = frozenset(analyze(question))
    found = candidates([passage(0, "a", "أُسست الجامعة عام 1386. وتقع جامعة هايدلبرغ في ألمانيا.")], [0.9], terms,
                       AnswerType.DATE, roots=question_roots(question, terms))
    roots = FEATURES.index("root_overlap")
    founded, located = found
    assert "تاسست" not in founded.terms and founded.features[roots] > 0
    assert located.features[roots] == 0.0    # it holds «جامعة» and «هايدلبرغ» as they are, «تأسست» in no form
    assert candidates([passage(0, "a", "أُسست الجامعة عام 1386.")], [0.9], terms,
                      AnswerType.DATE)[0].features[roots] == 0.0      # no roots given: no evidence


def test_the_confidence_counts_a_term_held_in_another_form_of_its_root():
    question = "جامعة هايدلبرغ تأسست"
    terms = frozenset(analyze(question))
    text = "أُسست جامعة هايدلبرغ عام 1386."
    rooted = candidates([passage(0, "a", text)], [0.9], terms, AnswerType.DATE, roots=question_roots(question, terms))
    exact = candidates([passage(0, "a", text)], [0.9], terms, AnswerType.DATE)
    share = EVIDENCE.index("idf_sentence")

    def coverage(found):
        return evidence(found[0], found, terms, lambda term: 1.0, frozenset())

    assert rooted[0].held == terms and exact[0].held == exact[0].terms == terms - {"تاسست"}
    assert coverage(rooted)[share] == 1.0
    assert coverage(exact)[share] == pytest.approx(2 / 3)
    # the article holds what its passage holds in any form, whatever its own text says
    assert coverage(rooted)[EVIDENCE.index("idf_article")] == 1.0


def test_a_phrase_of_the_question_is_held_only_by_its_words_side_by_side():
    question = "طول نهر الأردن"
    pairs = question_pairs(question, frozenset(analyze(question)))
    river = tuple(analyze("نهر الأردن"))
    assert river in pairs and len(pairs) == 2
    assert river in phrases_held("يبلغ طول نهر الأردن 251 كيلومترا", pairs)
    assert river in phrases_held("نهر في الأردن", pairs)                  # a stopword between them is skipped
    assert phrases_held("تقع المدينة في الأردن قرب النهر", pairs) == frozenset()
    assert phrases_held("نهر كبير في الأردن", pairs) == frozenset()        # another word between them is not


def test_the_confidence_counts_the_share_of_the_questions_phrases_the_passage_holds():
    question = "طول نهر الأردن"
    terms = frozenset(analyze(question))
    pairs = question_pairs(question, terms)
    phrases = EVIDENCE.index("phrases")

    def held(text):
        found = candidates([passage(0, "a", text)], [0.9], terms, AnswerType.NUMBER)
        return evidence(found[0], found, terms, lambda term: 1.0, frozenset(), pairs)[phrases]

    assert held("يبلغ طول نهر الأردن 251 كيلومترا.") == 1.0
    assert held("طول النهر في شمال الأردن 251 كيلومترا.") == 0.5     # «طول نهر» side by side, «نهر الأردن» not
    assert held("يبلغ عدد سكان الأردن عشرة ملايين على ضفة النهر.") == 0.0
    one_term = frozenset(analyze("منغوليا"))
    alone = candidates([passage(0, "a", "منغوليا دولة.")], [0.9], one_term, AnswerType.PLACE)
    assert evidence(alone[0], alone, one_term, lambda term: 1.0, frozenset(),
                    question_pairs("منغوليا", one_term))[phrases] == 1.0    # a question without a phrase misses none


def test_a_share_of_every_term_is_one_whatever_order_the_terms_come_in():
    weight = {"a": 0.1, "b": 0.2, "c": 0.3}       # 0.1 + 0.2 + 0.3 != 0.3 + 0.2 + 0.1 in floating point
    assert weighted(["c", "b", "a"], weight) == 1.0
    assert weighted(["b"], weight) == 0.2 / (0.1 + 0.2 + 0.3)
