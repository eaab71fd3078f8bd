"""What batching saves on the dense side of a request, in isolation, on the real encoder and index:
CPU ms per question of e5-openvino and of the exact faiss search over the index's vectors,
for batches of 1, 4, 8 and 16 questions, and whether batching changes any result.

    python -m bench.dense_batching --index /tmp/serve/index --n 64

Encoder (one inference thread, as ``baheth serve`` runs it), per batch size:
- "padded": the batch in one ``encode_queries`` call, rows padded to the longest (how the server
  batched before ``server.batching``);
- "exact groups": the server's way now (``server.pool._exact_groups``): only questions of the
  same token count share a call;
- "padded below 32": not shipped, a candidate: questions shorter than 32 tokens padded together.
Each batch size is given distinct XQuAD-ar questions (none repeated within a row). Then, over
the same questions, how many vectors padding changed (against each encoded alone), by how much,
and how many questions' top-100 passages (the dense depth of a hybrid search) or top-10 changed.

faiss: ``VectorIndex.search`` one question at a time against ``VectorIndex.search_many`` on
batches, the same questions, with a check that both return the same hits. CPU time is the whole
process's (all threads), which other work on the machine changes less than wall time; the load
average is printed beside it. numpy's matrix products run on ``--blas-threads`` (one, as in the
server, by default).
"""
from __future__ import annotations

import time
from pathlib import Path

import click
import numpy as np
from threadpoolctl import threadpool_limits

from bench.data import SHARED
from bench.speed import load_avg, questions, table
from indexer.store.layout import IndexLayout
from indexer.store.manifest import Manifest
from indexer.vectors.index import VectorIndex
from indexer.vectors.openvino_encoder import OpenVinoEncoder
from server.app import BLAS_THREADS
from server.pool import _exact_groups

BATCHES = (1, 4, 8, 16)
DEPTH = 100
# Padding to 32 tokens or more is what moved vectors (docs/performance.md): padding below it is
# measured as a candidate, not shipped.
BELOW = 32


def cpu_ms_per_item(work, batches: list) -> tuple[float, list]:
    started = time.process_time()
    out = [work(batch) for batch in batches]
    return 1000 * (time.process_time() - started) / sum(len(b) for b in batches), out


def split(items, size: int) -> list:
    return [items[i:i + size] for i in range(0, len(items), size)]


def encode_exact(encoder: OpenVinoEncoder, texts: list[str]) -> np.ndarray:
    return encode_grouped(encoder, texts, _exact_groups(encoder, texts))


def encode_below(encoder: OpenVinoEncoder, texts: list[str], width: int) -> np.ndarray:
    """Not shipped, measured to weigh it: one-row questions shorter than ``width`` tokens padded
    together, the rest in exact groups."""
    short = [i for i, shape in enumerate(encoder.query_shapes(texts)) if len(shape) == 1 and shape[0] < width]
    rest = [i for i in range(len(texts)) if i not in set(short)]
    groups = [short] if short else []
    groups += [[rest[j] for j in g] for g in _exact_groups(encoder, [texts[i] for i in rest])]
    return encode_grouped(encoder, texts, groups)


def encode_grouped(encoder: OpenVinoEncoder, texts: list[str], groups: list[list[int]]) -> np.ndarray:
    out = np.empty((len(texts), encoder.spec.dim), dtype=np.float32)
    for group in groups:
        out[group] = encoder.encode_queries([texts[i] for i in group])
    return out


def encoder_rows(encoder: OpenVinoEncoder, texts: list[str], count: int) -> list[dict]:
    rows, offset = [], 0
    for size in BATCHES:
        row = {"batch": size}
        for name, work in (("padded", encoder.encode_queries), ("exact groups", lambda b: encode_exact(encoder, b)),
                           (f"padded below {BELOW}", lambda b: encode_below(encoder, b, BELOW))):
            batch = texts[offset:offset + count]
            offset += count
            row[f"encoder {name} CPU ms/q"] = round(cpu_ms_per_item(work, split(batch, size))[0], 2)
        rows.append(row)
    return rows


def padding_effect(encoder: OpenVinoEncoder, vectors: VectorIndex, texts: list[str], size: int) -> dict:
    alone = np.concatenate([encoder.encode_queries([t]) for t in texts])
    padded = np.concatenate([encoder.encode_queries(b) for b in split(texts, size)])
    exact = np.concatenate([encode_exact(encoder, b) for b in split(texts, size)])
    below = np.concatenate([encode_below(encoder, b, BELOW) for b in split(texts, size)])
    changed = np.abs(padded - alone).max(axis=1)
    top = lambda v, k: [pid for pid, _ in vectors.search(v, k)]
    moved = [i for i in np.nonzero(changed)[0]]
    return {"questions": len(texts), "batch": size, "vectors changed by padding": len(moved),
            "largest change": float(changed.max()),
            "top-100 changed": sum(top(padded[i], DEPTH) != top(alone[i], DEPTH) for i in moved),
            "top-10 changed": sum(top(padded[i], 10) != top(alone[i], 10) for i in moved),
            "exact groups identical": bool((exact == alone).all()),
            f"changed padded below {BELOW}": int((below != alone).any(axis=1).sum())}


def faiss_rows(vectors: VectorIndex, queries: np.ndarray, count: int) -> list[dict]:
    rows = []
    for size in BATCHES:
        batch = queries[:count]
        alone_ms, alone = cpu_ms_per_item(lambda b: [vectors.search(q, DEPTH) for q in b], split(batch, size))
        many_ms, many = cpu_ms_per_item(lambda b: vectors.search_many(b, DEPTH), split(batch, size))
        rows.append({"batch": size, "faiss alone CPU ms/q": round(alone_ms, 2),
                     "search_many CPU ms/q": round(many_ms, 2), "same hits": alone == many})
    return rows


@click.command()
@click.option("--index", "index_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True)
@click.option("--n", "count", type=click.IntRange(16), default=64, show_default=True, help="Questions per row.")
@click.option("--queries", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=SHARED / "eval" / "xquad_ar" / "queries.jsonl", show_default=True)
@click.option("--padded", type=click.IntRange(8), default=256, show_default=True,
              help="Questions encoded alone and in padded batches of 8, to count what padding changes.")
@click.option("--blas-threads", type=click.IntRange(0), default=BLAS_THREADS, show_default=True,
              help="numpy's BLAS threads (the server's by default; 0: numpy's own default).")
def main(index_dir, count, queries, padded, blas_threads):
    """CPU ms per question of the encoder and of faiss, alone and in batches; what batching changes."""
    if blas_threads:
        threadpool_limits(blas_threads, user_api="blas")
    texts = questions(queries, 10**6)
    layout = IndexLayout(index_dir)
    vectors = VectorIndex.for_manifest(layout, Manifest.load(layout))
    vectors.load()
    encoder = OpenVinoEncoder(threads=1)
    encoder.encode_queries(texts[:8])   # warm-up
    load_before = load_avg()
    enc = encoder_rows(encoder, texts[16:], count)
    effect = padding_effect(encoder, vectors, texts[16:16 + padded], 8)
    found = faiss_rows(vectors, encode_exact(encoder, texts[:count]), count)
    click.echo(table(enc, list(enc[0])))
    click.echo("\n" + table([effect], list(effect)))
    click.echo("\n" + table(found, list(found[0])))
    click.echo(f"\n{len(vectors)} vectors ({vectors.kind}); {count} distinct questions per row; BLAS threads "
               f"{blas_threads or 'default'}; "
               f"load average {load_before} before, {load_avg()} after")


if __name__ == "__main__":
    main()
