"""Index one evaluation set from scratch and time its questions in every mode.

    python -m bench.build_and_query --eval ../shared/eval/xquad_ar [--out FILE]

The embedding cache is a fresh temporary folder, so every passage is really encoded:
the figures split indexing time into encoding and everything else, and give search
latency (median, 95th percentile) per mode at article level, k=10.
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from bench.data import eval_passages, eval_questions
from indexer.pipeline import Indexer
from search.engine import MODES, Engine


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eval", required=True, type=Path, help="an eval set folder (corpus.jsonl, queries.jsonl)")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args()
    articles = eval_passages(args.eval)
    questions = eval_questions(args.eval)
    with tempfile.TemporaryDirectory() as tmp:
        with Indexer(Path(tmp) / "index", cache_dir=Path(tmp) / "cache") as ix:
            report = ix.add(articles)
        seconds = dict(report.seconds)
        # The encoder runs in a worker thread overlapped with the rest; "other" is what the
        # main thread spent outside waiting for it.
        other = sum(v for k, v in seconds.items() if k not in ("encode", "total"))
        figures = {"passages": report.passages, "index_total_s": seconds["total"],
                   "encode_s": seconds["encode"], "other_s": other, "stages_s": seconds, "latency_ms": {}}
        with Engine(Path(tmp) / "index") as engine:
            engine.search("تجربة", mode="hybrid")   # load the encoder before timing
            for mode in MODES:
                times = []
                for q in questions:
                    t0 = time.perf_counter()
                    engine.search(q.question, mode=mode, k=10)
                    times.append((time.perf_counter() - t0) * 1000)
                figures["latency_ms"][mode] = {"median": statistics.median(times), "p95": percentile(times, 0.95)}
    print(f"indexed {figures['passages']} passages in {figures['index_total_s']:.1f} s:"
          f" encoding {figures['encode_s']:.1f} s, everything else {figures['other_s']:.2f} s")
    print(f"{'mode':<8} {'median ms':>10} {'p95 ms':>8}   ({len(questions)} questions, articles, k=10)")
    for mode, lat in figures["latency_ms"].items():
        print(f"{mode:<8} {lat['median']:>10.1f} {lat['p95']:>8.1f}")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
