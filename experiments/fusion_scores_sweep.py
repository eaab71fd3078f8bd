"""Fusions that need more than each retriever's top 100: completed candidate scores, other
depths, the root field as a third run, RM3-style keyword expansion.

    python -m experiments.fusion_scores_sweep --eval ../shared/eval/tydiqa_goldp_ar_dev --distractors 10000 --out FILE

The index is built once with the engine's indexer; ``experiments.score_tables`` then holds every
passage's score from every scorer for every question, and each fusion below is a function of
those tables (docs/quality.md, "Beyond the top 100"). The first rows reproduce
``bench.fusion_sweep``'s (the same lists, cut at depth 100).
"""
from __future__ import annotations

from statistics import pstdev

import click

from bench.harness import (report_sweep, runs_for, score,
                           sweep_engine, sweep_options)
from experiments.score_tables import Scores, ScoreTables, collect
from search.fusion import convex_combination, z_score

DEPTHS = (20, 50, 100, 200)
MAX_DEPTH = max(DEPTHS)


class Question:
    """One question's tables, each run sorted once to the deepest depth swept."""

    def __init__(self, tables: ScoreTables, qid: str, position: dict[int, int]):
        self.keyword_scores, self.light_scores = tables.keyword[qid], tables.light[qid]
        self.root_scores, self.expansion = tables.root[qid], tables.expansion[qid]
        self.dense_scores, self.position = tables.dense[qid], position
        self.keyword = _top(self.keyword_scores.items(), MAX_DEPTH)
        self.light = _top(self.light_scores.items(), MAX_DEPTH)
        self.root = _top(self.root_scores.items(), MAX_DEPTH)
        self.by_cosine = _top(zip(tables.pids.tolist(), tables.cosines[qid].tolist()), MAX_DEPTH)

    def dense_at(self, depth: int) -> list[tuple[int, float]]:
        """The dense retriever's run: the top ``depth`` by passage cosine, re-scored with sentences."""
        return _top(self.cosine(p for p, _ in self.by_cosine[:depth]).items(), depth)

    def cosine(self, pids) -> Scores:
        """The dense retriever's score of each of ``pids`` (passage and best sentence)."""
        return {p: float(self.dense_scores[self.position[p]]) for p in pids}


def _top(items, depth: int) -> list[tuple[int, float]]:
    return sorted(items, key=lambda item: (-item[1], item[0]))[:depth]


def _ranked(scores: Scores) -> list[tuple[int, float]]:
    return sorted(scores.items(), key=lambda item: (-item[1], str(item[0])))


def default(depth: int, w: float):
    """The engine's fusion: z-score convex combination of each retriever's top ``depth``."""
    return lambda q: convex_combination([q.keyword[:depth], q.dense_at(depth)], [1 - w, w], z_score)


def completed(depth: int, w: float, own_statistics: bool = False):
    """Every passage of the two top-``depth`` lists scored exactly by both retrievers (0 for no
    keyword match), then z-scored over that union, or with the statistics of each retriever's own
    top ``depth`` (``own_statistics``: a completed score below the list's lowest goes negative)."""
    def fuse(q):
        top_k, top_d = q.keyword[:depth], q.dense_at(depth)
        union = {p for p, _ in top_k} | {p for p, _ in top_d}
        keyword = [(p, q.keyword_scores.get(p, 0.0)) for p in union]
        dense = list(q.cosine(union).items())
        if own_statistics:
            return _ranked({p: (1 - w) * k + w * d for (p, k), (_, d) in
                            zip(_scaled_by(top_k, keyword), _scaled_by(top_d, dense))})
        return convex_combination([keyword, dense], [1 - w, w], z_score)
    return fuse


def _scaled_by(reference, run) -> list[tuple[int, float]]:
    """``run`` in the units ``z_score`` gives ``reference``: its lowest is 0, its spread 1."""
    values = [s for _, s in reference]
    low, spread = (min(values), pstdev(values)) if values else (0.0, 0.0)
    return [(p, (s - low) / spread if spread > 0 else 1.0) for p, s in run]


def three_runs(w: float, root_share: float, complete: bool = False, depth: int = 100):
    """Light-stem keyword, root keyword and dense as three z-scored runs; the keyword weight
    1 - w is split between the first two, ``root_share`` to the roots."""
    weights = [(1 - w) * (1 - root_share), (1 - w) * root_share, w]

    def fuse(q):
        runs = [q.light[:depth], q.root[:depth], q.dense_at(depth)]
        if complete:
            union = {p for run in runs for p, _ in run}
            runs = [[(p, q.light_scores.get(p, 0.0)) for p in union], [(p, q.root_scores.get(p, 0.0)) for p in union],
                    list(q.cosine(union).items())]
        return convex_combination(runs, weights, z_score)
    return fuse


def expanded(lam: float, w: float | None, depth: int = 100):
    """Keyword scores plus ``lam`` times the RM3 expansion run; fused by default() unless w is None."""
    def fuse(q):
        scores = dict(q.keyword_scores)
        for p, s in q.expansion.items():
            scores[p] = scores.get(p, 0.0) + lam * s
        keyword = _top(scores.items(), depth)
        return keyword if w is None else convex_combination([keyword, q.dense_at(depth)], [1 - w, w], z_score)
    return fuse


def fusions() -> dict:
    out = {"keyword": lambda q: q.keyword[:100], "dense": lambda q: q.dense_at(100)}
    out.update({f"z-score w=0.6, top {d} (default: 100)": default(d, 0.6) for d in DEPTHS})
    for d in (50, 100, 200):
        for w in (0.55, 0.6, 0.65):
            out[f"completed, top {d}, w={w}"] = completed(d, w)
    out["completed, top 100, own top-100 statistics, w=0.6"] = completed(100, 0.6, own_statistics=True)
    for w in (0.6, 0.65):
        for share in (0.4, 0.5, 0.6):
            out[f"three runs, w={w}, root share {share}"] = three_runs(w, share)
            out[f"three runs completed, w={w}, root share {share}"] = three_runs(w, share, complete=True)
    for lam in (0.1, 0.3, 0.5):
        out[f"RM3 lambda={lam}, keyword only"] = expanded(lam, None)
        out[f"RM3 lambda={lam}, z-score w=0.6"] = expanded(lam, 0.6)
    return out


@click.command()
@sweep_options
def main(eval_dir, shared, distractors, cache_dir, out, titles):
    with sweep_engine(eval_dir, distractors, shared, cache_dir, titles=titles) as (task, report, engine):
        tables = collect(engine, task.questions)
    position = {p: i for i, p in enumerate(tables.pids.tolist())}
    questions = {qid: Question(tables, qid, position) for qid in task.questions}
    rows = [(name, score(task, *runs_for(task, tables, lambda qid, f=fuse: f(questions[qid]))))
            for name, fuse in fusions().items()]
    report_sweep(task, report, rows, out)


if __name__ == "__main__":  # pragma: no cover
    main()
