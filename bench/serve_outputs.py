"""Every byte ``baheth serve`` answers for a fixed set of requests, one line each, so that two
versions of the code can be held equal (a speed-up must not change a result):

    PYTHONPATH=/tmp/main python -m bench.serve_outputs --index IDX --out /tmp/main.jsonl   # main, from git archive
    PYTHONPATH=$PWD python -m bench.serve_outputs --index IDX --out /tmp/branch.jsonl
    cmp /tmp/main.jsonl /tmp/branch.jsonl

The requests go through the app (FastAPI's routing, the handlers, the JSON and HTML
responses) in this process, one at a time: search in every mode and level, pages past the
first, sorted, with facets, without folding, filtered, phrases, OR and excluded words, ask, and the
search page. Questions are XQuAD-ar's; short queries are two or three of their words, which
take the short-query (name) path.
"""
from __future__ import annotations

import json
from pathlib import Path

import click
from starlette.testclient import TestClient

from bench.data import SHARED
from bench.speed import questions
from server.app import create_app


def queries(texts: list[str]) -> list[str]:
    """Each question, and short queries made of its words: two words, a phrase, an OR, an
    excluded word."""
    out = []
    for text in texts:
        words = [w.strip("؟?.,،") for w in text.split() if len(w.strip("؟?.,،")) > 3]
        out.append(text)
        if len(words) >= 3:
            out += [" ".join(words[:2]), f"«{words[0]} {words[1]}»", f"{words[0]} OR {words[2]}",
                    f"{words[1]} -{words[2]}"]
    return out


def requests_for(q: str) -> list[tuple[str, dict]]:
    searches = [{"mode": m, "level": lv} for m in ("hybrid", "keyword", "dense") for lv in ("articles", "passages")]
    searches += [{"offset": 10}, {"sort": "newest", "facets": "true"}, {"collapse": "false", "level": "passages"},
                 {"mode": "keyword", "offset": 20, "k": 5}]
    # Keyword mode by relevance pages without ordering every match (search/keyword_page.py):
    # unfolded, deep at the passage level, filtered; sorted by date it ranks them all.
    searches += [{"mode": "keyword", "collapse": "false", "offset": 3},
                 {"mode": "keyword", "level": "passages", "offset": 30, "k": 7},
                 {"mode": "keyword", "source": "skynews", "since": "2015"},
                 {"mode": "keyword", "level": "passages", "sort": "newest"}]
    return [*(("/api/search", {"q": q, **s}) for s in searches), ("/api/ask", {"q": q, "k": 3}), ("/", {"q": q})]


@click.command()
@click.option("--index", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True)
@click.option("-n", "count", type=click.IntRange(1), default=30, show_default=True, help="Questions used.")
@click.option("--queries", "source", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=SHARED / "eval" / "xquad_ar" / "queries.jsonl", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def main(index, count, source, out):
    """Write each response's request, status and body, one JSON line each."""
    app = create_app(index, engines=1)
    lines = 0
    try:
        with TestClient(app) as client, open(out, "w", encoding="utf-8") as f:
            for q in queries(questions(source, count)):
                for path, params in requests_for(q):
                    response = client.get(path, params=params)
                    f.write(json.dumps({"path": path, "params": params, "status": response.status_code,
                                        "body": response.text}, ensure_ascii=False) + "\n")
                    lines += 1
    finally:
        app.state.pool.close()
    click.echo(f"{lines} responses -> {out}")


if __name__ == "__main__":
    main()
