"""Answer benchmark: does ``ask`` return a sentence holding the gold answer?

    python -m bench.answers --eval ../shared/eval/xquad_ar --out runs/answers-xquad.json
    python -m bench.answers --eval ../shared/eval/tydiqa_goldp_ar_dev --distractors 10000 --keep /tmp/ix-tydi-10k

Per eval set (optionally with news distractors in the same index) it reports how often ``ask``
answers ("answered"), how often it answers with a sentence holding a gold answer ("answered and
correct", of all questions), accuracy@1 and @3 of the ranking whether or not ``ask`` answers (a
sentence ranked first / in the top three contains a gold answer once both are normalized),
passage hit@1 and @5 (the gold paragraph among the fused passages), the median length in words of
the first sentence, and the mean latency of ``ask``.  The no-answer test asks the questions whose
Wikipedia article was left out of a second index (every other article, by a hash of its id, plus
the same distractors): the false-claim rate is how often ``ask`` still answers.  The ``baseline``
row is the issue's sentence picker on the same retrieval: the sentence of the top passage closest
to the question by e5 similarity.

The shipped model was fitted on both eval sets, so its figures here are in-sample; the
out-of-fold and leave-one-set-out figures are ``bench.answer_fit``'s.  ``--model FILE`` runs a
model that file holds instead (``bench.answer_fit --save-loso`` writes the leave-one-set-out ones),
which checks the fit's replay against the engine's own path.
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
from bench.harness import ENCODER_OPTION, TITLES_OPTION, Task, build_index, complete_index, eval_task, write_json
from indexer.text.arabic import normalize
from indexer.check import check_index
from indexer.text.sentences import count_words
from indexer.vectors.loading import load_encoder
from search.answers.finder import AnswerFinder, Lookup, distinct
from search.answers.model import AnswerModel, shipped
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


def ask_all(finder: AnswerFinder, task: Task, golds: dict[str, tuple[str, ...]]) -> dict[str, list]:
    rows: dict[str, list] = {k: [] for k in ("acc@1", "acc@3", "answered", "answered_correct", "hit@1", "hit@5",
                                             "baseline_acc@1", "words", "seconds")}
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
        rows["answered_correct"].append(result.answered and rows["acc@1"][-1])
        rows["words"].append(count_words(top[0]) if top else 0)
        articles = list(dict.fromkeys(c.passage.article_id for c in lookup.candidates))
        rows["hit@1"].append(task.relevant[qid] in articles[:1])
        rows["hit@5"].append(task.relevant[qid] in articles[:5])
        rows["baseline_acc@1"].append(holds_answer(_baseline_sentence(finder, lookup), gold))
    return rows


def _baseline_sentence(finder: AnswerFinder, lookup: Lookup) -> str:
    first = [c for c in lookup.candidates if c.passage_rank == 0]
    if not first:
        return ""
    finder.embed(lookup, [c for c in first if np.isnan(c.features[0])])
    return max(first, key=lambda c: c.features[0]).text


def summarize(rows: dict[str, list]) -> dict[str, float]:
    out = {k: round(float(np.mean(rows[k])), 3) for k in ("answered", "answered_correct", "acc@1", "acc@3",
                                                          "hit@1", "hit@5", "baseline_acc@1")}
    out["median_words"] = statistics.median(rows["words"]) if rows["words"] else 0
    out["ms_per_question"] = round(1000 * float(np.mean(rows["seconds"])), 1)
    out["questions"] = len(rows["seconds"])
    return out


def open_index(task: Task, path: Path, cache_dir: Path, encoder) -> None:
    """Build the task's index at ``path``, or bring a kept one up to the current analyzer and finish
    it if it lacks some of the task's articles (``complete_index``)."""
    if path.exists():
        check_index(path, repair=True)
    complete_index(path, (a.id for a in task.articles),
                   lambda: build_index(task, path, encoder=encoder, cache_dir=cache_dir))


def run_index(task: Task, golds, path: Path, cache_dir: Path, encoder, model: AnswerModel) -> dict:
    open_index(task, path, cache_dir, encoder)
    with Engine(path, encoder=encoder) as engine:
        finder = AnswerFinder(engine, cache_dir=cache_dir, model=model)
        try:
            return summarize(ask_all(finder, task, golds))
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
@click.option("--model", "model_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="An answer model file (default the shipped search/answers/model.json).")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Metrics JSON.")
@TITLES_OPTION
@ENCODER_OPTION
def main(eval_dir, shared, distractors, limit, cache_dir, keep, model_path, out, titles, encoder_name):
    """Measure question answering on an eval set, with or without news distractors."""
    shared = Path(shared) if shared else SHARED
    task = eval_task(Path(eval_dir), distractors, shared, titles)
    if limit:
        task = Task(task.name, task.articles, dict(list(task.questions.items())[:limit]), task.relevant,
                    task.article_of, task.vectors)
    golds = {q.qid: q.answers for q in eval_questions(Path(eval_dir))}
    encoder = load_encoder(encoder_name)
    model = AnswerModel.load(Path(model_path)) if model_path else shipped()
    with tempfile.TemporaryDirectory(prefix="baheth-answers-") as tmp:
        root = Path(keep) if keep else Path(tmp)
        full = run_index(task, golds, root / f"{task.name}-full", Path(cache_dir), encoder, model)
        held = run_index(no_answer_task(task), golds, root / f"{task.name}-half", Path(cache_dir), encoder, model)
    result = {"task": task.name, "encoder": encoder_name, "model": model_path or "shipped (in-sample on xquad_ar and tydiqa_goldp_ar_dev)",
              "full": full, "no_answer": {"questions": held["questions"], "false_claim_rate": held["answered"]}}
    click.echo(format_table(task.name, result))
    if out:
        write_json(result, Path(out))


def format_table(name: str, result: dict) -> str:
    f = result["full"]
    header = ("| run | answered | answered and correct | false claims | acc@1 | acc@3 | passage hit@1 |"
              " passage hit@5 | median words | ms/question |")
    lines = [header, "|" + "---|" * 10,
             f"| {name} ask | {f['answered']:.3f} | {f['answered_correct']:.3f} |"
             f" {result['no_answer']['false_claim_rate']:.3f} | {f['acc@1']:.3f} | {f['acc@3']:.3f} |"
             f" {f['hit@1']:.3f} | {f['hit@5']:.3f} | {f['median_words']} | {f['ms_per_question']} |",
             f"| {name} baseline picker | | | | {f['baseline_acc@1']:.3f} | | {f['hit@1']:.3f} | {f['hit@5']:.3f} | | |"]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    main()
