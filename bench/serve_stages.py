"""Where one request's CPU goes in ``baheth serve``, part by part, without a profiler: the
server's handler (``bench.serve_profile``'s) called over distinct questions, with the functions
below wrapped to add up their CPU time (the process's, the encoder's thread included). A
profiler slows Python code several times more than numpy, faiss or the encoder, so its shares
overstate the Python parts; a wrapper costs about a microsecond a call.

    python -m bench.serve_stages --index /tmp/serve/index --endpoint hybrid -n 40

Parts nest (indented): a part's time includes the parts under it. Works on older code too (a
part it does not find is left out), so two versions can be compared part by part.
"""
from __future__ import annotations

import importlib
import statistics
import time
from collections import defaultdict
from pathlib import Path

import click

from bench.data import SHARED
from bench.serve_profile import DEFAULT_INDEX, HANDLERS, request_for
from bench.speed import load_avg, questions
from server.app import ENCODER_THREADS, create_app

PARTS = [  # (module, class or None, function, label); the label's indent is its nesting
    ("search.engine", "Engine", "search", "engine.search"),
    ("indexer.keyword.index", "KeywordIndex", "read_clitics", "  reading clitics"),
    ("search.engine", "Engine", "ranking", "  ranking"),
    ("indexer.keyword.index", "KeywordIndex", "matches", "    keyword matches"),
    ("indexer.keyword.postings", "PostingsView", "score", "      BM25F scores"),
    ("indexer.keyword.postings", "PostingsView", "run", "      ordering the matches"),
    # Since the keyword page (search/keyword_page.py): matches are ordered when a ranking of
    # every match reads them (``MatchRun.order``), which keyword mode by relevance does not ask
    # for; ``Engine.ranking`` is then that ranking, after the keyword matches, not around them.
    ("indexer.keyword.postings", None, "best_first", "      ordering every match"),
    ("search.engine", None, "keyword_page", "  keyword page"),
    ("search.keyword_page", "RunArticles", "of", "    matches by article"),
    ("search.keyword_page", None, "collapse_scored", "    folding near-duplicates"),
    ("search.keyword_page", None, "best_first", "    the page's best"),
    ("search.engine", "Engine", "_dense_run", "    dense side"),
    ("search.retrievers", "DenseRetriever", "encode", "      encoding the question"),
    ("indexer.vectors.index", "VectorIndex", "search", "      faiss"),
    ("indexer.vectors.coded", "CodedScan", "top", "        8-bit codes"),
    # The server's batcher encodes on its own thread, outside ``DenseRetriever.encode``.
    ("server.pool", "SharedEncoder", "encode_queries", "      encoding (batcher)"),
    ("indexer.vectors.openvino_encoder", "OpenVinoEncoder", "query_shapes", "        query shapes"),
    ("indexer.vectors.e5_tokenizer", "E5Tokenizer", "windows", "        tokenizing"),
    ("indexer.vectors.openvino_encoder", "OpenVinoEncoder", "_run", "        model calls"),
    # With static query shapes (the server's): a question's model call.
    ("indexer.vectors.openvino_encoder", "OpenVinoEncoder", "_run_alone", "        model calls (static shapes)"),
    ("search.retrievers", "DenseRetriever", "rescore", "      sentence vectors"),
    ("indexer.store.sqlite", "Store", "visible", "    passage versions (store)"),
    ("search.engine", "Engine", "rank", "    fusion"),
    ("search.engine", None, "_owners", "    articles of the matches"),
    ("search.engine", None, "by_article", "  grouping by article"),
    ("search.engine", None, "arrange", "  folding near-duplicates"),
    ("search.engine", "Engine", "passage_hits", "  the page's hits"),
    ("search.engine", None, "term_spans", "    highlights"),
    ("search.engine", None, "snippet", "    snippets"),
    ("search.engine", "Engine", "ask", "engine.ask"),
    ("search.results", "SearchResults", "to_dict", "to_dict"),
    ("search.results", "AnswerResults", "to_dict", "to_dict (answers)"),
]


def wrap(spent: dict[str, float], module: str, owner: str | None, name: str, label: str) -> bool:
    """Add each call's CPU seconds to ``spent[label]``; False when the code has no such function."""
    try:
        holder = importlib.import_module(module)
    except ModuleNotFoundError:
        return False
    holder = getattr(holder, owner, None) if owner else holder
    function = getattr(holder, name, None)
    if function is None:
        return False

    def timed(*args, **kwargs):
        started = time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            spent[label] += time.process_time() - started
    setattr(holder, name, timed)
    return True


@click.command()
@click.option("--index", type=click.Path(exists=True, file_okay=False, path_type=Path), default=DEFAULT_INDEX,
              show_default=True)
@click.option("--endpoint", type=click.Choice(list(HANDLERS)), default="hybrid", show_default=True)
@click.option("-n", "count", type=click.IntRange(1), default=40, show_default=True, help="Questions timed.")
@click.option("--queries", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=SHARED / "eval" / "xquad_ar" / "queries.jsonl", show_default=True)
@click.option("--warm-up", type=click.IntRange(1), default=3, show_default=True,
              help="Questions asked before timing (the last ones of --queries), not timed.")
def main(index, endpoint, count, queries, warm_up):
    """CPU ms per request of each part of one endpoint's handler."""
    spent: dict[str, float] = defaultdict(float)
    labels = [label for *where, label in PARTS if wrap(spent, *where, label)]
    texts = questions(queries, 10**6)
    app = create_app(index, engines=1, encoder_threads=ENCODER_THREADS)   # as `baheth serve` runs it
    path, handler = HANDLERS[endpoint]
    try:
        for q in texts[-warm_up:]:   # warm-up, as bench.serve_profile's
            handler(request_for(app, path, q), q)
        spent.clear()
        load_before, totals = load_avg(), []
        for q in texts[:count]:
            started = time.process_time()
            handler(request_for(app, path, q), q)
            totals.append(time.process_time() - started)
    finally:
        app.state.pool.close()
    click.echo(f"{endpoint} ({path}), CPU ms a request over {count} questions: mean {1000 * statistics.mean(totals):.1f}, "
               f"p50 {1000 * statistics.median(totals):.1f}; load average {load_before} before, {load_avg()} after")
    for label in labels:
        if label in spent:
            click.echo(f"{label:34s} {1000 * spent[label] / count:6.2f}")


if __name__ == "__main__":
    main()
