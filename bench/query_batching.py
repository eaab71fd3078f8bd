"""What the server's query encoder costs per query: e5-openvino's CPU milliseconds per question
with 1 or 2 inference threads, encoding 1, 2, 4 or 8 questions per call (``baheth serve``
encodes together the questions that wait for the encoder: server/pool.py).

    python -m bench.query_batching --n 128

Distinct XQuAD-ar questions, each encoded once per setting (a question is never repeated
within a setting); CPU time is the whole process's (the inference threads included), which
other work on the machine changes far less than wall time; the load average is printed beside it.
"""
from __future__ import annotations

import time
from pathlib import Path

import click

from bench.data import SHARED
from bench.speed import load_avg, questions, table
from indexer.vectors.openvino_encoder import OpenVinoEncoder


def per_query(encoder: OpenVinoEncoder, texts: list[str], per_call: int) -> dict:
    cpu, wall = time.process_time(), time.perf_counter()
    for start in range(0, len(texts), per_call):
        encoder.encode_queries(texts[start:start + per_call])
    return {"CPU ms/query": round(1000 * (time.process_time() - cpu) / len(texts), 2),
            "wall ms/query": round(1000 * (time.perf_counter() - wall) / len(texts), 2)}


@click.command()
@click.option("--n", "count", type=click.IntRange(8), default=128, show_default=True, help="Questions per setting.")
@click.option("--queries", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=SHARED / "eval" / "xquad_ar" / "queries.jsonl", show_default=True)
def main(count, queries):
    """CPU ms per question of e5-openvino by inference threads and questions per call."""
    texts = questions(queries, 10**6)
    rows, offset, load_before = [], 8, load_avg()
    for threads in (1, 2):
        encoder = OpenVinoEncoder(threads=threads, batch_size=8)
        encoder.encode_queries(texts[:8])   # warm-up
        for per_call in (1, 2, 4, 8):
            batch = texts[offset:offset + count]
            offset += count
            rows.append({"threads": threads, "questions per call": per_call, **per_query(encoder, batch, per_call)})
    click.echo(table(rows, ["threads", "questions per call", "CPU ms/query", "wall ms/query"]))
    click.echo(f"\n{count} distinct questions per row; load average {load_before} before, {load_avg()} after")


if __name__ == "__main__":
    main()
