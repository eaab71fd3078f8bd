"""What padding and static shapes do to e5-openvino's query vectors, in bfloat16 (the CPU's
default where it has it) and float32 inference precision, and what batching padded rows saves:
the measurements behind ``OpenVinoEncoder``'s ``static_queries`` (docs/performance.md, "Serving:
static query shapes").

    python -m experiments.padded_shapes -n 120 --step 8

For each precision: each question alone with its exact length (dynamic model), padded to a
multiple of ``--step`` tokens (dynamic model), alone through a model compiled for its padded
shape [1, L], and in batches of B questions of the same padded length through [B, L] models.
Each line: CPU ms a question, and how many of the vectors equal those of a reference bit for bit.
"""
from __future__ import annotations

import time

import click
import numpy as np
import openvino as ov

from bench.data import SHARED
from bench.speed import load_avg, questions
from indexer.vectors.openvino_convert import _config, ensure_converted


def padded(rows: list[list[int]], width: int, batch: int, pad: int) -> dict:
    ids = np.full((batch, width), pad, np.int64)
    mask = np.zeros((batch, width), np.int64)
    for j, row in enumerate(rows):
        ids[j, :len(row)] = row
        mask[j, :len(row)] = 1
    return {"input_ids": ids, "attention_mask": mask}


def timed(encode, rows):
    encode(rows)   # every shape met once before timing
    started = time.process_time()
    vectors = encode(rows)
    return 1000 * (time.process_time() - started) / len(rows), vectors


def equal(a, b) -> int:
    return sum(np.array_equal(x, y) for x, y in zip(a, b))


@click.command()
@click.option("-n", "count", type=click.IntRange(1), default=120, show_default=True, help="XQuAD-ar questions.")
@click.option("--step", type=click.IntRange(1), default=8, show_default=True, help="Rows padded to a multiple of this.")
@click.option("--batches", default="2,4", show_default=True, help="Batch sizes of the [B, L] models.")
def main(count, step, batches):
    converted = ensure_converted()
    tokenizer = converted.tokenizer()
    rows = tokenizer.windows(["query: " + q for q in questions(SHARED / "eval" / "xquad_ar" / "queries.jsonl", count)])[1]
    bucket = lambda row: -(-len(row) // step) * step
    click.echo(f"{len(rows)} questions, {len({bucket(r) for r in rows})} padded lengths; load average {load_avg()}")
    core = ov.Core()
    model = core.read_model(str(converted.folder / "model.xml"))

    def compiled(shape, precision):
        config = {**_config(1), **({"INFERENCE_PRECISION_HINT": precision} if precision else {})}
        if shape is None:
            return core.compile_model(model, "CPU", config).create_infer_request()
        copy = model.clone()
        copy.reshape({"input_ids": list(shape), "attention_mask": list(shape)})
        return core.compile_model(copy, "CPU", config).create_infer_request()

    def run(request, batch_rows, width, batch):
        out = request.infer(padded(batch_rows, width, batch, tokenizer.pad))["pooled"]
        return list(np.array(out, np.float64)[:len(batch_rows)])

    shipped = None
    for precision in (None, "f32"):
        name = precision or "default (bf16)"
        dynamic = compiled(None, precision)
        ms, exact = timed(lambda rs: [run(dynamic, [r], len(r), 1)[0] for r in rs], rows)
        shipped = exact if shipped is None else shipped
        click.echo(f"{name}, dynamic, exact length: {ms:.2f} CPU ms; {equal(exact, shipped)} equal the shipped")
        ms, vectors = timed(lambda rs: [run(dynamic, [r], bucket(r), 1)[0] for r in rs], rows)
        click.echo(f"{name}, dynamic, padded: {ms:.2f} CPU ms; {equal(vectors, exact)} equal exact length")
        alone_models = {w: compiled((1, w), precision) for w in {bucket(r) for r in rows}}
        ms, alone = timed(lambda rs: [run(alone_models[bucket(r)], [r], bucket(r), 1)[0] for r in rs], rows)
        click.echo(f"{name}, static [1, L]: {ms:.2f} CPU ms; {equal(alone, exact)} equal exact length, "
                   f"{equal(alone, vectors)} equal dynamic padded")
        for size in (int(b) for b in batches.split(",")):
            models = {w: compiled((size, w), precision) for w in alone_models}

            def batched(rs):
                out, groups = [None] * len(rs), {}
                for i, r in enumerate(rs):
                    groups.setdefault(bucket(r), []).append(i)
                for width, members in groups.items():
                    for start in range(0, len(members), size):
                        part = members[start:start + size]
                        for i, v in zip(part, run(models[width], [rs[i] for i in part], width, size)):
                            out[i] = v
                return out
            ms, together = timed(batched, rows)
            click.echo(f"{name}, static [{size}, L], batches of {size}: {ms:.2f} CPU ms; "
                       f"{equal(together, alone)} equal static [1, L]")
    click.echo(f"load average {load_avg()}")


if __name__ == "__main__":
    main()
