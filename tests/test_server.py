"""The HTTP API and the pages, through the ASGI test client, on a real index."""
from __future__ import annotations

import html as htmllib
import json
import os
import re
import threading
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from cli import main
from server.batching import Batching
from server.coverage import bars
from server.options import MAX_K, MAX_OFFSET, MAX_QUERY_CHARS
from tests.conftest import IMG_TITLE, SCRIPT_TITLE, SEED_ID
from tests.threads import all_at_once

QUESTION = "كم يبلغ حجم التبادل التجاري بين العراق وإيران؟"


@pytest.fixture(scope="module")
def client(served_app):
    with TestClient(served_app) as c:
        yield c


def cli_json(*args) -> dict:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.parametrize("url, command", [
    ("/api/search?q=النفط&mode=keyword&k=5&offset=3", ["search", "النفط", "--mode", "keyword", "-k", 5, "--offset", 3]),
    ("/api/search?q=النفط&level=passages&source=Reuters&since=2021-02-01&until=2021-05-31",
     ["search", "النفط", "--level", "passages", "--source", "Reuters", "--since", "2021-02-01", "--until", "2021-05-31"]),
    ("/api/search?q=النفط&mode=keyword&sort=newest&facets=true&collapse=false&offset=2",
     ["search", "النفط", "--mode", "keyword", "--sort", "newest", "--facets", "--no-collapse", "--offset", 2]),
    ("/api/search?q=أسعار النفط&fusion=rrf&dense_weight=0.3", ["search", "أسعار النفط", "--fusion", "rrf", "--dense-weight", 0.3]),
    (f"/api/ask?q={QUESTION}&k=2", ["ask", QUESTION, "-k", 2]),
    ("/api/articles/oil-biden", ["show", "oil-biden"]),
    ("/api/stats", ["stats"]),
    ("/api/similar/oil-03?k=4&source=Reuters", ["similar", "oil-03", "-k", 4, "--source", "Reuters"]),
])
def test_api_answers_exactly_what_the_cli_prints_with_json(client, served_index, answer_everything_file, url, command):
    response = client.get(url)
    assert response.status_code == 200
    model = ["--answer-model", answer_everything_file] if command[0] == "ask" else []   # as served_app
    expected = cli_json(*command, *model, "--index", served_index, "--json")
    if command[0] == "stats":
        assert expected.pop("index") == str(served_index)   # the CLI's own path; the server never says it
    assert response.json() == expected


def test_search_pages_and_filters(client):
    first = client.get("/api/search?q=النفط&mode=keyword&k=10").json()
    second = client.get("/api/search?q=النفط&mode=keyword&k=10&offset=10").json()
    assert [h["rank"] for h in second["hits"]] == list(range(11, 21))
    assert not {h["article_id"] for h in first["hits"]} & {h["article_id"] for h in second["hits"]}
    reuters = client.get("/api/search?q=النفط&mode=keyword&k=100&source=reuters").json()
    assert reuters["hits"] and {h["source"] for h in reuters["hits"]} == {"Reuters"}
    either = client.get("/api/search?q=النفط&mode=keyword&k=100&source=Reuters&source=CNN").json()
    assert {h["source"] for h in either["hits"]} == {"Reuters", "CNN"}
    march = client.get("/api/search?q=النفط&mode=keyword&k=100&since=2021-03&until=2021-03").json()
    assert march["hits"] and all(h["date"].startswith("2021-03") for h in march["hits"])


@pytest.mark.parametrize("url, status, words", [
    (f"/api/search?q=النفط&k={MAX_K + 1}", 422, "k"),
    ("/api/search?q=النفط&k=0", 422, "k"),
    (f"/api/search?q=النفط&offset={MAX_OFFSET + 1}", 422, "offset"),
    ("/api/search?q=" + "ن" * (MAX_QUERY_CHARS + 1), 422, "q"),
    ("/api/search", 422, "q"),
    ("/api/search?q=النفط&mode=fuzzy", 422, "mode"),
    ("/api/search?q=النفط&dense_weight=2", 422, "dense_weight"),
    ("/api/search?q=النفط&since=March", 400, "since"),
    ("/api/search?q=النفط&since=2021-06&until=2021-01", 400, "after until"),
    ("/api/search?q=النفط&since=2021-02-30", 400, "since"),
    ("/api/search?q=..%20%21", 400, "no searchable words"),
    ("/api/ask?q=النفط&k=50", 422, "k"),
    ("/api/search?q=النفط&sort=latest", 422, "sort"),
    ("/api/articles/no-such-id", 404, "no-such-id"),
    ("/api/similar/no-such-id", 404, "no-such-id"),
    ("/api/nothing-here", 404, "Not Found"),
])
def test_bad_requests_get_a_json_message_and_a_4xx(client, url, status, words):
    response = client.get(url)
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"error"} and words in body["error"]
    assert "Traceback" not in response.text


def test_no_endpoint_writes_the_index(client, served_index):
    def files():
        return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in Path(served_index).rglob("*") if p.is_file()}
    before = files()
    for url in ("/api/search?q=النفط", f"/api/ask?q={QUESTION}", "/api/articles/xss-1", "/api/stats",
                "/api/health", "/?q=النفط", f"/ask?q={QUESTION}", "/article/oil-01"):
        assert client.get(url).status_code == 200
    assert files() == before


@pytest.mark.parametrize("url", ["/api/stats", "/api/health", "/openapi.json", "/docs", "/api/search?q=النفط&facets=true",
                                 "/api/articles/../../etc/passwd", "/api/similar/nothing", "/api/search?q=..",
                                 "/api/search?q=النفط&since=x", "/article/nothing", "/?q=..", "/static/..%2Fapp.py"])
def test_no_response_names_a_file_or_shows_a_traceback(client, served_index, url):
    text = client.get(url).text
    assert str(Path(served_index).parent.parent) not in text and "Traceback" not in text and ".py" not in text
    assert "index" not in client.get("/api/stats").json()


def test_an_internal_error_is_one_line_without_the_path(served_index, tmp_path):
    """A damaged index: the vectors file is overwritten after the server started (and read it)."""
    import shutil

    from server.app import create_app
    target = tmp_path / "index"
    shutil.copytree(served_index, target)
    app = create_app(target, engines=1)
    try:
        (target / "vectors.faiss").write_bytes(b"not a faiss index")
        with TestClient(app, raise_server_exceptions=False) as c:   # the server logs it; the client sees one line
            api, page = c.get("/api/search?q=النفط"), c.get("/?q=النفط")
    finally:
        app.state.pool.close()
    assert api.status_code == page.status_code == 500 and api.json() == {"error": "internal error"}
    assert str(tmp_path) not in page.text and "vectors.faiss" not in page.text and "internal error" in page.text


@pytest.mark.parametrize("url", ["/", "/?q=النفط", "/api/search?q=النفط", "/api/nothing", "/docs", "/static/style.css"])
def test_security_headers_on_every_response(client, url):
    headers = client.get(url).headers
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"


def test_search_page_is_arabic_right_to_left_with_marked_words_and_isolated_latin(client):
    html = client.get("/?q=النفط&mode=keyword").text
    assert '<html lang="ar" dir="rtl">' in html
    assert "<mark>النفط</mark>" in html
    assert "<bdi dir=\"ltr\">Joe Biden</bdi>" in html and "<bdi dir=\"ltr\">12.5</bdi>" in html
    assert "<script" not in html.replace("&lt;script", "")   # no script at all, inline or not
    assert 'rel="next" href="/?q=' in html and "page=2" in html


def test_page_two_continues_page_one(client):
    one, two = client.get("/?q=النفط&mode=keyword").text, client.get("/?q=النفط&mode=keyword&page=2").text
    assert '<li class="hit" value="1">' in one and '<li class="hit" value="11">' in two
    assert 'rel="prev"' in two and "<bdi dir=\"ltr\">11–20</bdi>" in two


@pytest.mark.parametrize("url", ["/?q=النفط&mode=keyword&page=3", "/?q=النفط", "/article/xss-1", "/article/xss-2",
                                 "/?q=النفط&mode=keyword&source=" + IMG_TITLE])
def test_article_text_is_escaped_everywhere(client, url):
    html = client.get(url).text
    assert SCRIPT_TITLE not in html and "<img" not in html and "onerror=alert(1)>" not in html
    assert "javascript:" not in html


def test_hostile_titles_are_shown_as_text(client):
    html = client.get("/article/xss-1").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in client.get("/article/xss-2").text


def test_ask_page_marks_the_answer_and_links_its_article(client):
    html = client.get(f"/ask?q={QUESTION}").text
    answer = client.get(f"/api/ask?q={QUESTION}&k=3").json()["answers"][0]
    start, end = answer["span"]
    assert f"<mark>{answer['sentence'][start:end]}</mark>" in html.replace("<bdi dir=\"ltr\">", "").replace("</bdi>", "")
    assert f'href="/article/{SEED_ID}#p{answer["passage_id"]}"' in html


def test_article_page_has_every_passage(client):
    article = client.get(f"/api/articles/{SEED_ID}").json()
    html = client.get(f"/article/{SEED_ID}").text
    assert all(f'id="p{p["passage_id"]}"' in html for p in article["passages"])
    assert client.get("/article/no-such-id").status_code == 404


def test_article_page_lists_the_articles_like_it(client):
    similar = client.get("/api/similar/oil-03?k=5").json()["hits"]
    html = client.get("/article/oil-03").text
    section = html[html.index('id="similar"'):]
    assert similar and all(f'href="/article/{h["article_id"]}#p{h["passage_id"]}"' in section for h in similar)


def test_chart_counts_every_matching_article_by_month(client):
    # 24 oil articles over six months, the Latin one in July, the two hostile ones in August:
    # all 27, not only the page of ten.
    html = client.get("/?q=النفط").text
    assert html.count("<rect ") == 8 and "<title>2021-01: 4</title>" in html and "<title>2021-08: 2</title>" in html
    drawn = bars({"2021-01": 4, "2021-02": 4, "2021-07": 1, "2021-08": 2, "undated": 3})
    assert [b.period for b in drawn][0] == "2021-01" and drawn[-1].height == drawn[0].height / 2


def test_a_month_of_the_chart_is_a_link_to_that_month(client):
    august = follow(client, client.get("/?q=النفط&mode=keyword").text, r'<a href="([^"]+)"><rect [^>]*><title>2021-08: 2')
    assert total(august) == 2 and dates(august) == ["2021-08-01", "2021-08-02"]


def test_chart_leaves_empty_months_in_and_counts_by_year_over_long_spans():
    assert [(b.period, b.count) for b in bars({"2020-11": 2, "2021-02": 1})] == \
        [("2020-11", 2), ("2020-12", 0), ("2021-01", 0), ("2021-02", 1)]
    assert [b.period for b in bars({"1990-05": 1, "2021-02": 3, "undated": 7})] == [str(y) for y in range(1990, 2022)]


def links(html: str, pattern: str) -> list[str]:
    return [htmllib.unescape(m) for m in re.findall(pattern, html)]


def follow(client, html: str, pattern: str) -> str:
    found = links(html, pattern)
    assert len(found) == 1, (pattern, found)
    return client.get(found[0]).text


def dates(html: str) -> list[str]:
    return re.findall(r'<li class="hit[^"]*"[^>]*>.*?<time datetime="([^"]*)"', html, re.S)


def total(html: str) -> int:
    """The matches the page's summary counts."""
    return int(re.search(r"<bdi>(\d+)</bdi> مطابقة", html)[1])


def test_the_sort_control_orders_every_page_by_date(client):
    page = client.get("/?q=النفط&mode=keyword").text
    newest = follow(client, page, r'<a href="([^"]+)" data-sort="newest"')
    oldest = follow(client, page, r'<a href="([^"]+)" data-sort="oldest"')
    assert dates(newest) == sorted(dates(newest), reverse=True) and dates(newest)[0] == "2021-08-02"
    assert dates(oldest) == sorted(dates(oldest)) and dates(oldest)[0] == "2021-01-01"
    assert 'data-sort="newest" aria-current' in newest and dates(newest) != dates(page)
    # The next page keeps the order and goes on from where the first one stopped.
    second = follow(client, newest, r'rel="next" href="([^"]+)"')
    assert dates(second) == sorted(dates(second), reverse=True) and dates(second)[0] <= dates(newest)[-1]
    assert '<li class="hit" value="11">' in second
    relevance = follow(client, newest, r'<a href="([^"]+)" data-sort="relevance"')
    assert dates(relevance) == dates(page)


@pytest.mark.parametrize("facet", ["source", "section"])
def test_each_facet_link_filters_to_as_many_articles_as_it_counts(client, facet):
    page = client.get("/?q=النفط&mode=keyword").text
    listed = re.search(rf'data-facet="{facet}">(.*?)</p>', page, re.S)[1]
    found = re.findall(r'<a href="([^"]+)"><bdi>([^<]*)</bdi> <span class="count">\(<bdi>(\d+)</bdi>\)', listed)
    assert len(found) >= 3   # the oil fixture's sources: two agencies, CNN and the hostile ones
    for href, value, count in found:
        filtered = client.get(htmllib.unescape(href)).text
        assert total(filtered) == int(count), value
        shown = re.findall(rf'<span class="{facet}"><bdi>([^<]*)</bdi>', filtered)
        assert shown and set(shown) == {value}
        assert "المعروض الآن" in filtered   # with a link that lifts the filter
        assert total(follow(client, filtered, r'<a class="lift" href="([^"]+)"')) == total(page)


def test_facets_count_the_articles_without_a_value_so_each_adds_up(client):
    """The hostile article has no section: counted as «بلا قسم» (no filter selects it, so no link),
    and each facet's counts add up to the matching articles, in the API and on the page."""
    data = client.get("/api/search?q=النفط&mode=keyword&facets=true").json()
    for name in ("source", "section", "month"):
        assert sum(v["count"] for v in data["facets"][name]) == data["matches"], name
    assert data["facets"]["section"][-1] == {"value": None, "count": 1}
    listed = re.search(r'data-facet="section">(.*?)</p>', client.get("/?q=النفط&mode=keyword").text, re.S)[1]
    assert '<span class="without">بلا قسم <span class="count">(<bdi>1</bdi>)</span></span>' in listed


def test_related_hits_say_they_do_not_hold_the_words(client):
    api = client.get("/api/search?q=أسعار النفط&offset=20&k=10").json()
    related = [h["article_id"] for h in api["hits"] if h["label"] == "related"]
    html = client.get("/?q=أسعار النفط&page=3").text
    marked = re.findall(r'<li class="hit related" value="\d+">\s*<h3><a href="/article/([^#"]+)', html)
    assert related and marked == related
    assert html.count("ذات صلة بالمعنى: لا تحتوي على كلمات البحث") == len(related)
    assert html.count('<li class="hit"') == len(api["hits"]) - len(related)


@pytest.mark.parametrize("level, said", [("articles", "لا توجد مقالات تحتوي على «الذهب»"),
                                         ("passages", "لا توجد مقاطع تحتوي على «الذهب»")])
def test_no_match_says_so_first_and_marks_what_is_shown(client, level, said):
    html = client.get(f"/?q=الذهب&level={level}").text
    assert f'<p class="notice absent" id="absent" role="status">{said}</p>' in html
    assert "no article contains" not in html and "مطابقة" not in html
    assert html.count('<li class="hit related"') == client.get(f"/api/search?q=الذهب&level={level}").json()["related"] > 0


def test_near_duplicates_fold_under_one_result_with_a_count(client):
    html = client.get("/?q=المنتخب").text
    assert html.count('<li class="hit') == 1 and "match-a" in html
    alike = html[html.index('<details class="alike">'):]
    alike = alike[:alike.index("</details>")]
    assert "مقال آخر مثله" in alike and '<a href="/article/match-b">فوز المنتخب الوطني بثلاثة أهداف</a>' in alike
    assert "<bdi>1</bdi>: <bdi>2</bdi> مطابقة" in html and "طُوي منها <bdi>1</bdi> مقالًا شبه مكرر" in html


def test_static_files_and_paths_never_reach_the_file_system(client):
    assert client.get("/static/style.css").headers["content-type"].startswith("text/css")
    for url in ("/static/..%2Fapp.py", "/static/../server/app.py", "/static/%2e%2e/pages.py", "/static/templates"):
        assert client.get(url).status_code == 404


def test_docs_describe_the_api_without_scripts(client):
    html = client.get("/docs").text
    assert "/api/search" in html and "/api/ask" in html and "maximum 100" in html and "<script" not in html
    assert "/api/search" in client.get("/openapi.json").json()["paths"]


def test_serve_refuses_a_missing_index(tmp_path):
    result = CliRunner().invoke(main, ["serve", "--index", str(tmp_path / "none")])
    assert result.exit_code == 1 and "no index at" in result.output


@pytest.mark.parametrize("args, handed", [
    ([], {"static_queries": True, "workers": 2, "engines": None}),
    (["--query-shapes", "dynamic"], {"static_queries": False}),
    (["--workers", "1", "--engines", "3", "--max-batch", "4"], {"workers": 1, "engines": 3, "batching": Batching(4, 2.0)}),
])
def test_serve_hands_its_options_to_the_server(served_index, monkeypatch, args, handed):
    """What ``baheth serve`` hands ``server.app.serve`` (static query shapes and a search process
    per core by default; each search process opens with them: tests/test_dispatch.py)."""
    import server.app

    got = {}
    monkeypatch.setattr(server.app, "serve", lambda *a, **kwargs: got.update(zip(["engines", "workers"], a[3:5]), **kwargs))
    monkeypatch.setattr(server.app, "default_workers", lambda: 2)
    assert CliRunner().invoke(main, ["serve", "--index", str(served_index), *args]).exit_code == 0
    assert {name: got[name] for name in handed} == handed


@pytest.mark.parametrize("args", [["--engines", "2"], ["--workers", "2", "--max-batch", "4"], ["--max-wait-ms", "1"]])
def test_serve_refuses_one_process_options_with_several_search_processes(served_index, monkeypatch, args):
    import server.app
    monkeypatch.setattr(server.app, "default_workers", lambda: 2)
    result = CliRunner().invoke(main, ["serve", "--index", str(served_index), *args])
    assert result.exit_code == 2 and "use them with --workers 1" in result.output and args[-2] in result.output


@pytest.mark.parametrize("serving", [{"engines": 3}, {"processes": 2}], ids=["engines", "search-processes"])
def test_readers_never_see_a_half_written_article_while_the_index_is_written(served_index, tmp_path, serving):
    """Four clients search and read one article while a writer replaces it 20 times: every hit
    and every article read is one whole version (its title's number is its body's), whether
    the engines are the HTTP process's own or those of search processes (``baheth serve``'s default)."""
    import re
    import shutil

    from indexer.pipeline import Indexer
    from indexer.text.articles import Article
    from server.app import create_app

    target = tmp_path / "index"
    shutil.copytree(served_index, target)
    app = create_app(target, **serving)
    done, seen, problems = threading.Event(), set(), []

    def version(n: int) -> Article:
        body = " ".join(f"الصيغة {n} من خبر التحويل في الفقرة {p}." for p in range(40))
        return Article(id="flip", title=f"الصيغة {n}", body=body, date="2021-09-01")

    def numbers(text: str) -> set[str]:
        return set(re.findall(r"الصيغة (\d+)", text))

    def write():
        try:
            with Indexer(target, vectors=False) as ix:
                for n in range(1, 21):
                    ix.add([version(n)])
        finally:
            done.set()

    def read():
        with TestClient(app) as c:
            while not done.is_set():
                for hit in c.get("/api/search", params={"q": "التحويل", "mode": "keyword", "level": "passages"}).json()["hits"]:
                    if numbers(hit["snippet"]) - numbers(hit["title"]):
                        problems.append(hit)
                article = c.get("/api/articles/flip")
                if article.status_code == 200:
                    data = article.json()
                    found = numbers(data["title"]) | numbers(data["body"])
                    found |= set().union(*(numbers(p["text"]) for p in data["passages"]))
                    seen.update(found)
                    if len(found) != 1:
                        problems.append(data["title"])

    def guarded(body):
        def run():   # a thread's exception would end it silently: it is a problem too
            try:
                body()
            except Exception as exc:
                problems.append(repr(exc))
        return run

    threads = [threading.Thread(target=guarded(write))] + [threading.Thread(target=guarded(read)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    app.state.pool.close()
    assert not any(t.is_alive() for t in threads)
    assert not problems
    assert len(seen) > 1   # the readers did overlap the writer


@pytest.mark.parametrize("endpoint, handler", [("hybrid", "server/api.py"), ("page", "server/pages.py")])
def test_the_profile_benchmark_calls_the_handlers_as_the_server_does(served_index, tmp_path, endpoint, handler):
    from bench.serve_profile import main as profile
    queries = tmp_path / "queries.jsonl"
    queries.write_text("".join(json.dumps({"question": q}, ensure_ascii=False) + "\n"
                               for q in ("أسعار النفط", "النفط", QUESTION, "التجار", "السوق")), encoding="utf-8")
    result = CliRunner().invoke(profile, ["--index", served_index, "--endpoint", endpoint, "-n", 1,
                                          "--queries", queries])
    assert result.exit_code == 0, result.output
    assert handler in result.output and "CPU ms per request" in result.output


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores")
def test_serve_runs_a_process_per_core_that_answer_as_one_process_does_and_stop_whole(client, served_index):
    """`baheth serve` on two cores (no --workers): two search processes answer, with the
    in-process app's JSON, over a kept-alive connection, and a Ctrl-C stops them all."""
    import signal
    import socket
    import subprocess
    import sys
    import time

    import httpx
    import psutil

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = Path(__file__).resolve().parent.parent
    two_cores = set(sorted(os.sched_getaffinity(0))[:2])
    server = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--index", str(served_index), "--port", str(port)],
                              env={**os.environ, "PYTHONPATH": str(root)},
                              preexec_fn=lambda: os.sched_setaffinity(0, two_cores))
    url = f"http://127.0.0.1:{port}/api/search?q=النفط&mode=keyword&k=5"
    try:
        deadline, answer = time.monotonic() + 120, None
        while answer is None and time.monotonic() < deadline:
            try:
                answer = httpx.get(url, timeout=10)
            except httpx.HTTPError:
                time.sleep(0.3)
        assert answer is not None and answer.status_code == 200
        assert "connection" not in answer.headers   # one HTTP process: nothing ties a connection to a search process
        assert answer.json() == client.get(url.split(str(port))[1]).json()
        workers = [p for p in psutil.Process(server.pid).children() if "spawn_main" in " ".join(p.cmdline())]
        assert len(workers) == 2
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in workers)


BATCHED_QUERIES = ["أسعار النفط", "النفط", "كم يبلغ حجم التبادل التجاري بين العراق وإيران؟", "المنتخب الوطني",
                   "من فاز بالمباراة؟", "بايدن والنفط", "الأسواق العالمية", "الطاقة في العراق"]


def concurrently(pool, work, items) -> dict:
    """``work(engine, item)`` for every item at once, each on its own thread and engine; item -> result or exception."""
    def one(item):
        with pool.engine() as engine:
            return work(engine, item)
    return all_at_once(one, items, timeout=120)


def answers(engine, query):
    if query.endswith("؟"):
        return engine.ask(query, k=2).to_dict()
    return engine.search(query, k=5, level="passages").to_dict()


def test_concurrent_requests_through_the_batcher_get_exactly_what_sequential_ones_get(served_index, monkeypatch):
    from indexer.vectors.index import MANY_FROM, VectorIndex
    from server.batching import Batching
    from server.pool import EnginePool

    alone = EnginePool(served_index, 1, batching=Batching(max_batch=1))
    try:
        with alone.engine() as engine:
            expected = {q: answers(engine, q) for q in BATCHED_QUERIES}
    finally:
        alone.close()
    searched, search_many = [], VectorIndex.search_many
    monkeypatch.setattr(VectorIndex, "search_many", lambda self, queries, limit: searched.append(len(queries))
                        or search_many(self, queries, limit))
    # A long wait, so that the eight requests meet in one batch however slow the machine.
    pool = EnginePool(served_index, len(BATCHED_QUERIES), batching=Batching(max_batch=8, max_wait_ms=500))
    try:
        got = concurrently(pool, answers, BATCHED_QUERIES)
    finally:
        pool.close()
    assert got == expected
    assert max(searched) >= MANY_FROM   # the shared pass over the vectors ran, not only searches alone


def test_a_failing_batch_gives_each_of_its_requests_a_clear_error(served_index):
    from server.batching import BatchFailed, Batching
    from server.pool import EnginePool

    pool = EnginePool(served_index, 4, batching=Batching(max_batch=4, max_wait_ms=500))
    model = pool.encoder._loaded()

    def broken(texts):
        raise RuntimeError("inference failed")

    model.encode_queries = broken
    try:
        got = concurrently(pool, lambda engine, q: engine.search(q, k=3), BATCHED_QUERIES[:4])
    finally:
        pool.close()
    assert all(isinstance(e, BatchFailed) and "inference failed" in str(e) for e in got.values()), got


def test_the_batcher_stops_with_the_pool_and_a_stopped_server_says_so(served_index):
    from fastapi.testclient import TestClient

    from server.app import create_app

    # Other tests' apps may hold batchers of their own: this app's is the one more.
    batchers = lambda: sum(t.name == "baheth-dense-batcher" for t in threading.enumerate())
    before = batchers()
    app = create_app(served_index, engines=1)
    assert batchers() == before + 1
    with TestClient(app) as c:
        assert c.get("/api/search", params={"q": "النفط"}).status_code == 200
        app.state.pool.batched.close()
        late = c.get("/api/search", params={"q": "النفط"})
    app.state.pool.close()
    assert batchers() == before
    assert late.status_code == 503 and late.json() == {"error": "the server is stopping"}


def test_the_engines_of_a_pool_read_the_vectors_once_and_share_them(served_index):
    from server.pool import EnginePool

    pool = EnginePool(served_index, 3)
    try:
        engines = list(pool._idle.queue)
        assert len({id(e.vector_index._index) for e in engines}) == 1 and len(engines[0].vector_index) > 0
    finally:
        pool.close()


def test_a_lone_question_is_not_tokenized_to_be_grouped(monkeypatch):
    """The batcher groups questions by their token rows (``server.pool._exact_groups``); one
    question alone needs no grouping, and its encoding tokenizes it once, not twice."""
    from indexer.vectors.openvino_encoder import OpenVinoEncoder
    from server.pool import _exact_groups

    encoder = OpenVinoEncoder(threads=1)
    calls, windows = [], encoder._tokenizer.windows
    monkeypatch.setattr(encoder._tokenizer, "windows", lambda texts: calls.append(len(texts)) or windows(texts))
    assert _exact_groups(encoder, ["أسعار النفط"]) == [[0]] and calls == []
    assert _exact_groups(encoder, ["أسعار النفط", "أسعار الذهب", "من هو رئيس الوزراء العراقي"]) == [[0, 1], [2]]
    assert calls == [3]
    # With static query shapes every query is encoded alone anyway: one group, nothing tokenized to form it.
    encoder.static_queries = True
    assert _exact_groups(encoder, ["أسعار النفط", "أسعار الذهب", "من هو رئيس الوزراء العراقي"]) == [[0, 1, 2]]
    assert calls == [3]
