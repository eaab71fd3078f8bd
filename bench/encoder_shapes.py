"""What OpenVINO's dynamic shapes cost the query encoder, and two ways around them that were
measured and not shipped: CPU ms a question (e5-openvino, one thread, each question alone), how
many vectors equal the shipped encoder's bit for bit, and the process's resident memory added.

    python -m bench.encoder_shapes -n 150 --copies 8 --static

- "shipped": one compiled model; each question's token count is a new shape for it.
- "copies": ``--copies`` compiled copies of the same model, a question going to copy (tokens mod
  copies), so that a copy meets the same shape more often (a model keeps the last shape's set-up).
- "static": one model compiled per token count (``--static``; about 0.7 CPU s each).
"""
from __future__ import annotations

import time

import click
import numpy as np
import openvino as ov
import psutil

from bench.data import SHARED
from bench.speed import load_avg, questions
from indexer.vectors.openvino_convert import ensure_converted
from indexer.vectors.openvino_encoder import OpenVinoEncoder


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
def main(count, copies, static):
    """CPU ms a question of the query encoder with one model, copies of it, or static shapes."""
    encoder = OpenVinoEncoder(threads=1)
    rows = encoder._tokenizer.windows(["query: " + q for q in questions(SHARED / "eval" / "xquad_ar" / "queries.jsonl", count)])[1]
    process, converted = psutil.Process(), ensure_converted()
    shipped_ms, shipped = timed(lambda row: encoder._request, rows)
    click.echo(f"{len(rows)} questions, {len({len(r) for r in rows})} token counts; load average {load_avg()}")
    click.echo(f"shipped: {shipped_ms:.2f} CPU ms a question")
    variants = {"copies": lambda: [converted.compile(threads=1).create_infer_request() for _ in range(copies)]}
    if static:
        variants["static"] = lambda: {n: static_request(converted, n) for n in {len(r) for r in rows}}
    for name, build in variants.items():
        before = process.memory_info().rss
        requests = build()
        added = (process.memory_info().rss - before) / 2**20
        pick = (lambda row: requests[len(row) % copies]) if name == "copies" else (lambda row: requests[len(row)])
        ms, vectors = timed(pick, rows)
        same = sum(np.array_equal(a, b) for a, b in zip(shipped, vectors))
        worst = max(float(np.abs(a - b).max()) for a, b in zip(shipped, vectors))
        click.echo(f"{name}: {ms:.2f} CPU ms a question; {same} of {len(rows)} vectors equal the shipped ones"
                   f" (largest coordinate change {worst:.4f}); {added:.0f} MiB more resident")
    click.echo(f"load average {load_avg()}")


def static_request(converted, tokens: int):
    model = ov.Core().read_model(str(converted.folder / "model.xml"))
    model.reshape({"input_ids": [1, tokens], "attention_mask": [1, tokens]})
    config = {"PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1, "ENABLE_CPU_PINNING": False, "INFERENCE_NUM_THREADS": 1}
    return ov.Core().compile_model(model, "CPU", config).create_infer_request()


if __name__ == "__main__":
    main()
