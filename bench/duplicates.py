"""One story once, measured on the shared news corpora: what near-duplicate detection costs at
indexing, how often a top-10 repeats a story before and after collapsing, and a sample of
detected pairs to read.

    nice -n 5 python -m bench.duplicates --out bench/results/duplicates.json --pairs /tmp/workflow/pairs.txt

The articles: every article of saudinewsnet dated 2015-07-22 (14 Saudi papers that reprint the
same agency copy) and of ant_v2.1_multisource dated 2018-06-10 to 2018-06-16 (five outlets), in
file order. The queries: the titles of 200 of those articles, every (n/200)th in id order, each
searched in keyword mode (no encoder, so the run stays a few minutes on a shared machine).
A top-10 result counts as repeating a higher one when the two articles' bodies share at least
half their word 3-shingles (exact Jaccard of the shingle sets, not the sketch's estimate), or,
as a second judge independent of shingles, when their titles are equal after normalization.
Keyword-only indexing with and without sketches is alternated, so machine load hits both alike.
The pairs file (not committed: it quotes the corpora) holds 100 detected pairs drawn with a fixed
seed, for reading; docs/workflow.md has the verdicts.
"""
from __future__ import annotations

import gzip
import json
import random
import tempfile
import time
from pathlib import Path

import click

from bench.data import SHARED
from bench.harness import write_json
from indexer.pipeline import Indexer
from indexer.text.arabic import normalize
from indexer.text.articles import Article
from indexer.text.near_duplicates import SketchParams, shingles
from search.engine import Engine
from search.query import QueryError

SLICES = {"saudinewsnet": ("2015-07-22", "2015-07-22"), "ant_v2.1_multisource": ("2018-06-10", "2018-06-16")}
QUERIES = 200
TOP = 10
PAIRS = 100


def sample_articles(shared: Path) -> list[Article]:
    articles = []
    for corpus, (first, last) in SLICES.items():
        with gzip.open(shared / "corpus" / corpus / "articles.jsonl.gz", "rt", encoding="utf-8") as stream:
            for line in stream:
                r = json.loads(line)
                if first <= r["date"][:10] <= last:
                    articles.append(Article(id=r["id"], title=r.get("title") or "", body=r["body"], date=r["date"],
                                            source=r.get("source") or "", section=r.get("section") or ""))
    return articles


def build(articles: list[Article], path: Path, near_duplicates: SketchParams | None) -> dict:
    started = time.perf_counter()
    with Indexer(path, vectors=False, near_duplicates=near_duplicates) as ix:
        report = ix.add(articles)
    return {"seconds": round(time.perf_counter() - started, 2),
            "stages": {k: round(v, 2) for k, v in report.seconds.items()}}


def cost(articles: list[Article], tmp: Path, repeats: int) -> dict:
    runs: dict[str, list[dict]] = {"with sketches": [], "without": []}
    variants = [("with sketches", SketchParams()), ("without", None)]
    for repeat in range(repeats):
        for label, params in variants[::-1] if repeat % 2 else variants:
            runs[label].append(build(articles, tmp / f"{label}-{repeat}", params))
            click.echo(f"{label}: {runs[label][-1]}", err=True)
    mean = {label: sum(r["seconds"] for r in rs) / len(rs) for label, rs in runs.items()}
    return {"runs": runs, "ratio": round(mean["with sketches"] / mean["without"], 3)}


def repeats_in_top(engine: Engine, queries: list[str], judge) -> dict:
    """Share of top-10 results that repeat a higher result, collapsed and not."""
    shares = {}
    for collapsed in (False, True):
        slots = repeated = 0
        for query in queries:
            try:
                hits = engine.search(query, mode="keyword", k=TOP, collapse=collapsed).hits
            except QueryError:
                continue
            ids = [h.article_id for h in hits]
            slots += len(ids)
            repeated += sum(any(judge(ids[j], ids[i]) for j in range(i)) for i in range(len(ids)))
        shares["collapsed" if collapsed else "not collapsed"] = {"results": slots, "repeats": repeated,
                                                                 "share": round(repeated / max(slots, 1), 4)}
    return shares


def judges(articles: list[Article]):
    by_id = {a.id: a for a in articles}
    sets = {a.id: shingles(a.body, SketchParams().shingle) for a in articles}

    def same_text(a: str, b: str) -> bool:
        return len(sets[a] & sets[b]) / len(sets[a] | sets[b]) >= SketchParams().threshold

    def same_title(a: str, b: str) -> bool:
        return bool(by_id[a].title.strip()) and normalize(by_id[a].title) == normalize(by_id[b].title)

    return {"body shingles (exact Jaccard >= 0.5)": same_text, "equal titles": same_title}


def detected_pairs(engine: Engine, articles: list[Article], out: Path | None) -> dict:
    rows = engine.store.conn.execute(
        "SELECT article_id, other_id, similarity FROM near_duplicates WHERE article_id < other_id"
        " ORDER BY article_id, other_id").fetchall()
    sample = random.Random(7).sample(rows, min(PAIRS, len(rows)))
    if out is not None:
        by_id = {a.id: a for a in articles}
        with open(out, "w", encoding="utf-8") as f:
            for n, (a, b, s) in enumerate(sample, 1):
                f.write(f"=== pair {n}: {a} | {b} | estimated similarity {s}\n")
                for article in (by_id[a], by_id[b]):
                    f.write(f"--- {article.id} {article.source} {article.date[:10]}: {article.title}\n")
                    f.write(article.body[:700].replace("\n", " ") + "\n")
    return {"pairs": len(rows), "sampled": [[a, b, s] for a, b, s in sample]}


@click.command()
@click.option("--shared", type=click.Path(exists=True, file_okay=False), default=None)
@click.option("--repeats", type=click.IntRange(1), default=2, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), default=None)
@click.option("--pairs", "pairs_out", type=click.Path(dir_okay=False), default=None,
              help="Write the sampled pairs' titles and openings here, for reading (outside the repository).")
def main(shared, repeats, out, pairs_out):
    shared = Path(shared) if shared else SHARED
    articles = sample_articles(shared)
    ids = sorted(a.id for a in articles)
    title_of = {a.id: a.title for a in articles}
    queries = [title_of[ids[i * len(ids) // QUERIES]] for i in range(QUERIES)]
    with tempfile.TemporaryDirectory() as tmp:
        measured = cost(articles, Path(tmp), repeats)
        with Engine(Path(tmp) / "with sketches-0") as engine:
            result = {"articles": len(articles), "queries": QUERIES, "indexing": measured,
                      "detected": detected_pairs(engine, articles, Path(pairs_out) if pairs_out else None),
                      "top10_repeats": {name: repeats_in_top(engine, queries, judge)
                                        for name, judge in judges(articles).items()}}
    click.echo(json.dumps({k: v for k, v in result.items() if k != "detected"}, indent=1, ensure_ascii=False))
    click.echo(f"detected pairs: {result['detected']['pairs']}")
    if out:
        write_json(result, Path(out))


if __name__ == "__main__":  # pragma: no cover
    main()
