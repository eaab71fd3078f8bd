"""Fusion methods side by side on the same keyword and dense candidate lists.

    python -m bench.fusion_sweep --eval ../shared/eval/xquad_ar --distractors 10000 --out runs/fusion-xq.json

The index is built once with the engine's indexer and each retriever is asked each question
once; every fusion is then a pure function of those two lists (search/fusion.py), so the
sweep costs no further search.  Evidence for docs/quality.md.
"""
from __future__ import annotations

import statistics

import click

from bench.harness import (DEPTH, report_sweep, retrieve, runs_for, score,
                           sweep_engine, sweep_options)
from search.fusion import Normalization, convex_combination, min_max, reciprocal_rank_fusion, z_score

WEIGHTS = (0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8)


def fusions() -> dict:
    """name -> fuse(keyword, dense)."""
    out = {"keyword": lambda kw, dn: kw, "dense": lambda kw, dn: dn,
           "rrf k=60": lambda kw, dn: reciprocal_rank_fusion([kw, dn], k=60)}
    for name, normalize in (("min-max", min_max), ("z-score", z_score)):
        for w in WEIGHTS:
            out[f"{name} w={w}"] = lambda kw, dn, w=w, n=normalize: _convex(kw, dn, w, n)
    for depth in (10, 50):
        out[f"z-score, spread of the top {depth}, w=0.6"] = \
            lambda kw, dn, d=depth: _convex(kw, dn, 0.6, lambda run: _z_score_of_top(run, d))
    for w in (0.5, 0.6):
        out[f"DBSF (mean ± 3 sd, missing at mean - 3 sd) w={w}"] = lambda kw, dn, w=w: _convex(kw, dn, w, _dbsf)
    out["min-max keyword + cosine as is, w=0.8"] = lambda kw, dn: _with_cosine(kw, dn, 0.8)
    for alpha in (0.5, 1.0):
        out[f"z-score w=0.6 + {alpha} x rrf"] = lambda kw, dn, a=alpha: _plus_rrf(kw, dn, 0.6, a)
    for low, high, threshold in ((0.5, 0.8, 0.3), (0.6, 0.8, 0.3)):
        out[f"adaptive min-max: w={low} if keyword gap>{threshold} else {high}"] = \
            lambda kw, dn, lo=low, hi=high, t=threshold: _by_keyword_gap(kw, dn, lo, hi, t)
    for low, high, threshold in ((0.5, 0.7, 0.5),):
        out[f"adaptive min-max: w={low} if top-10 overlap>={threshold} else {high}"] = \
            lambda kw, dn, lo=low, hi=high, t=threshold: _by_overlap(kw, dn, lo, hi, t)
    return out


def _z_score_of_top(run, depth: int) -> dict:
    """``z_score`` with the spread measured over the top ``depth`` hits only."""
    spread = statistics.pstdev([s for _, s in run[:depth]]) if run else 0.0
    return {doc: (s - run[-1][1]) / spread if spread > 0 else 1.0 for doc, s in run}


def _dbsf(run) -> dict:
    """Distribution-based score fusion's scaling: mean - 3 sd -> 0 (where a missing document
    lands), mean + 3 sd -> 1, not clipped (clipping at 1 ties the outlying top hits)."""
    if not run:
        return {}
    mean, spread = statistics.fmean(s for _, s in run), statistics.pstdev(s for _, s in run)
    return {doc: (s - mean + 3 * spread) / (6 * spread) if spread > 0 else 1.0 for doc, s in run}


def _with_cosine(kw, dn, w):
    """Dense cosines on their theoretical range [-1, 1] -> [0, 1] instead of per-query min-max."""
    return convex_combination([list(min_max(kw).items()), [(p, (s + 1) / 2) for p, s in dn]], [1 - w, w], dict)


def _plus_rrf(kw, dn, w, alpha):
    """Z-score convex plus ``alpha`` times RRF scaled so a double first place adds 2 x alpha."""
    rrf = dict(reciprocal_rank_fusion([kw, dn], k=60))
    fused = {doc: s + alpha * 61 * rrf[doc] for doc, s in _convex(kw, dn, w, z_score)}
    return sorted(fused.items(), key=lambda item: (-item[1], str(item[0])))


def _convex(kw, dn, w, normalize: Normalization = min_max):
    return convex_combination([kw, dn], [1 - w, w], normalize)


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
@sweep_options
def main(eval_dir, shared, distractors, cache_dir, out, titles):
    with sweep_engine(eval_dir, distractors, shared, cache_dir, titles=titles) as (task, report, engine):
        candidates = retrieve(engine, task)
    rows = []
    for name, fuse in fusions().items():
        # Each fusion as measured before the engine ranked every match: the two top-DEPTH lists.
        rank = lambda qid, fuse=fuse: fuse(candidates.keyword[qid][:DEPTH], candidates.dense[qid])
        rows.append((name, score(task, *runs_for(task, candidates, rank))))
    header = (f"{task.name}: {report.passages} passages, {report.encoded} encoded,"
              f" {report.seconds['total']:.0f}s to build; ms/query {candidates.ms_per_query}")
    report_sweep(task, report, rows, out, header, encoded=report.encoded,
                 build_seconds=round(report.seconds["total"], 1), ms_per_query=candidates.ms_per_query)


if __name__ == "__main__":  # pragma: no cover
    main()
