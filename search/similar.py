"""More like this: the articles closest to a given one, by its vectors (the mean of its passage
embeddings, searched in faiss) and by its words (its most distinctive terms by tf-idf, searched
with BM25F), fused as a hybrid search is. The article itself and its near-duplicates (the same
story under other ids, ``indexer/text/near_duplicates.py``) are left out.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

from indexer.store.filters import Filters
from indexer.text.analysis import analyze
from search.query import QueryError, UnknownArticle
from search.results import ArticleHit

# The article's terms searched: enough to describe its story, few enough to stay a fast query.
KEY_TERMS = 25
# Passages each side retrieves before grouping by article.
DEPTH = 200
SNIPPET_CHARS = 240


@dataclass(frozen=True)
class SimilarResults:
    article_id: str
    title: str
    mode: str                     # hybrid, or keyword for an index without vectors
    hits: tuple[ArticleHit, ...]
    excluded: tuple[str, ...]     # the article's near-duplicates, left out

    def to_dict(self) -> dict:
        return {"article_id": self.article_id, "title": self.title, "mode": self.mode,
                "excluded": list(self.excluded), "hits": [h.to_dict() for h in self.hits]}


def similar(engine, article_id: str, k: int = 10, filters: Filters = Filters()) -> SimilarResults:
    if k < 1:
        raise QueryError("k must be at least 1")
    with engine.reading():
        row = engine.store.article(article_id)
        if row is None:
            raise UnknownArticle(f"no article with id {article_id!r}")
        excluded = tuple(sorted(engine.store.duplicates.of([article_id]).get(article_id, {})))
        allowed = engine.store.filtered_pids(filters) if filters.active() else None
        ranked = engine.keyword_index.search_terms(key_terms(engine, f"{row['title']}\n{row['body']}"),
                                                   DEPTH, allowed)
        mode = "keyword"
        if engine.dense.available() and (vector := article_vector(engine, article_id)) is not None:
            ranked, mode = engine.fuse(ranked, engine.vector_index.search(vector, DEPTH, allowed)), "hybrid"
        hits = article_hits(engine, ranked, {article_id, *excluded}, k)
    return SimilarResults(article_id=article_id, title=row["title"], mode=mode, hits=hits, excluded=excluded)


def key_terms(engine, text: str) -> tuple[str, ...]:
    """The ``KEY_TERMS`` analyzed terms of ``text`` with the highest tf-idf in the keyword index."""
    reader = engine.keyword_index.searcher().reader()
    documents = max(reader.doc_count(), 1)
    counts = Counter(analyze(text))
    weight = {t: n * math.log(1 + documents / max(reader.doc_frequency("text", t), 1)) for t, n in counts.items()}
    return tuple(sorted(weight, key=lambda t: (-weight[t], t))[:KEY_TERMS])


def article_vector(engine, article_id: str) -> np.ndarray | None:
    """The normalized mean of the article's passage vectors; None when it has none yet."""
    pids = [p.pid for p in engine.store.passages_of(article_id)]
    batches = [vectors for _, vectors in engine.store.embeddings(pids)]
    if not batches:
        return None
    mean = np.concatenate(batches).mean(axis=0)
    return mean / max(float(np.linalg.norm(mean)), 1e-12)


def article_hits(engine, ranked, excluded: set[str], k: int) -> tuple[ArticleHit, ...]:
    """The first ``k`` articles by their best current passage, leaving out ``excluded``."""
    stored = engine.store.passages(pid for pid, _ in ranked)
    best: dict[str, tuple[int, float, int]] = {}
    for pid, score in ranked:
        p = stored.get(pid)
        if p is None or p.retired is not None or p.article_id in excluded:
            continue
        pid_, score_, matched = best.get(p.article_id, (pid, score, 0))
        best[p.article_id] = (pid_, score_, matched + 1)
    page = list(best.items())[:k]
    meta = engine.store.articles_meta(stored[pid] for _, (pid, _, _) in page)
    return tuple(ArticleHit(rank=rank, score=round(score, 6), article_id=a, passage_id=pid, title=meta[a]["title"],
                            date=meta[a]["date"], source=meta[a]["source"], section=meta[a]["section"],
                            snippet=stored[pid].text[:SNIPPET_CHARS], highlights=(), matched_passages=matched)
                 for rank, (a, (pid, score, matched)) in enumerate(page, start=1))
