"""Keyword-mode variants side by side: analyzer chains, the second text field and BM25's
parameters, on the eval sets.

    python -m bench.variants --out runs/variants.json

Each variant is a ``KeywordSettings`` (``indexer/keyword/settings.py``): the engine's indexer
builds a keyword-only index with it and records it in the manifest, and every question goes
through the engine's keyword retriever, which reads it back. The analyzer variants set the
stemmer of the text/title/heading fields and what the second text field (``text_root``) holds
and weighs: ISRI roots as in the engine, unstemmed words, or nothing (weight 0); then b and k1 are
swept on the default analyzer, one index each. Evidence for docs/analysis.md.

Stopwords are not a setting: the query parser always drops them (``search/query.py``), so the
"normalization only" and "no stopwords" rows of docs/analysis.md, measured when this harness
swapped analyzers by patching modules (commit ``82abf84``), are not re-run here.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import click

from bench.data import SHARED
from bench.harness import build_index, eval_task, format_table, mode_ranking, retrieve, runs_for, score, \
    write_json
from indexer.keyword.settings import KeywordSettings
from search.engine import Engine

NO_SECOND_FIELD = {"root_boost": 0.0}
ANALYZERS = {
    "+ stopwords": KeywordSettings(stem="none", **NO_SECOND_FIELD),
    "+ stopwords + light prefixes (analyzer v1)": KeywordSettings(stem="light", **NO_SECOND_FIELD),
    "+ stopwords + light prefixes + light10 suffixes (v2)": KeywordSettings(**NO_SECOND_FIELD),
    "v2 with suffix floor 3": KeywordSettings(stem="light+suffix3", **NO_SECOND_FIELD),
    "+ stopwords + Snowball": KeywordSettings(stem="snowball", **NO_SECOND_FIELD),
    "+ stopwords + ISRI alone": KeywordSettings(stem="isri", **NO_SECOND_FIELD),
    "v2 + unstemmed field x0.25": KeywordSettings(root_stem="none", root_boost=0.25),
    "v2 + unstemmed field x0.5": KeywordSettings(root_stem="none", root_boost=0.5),
    "v2 + ISRI root field x0.5": KeywordSettings(root_boost=0.5),
    "v2 + ISRI root field x1 (the default)": KeywordSettings(),
    "v2 + ISRI root field x1.5": KeywordSettings(root_boost=1.5),
    "v2 with suffix floor 3 + ISRI root field x1": KeywordSettings(stem="light+suffix3"),
}
BM25_GRID = [(b, k1) for b in (0.3, 0.5, 0.75, 0.9) for k1 in (0.9, 1.2, 1.6)]


def keyword_metrics(task, settings: KeywordSettings, cache_dir: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        build_index(task, Path(tmp) / "index", encoder=None, cache_dir=cache_dir, vectors=False, keyword=settings)
        with Engine(Path(tmp) / "index") as engine:
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
        for table, variants in (("analyzers", ANALYZERS.items()),
                                ("bm25", ((f"b={b} k1={k1}", KeywordSettings(bm25_b=b, bm25_k1=k1))
                                          for b, k1 in BM25_GRID))):
            rows = []
            for label, settings in variants:
                rows.append((label, keyword_metrics(task, settings, Path(cache_dir))))
                click.echo(f"{task.name} {label}: mrr@10={rows[-1][1]['mrr@10']:.3f}", err=True)
            results[table][task.name] = dict(rows)
            click.echo(f"\n{task.name}: {table} (keyword mode)\n" + format_table(rows))
    if out:
        write_json(results, Path(out))


if __name__ == "__main__":  # pragma: no cover
    main()
