"""A finished index searched through another vector structure, the index itself left as it is:
a folder that links every file of the index but its vectors and manifest, with its vectors
rebuilt as ``--kind`` from the store's float vectors. For timing a structure on a large index
nobody may rewrite (a million passages take an hour to build again).

    python -m bench.restructured --index /tmp/million/kw1m-b --kind ivf-pq4fs --out /tmp/ivf-ivf/kw1m-b-pq4fs
    python -m bench.speed engine --index /tmp/ivf-ivf/kw1m-b-pq4fs -n 100

The folder is for reading: a writer there would change the linked store and keyword index.
"""
from __future__ import annotations

import json
import resource
import time
from dataclasses import replace
from pathlib import Path

import click

from indexer.store.layout import IndexLayout, write_json_atomic
from indexer.store.manifest import Manifest
from indexer.store.sqlite import Store
from indexer.vectors.index import KIND_FLAT, POLICIES, VectorIndex


def restructured(source: Path, kind: str, target: Path) -> dict:
    """``target`` made as the module docstring says; the seconds and peak RSS of the rebuild."""
    src, dst = IndexLayout(source), IndexLayout(target)
    target.mkdir(parents=True)
    for item in source.iterdir():
        if item.name not in {src.vectors.name, src.vectors_state.name, src.manifest.name}:
            (target / item.name).symlink_to(item)
    manifest = replace(Manifest.load(src), vector_index=kind)
    write_json_atomic(dst.manifest, manifest.to_dict())   # not Manifest.save: it writes the store's copy
    wall, cpu = time.perf_counter(), time.process_time()
    store = Store(src.store, readonly=True)
    try:
        vectors = VectorIndex.for_manifest(dst, manifest, floats=store.embeddings)
        for ids, floats in store.embeddings():
            vectors.add(ids, floats)
        vectors.save(VectorIndex.for_manifest(src, manifest).generation)
    finally:
        store.close()
    return {"seconds": round(time.perf_counter() - wall, 1), "cpu_s": round(time.process_time() - cpu, 1),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024), **vectors.structure()}


@click.command()
@click.option("--index", "source", type=click.Path(exists=True, file_okay=False), required=True)
@click.option("--kind", type=click.Choice([p for p in POLICIES if p not in ("auto", KIND_FLAT)]), required=True)
@click.option("--out", "target", type=click.Path(exists=False, file_okay=False), required=True)
def main(source, kind, target):
    """Link INDEX's files into OUT, with its vectors rebuilt as KIND (see the module docstring)."""
    from bench.speed import load_avg
    started = load_avg()
    figures = restructured(Path(source), kind, Path(target))
    click.echo(json.dumps({"index": source, "out": target, **figures, "load_start": started, "load_end": load_avg()}))


if __name__ == "__main__":
    main()
