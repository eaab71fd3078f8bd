"""Where one request's time goes in ``baheth serve``: the server's handler for hybrid search
(``/api/search``) or the search page (``/``), called in this thread over distinct questions: its
CPU milliseconds per request, then a cProfile of as many other questions.

    python -m bench.serve_profile --index /tmp/baheth-serve-load/index --endpoint hybrid -n 20

The handler is called as the server calls it, with the app's engine pool (one engine), minus
FastAPI's routing and parameter checks and the HTTP exchange; every question is new to the
server's query-vector cache. CPU time, unlike latency, changes little on a machine shared with
other work, so the profile counts CPU time too (the process's, the encoder's threads included);
the load average is printed beside it.
"""
from __future__ import annotations

import cProfile
import io
import pstats
import statistics
import time
from pathlib import Path
from urllib.parse import urlencode

import click
from starlette.requests import Request

from bench.data import SHARED
from bench.serve_load import DEFAULT_INDEX
from bench.speed import load_avg, questions
from indexer.store.filters import Filters
from server import api, pages
from server.app import create_app

HANDLERS = {  # endpoint -> (path, the handler called with a request and the question)
    "hybrid": ("/api/search", lambda request, q: api.search(request, q=q, filters=Filters(), mode="hybrid", k=10)),
    "keyword": ("/api/search", lambda request, q: api.search(request, q=q, filters=Filters(), mode="keyword", k=10)),
    "ask": ("/api/ask", lambda request, q: api.ask(request, q=q, filters=Filters(), k=3)),
    "page": ("/", lambda request, q: pages.search_page(request, filters=Filters(), q=q)),
}


def request_for(app, path: str, q: str) -> Request:
    return Request({"type": "http", "app": app, "method": "GET", "path": path, "root_path": "", "scheme": "http",
                    "server": ("127.0.0.1", 8000), "headers": [], "query_string": urlencode({"q": q}).encode()})


def cpu_ms(handler, request: Request, q: str) -> float:
    started = time.process_time()
    handler(request, q)
    return 1000 * (time.process_time() - started)


@click.command()
@click.option("--index", type=click.Path(exists=True, file_okay=False, path_type=Path), default=DEFAULT_INDEX,
              show_default=True, help="An index (bench.serve_load builds the 100k one).")
@click.option("--endpoint", type=click.Choice(list(HANDLERS)), default="hybrid", show_default=True)
@click.option("-n", "count", type=click.IntRange(1), default=20, show_default=True,
              help="Questions timed, and as many others profiled.")
@click.option("--top", type=click.IntRange(1), default=25, show_default=True, help="Functions listed.")
@click.option("--queries", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=SHARED / "eval" / "xquad_ar" / "queries.jsonl", show_default=True)
def main(index, endpoint, count, top, queries):
    """CPU ms per request of one endpoint's handler, and its cProfile (cumulative time)."""
    texts = questions(queries, 10**6)
    app = create_app(index, engines=1)
    path, handler = HANDLERS[endpoint]
    try:
        for q in texts[-3:]:   # warm-up: the encoder, the compiled postings, SQLite's pages
            handler(request_for(app, path, q), q)
        load_before, profile = load_avg(), cProfile.Profile(time.process_time)
        cpu = [cpu_ms(handler, request_for(app, path, q), q) for q in texts[:count]]
        for q in texts[count:2 * count]:   # other questions, so none comes from the query-vector cache
            profile.runcall(handler, request_for(app, path, q), q)
    finally:
        app.state.pool.close()
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(top)
    click.echo(out.getvalue())
    click.echo(f"{endpoint} ({path}): CPU ms per request p50 {statistics.median(cpu):.0f}, mean "
               f"{statistics.mean(cpu):.0f} over {count} questions (not profiled; the profile is of {count} "
               f"others); load average {load_before} before, {load_avg()} after")


if __name__ == "__main__":
    main()
