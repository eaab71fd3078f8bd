"""The expensive half of fitting ``ask``: every candidate sentence's features, into a committed file.

    python -m bench.answer_features --cache /tmp/answers/cache --keep /tmp/answers/ix   # in ix/e5-openvino

The features come from the encoder ``baheth ask`` uses by default (``DEFAULT_ENCODER``,
e5-openvino), each question encoded alone as ``ask`` encodes it (e5-openvino runs in bfloat16
where the CPU has it, and padding a question beside longer ones moves its vector), so the model is
fitted on the similarities it sees in use; ``--encoder`` extracts another's, and the file records
which (``encoder``: name, runtime and weights hash).
For each eval set (default XQuAD-ar and TyDi-ar from ../shared/eval) it builds two indexes with
``baheth index``, as ``bench.ask_cli`` builds them and asks them through ``baheth ask``
(``bench.ask_cli.user_index``: every paragraph indexed as one article; and the same without every
other Wikipedia article, whose questions then have no answer in the index), asks every question through
``AnswerFinder.lookup`` (``Engine.passage_candidates``, so whatever retrieval the engine has now),
fills in the dense similarity of *every* candidate sentence from the index's sentence vectors, and
writes ``bench/results/answer-features-SET.npz``:

- ``encoder``: the encoder's name, runtime and weights hash (``EncoderSpec``);
- per question: ``qid``, ``group`` (its Wikipedia article: the unit cross-validation folds by),
  ``answerable`` (asked of the full index, or of the one without its article), ``sizes`` (its
  number of candidate sentences, which follow in order);
- per question: ``term_counts`` and ``term_weights`` (its counted terms' weights in the index,
  ``search.answers.confidence.index_weights``, in sorted term order, all questions concatenated);
- per candidate sentence: ``features`` (``search.answers.features.FEATURES``), ``labels`` (it
  holds a gold answer), ``passage_rank``, ``keyword_rank`` (its passage's rank in the keyword run,
  -1 when not in it), ``term_masks`` (bit masks over the question's terms of those its sentence,
  its sentence with its neighbours, its passage and its article hold, as the confidence counts them:
  in any form of their root, the article's with its passage's) and ``candidate_group``
  (its passage's Wikipedia article);
- per question: ``pair_counts`` and ``pair_weights`` (its phrases' weights,
  ``search.answers.confidence.phrase_weights``, all questions concatenated); per candidate,
  ``pair_masks`` (a bit mask over them of those its passage holds, ``phrases_held``).

With the dense similarity of every candidate and what the index says of every candidate's terms
known, ``bench.answer_fit`` replays ``ask``'s ranking and confidence for any weights without an
index, and the term evidence (``search.answers.confidence.evidence_from``) can change without
extracting again.
Kept indexes (``--keep``) are reused when they hold all their articles; one missing or left partial
by a killed build is built or finished (``bench.harness.complete_index``).  ``python -m
bench.ask_cli --work KEEP/ENCODER`` asks the very indexes the features were read from.
"""
from __future__ import annotations

import time
from pathlib import Path

import click
import numpy as np

from bench.answers import holds_answer, no_answer_task
from bench.ask_cli import user_index
from bench.data import SHARED, eval_questions
from bench.harness import Task, eval_task
from indexer.vectors.encoders import DEFAULT_ENCODER
from indexer.vectors.loading import load_encoder
from search.answers.confidence import index_weights, phrase_weights, surroundings
from search.answers.features import FEATURES, phrases_held, question_pairs
from search.answers.finder import AnswerFinder
from search.engine import Engine

RESULTS = Path(__file__).resolve().parent / "results"
SETS = ("xquad_ar", "tydiqa_goldp_ar_dev")


def features_path(name: str, folder: Path = RESULTS) -> Path:
    return folder / f"answer-features-{name}.npz"


def question_rows(finder: AnswerFinder, question: str, golds: tuple[str, ...]) -> dict[str, np.ndarray]:
    """One question's candidates: features (dense filled in for all), labels, passage ranks, keyword
    ranks, and what the index says of the question's terms (``term_rows``)."""
    lookup = finder.lookup(question)
    found = lookup.candidates
    finder.embed(lookup, [c for c in found if np.isnan(c.features[0])])
    index_idf, terms = finder.term_idf(), lookup.parsed.terms
    first_of = {c.passage.article_id: c for c in reversed(found)}
    articles = {a: finder.article_terms(c, terms) for a, c in first_of.items()}
    weight = index_weights(terms, index_idf)
    return {"features": np.array([c.features for c in found]).reshape(-1, len(FEATURES)),
            "labels": np.array([holds_answer(c.text, golds) for c in found], bool),
            "passage_rank": np.array([c.passage_rank for c in found], np.int8),
            "keyword_rank": np.array([lookup.keyword_rank(c) for c in found], np.int16),
            **term_rows(found, weight, articles),
            **phrase_rows(found, phrase_weights(question_pairs(lookup.analysis.keyword_text, terms), weight))}


def term_rows(found, weight: dict[str, float], articles: dict) -> dict[str, np.ndarray]:
    """The question's counted terms' weights (``index_weights``, in sorted order) and, per candidate,
    bit masks over them of the terms its sentence, its sentence with neighbours, its passage and its
    article hold: from these ``search.answers.confidence.evidence_from`` gives any term evidence
    without asking the index again."""
    order = {t: i for i, t in enumerate(sorted(weight))}
    rows = []
    for c in found:
        context, passage = surroundings(c, found)
        rows.append([bit_mask(order, c.held), bit_mask(order, context), bit_mask(order, passage),
                     bit_mask(order, articles[c.passage.article_id] | passage)])
    return {"term_weights": np.array([weight[t] for t in order]),
            "term_masks": np.array(rows, np.int64).reshape(-1, 4),
            "article_ids": np.array([str(c.passage.article_id) for c in found])}


def phrase_rows(found, pair_weight: dict) -> dict[str, np.ndarray]:
    """The question's phrases' weights (``phrase_weights``, in the question's order) and, per
    candidate, a bit mask over them of those its passage holds (``phrases_held``)."""
    order = {p: i for i, p in enumerate(pair_weight)}
    held = {c.passage.pid: bit_mask(order, phrases_held(c.passage.text, tuple(order))) for c in found}
    return {"pair_weights": np.array(list(pair_weight.values()), np.float64),
            "pair_masks": np.array([held[c.passage.pid] for c in found], np.int64)}


def bit_mask(order: dict, held) -> int:
    """The bits (``order``: item -> bit) of the items in ``held``."""
    assert len(order) <= 63, "masks are 64-bit"
    return sum(1 << order[t] for t in held if t in order)


def task_rows(task: Task, path: Path, cache_dir: Path, encoder, golds, answerable: bool) -> list[dict]:
    """Every question of ``task`` asked of the index at ``path`` (``user_index`` built it)."""
    rows = []
    with Engine(path, encoder=encoder) as engine:
        finder = AnswerFinder(engine, cache_dir=cache_dir)
        try:
            for qid, question in task.questions.items():
                row = question_rows(finder, question, golds[qid])
                row["candidate_group"] = np.array([task.article_of.get(a, a) for a in row.pop("article_ids")])
                rows.append({"qid": qid, "group": task.article_of[task.relevant[qid]],
                             "answerable": answerable, **row})
        finally:
            finder.close()
    return rows


def arrays(rows: list[dict], encoder: str = "") -> dict[str, np.ndarray]:
    """Questions' rows as the feature file's arrays (candidates of all questions concatenated;
    ``term_weights`` of all questions concatenated, ``term_counts`` of each), and the encoder they
    were extracted with."""
    out = dict(
        encoder=np.array(encoder),
        qid=np.array([r["qid"] for r in rows]), group=np.array([r["group"] for r in rows]),
        answerable=np.array([r["answerable"] for r in rows], bool),
        sizes=np.array([len(r["labels"]) for r in rows], np.int32),
        features=np.concatenate([r["features"] for r in rows]).astype(np.float32),
        labels=np.concatenate([r["labels"] for r in rows]),
        passage_rank=np.concatenate([r["passage_rank"] for r in rows]),
        keyword_rank=np.concatenate([r["keyword_rank"] for r in rows]),
        term_counts=np.array([len(r["term_weights"]) for r in rows], np.int32),
        term_weights=np.concatenate([r["term_weights"] for r in rows]).astype(np.float64),
        term_masks=np.concatenate([r["term_masks"] for r in rows]),
        pair_counts=np.array([len(r["pair_weights"]) for r in rows], np.int32),
        pair_weights=np.concatenate([r["pair_weights"] for r in rows]).astype(np.float64),
        pair_masks=np.concatenate([r["pair_masks"] for r in rows]))
    if all("candidate_group" in r for r in rows):
        out["candidate_group"] = np.concatenate([r["candidate_group"] for r in rows])
    return out


@click.command()
@click.option("--shared", type=click.Path(exists=True, file_okay=False), default=None,
              help="The shared data folder (default ../shared).")
@click.option("--sets", default=",".join(SETS), show_default=True, help="Eval sets under SHARED/eval.")
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False), default="/tmp/answers/cache",
              show_default=True, help="Embedding cache (sentence vectors are kept between runs).")
@click.option("--keep", type=click.Path(file_okay=False), default="/tmp/answers/ix", show_default=True,
              help="Where the indexes are kept and reused (in a folder named after the encoder, as"
                   " bench.ask_cli's --work).")
@click.option("--out", type=click.Path(file_okay=False), default=str(RESULTS), show_default=True)
@click.option("--encoder", "encoder_name", default=DEFAULT_ENCODER, show_default=True,
              help="The encoder whose similarities the model is fitted on (the shipped model: the default's).")
def main(shared, sets, cache_dir, keep, out, encoder_name):
    """Write every candidate sentence's features for bench.answer_fit."""
    shared = Path(shared) if shared else SHARED
    encoder = load_encoder(encoder_name)
    spec = encoder.spec
    recorded = f"{spec.name} {spec.runtime} {spec.weights}"
    # One folder per encoder: an index built with another encoder does not open with this one.
    keep = Path(keep) / spec.name
    Path(out).mkdir(parents=True, exist_ok=True)
    for name in sets.split(","):
        started = time.perf_counter()
        eval_dir = shared / "eval" / name
        task = eval_task(eval_dir, 0, shared)
        golds = {q.qid: q.answers for q in eval_questions(eval_dir)}
        rows = []
        for asked, answerable in ((task, True), (no_answer_task(task), False)):
            index, _, _ = user_index(eval_dir, keep, not answerable, Path(cache_dir), encoder_name)
            rows += task_rows(asked, index, Path(cache_dir), encoder, golds, answerable)
        np.savez_compressed(features_path(name, Path(out)), **arrays(rows, recorded))
        click.echo(f"{name}: {len(rows)} questions, {sum(len(r['labels']) for r in rows)} candidates,"
                   f" {time.perf_counter() - started:.0f} s -> {features_path(name, Path(out))}")


if __name__ == "__main__":  # pragma: no cover
    main()
