"""Peak memory while indexing: does it grow with the size of the input?

Writes N news articles from ``../shared/corpus`` (a seeded sample; the first 5,000 of the
20,000 are the 5,000) to a JSON Lines file in a temporary folder, then indexes it in a fresh
child process, keyword-only by default, exactly as ``baheth index FILE --no-vectors`` does.
The child reports its own peak resident set size (``ru_maxrss``), so each figure belongs to
one run alone; a sampler thread records the peak during indexing itself.

    .venv/bin/python -m bench.memory --sizes 5000,20000 --out bench/results/memory.json
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from bench.data import SHARED, news_articles

ROOT = Path(__file__).resolve().parent.parent


class RssSampler(threading.Thread):
    """The highest resident set size seen while indexing, sampled every 50 ms: ``ru_maxrss``
    alone cannot tell indexing from start-up, which loads the encoder to learn its dimensions."""

    def __init__(self):
        super().__init__(daemon=True)
        self.process, self.peak, self.running = psutil.Process(), 0, True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.05)

    def stop(self) -> int:
        self.running = False
        self.join()
        return self.peak


def child(input_path: str, index: str, vectors: bool) -> None:
    from indexer.pipeline import Indexer
    with Indexer(index, vectors=vectors) as indexer:
        opened = psutil.Process().memory_info().rss
        sampler = RssSampler()
        sampler.start()
        started = time.perf_counter()
        report = indexer.add_paths([input_path])
        seconds = time.perf_counter() - started
        indexing_peak = sampler.stop()
    print(json.dumps({"opened": opened, "indexing_peak": indexing_peak,
                      "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                      "seconds": round(seconds, 1), "added": report.added, "failed": report.failed,
                      "passages": report.passages}))


def measure(n: int, articles: list, workdir: Path, vectors: bool) -> dict:
    source = workdir / f"articles-{n}.jsonl"
    with open(source, "w", encoding="utf-8") as out:
        for article in articles[:n]:
            out.write(json.dumps(article.to_dict(), ensure_ascii=False) + "\n")
    index = workdir / f"index-{n}"
    command = [sys.executable, "-m", "bench.memory", "--child", str(source), str(index)]
    if vectors:
        command.append("--vectors")
    done = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True)
    row = json.loads(done.stdout.splitlines()[-1])
    size = sum(p.stat().st_size for p in index.rglob("*") if p.is_file())
    return {"articles": n, "input_mib": round(source.stat().st_size / 2**20, 1),
            "index_mib": round(size / 2**20, 1), "passages": row["passages"], "seconds": row["seconds"],
            "rss_after_open_mib": _mib(row["opened"]), "peak_rss_indexing_mib": _mib(row["indexing_peak"]),
            "growth_mib": _mib(row["indexing_peak"] - row["opened"]), "max_rss_mib": _mib(row["maxrss"]),
            "failed": row["failed"]}


def _mib(n: int) -> float:
    return round(n / 2**20, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,20000")
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--vectors", action="store_true", help="Also encode (slow: about 6 passages/s).")
    parser.add_argument("--out", type=Path, default=None, help="Write the rows as JSON here.")
    parser.add_argument("--child", nargs=2, metavar=("INPUT", "INDEX"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, vectors=args.vectors)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    articles = news_articles(args.shared / "corpus", max(sizes))
    rows = []
    with tempfile.TemporaryDirectory(prefix="baheth-memory-") as tmp:
        for n in sizes:
            rows.append(measure(n, articles, Path(tmp), args.vectors))
            print(" | ".join(f"{k}={v}" for k, v in rows[-1].items()), flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"mode": "vectors" if args.vectors else "keyword-only", "rows": rows},
                                       ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
