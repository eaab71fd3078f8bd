"""Paired comparison of two runs of ``bench.quality`` on the same eval set: the difference in
MRR@10 with a 95% paired bootstrap interval, and how many questions each run ranks better.

    python -m bench.quality --eval ../shared/eval/xquad_ar --modes dense --out /tmp/q/nano.json
    python -m bench.quality --eval ../shared/eval/xquad_ar --modes dense --encoder e5-openvino --out /tmp/q/ov.json
    python -m bench.compare_runs --eval ../shared/eval/xquad_ar /tmp/q/nano.json.dense.trec /tmp/q/ov.json.dense.trec

A difference whose interval holds 0 is one these questions cannot tell from none: the
resampling is over questions, the unit the figure averages.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import click
import numpy as np

from bench.data import eval_questions
from bench.harness import reciprocal_ranks

RESAMPLES = 10_000
SEED = 0


def read_trec_run(run_file: Path) -> dict[str, list[str]]:
    """Each question's ids, best first, from a TREC run file (``harness.write_trec_run``)."""
    ranked: dict[str, list[tuple[int, str]]] = defaultdict(list)
    with open(run_file, encoding="utf-8") as lines:
        for line in lines:
            qid, _, doc, rank, *_ = line.split()
            ranked[qid].append((int(rank), doc))
    return {qid: [doc for _, doc in sorted(rows)] for qid, rows in ranked.items()}


def paired_interval(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Mean of b - a and its 95% bootstrap interval, resampling questions."""
    diff = b - a
    rng = np.random.default_rng(SEED)
    means = diff[rng.integers(0, len(diff), size=(RESAMPLES, len(diff)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(diff.mean()), float(low), float(high)


@click.command()
@click.option("--eval", "eval_dir", type=click.Path(exists=True, file_okay=False), required=True)
@click.argument("run_a", type=click.Path(exists=True, dir_okay=False))
@click.argument("run_b", type=click.Path(exists=True, dir_okay=False))
def main(eval_dir, run_a, run_b):
    """MRR@10 of RUN_A and RUN_B and the paired difference B - A."""
    relevant = {q.qid: q.passage_id for q in eval_questions(Path(eval_dir))}
    a, b = (np.array(reciprocal_ranks(relevant, read_trec_run(Path(run)))) for run in (run_a, run_b))
    mean, low, high = paired_interval(a, b)
    click.echo(f"{len(relevant)} questions; MRR@10 A {a.mean():.4f}, B {b.mean():.4f}; "
               f"B - A {mean:+.4f}, 95% paired bootstrap [{low:+.4f}, {high:+.4f}]; "
               f"B better on {int((b > a).sum())}, worse on {int((b < a).sum())}, equal on {int((b == a).sum())}")


if __name__ == "__main__":
    main()
