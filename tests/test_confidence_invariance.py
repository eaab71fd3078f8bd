"""The confidence of ``ask`` describes the answer, not the index: the same sentence answering the
same question gets the same confidence in an index of one article and in one of many."""
from __future__ import annotations

import json

import pytest

from indexer.pipeline import Indexer
from search.answers.finder import AnswerFinder
from search.engine import Engine
from tests.conftest import FIXTURES, ROOT

DAM = {"id": "dam-1", "title": "افتتاح سد جديد على نهر الفرات", "date": "2022-05-10", "source": "وكالة الأنباء",
       "section": "اقتصاد", "url": "https://example.org/dam-1",
       "body": "افتتحت الحكومة يوم الثلاثاء سدا جديدا على نهر الفرات قرب مدينة الرقة.\n"
               "وبلغت كلفة بناء السد الجديد على نهر الفرات 450 مليون دولار بحسب وزارة الموارد المائية.\n"
               "ويخزن السد مياه الري لأكثر من مئتي ألف هكتار من الأراضي الزراعية."}
QUESTION = "كم بلغت كلفة بناء السد على نهر الفرات؟"


def confidence(path, encoder):
    with Engine(path, encoder=encoder) as engine:
        finder = AnswerFinder(engine)
        try:
            lookup, scored = finder.rank(QUESTION)
            return scored[0][0].text, finder.model.confidence(finder.confidence_features(lookup, scored))
        finally:
            finder.close()


@pytest.fixture(scope="module")
def indexes(tmp_path_factory, encoder):
    folder = tmp_path_factory.mktemp("invariance")
    (folder / "dam.jsonl").write_text(json.dumps(DAM, ensure_ascii=False) + "\n", encoding="utf-8")
    built = {}
    for name, extra in (("alone", []), ("among-others", [FIXTURES / "articles.jsonl", FIXTURES / "wire.jsonl"])):
        with Indexer(folder / name, encoder=encoder) as ix:
            report = ix.add_paths([str(folder / "dam.jsonl"), *map(str, extra)])
        assert report.failed == 0 and report.added == 1 + 8 * len(extra)
        built[name] = folder / name
    return built


def test_the_confidence_does_not_depend_on_how_many_articles_are_indexed(indexes, encoder):
    alone, among = confidence(indexes["alone"], encoder), confidence(indexes["among-others"], encoder)
    assert alone[0] == among[0] and "450 مليون" in alone[0]
    assert alone[1] == pytest.approx(among[1], abs=0.01)


def test_the_demo_index_answers_the_trade_question(tmp_path, encoder):
    # `make demo` indexes seeds/ alone (one article) and asks this; a product requirement.
    with Indexer(tmp_path / "index", encoder=encoder) as ix:
        ix.add_paths([str(ROOT / "seeds")])
    with Engine(tmp_path / "index", encoder=encoder) as engine:
        result = engine.ask("كم يبلغ حجم التبادل التجاري بين العراق وإيران؟", k=1)
    assert result.answered
    assert "الميزان التجاري بين البلدين من 13 مليار دولار" in result.answers[0].sentence
