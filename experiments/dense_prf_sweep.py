"""Pseudo-relevance feedback in the dense space, and dense query text variants, each fused as
the engine's default does (z-score convex combination of each retriever's top 100).

    python -m experiments.dense_prf_sweep --eval ../shared/eval/tydiqa_goldp_ar_dev --distractors 10000 --out FILE

Rocchio on embeddings (Li, Mourad, Zhuang, Koopman & Zuccon 2023, "Pseudo Relevance Feedback
with Deep Language Models and Dense Retrievers: Successes and Pitfalls", Pyserini's vector PRF;
the untrained counterpart of ANCE-PRF's learned feedback encoder): q' = normalize(q + alpha *
mean of the vectors of the top k passages), the k taken from the dense run, from the default
hybrid fusion (so keyword evidence steers the dense query) or from the keyword run; q' searches
again, exactly (every passage's cosine: the eval indexes are flat), and its top 100, re-scored with
the sentence vectors as the dense retriever does, replaces the dense run in the fusion. The passage vectors are the index's own (no new encoding); the text
variants' query encodings are the only new ones (one more variant averages two of them). The
index is built once with the engine's indexer; every row is the same index and the same
questions, and the default row is the engine's hybrid order (``experiments/tests/test_dense_prf_sweep.py``;
docs/quality.md, "Dense query side").
"""
from __future__ import annotations

import re
from types import SimpleNamespace

import click
import numpy as np

from bench.harness import (DEPTH, report_sweep, runs_for, score,
                           sweep_engine, sweep_options)
from search.engine import DEFAULT_DENSE_WEIGHT, Engine
from search.fusion import convex_combination, z_score
from search.query import parse_query
from search.answers.question import analyze_question

FEEDBACK_DEPTHS = (1, 2, 3, 5)
ALPHAS = (0.2, 0.4, 0.6, 0.8, 1.0)
WEIGHTS = (0.5, 0.55, 0.6, 0.65, 0.7)
SOURCES = ("dense", "hybrid", "keyword")
FINAL_QUESTION_MARK = re.compile(r"\s*[؟?]+\s*$")


def text_variants(question: str) -> dict[str, str]:
    """What the dense side could read, by name; the first is the engine's (the whole question)."""
    without_interrogative = analyze_question(question).keyword_text.strip()
    return {
        "whole question": question,
        "without the final ؟": FINAL_QUESTION_MARK.sub("", question),
        "without the interrogative (and ؟)": without_interrogative,
        "without the interrogative, with ؟": f"{without_interrogative} ؟",
    }


def top(pids: np.ndarray, scores: np.ndarray, depth: int = DEPTH) -> list[tuple[int, float]]:
    """The ``depth`` best (pid, score) pairs, ties by pid, as faiss's exact search orders them."""
    depth = min(depth, len(scores))
    head = np.argpartition(-scores, depth - 1)[:depth] if depth < len(scores) else np.arange(len(scores))
    head = head[np.lexsort((pids[head], -scores[head]))]
    return list(zip(pids[head].tolist(), scores[head].tolist()))


def fuse(keyword, dense, w: float):
    return convex_combination([keyword, dense], [1 - w, w], z_score)


class Sweep:
    """Every row's top ``DEPTH`` passage ids per question, filled question by question."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.pids = engine.vector_index.ids()
        self.matrix = engine.vector_index._vectors()
        self.position = {p: i for i, p in enumerate(self.pids.tolist())}
        self.rows: dict[str, dict[str, np.ndarray]] = {}

    def add(self, name: str, qid: str, ranked) -> None:
        # int32 arrays: a few hundred rows of 100 ids per question would not fit as Python lists.
        self.rows.setdefault(name, {})[qid] = np.array([pid for pid, _ in ranked[:DEPTH]], dtype=np.int32)

    def ask(self, qid: str, question: str) -> None:
        parsed = parse_query(question)
        keyword = self.engine.keyword.search(parsed, DEPTH) if parsed.terms else []
        vectors = {name: self.engine.dense.encode(parse_query(text).dense_text)
                   for name, text in text_variants(question).items()}
        query = vectors["whole question"]
        # The two readings the sets disagree on (docs/quality.md), averaged in the vector space.
        both = query + vectors["without the final ؟"]
        vectors["mean of the whole question and without ؟"] = both / np.linalg.norm(both)
        cosines = self.matrix @ query
        dense = self.engine.dense.rescore(top(self.pids, cosines), query)
        default = fuse(keyword, dense, DEFAULT_DENSE_WEIGHT)
        self.add("keyword", qid, keyword)
        for name, vector in vectors.items():
            run = dense if vector is query else self.engine.dense.rescore(top(self.pids, self.matrix @ vector), vector)
            self.add(f"dense, {name}", qid, run)
            for w in WEIGHTS:
                self.add(f"z-score w={w}, {name}", qid, fuse(keyword, run, w))
        feedback_from = {"dense": dense, "hybrid": default, "keyword": keyword}
        for source in SOURCES:
            for k in FEEDBACK_DEPTHS:
                chosen = [self.position[pid] for pid, _ in feedback_from[source][:k]]
                if not chosen:   # no keyword hit: the question's own vector stands
                    centroid, feedback_cosines = np.zeros_like(query), np.zeros_like(cosines)
                else:
                    centroid = self.matrix[chosen].mean(axis=0)
                    feedback_cosines = self.matrix @ centroid
                for alpha in ALPHAS:
                    norm = float(np.linalg.norm(query + alpha * centroid))
                    run = self.engine.dense.rescore(top(self.pids, (cosines + alpha * feedback_cosines) / norm),
                                                    (query + alpha * centroid) / norm)
                    label = f"PRF from {source} top {k}, alpha={alpha}"
                    self.add(f"dense, {label}", qid, run)
                    for w in WEIGHTS:
                        self.add(f"z-score w={w}, {label}", qid, fuse(keyword, run, w))


@click.command()
@sweep_options
def main(eval_dir, shared, distractors, cache_dir, out, titles):
    def texts(task):
        return [t for q in task.questions.values() for t in text_variants(q).values()]
    with sweep_engine(eval_dir, distractors, shared, cache_dir, texts, titles) as (task, report, engine):
        sweep = Sweep(engine)
        for qid, question in task.questions.items():
            sweep.ask(qid, question)
        owner = engine.store.article_of(sweep.pids.tolist())
    candidates = SimpleNamespace(owner=owner)
    rows = [(name, score(task, *runs_for(task, candidates, lambda qid, r=ranked: [(p, 0.0) for p in r[qid].tolist()])))
            for name, ranked in sweep.rows.items()]
    report_sweep(task, report, rows, out)


if __name__ == "__main__":  # pragma: no cover
    main()
