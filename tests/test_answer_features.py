"""The cheap sentence features ``ask`` ranks by: term matching and the article-rank feature."""
from __future__ import annotations

from indexer.text.analysis import analyze
from indexer.store.sqlite import StoredPassage
from search.answers.features import FEATURES, candidates, held_terms
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
