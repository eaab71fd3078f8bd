"""Counts under near-duplicate folding: ``matches`` (``total``) counts every article (passage) that
holds the query's words, reprints included, whether they are folded or not; ``ranked`` is what is
left to page through once they are folded, and pages (engine, command line, web page) end there.

The index holds 13 oil stories, story i printed 1 + i % 3 times under other ids (the copies add a
word in front: «عاجل:», «تحديث:»), so 25 articles name oil in 13 stories, and two articles that do
not name it."""
from __future__ import annotations

import json
import math
import random
import re

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from cli import main
from indexer.text.articles import Article
from search.engine import Engine
from server.options import PAGE_SIZE

QUERY = "النفط"
STORIES = 13
WORDS = ("الحكومة الوزير البرلمان الشركة السوق الأسعار الإنتاج الصادرات الميناء الناقلة الحقل الخام الطلب "
         "المخزون المصفاة الاستثمار الموازنة العجز الضرائب التجارة الاقتصاد المصرف العملة الدولار التضخم "
         "الأرباح الخسائر العقود المناقصة الطاقة الكهرباء الغاز الفحم المحطة الشبكة الأنابيب الحدود العاصمة "
         "الجنوب الشمال الشتاء الصيف المستثمرون التجار المحللون الخبراء التقرير البيان المؤتمر الاتفاق").split()
COPY_PREFIXES = ("", "عاجل:", "تحديث:")


def copies(story: int) -> int:
    return 1 + story % 3


def story_body(story: int) -> str:
    words = list(WORDS)
    random.Random(story).shuffle(words)   # no two stories share a run of three words
    return " ".join([QUERY, *words[:30]]) + "."


def articles() -> list[Article]:
    out = [Article(id=f"s{story:02d}-{copy}", title=f"قصة النفط رقم {story}",
                   body=f"{COPY_PREFIXES[copy]} {story_body(story)}".strip(),
                   date=f"2020-01-{1 + story:02d}", source=("A", "B", "C")[copy])
           for story in range(STORIES) for copy in range(copies(story))]
    other = ["فاز المنتخب الوطني لكرة القدم على منافسه بثلاثة أهداف في مباراة مثيرة أمام جمهور كبير ملأ "
             "مدرجات الملعب الرئيسي في العاصمة مساء أمس وسط أجواء احتفالية.",
             "افتتح معرض الكتاب الدولي أبوابه للزوار صباح اليوم بمشاركة مئات دور النشر من عشرين دولة عربية "
             "وأجنبية، ويستمر المعرض عشرة أيام تقام خلالها ندوات وأمسيات شعرية."]
    return out + [Article(id=f"other-{i}", title="منوعات", body=body, date="2020-02-01", source="A")
                  for i, body in enumerate(other)]


MATCHING = {a.id for a in articles() if QUERY in a.body}
assert len(MATCHING) == sum(map(copies, range(STORIES))) == 25


@pytest.fixture(scope="module")
def stories_index(tmp_path_factory, encoder):
    from indexer.pipeline import Indexer
    path = tmp_path_factory.mktemp("stories") / "index"
    with Indexer(path, encoder=encoder) as ix:
        assert ix.add(articles()).added == len(articles())
    return path


@pytest.fixture(scope="module")
def stories(stories_index, encoder):
    with Engine(stories_index, encoder=encoder) as engine:
        yield engine


def story(article_id: str) -> str:
    return article_id.split("-")[0]


def page_through(engine, k, **options):
    pages, offset = [], 0
    while True:
        results = engine.search(QUERY, k=k, offset=offset, **options)
        if not results.hits:
            return pages, results
        pages.append(results)
        offset += k


@pytest.mark.parametrize("level", ["articles", "passages"])
@pytest.mark.parametrize("mode", ["keyword", "hybrid", "dense"])
def test_collapse_folds_results_but_counts_the_same_articles(stories, mode, level):
    folded = stories.search(QUERY, mode=mode, level=level, k=100)
    every = stories.search(QUERY, mode=mode, level=level, k=100, collapse=False)
    assert folded.matches == folded.total == every.matches == every.total == len(MATCHING)
    assert folded.related == every.related
    assert every.collapsed == 0 and every.ranked == len(every.hits) == every.matches + every.related
    assert folded.collapsed == len(MATCHING) - STORIES   # the related ones are not reprinted
    assert folded.ranked == len(folded.hits) == folded.matches + folded.related - folded.collapsed
    shown = [h.article_id for h in folded.hits] + [a for h in folded.hits for a in h.more_like_it]
    assert sorted(shown) == sorted(h.article_id for h in every.hits)


@pytest.mark.parametrize("sort", ["relevance", "newest", "oldest"])
@pytest.mark.parametrize("mode", ["keyword", "hybrid"])
def test_paging_a_folded_ranking_shows_every_story_once_and_ends_on_its_last_page(stories, mode, sort):
    k = 4
    pages, past = page_through(stories, k, mode=mode, sort=sort)
    hits = [h for p in pages for h in p.hits]
    assert len(pages) == math.ceil(pages[0].ranked / k) == math.ceil(STORIES / k)
    assert {(p.matches, p.related, p.collapsed, p.ranked) for p in pages + [past]} == \
        {(len(MATCHING), 0, len(MATCHING) - STORIES, STORIES)}
    assert [h.rank for h in hits] == list(range(1, STORIES + 1))
    assert sorted(story(h.article_id) for h in hits) == sorted({story(a) for a in MATCHING})
    assert sorted([h.article_id for h in hits] + [a for h in hits for a in h.more_like_it]) == sorted(MATCHING)


def test_filters_count_the_articles_they_keep(stories):
    from indexer.store.filters import Filters
    results = stories.search(QUERY, mode="keyword", k=100, filters=Filters(source="A"))
    assert results.matches == STORIES and results.collapsed == 0   # every story's first print, no copy
    both = stories.search(QUERY, mode="keyword", k=100, filters=Filters(source=["A", "B"]))
    assert both.matches == STORIES + sum(copies(s) > 1 for s in range(STORIES))
    assert both.ranked == STORIES and both.collapsed == both.matches - STORIES


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_json_counts_articles_and_says_what_was_folded(stories_index):
    result = run("search", QUERY, "--index", stories_index, "--mode", "keyword", "-k", 5, "--offset", 10, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {key: data[key] for key in ("total", "matches", "related", "collapsed", "ranked")} == \
        {"total": 25, "matches": 25, "related": 0, "collapsed": 12, "ranked": 13}
    assert [h["rank"] for h in data["hits"]] == [11, 12, 13]
    unfolded = json.loads(run("search", QUERY, "--index", stories_index, "--mode", "keyword", "--no-collapse",
                              "--json").output)
    assert (unfolded["total"], unfolded["collapsed"], unfolded["ranked"]) == (25, 0, 25)


def test_text_output_counts_articles_then_what_was_folded(stories_index):
    lines = run("search", QUERY, "--index", stories_index, "--mode", "keyword").stdout.splitlines()
    assert lines[0] == "25 articles match (keyword); 12 near-duplicates folded into their stories; showing 1-10 of 13"
    passages = run("search", QUERY, "--index", stories_index, "--mode", "keyword", "--level", "passages",
                   "--offset", 12).stdout.splitlines()
    assert passages[0] == ("25 passages match (keyword); 12 near-duplicate passages folded into their stories;"
                           " showing 13-13 of 13")
    past = run("search", QUERY, "--index", stories_index, "--mode", "keyword", "--offset", 13)
    assert past.stdout.splitlines()[0] == "no results past 13"


@pytest.fixture(scope="module")
def client(stories_index):
    from server.app import create_app
    app = create_app(stories_index, engines=1)
    with TestClient(app) as c:
        yield c
    app.state.pool.close()


def test_web_pages_end_where_the_folded_ranking_ends(client):
    assert STORIES > PAGE_SIZE   # two pages of stories; the 25 articles would have made three
    pages, url = [], f"/?q={QUERY}&mode=keyword"
    while url:
        html = client.get(url).text
        pages.append(html)
        found = re.search(r'rel="next" href="([^"]+)"', html)
        url = found and found.group(1).replace("&amp;", "&")
    assert len(pages) == math.ceil(STORIES / PAGE_SIZE)
    ids = [a for html in pages for a in re.findall(r'<li class="hit[^"]*" value="\d+">\s*<h3><a href="/article/([^#"]+)', html)]
    assert sorted(map(story, ids)) == sorted({story(a) for a in MATCHING})
    assert all(f"صفحة <bdi>{n}</bdi> من <bdi>{len(pages)}</bdi>" in html for n, html in enumerate(pages, start=1))
    assert "من\n<bdi>13</bdi>: <bdi>25</bdi> مطابقة" in pages[0]
    assert "طُوي منها <bdi>12</bdi> مقالًا شبه مكرر" in pages[0]
    assert client.get(f"/api/search?q={QUERY}&mode=keyword").json()["ranked"] == STORIES
