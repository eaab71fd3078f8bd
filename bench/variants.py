"""Keyword-mode variants side by side: analyzer chains, second fields and BM25 parameters, on the eval sets.

    python -m bench.variants --out runs/variants.json

Each analyzer variant builds its own keyword-only index with the engine's indexer (the
analyzers are swapped in for both the schema and the query parser for the duration): the
main chain of the text/title/heading fields, and what the second text field (``text_root``)
holds and weighs: ISRI roots as in the engine, unstemmed words, or nothing. BM25 parameters
are swept on the default analyzer's index without rebuilding, since they only change the
searcher.  Evidence for docs/analysis.md.
"""
from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path

import click

import indexer.keyword.index as keyword_index
import search.query as query_module
from bench.data import SHARED
from bench.harness import build_index, eval_task, format_table, mode_ranking, retrieve, runs_for, score, \
    write_json
from indexer.text.analysis import DEFAULT_STEM, ROOT_STEM, analyze, arabic_analyzer
from search.engine import Engine

V2 = "light+suffix"
# name -> (stemmer, stopwords, (second field's stemmer, its boost) or None for no second field)
ANALYZERS = {
    "normalize only": ("none", False, None),
    "+ stopwords": ("none", True, None),
    "+ stopwords + light prefixes (analyzer v1)": ("light", True, None),
    "+ stopwords + light prefixes + light10 suffixes (v2)": (V2, True, None),
    "v2 with suffix floor 3": ("light+suffix3", True, None),
    "light prefixes + suffixes, no stopwords": (V2, False, None),
    "+ stopwords + Snowball": ("snowball", True, None),
    "+ stopwords + ISRI alone": ("isri", True, None),
    "v2 + unstemmed field x0.25": (V2, True, ("none", 0.25)),
    "v2 + unstemmed field x0.5": (V2, True, ("none", 0.5)),
    "v2 + ISRI root field x0.5": (V2, True, ("isri", 0.5)),
    "v2 + ISRI root field x1 (v3, default)": (V2, True, ("isri", 1.0)),
    "v2 + ISRI root field x1.5": (V2, True, ("isri", 1.5)),
    "v2 with suffix floor 3 + ISRI root field x1": ("light+suffix3", True, ("isri", 1.0)),
}
DEFAULT = (DEFAULT_STEM, True, (ROOT_STEM, keyword_index.ROOT_BOOST))
BM25_GRID = [(b, k1) for b in (0.3, 0.5, 0.75, 0.9) for k1 in (0.9, 1.2, 1.6)]


@contextmanager
def analyzer_variant(stem: str, stopwords: bool, second: tuple[str, float] | None):
    """Index and query with ``arabic_analyzer(stem, stopwords)`` inside the block, and with the
    second text field analyzed by ``second``'s stemmer at its boost (unsearched when None)."""
    second_stem, boost = second or (ROOT_STEM, 0.0)
    saved = (keyword_index.arabic_analyzer, keyword_index.ROOT_FIELDS, query_module.analyze,
             query_module.analyze_roots)
    keyword_index.arabic_analyzer = lambda variant=DEFAULT_STEM: arabic_analyzer(
        stem if variant == DEFAULT_STEM else second_stem, stopwords)
    keyword_index.ROOT_FIELDS = tuple((name, boost) for name, _ in keyword_index.ROOT_FIELDS)
    query_module.analyze = lambda text: analyze(text, stem, stopwords)
    query_module.analyze_roots = lambda text: analyze(text, second_stem, stopwords) if second else []
    try:
        yield
    finally:
        (keyword_index.arabic_analyzer, keyword_index.ROOT_FIELDS, query_module.analyze,
         query_module.analyze_roots) = saved


@contextmanager
def bm25_params(engine: Engine, b: float, k1: float):
    saved = keyword_index.BM25_B, keyword_index.BM25_K1
    keyword_index.BM25_B, keyword_index.BM25_K1 = b, k1
    engine.keyword_index.close()   # the next search opens a searcher with these parameters
    try:
        yield
    finally:
        keyword_index.BM25_B, keyword_index.BM25_K1 = saved
        engine.keyword_index.close()


def keyword_metrics(engine: Engine, task) -> dict:
    candidates = retrieve(engine, task, ("keyword",))
    return score(task, *runs_for(task, candidates, lambda q: mode_ranking(engine, candidates, "keyword", q)))


@click.command()
@click.option("--shared", type=click.Path(exists=True, file_okay=False), default=None)
@click.option("--sets", default="xquad_ar,tydiqa_goldp_ar_dev", show_default=True)
@click.option("--cache", "cache_dir", default="/tmp/baheth-bench-cache", show_default=True)
@click.option("--distractors", type=click.IntRange(0, 10_000), default=0, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), default=None)
def main(shared, sets, cache_dir, distractors, out):
    shared = Path(shared) if shared else SHARED
    results: dict = {"analyzers": {}, "bm25": {}}
    for name in sets.split(","):
        task = eval_task(shared / "eval" / name, distractors, shared)
        rows = []
        for label, (stem, stopwords, second) in ANALYZERS.items():
            with tempfile.TemporaryDirectory() as tmp, analyzer_variant(stem, stopwords, second):
                build_index(task, Path(tmp) / "index", encoder=None, cache_dir=Path(cache_dir), vectors=False)
                with Engine(Path(tmp) / "index") as engine:
                    metrics = keyword_metrics(engine, task)
                    if (stem, stopwords, second) == DEFAULT:
                        grid = []
                        for b, k1 in BM25_GRID:
                            with bm25_params(engine, b, k1):
                                grid.append((f"b={b} k1={k1}", keyword_metrics(engine, task)))
                        results["bm25"][task.name] = dict(grid)
            rows.append((label, metrics))
            click.echo(f"{task.name} {label}: mrr@10={metrics['mrr@10']:.3f}", err=True)
        results["analyzers"][task.name] = dict(rows)
        click.echo(f"\n{task.name}: analyzers (keyword mode)\n" + format_table(rows))
        click.echo(f"\n{task.name}: BM25 parameters, default analyzer\n"
                   + format_table(list(results["bm25"][task.name].items())))
    if out:
        write_json(results, Path(out))


if __name__ == "__main__":  # pragma: no cover
    main()
