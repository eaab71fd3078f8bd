"""Open an index and search it: passages and articles, keyword, dense or hybrid.

>>> from search import Engine
>>> with Engine("index") as engine:
...     for hit in engine.search("الكاظمي طهران", k=3).hits:
...         print(hit.rank, hit.article_id, hit.snippet)
"""
from __future__ import annotations

import json
from pathlib import Path

from indexer.encoders import Encoder, load_encoder
from indexer.keyword_index import KeywordIndex
from indexer.layout import IndexLayout, IndexNotFound
from indexer.lock import IndexLocked, WriterLock
from indexer.manifest import Manifest
from indexer.store import Filters, Store
from indexer.vector_index import VectorIndex
from search.fusion import convex_combination, reciprocal_rank_fusion
from search.highlight import snippet, term_spans
from search.query import ParsedQuery, QueryError, parse_query, require_terms
from search.results import AnswerResults, ArticleHit, PassageHit, SearchResults, StoredArticle
from search.retrievers import DenseRetriever, Hits, KeywordRetriever

MODES = ("hybrid", "keyword", "dense")
LEVELS = ("articles", "passages")
CANDIDATES = 100          # passages taken from each retriever before fusion
RRF_K = 60
FUSIONS = ("convex", "rrf")
# Min-max convex combination with dense weight 0.6 beat RRF and every other fixed weight on
# both eval sets together (docs/quality.md); RRF stays available as fusion="rrf".
DEFAULT_FUSION = "convex"
DEFAULT_DENSE_WEIGHT = 0.6


class Engine:
    def __init__(self, path: str | Path, *, encoder: Encoder | None = None,
                 fusion: str = DEFAULT_FUSION, dense_weight: float = DEFAULT_DENSE_WEIGHT):
        self.layout = IndexLayout(Path(path))
        if not self.layout.exists():
            raise IndexNotFound(f"no index at {self.layout.root} (create one with `baheth index PATH --index {path}`)")
        self.manifest = Manifest.load(self.layout)
        self._catch_up()
        self.store = Store(self.layout.store, readonly=True)
        self.keyword_index = KeywordIndex(self.layout).open()
        self.vector_index = VectorIndex(self.layout, self.manifest.encoder.dim)
        self._encoder = encoder
        if encoder is not None:
            self._check_encoder(encoder)
        self.keyword = KeywordRetriever(self.keyword_index)
        self.dense = DenseRetriever(self.vector_index, self.encoder)
        _check_choice("fusion", fusion, FUSIONS)
        self.fusion = fusion
        self.dense_weight = dense_weight
        self._answer_finder = None

    def _catch_up(self) -> None:
        """Bring lagging derived indexes up to date, unless a writer is busy (it will)."""
        store = Store(self.layout.store, readonly=True)
        generation = store.generation()
        store.close()
        lagging = (KeywordIndex(self.layout).generation < generation
                   or VectorIndex(self.layout, self.manifest.encoder.dim).generation < generation)
        if lagging and not WriterLock(self.layout.lock).held_by_other():
            from indexer.pipeline import Indexer
            try:
                Indexer(self.layout.root).close()
            except IndexLocked:
                pass  # a writer took the lock since we looked; it catches up itself

    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = load_encoder(self.manifest.encoder.name, spec=self.manifest.encoder)
            self._check_encoder(self._encoder)
        return self._encoder

    def _check_encoder(self, encoder: Encoder) -> None:
        self.manifest.check_encoder_spec(encoder.spec)

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._answer_finder is not None:
            self._answer_finder.close()
        self.keyword_index.close()
        self.store.close()

    # -- search --------------------------------------------------------------------
    def search(self, query: str | ParsedQuery, *, mode: str = "hybrid", level: str = "articles",
               k: int = 10, offset: int = 0, filters: Filters = Filters()) -> SearchResults:
        parsed = query if isinstance(query, ParsedQuery) else parse_query(query)
        _check_choice("mode", mode, MODES)
        _check_choice("level", level, LEVELS)
        if k < 1 or offset < 0:
            raise QueryError("k must be at least 1 and offset at least 0")
        require_terms(parsed)
        depth = max(CANDIDATES, 3 * (k + offset) if level == "articles" else k + offset)
        with self.store.snapshot():
            ranked, mode_used, notice = self.passage_candidates(parsed, mode, depth, filters)
            if level == "passages":
                hits = self.passage_hits(ranked, parsed, k, offset)
                total = len(ranked)
            else:
                grouped = self._group_by_article(ranked)
                hits = self._article_hits(grouped, parsed, k, offset)
                total = len(grouped)
        return SearchResults(query=parsed.text, mode=mode_used, level=level, total=total,
                             hits=tuple(hits), notice=notice)

    def passage_candidates(self, parsed: ParsedQuery, mode: str, depth: int,
                           filters: Filters) -> tuple[Hits, str, str]:
        """Fused (passage id, score) pairs that still exist in the store, best first."""
        notice = ""
        if mode != "keyword" and not self.dense.available():
            if mode == "dense":
                raise QueryError("the index has no vectors yet; run `baheth embed` first or use --mode keyword")
            mode, notice = "keyword", "the index has no vectors yet (run `baheth embed`); searched in keyword mode"
        allowed = self.store.filtered_pids(filters) if filters.active() else None
        if mode == "keyword":
            ranked = self.keyword.search(parsed, depth, filters, allowed)
        elif mode == "dense":
            ranked = self.dense.search(parsed, depth, allowed)
        else:
            ranked = self.fuse(self.keyword.search(parsed, depth, filters, allowed),
                               self.dense.search(parsed, depth, allowed))
        # A writer may have replaced or deleted passages since the derived indexes were read;
        # callers that read the passages afterwards hold a ``store.snapshot()`` around both.
        alive = self.store.article_of(pid for pid, _ in ranked)
        return [(pid, s) for pid, s in ranked if pid in alive], mode, notice

    def fuse(self, keyword: Hits, dense: Hits) -> Hits:
        if self.fusion == "convex":
            return convex_combination([keyword, dense], [1.0 - self.dense_weight, self.dense_weight])
        return reciprocal_rank_fusion([keyword, dense], k=RRF_K)

    def _group_by_article(self, ranked: Hits) -> list[tuple[int, float, int]]:
        """(best passage id, its score, passages matched) per article, ranked by best passage."""
        owner = self.store.article_of(pid for pid, _ in ranked)
        groups: dict[str, list] = {}
        for pid, score in ranked:
            group = groups.get(owner[pid])
            if group is None:
                groups[owner[pid]] = [pid, score, 1]
            else:
                group[2] += 1
        return [tuple(g) for g in groups.values()]

    def _article_hits(self, grouped, parsed: ParsedQuery, k: int, offset: int) -> list[ArticleHit]:
        page = grouped[offset:offset + k]
        hits = self.passage_hits([(pid, score) for pid, score, _ in page], parsed, k, 0)
        return [ArticleHit(rank=offset + i + 1, score=h.score, article_id=h.article_id, passage_id=h.passage_id,
                           title=h.title, date=h.date, source=h.source, section=h.section, snippet=h.snippet,
                           highlights=h.highlights, matched_passages=matched)
                for i, (h, (_, _, matched)) in enumerate(zip(hits, page))]

    def passage_hits(self, ranked: Hits, parsed: ParsedQuery, k: int, offset: int) -> list[PassageHit]:
        page = ranked[offset:offset + k]
        stored = self.store.passages(pid for pid, _ in page)
        meta = self.store.articles_meta(p.article_id for p in stored.values())
        hits = []
        for rank, (pid, score) in enumerate(page, start=offset + 1):
            p = stored[pid]
            a = meta[p.article_id]
            text, spans = snippet(p.text, term_spans(p.text, parsed.terms))
            hits.append(PassageHit(rank=rank, score=round(score, 6), article_id=p.article_id, passage_id=pid,
                                   title=a["title"], date=a["date"], source=a["source"], section=a["section"],
                                   snippet=text, highlights=spans, heading=p.heading, start=p.start, end=p.end))
        return hits

    # -- questions -----------------------------------------------------------------
    def ask(self, question: str, *, k: int = 3, filters: Filters = Filters(),
            all_from_article: bool = False) -> AnswerResults:
        """The sentences that answer ``question``, one per article unless ``all_from_article``."""
        if self._answer_finder is None:
            from search.answers import AnswerFinder  # answers.py builds on this module
            self._answer_finder = AnswerFinder(self)
        return self._answer_finder.ask(question, k=k, filters=filters, all_from_article=all_from_article)

    # -- articles and stats --------------------------------------------------------
    def article(self, article_id: str) -> StoredArticle | None:
        with self.store.snapshot():
            row = self.store.article(article_id)
            if row is None:
                return None
            passages = tuple({"passage_id": p.pid, "heading": p.heading, "start": p.start, "end": p.end,
                              "text": p.text} for p in self.store.passages_of(article_id))
        return StoredArticle(id=row["id"], title=row["title"], date=row["date"], source=row["source"],
                             url=row["url"], section=row["section"], body=row["body"],
                             metadata=json.loads(row["metadata"]), passages=passages)

    def stats(self) -> dict:
        data = {
            "articles": self.store.count_articles(),
            "passages": self.store.count_passages(),
            "passages_with_vectors": self.store.count_passages(embedded_only=True),
            "size_bytes": self.layout.size_on_disk(),
            "encoder": self.manifest.encoder.to_dict(),
            "analyzer": {"name": self.manifest.analyzer, "version": self.manifest.analyzer_version},
            "chunking": self.manifest.to_dict()["chunking"],
            "index": str(self.layout.root),
        }
        overflow = self.store.token_overflow()
        if overflow:
            data["passages_over_max_tokens"] = overflow
        return data


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise QueryError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
