"""The measurements behind ``bench.speed search``, ``engine``, ``paging`` and ``groups``."""
from __future__ import annotations

import statistics
import time
from pathlib import Path


from bench.peers import Bm25sPeer, numpy_exact
from indexer.keyword.index import KeywordIndex, build_query
from indexer.store.manifest import Manifest
from indexer.store.layout import IndexLayout
from indexer.store.sqlite import Store
from search.query import parse_query

K = 10


def latency(fn, items, warmup: int = 3) -> dict:
    """Median and 95th percentile milliseconds of ``fn(item)`` over ``items``, after a warm-up."""
    for item in items[:warmup]:
        fn(item)
    ms = []
    for item in items:
        t = time.perf_counter()
        fn(item)
        ms.append(1000 * (time.perf_counter() - t))
    ms.sort()
    return {"p50_ms": round(statistics.median(ms), 2), "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 2),
            "n": len(ms)}


def index_encoder(path: Path):
    """The encoder the index at ``path`` was built with (its manifest's), loaded once."""
    from indexer.vectors.loading import load_encoder
    spec = Manifest.load(IndexLayout(path)).encoder
    return load_encoder(spec.name, spec=spec)


def engine_latencies(path: Path, texts: list[str]) -> list[dict]:
    from search.engine import Engine
    rows = []
    encoder = index_encoder(path)
    with Engine(path, encoder=encoder) as engine:
        rows.append({"what": f"query encoding ({encoder.spec.name})",
                     **latency(lambda t: encoder.encode_queries([t]), texts)})
        for mode in ("keyword", "dense", "hybrid"):
            for level in ("articles", "passages"):
                stats = latency(lambda t: engine.search(t, mode=mode, level=level, k=K), texts)
                rows.append({"what": f"engine {mode} {level} k={K}", **stats})
    return rows


def paging_latencies(path: Path, words: list[str], offsets: list[int], repeat: int = 5) -> list[dict]:
    """Common words, each a long ranking to page through: ``engine.search`` per mode and level at
    each offset (a page of ``K``), and the exact match count it reports."""
    from search.engine import Engine
    rows = []
    with Engine(path, encoder=index_encoder(path)) as engine:
        for mode in ("keyword", "dense", "hybrid"):
            for level in ("articles", "passages"):
                for offset in offsets:
                    stats = latency(lambda w: engine.search(w, mode=mode, level=level, k=K, offset=offset),
                                    words * repeat)
                    total = {w: engine.search(w, mode=mode, level=level, k=K, offset=offset).total for w in words}
                    rows.append({"what": f"engine {mode} {level} k={K} offset={offset}", **stats,
                                 "totals": " ".join(str(total[w]) for w in words)})
    return rows


def retriever_latencies(path: Path, texts: list[str]) -> list[dict]:
    """Each side alone, on the same passages: compiled BM25F vs Whoosh vs bm25s; faiss vs numpy."""
    layout = IndexLayout(path)
    settings = Manifest.load(layout).keyword
    keyword = KeywordIndex(layout, settings).open()
    parsed = [parse_query(t) for t in texts]
    plain = [p for p in parsed if not p.keyword.phrases and p.keyword.terms]
    store = Store(layout.store, readonly=True)
    rows_db = store.conn.execute("SELECT text FROM passages ORDER BY pid").fetchall()
    store.close()
    t = time.perf_counter()
    peer = Bm25sPeer([r[0] for r in rows_db])
    peer_build = time.perf_counter() - t
    searcher = keyword.searcher()
    peer_stats = latency(lambda p: peer.search(p.text, K), plain)
    rows = [{"what": f"peer bm25s keyword ({len(rows_db)} passages, built in {peer_build:.1f}s)", **peer_stats}]
    for name, fn in (
            ("keyword retriever, compiled BM25F", lambda p: keyword.search(p.keyword, K)),
            ("keyword retriever, Whoosh search()", lambda p: list(searcher.search(build_query(p.keyword, settings), limit=K))),
            ("keyword retriever, Whoosh + len(results)",
             lambda p: len(searcher.search(build_query(p.keyword, settings), limit=K)))):
        stats = latency(fn, plain)
        rows.append({"what": name, **stats, "ratio_to_peer": round(stats["p50_ms"] / peer_stats["p50_ms"], 1)})
    from indexer.vectors.index import VectorIndex
    store = Store(layout.store, readonly=True)
    vectors = VectorIndex.for_manifest(layout, Manifest.load(layout), store.embeddings)
    queries = index_encoder(path).encode_queries(texts)
    matrix = vectors._vectors()
    exact = latency(lambda q: numpy_exact(matrix, q, K), list(queries))
    rows.append({"what": f"peer numpy exact ({len(matrix)} vectors)", **exact})
    faiss_stats = latency(lambda q: vectors.search(q, K), list(queries))
    rows.append({"what": f"dense retriever, faiss {vectors.kind}", **faiss_stats,
                 "ratio_to_peer": round(faiss_stats["p50_ms"] / exact["p50_ms"], 2)})
    keyword.close()
    store.close()
    return rows


def keyword_steps(path: Path, texts: list[str], optimize: bool) -> list[dict]:
    """Whoosh as the engine used it, then each step toward the compiled path, on one index."""
    layout = IndexLayout(path)
    settings = Manifest.load(layout).keyword
    keyword = KeywordIndex(layout, settings).open()
    plain = [p for p in (parse_query(t) for t in texts) if p.keyword.terms and not p.keyword.phrases]
    rows = []

    def measure(label: str) -> None:
        searcher = keyword.searcher()
        segments = len(list(searcher.reader().leaf_readers()))
        for name, fn in (
                ("Whoosh search() + len(results)", lambda p: len(searcher.search(build_query(p.keyword, settings), limit=100))),
                ("Whoosh search(), top 100 only",
                 lambda p: list(searcher.search(build_query(p.keyword, settings), limit=100))),
                ("compiled BM25F, top 100", lambda p: keyword.search(p.keyword, 100))):
            rows.append({"what": f"{label} ({segments} segments): {name}", **latency(fn, plain)})

    t = time.perf_counter()
    keyword.compiled.sync(keyword.open()._ix)
    rows.append({"what": f"copy segments to arrays: {time.perf_counter() - t:.1f}s"})
    measure("as built")
    if optimize:
        keyword.close()
        t = time.perf_counter()
        keyword.optimize()
        rows.append({"what": f"merge to one segment + copy: {time.perf_counter() - t:.1f}s"})
        measure("merged")
    keyword.close()
    return rows


def group_latencies(path: Path, texts: list[str], size: int) -> tuple[list[dict], dict]:
    """Keyword search over the index's bulk segments, then with each run of ``size`` of them
    grouped by the writer (``indexer/keyword/groups.py``), in one process and one engine (which
    sees the groups at its next search, as a server would): the engine's keyword search (every
    match ranked) and the compiled retriever's top 10. The groups are removed afterwards, so the
    index is left as found. Returns the rows and the merge's seconds and memory."""
    import resource
    import shutil
    from indexer.keyword.groups import merge_runs
    from indexer.keyword.postings import GROUP_PREFIX
    from indexer.pipeline import Indexer
    from search.engine import Engine
    rows = []
    with Engine(path) as engine:
        keyword = engine.keyword_index
        parsed = [parse_query(t) for t in texts]

        def measure(label: str) -> None:
            units = len(keyword.compiled.view(keyword.searcher()).units)
            for level in ("articles", "passages"):
                stats = latency(lambda t: engine.search(t, mode="keyword", level=level, k=K), texts)
                rows.append({"what": f"engine keyword {level}, {label} ({units} units)", **stats})
            stats = latency(lambda p: keyword.search(p.keyword, K), parsed)
            rows.append({"what": f"keyword retriever, compiled BM25F, {label} ({units} units)", **stats})

        measure("segments")
        with Indexer(path, vectors=False) as ix:
            before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            t = time.perf_counter()
            with ix.keyword._ix.reader() as reader:
                written = merge_runs(ix.keyword.compiled, reader, size)
            ix.keyword.set_generation(ix.keyword.generation)
            merge = {"groups": written, "seconds": round(time.perf_counter() - t, 1),
                     "peak_rss_mib_before": round(before_kib / 1024),
                     "peak_rss_mib_after": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
        measure(f"groups of {size}")
    with Indexer(path, vectors=False) as ix:
        for folder in ix.layout.keyword_postings_dir.glob(f"{GROUP_PREFIX}*"):
            shutil.rmtree(folder)
        ix.keyword.set_generation(ix.keyword.generation)
    for before, after in zip(rows[:3], rows[3:]):
        after["ratio_to_segments"] = round(after["p50_ms"] / before["p50_ms"], 2)
    return rows, merge
