"""``ask`` measured through the command line, as a user (or the issue's hidden-set check) runs it.

    python -m bench.ask_cli --eval ../shared/eval/tydiqa_goldp_ar_dev --cache /tmp/answers/cache --work /tmp/answers/cli

Every paragraph of the eval set goes into a JSON Lines file as one article (its text only, as
``bench.quality`` indexes it); ``baheth index`` builds the index (``user_index``, which
``bench.answer_features`` builds the fit's indexes with too), ``baheth ask --batch --json -k 1``
answers every question, and the answers are scored: answered share, answered and correct (the
first answer holds a gold answer, of all questions).  ``--no-answer`` does the same over the index
without every other Wikipedia article (``bench.answers.held_out``), asking their questions: the
answered share there is the false-claim rate.  ``--model FILE`` passes ``baheth ask --answer-model``
(``bench.answer_fit --save-loso`` writes the leave-one-set-out models).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click

from bench.answers import held_out, holds_answer
from bench.data import eval_embeddings, eval_passages, eval_questions, warm_cache
from bench.harness import complete_index
from indexer.vectors.cache import EmbeddingCache


def baheth(*args: str) -> str:
    return subprocess.run([sys.executable, "-m", "cli", *args], check=True, capture_output=True,
                          text=True).stdout


def user_index(eval_dir: Path, work: Path, no_answer: bool, cache_dir: Path,
               model: str | None = None) -> tuple[Path, Path, dict]:
    """(index, questions file, gold answers by qid): the eval set's index (``--no-answer``: without
    every other Wikipedia article) as a user builds it, with ``baheth index`` (``model``: its
    ``--model``), under ``work/SET[-no-answer]``; a complete one there is reused.

    The one way the fit's indexes (``bench.answer_features``) and this harness's are built, so the
    fit replays what ``baheth ask`` does on them.  e5-openvino runs in bfloat16 where the CPU has
    it, and a passage's vector then depends on the passages padded beside it: an index built 256
    articles at a time, or from an embedding cache another index filled, holds other vectors than
    ``baheth index`` writes (64 at a time), and two of TyDi-ar's no-answer questions changed sides
    (docs/answers.md, "One index for the fit and the command line").  So each index also has an
    embedding cache of its own (``cache_dir/SET[-no-answer]``): its vectors never depend on what
    another build encoded."""
    folder = Path(work) / (eval_dir.name + ("-no-answer" if no_answer else ""))
    folder.mkdir(parents=True, exist_ok=True)
    articles, questions, golds = write_inputs(eval_dir, folder, no_answer)
    index, cache_dir = folder / "index", Path(cache_dir) / folder.name

    def build():
        cache = EmbeddingCache(cache_dir)
        warm_cache(cache, [p.body for p in eval_passages(eval_dir)], eval_embeddings(eval_dir))
        cache.close()
        baheth("index", str(articles), "--index", str(index), "--cache", str(cache_dir), "--json",
               *(["--model", model] if model else []))

    with articles.open(encoding="utf-8") as lines:
        complete_index(index, [json.loads(line)["id"] for line in lines], build)
    return index, questions, golds


def write_inputs(eval_dir: Path, work: Path, no_answer: bool) -> tuple[Path, Path, dict]:
    """(articles file, questions file, gold answers by qid) for the full or the no-answer run."""
    passages = eval_passages(eval_dir)
    kept = [p for p in passages if not (no_answer and held_out(p.metadata["wiki_article"]))]
    asked = [q for q in eval_questions(eval_dir) if not no_answer or held_out(q.article_id)]
    articles, questions = work / "articles.jsonl", work / "questions.jsonl"
    articles.write_text("".join(json.dumps({"id": p.id, "text": p.body}, ensure_ascii=False) + "\n"
                                for p in kept), encoding="utf-8")
    questions.write_text("".join(json.dumps({"qid": q.qid, "question": q.question}, ensure_ascii=False) + "\n"
                                 for q in asked), encoding="utf-8")
    return articles, questions, {q.qid: q.answers for q in asked}


@click.command()
@click.option("--eval", "eval_dir", type=click.Path(exists=True, file_okay=False), required=True)
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False), default="/tmp/answers/cache", show_default=True)
@click.option("--work", type=click.Path(file_okay=False), default="/tmp/answers/ix/e5-openvino", show_default=True,
              help="Where the input files and the index go (an index already there is reused): by default"
                   " where bench.answer_features builds the fit's indexes with the default encoder.")
@click.option("--no-answer", is_flag=True, help="Index without every other article and ask its questions.")
@click.option("--model", "model_path", type=click.Path(exists=True, dir_okay=False), default=None)
def main(eval_dir, cache_dir, work, no_answer, model_path):
    """Index an eval set with `baheth index`, ask it with `baheth ask --batch --json`, score the answers."""
    eval_dir = Path(eval_dir)
    index, questions, golds = user_index(eval_dir, Path(work), no_answer, Path(cache_dir))
    model = ["--answer-model", str(model_path)] if model_path else []
    lines = baheth("ask", "--batch", str(questions), "--json", "-k", "1", "--index", str(index), *model).splitlines()
    results = [json.loads(line) for line in lines]
    answered = [r for r in results if r.get("answered")]
    correct = [r for r in answered if holds_answer(r["answers"][0]["sentence"], golds[r["qid"]])]
    click.echo(f"{eval_dir.name}{' (no answer indexed)' if no_answer else ''}: {len(results)} questions,"
               f" answered {len(answered) / len(results):.3f}, answered and correct {len(correct) / len(results):.3f}")


if __name__ == "__main__":  # pragma: no cover
    main()
