"""A reader's flat vector search with and without the 8-bit coded scan (``indexer.vectors.coded``):
CPU ms a question of each, alternated in rounds, how many questions the codes decided, and
whether every result equals flat search's (ids, scores, order).

    python -m bench.coded_scan --index /tmp/serve/index -n 200
    python -m bench.coded_scan --index /tmp/serve/index -n 300 --rounds 1 --shortlist 800   # fewer candidates

Questions are XQuAD-ar's and TyDi-ar's, encoded by e5-openvino on one thread (as the server's);
the index is opened read-only, as ``baheth serve`` opens it (mapped).
"""
from __future__ import annotations

import resource
import time
from dataclasses import replace
from pathlib import Path

import click
import faiss
import numpy as np

from bench.data import SHARED
from bench.speed import load_avg, questions
from indexer.store.layout import IndexLayout
from indexer.store.manifest import Manifest
from indexer.vectors import coded as coded_module
from indexer.vectors.coded import stored_rows
from indexer.vectors.encoders import OPENVINO
from indexer.vectors.index import SCAN_FLOAT, SCAN_INT8, SharedReads, VectorIndex
from indexer.vectors.loading import load_encoder
from search.fusion import CANDIDATES

EVAL = SHARED / "eval"


def reader(layout: IndexLayout, manifest: Manifest, scan: str) -> VectorIndex:
    settings = replace(manifest.vector_settings, exact_scan=scan)
    return VectorIndex(layout, manifest.encoder.dim, policy=manifest.vector_index, settings=settings,
                       shared=SharedReads(), mapped=True)


def cpu_ms(index: VectorIndex, queries: np.ndarray, limit: int) -> float:
    started = time.process_time()
    for query in queries:
        index.search(query, limit)
    return 1000 * (time.process_time() - started) / len(queries)


@click.command()
@click.option("--index", "root", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True)
@click.option("-n", "count", type=click.IntRange(2), default=200, show_default=True,
              help="Questions, two thirds XQuAD-ar, one third TyDi-ar.")
@click.option("--rounds", type=click.IntRange(1), default=3, show_default=True)
@click.option("--limit", type=click.IntRange(1), default=CANDIDATES, show_default=True, help="Hits a search asks.")
@click.option("--shortlist", type=click.IntRange(1), default=coded_module.SHORTLIST, show_default=True,
              help="Candidates the codes pick (indexer.vectors.coded.SHORTLIST).")
def main(root, count, rounds, limit, shortlist):
    """CPU ms per question of flat search with and without the coded scan."""
    coded_module.SHORTLIST = shortlist
    texts = (questions(EVAL / "xquad_ar" / "queries.jsonl", count - count // 3)
             + questions(EVAL / "tydiqa_goldp_ar_dev" / "queries.jsonl", count // 3))
    layout = IndexLayout(root)
    manifest = Manifest.load(layout)
    coded, plain = reader(layout, manifest, SCAN_INT8), reader(layout, manifest, SCAN_FLOAT)
    stored_rows(faiss.downcast_index(coded.index.index)).sum()   # the mapped vectors resident first
    # Coded before the encoder loads, whose own peak would hide the coding's.
    peak, started = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.process_time()
    scan = coded._codes(coded.index)
    coding_s, peak_mib = time.process_time() - started, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak) / 1024
    queries = load_encoder(OPENVINO, threads=1).encode_queries(texts)
    same = sum(coded.search(q, limit) == plain.search(q, limit) for q in queries)
    decided = sum(scan.top(q, limit) is not None for q in queries)
    margin = np.median([scan.margin(q, rounded, steps) for q in queries for _, steps, rounded in [scan.code(q)]])
    click.echo(f"{len(plain)} vectors; coding them {coding_s:.2f} CPU s, peak memory +{peak_mib:.0f} MiB; {len(queries)} questions, top {limit}: "
               f"{same} results equal flat search's, {decided} decided by the codes over {shortlist} candidates "
               f"(median margin {margin:.4f}); "
               f"load average {load_avg()}")
    for round_ in range(rounds):
        flat_ms, coded_ms = cpu_ms(plain, queries, limit), cpu_ms(coded, queries, limit)
        click.echo(f"round {round_ + 1}: flat {flat_ms:.2f}, coded {coded_ms:.2f} CPU ms a question"
                   f" ({flat_ms / coded_ms:.2f}x); load average {load_avg()}")


if __name__ == "__main__":
    main()
