"""How many of a question's words must a passage hold to match it? MRR@10 (article level, keyword)
under each minimum-should-match rule, from one scoring of every question.

    python -m bench.min_should_match --eval ../shared/eval/xquad_ar

Each rule restricts the same BM25F ranking (light stems in text, title and heading; ISRI roots in
``text_root``) to the passages it lets match; "any word" is the engine's (``KeywordSettings.min_should_match``).
A word is held by its light stem, or by its stem or root where the rule says so (the root never
alone: a passage must hold one stem).
"""
from __future__ import annotations

import math
import tempfile
from pathlib import Path

import click
import numpy as np

from bench.data import eval_passages, eval_questions
from indexer.keyword.index import group_masks
from indexer.pipeline import Indexer
from search.engine import Engine
from search.query import parse_query


def rules(stem_held: np.ndarray, root_held: np.ndarray) -> dict[str, np.ndarray]:
    n = len(stem_held)
    by_stem, by_either = stem_held.sum(0), (stem_held | root_held).sum(0)
    present = int((stem_held | root_held).any(axis=1).sum())
    one_stem = by_stem > 0
    return {"stem or root (analyzer v3)": by_either > 0,
            "any word (v4)": one_stem,
            "a third of the words, stem or root": one_stem & (by_either >= math.ceil(n / 3)),
            "half the words found in the index, stem or root": one_stem & (by_either >= math.ceil(present / 2)),
            "half the words, stems only": by_stem >= math.ceil(n / 2)}


@click.command()
@click.option("--eval", "eval_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True)
def main(eval_dir):
    """MRR@10 of keyword search under each minimum-should-match rule."""
    questions = eval_questions(eval_dir)
    with tempfile.TemporaryDirectory() as tmp:
        with Indexer(Path(tmp) / "index", vectors=False) as ix:
            ix.add(eval_passages(eval_dir))
        with Engine(Path(tmp) / "index") as engine:
            index = engine.keyword_index
            settings = index.settings
            view = index.compiled.view(index.searcher())
            owner = dict(index.documents())
            article = np.array([owner[int(p)] for p in view.joined.pids])
            mrr: dict[str, float] = {}
            for q in questions:
                keyword = parse_query(q.question).keyword
                groups = [settings.stems(g) for g in keyword.groups]
                roots = [settings.roots(g) for g in keyword.groups]
                scores, held = view.score([*((f, b, groups) for f, b in settings.stem_fields),
                                           *((f, b, roots) for f, b in settings.root_fields)])
                fields = len(settings.stem_fields)
                stem_held = np.array(list(group_masks(view, held[:fields], len(groups)))).reshape(len(groups), view.total_docs)
                root_held = np.array(list(group_masks(view, held[fields:], len(groups)))).reshape(len(groups), view.total_docs)
                for name, matched in rules(stem_held, root_held).items():
                    docs = np.flatnonzero(matched & view.live)
                    ranked = list(dict.fromkeys(article[docs[np.lexsort((docs, -scores[docs]))]]))[:10]
                    mrr[name] = mrr.get(name, 0.0) + (1 / (ranked.index(q.passage_id) + 1)
                                                      if q.passage_id in ranked else 0.0)
    click.echo(f"{eval_dir.name}: {len(questions)} questions")
    click.echo("| rule | MRR@10 |\n| --- | --- |")
    for name, total in mrr.items():
        click.echo(f"| {name} | {total / len(questions):.4f} |")


if __name__ == "__main__":  # pragma: no cover
    main()
