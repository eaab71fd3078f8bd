"""What the ISRI root field (analyzer v3) costs: keyword-only build time, index size and keyword
latency, with and without the field, alternated in one run so machine load hits both alike.

    python -m experiments.root_field_cost --distractors 10000 --out experiments/results/root-field-cost.json

"Without" drops ``text_root`` from the schema, the documents and the query (analyzer v2's index);
everything else is the engine's own indexing and keyword search. Evidence for docs/analysis.md.
"""
from __future__ import annotations

import tempfile
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

import click

import indexer.keyword.index as keyword_index
import search.query as query_module
from bench.data import SHARED
from bench.harness import build_index, eval_task, retrieve, write_json
from search.engine import Engine

ROOT_FIELD = "text_root"


@contextmanager
def without_root_field():
    """Index and search as analyzer v2 did: no root field in the schema, documents or query."""
    saved = (keyword_index.make_schema, keyword_index._document, keyword_index.ROOT_FIELDS,
             query_module.analyze_roots)
    make_schema, document = saved[:2]

    def schema():
        out = make_schema()
        out.remove(ROOT_FIELD)
        return out

    keyword_index.make_schema = schema
    keyword_index._document = lambda passage, row: {k: v for k, v in document(passage, row).items()
                                                    if k != ROOT_FIELD}
    keyword_index.ROOT_FIELDS = ()
    query_module.analyze_roots = lambda text: []
    try:
        yield
    finally:
        (keyword_index.make_schema, keyword_index._document, keyword_index.ROOT_FIELDS,
         query_module.analyze_roots) = saved


def measure(task, cache_dir: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "index"
        started = time.perf_counter()
        report = build_index(task, path, encoder=None, cache_dir=cache_dir, vectors=False)
        seconds = time.perf_counter() - started
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        with Engine(path) as engine:
            retrieve(engine, task, ("keyword",))            # warm: postings mapped, stems cached
            ms = retrieve(engine, task, ("keyword",)).ms_per_query["keyword"]
    return {"build_s": round(seconds, 1), "stages_s": {k: round(v, 1) for k, v in report.seconds.items()},
            "index_mb": round(size / 1e6, 1), "keyword_ms_per_query": ms}


@click.command()
@click.option("--shared", type=click.Path(exists=True, file_okay=False), default=None)
@click.option("--set", "set_name", default="tydiqa_goldp_ar_dev", show_default=True)
@click.option("--distractors", type=click.IntRange(0, 10_000), default=10_000, show_default=True)
@click.option("--repeats", type=click.IntRange(1), default=2, show_default=True)
@click.option("--cache", "cache_dir", default="/tmp/baheth-bench-cache", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), default=None)
def main(shared, set_name, distractors, repeats, cache_dir, out):
    shared = Path(shared) if shared else SHARED
    task = eval_task(shared / "eval" / set_name, distractors, shared)
    runs: dict[str, list[dict]] = {"with root field (v3)": [], "without (v2)": []}
    measure(task, Path(cache_dir))   # untimed: fills the stemmers' caches both variants share
    variants = [("with root field (v3)", nullcontext), ("without (v2)", without_root_field)]
    for repeat in range(repeats):
        for label, context in variants[::-1] if repeat % 2 else variants:
            with context():
                runs[label].append(measure(task, Path(cache_dir)))
            click.echo(f"{label}: {runs[label][-1]}", err=True)
    click.echo(f"\n{task.name}: root field cost, keyword only\n"
               "| run | build s | its stages, s | index MB | keyword ms/query |\n|---|---|---|---|---|")
    for label, measured in runs.items():
        for m in measured:
            stages = ", ".join(f"{k} {v}" for k, v in m["stages_s"].items())
            click.echo(f"| {label} | {m['build_s']} | {stages} | {m['index_mb']} | {m['keyword_ms_per_query']} |")
    if out:
        write_json({"task": task.name, "runs": runs}, Path(out))


if __name__ == "__main__":  # pragma: no cover
    main()
