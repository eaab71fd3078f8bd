"""Open an index and search it: passages and articles, keyword, dense or hybrid.

>>> from search import Engine
>>> with Engine("index") as engine:
...     for hit in engine.search("الكاظمي طهران", k=3).hits:
...         print(hit.rank, hit.article_id, hit.snippet)
"""
from __future__ import annotations

import json
import math
from contextlib import contextmanager
from pathlib import Path
from dataclasses import replace
from typing import TYPE_CHECKING, Iterator, Sequence

import numpy as np

from indexer.text.articles import clean_text
from indexer.vectors.encoders import Encoder
from indexer.vectors.loading import load_encoder
from indexer.keyword.index import KeywordIndex
from indexer.keyword.postings import MatchRun, article_keys
from indexer.store.layout import IndexDamaged, IndexLayout, IndexNotFound
from indexer.store.manifest import REPAIR_MANIFEST, Manifest, ManifestError
from indexer.store.sqlite import STORE_FIX, Filters, PassageVersion, Store
from indexer.vectors.index import SharedReads, VectorIndex
from search.fusion import CANDIDATES, convex_combination, min_max, reciprocal_rank_fusion, z_score
from search.highlight import snippet, term_spans
from search.arrange import arrange
from search.ordering import SORTS, UNDATED, facet_counts
from search.query import ParsedQuery, QueryError, check_count, parse_query, require_terms
from search.collapse import PairKeys
from search.keyword_page import KeywordPage, keyword_page
from search.ranking import Owners, Ranking, by_article, dense_ranking, fused_ranking, keyword_ranking, \
    positions
from search.results import MATCH, RELATED, AnswerResults, ArticleHit, PassageHit, SearchResults, StoredArticle, \
    absence_notice
from search.retrievers import BatchedSearch, DenseRetriever, Hits, KeywordRetriever
from search.versions import newest_versions

if TYPE_CHECKING:  # the answer model is loaded with the answer finder, on the first question
    from search.answers.model import AnswerModel

MODES = ("hybrid", "keyword", "dense")
LEVELS = ("articles", "passages")
RRF_K = 60
FUSIONS = ("zscore", "minmax", "rrf")
# A convex combination of z-score normalized scores (dense weight 0.6) beat min-max at every
# weight and RRF on both eval sets, with and without distractors (docs/quality.md); min-max and
# RRF stay available as fusion="minmax" and "rrf".
DEFAULT_FUSION = "zscore"
DEFAULT_DENSE_WEIGHT = 0.6
# Tries at a consistent read view before settling for one that may miss purged versions (only
# a writer purging again and again, or a missing state file, gets that far).
VIEW_ATTEMPTS = 3


class Engine:
    def __init__(self, path: str | Path, *, encoder: Encoder | None = None,
                 fusion: str = DEFAULT_FUSION, dense_weight: float = DEFAULT_DENSE_WEIGHT,
                 answer_model: AnswerModel | None = None, related_floor: float | None = None,
                 shared_vectors: SharedReads | None = None, dense_search: BatchedSearch | None = None):
        """``related_floor``: the dense score a passage without the query's words needs to be shown
        as related; by default the manifest's (calibrated per encoder by ``bench.similarity_floor``;
        none shown for an encoder without one). ``shared_vectors``: vector files read once for
        several engines of one process (``baheth serve``'s); ``dense_search``: how an unfiltered
        dense search gets its question's vector and hits instead of asking the encoder and the
        vector index itself (``baheth serve`` batches them: server/pool.py)."""
        self.layout = IndexLayout(Path(path))
        if self.layout.store.is_file() and not self.layout.manifest.is_file():
            raise IndexDamaged(self.layout.manifest, "missing", REPAIR_MANIFEST)
        if self.layout.manifest.is_file() and not self.layout.store.is_file():
            raise IndexDamaged(self.layout.store, "missing", STORE_FIX)
        if not self.layout.exists():
            raise IndexNotFound(f"no index at {self.layout.root} (create one with `baheth index PATH --index {path}`)")
        self.manifest = Manifest.load(self.layout)
        self._check_states()
        self.store = Store(self.layout.store, readonly=True)
        try:
            self.manifest.check_sentence_split(self.layout.root, self.store.sentences.any())
        except ManifestError:
            self.store.close()
            raise
        self.keyword_index = KeywordIndex(self.layout, self.manifest.keyword).open()
        self.vector_index = VectorIndex.for_manifest(self.layout, self.manifest, self.store.embeddings, shared_vectors,
                                                     mapped=True)
        self._encoder = encoder
        if encoder is not None:
            self._check_encoder(encoder)
        self.keyword = KeywordRetriever(self.keyword_index)
        self.dense = DenseRetriever(self.vector_index, self.encoder, self.store.sentences.get, dense_search)
        _check_choice("fusion", fusion, FUSIONS)
        self.fusion = fusion
        self.dense_weight = dense_weight
        self.answer_model = answer_model     # None: the shipped one (search/answers/model.json)
        floor = self.manifest.related_floor if related_floor is None else related_floor
        self.related_floor = math.inf if floor is None else floor
        self._answer_finder = None
        self._generations: tuple[int, int] | None = None   # (keyword, vectors) while reading()
        # (keyword generation, store generation): no passage logged between the two was removed.
        self._unremoved: tuple[int, int] | None = None

    def _check_states(self) -> None:
        """A reader never writes (it may have no right to, and must not take the writer's lock):
        an index that lags behind its store is read at its last consistent state (retired versions
        keep its hits resolvable; the next writer catches it up), but one whose state is lost or
        whose rebuild was interrupted holds nothing a reader can trust."""
        for path, generation in ((self.layout.keyword_state, KeywordIndex(self.layout, self.manifest.keyword).generation),
                                 (self.layout.vectors_state,
                                  VectorIndex.for_manifest(self.layout, self.manifest).generation)):
            if generation < 0:
                raise IndexDamaged(path, "missing or unreadable, or a rebuild was interrupted")

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
        self.vector_index.close()
        self.store.close()

    # -- search --------------------------------------------------------------------
    def search(self, query: str | ParsedQuery, *, mode: str = "hybrid", level: str = "articles",
               k: int = 10, offset: int = 0, filters: Filters = Filters(), sort: str = "relevance",
               collapse: bool = True, facets: bool = False) -> SearchResults:
        """One page of the query's ranking (``search.ranking``): the same ranking, totals and
        labels for every ``k`` and ``offset``. ``sort``: relevance, or newest or oldest first (undated
        results last, counted in ``undated``); ``collapse``: near-duplicates folded under the first
        of their story shown (``more_like_it``), which changes what is paged through (``ranked``)
        but not what is counted (``matches``, ``related``: every article or passage, folded or
        not); ``facets``: every match counted by source, section and month (``search.arrange``)."""
        parsed = query if isinstance(query, ParsedQuery) else parse_query(query)
        _check_choice("mode", mode, MODES)
        _check_choice("level", level, LEVELS)
        _check_choice("sort", sort, SORTS)
        k, offset = check_count("k", k, 1), check_count("offset", offset, 0)
        require_terms(parsed)
        with self.reading():
            # Read once for the ranking and the highlights alike.
            parsed = replace(parsed, keyword=self.keyword_index.read_clitics(parsed.keyword))
            mode_used, notices = self._mode_available(mode)
            allowed = self.store.filtered_pids(filters) if filters.active() else None
            run = self.keyword_index.matches(parsed.keyword, filters, allowed)
            page = None
            if mode_used == "keyword" and sort == "relevance" and not facets and self._compiled(run, {}):
                page = keyword_page(run, self._pairs() if collapse else None, level, k, offset)
            if page is not None:
                return self._keyword_results(parsed, level, k, offset, page, notices)
            ranking, owners = self.ranking(parsed, mode_used, run, allowed)
            options = dict(sort=sort, collapse=collapse, facets=facets)
            if level == "passages":
                counted = ranking
                view = arrange(self.store, owners, ranking.matched, **options)
                hits = self._shown(ranking.where(view.order[offset:offset + k]), parsed, offset)
            else:
                grouped = by_article(ranking, owners.numbers)
                counted = grouped.best
                view = arrange(self.store, owners.at(grouped.positions), grouped.best.matched, **options)
                shown = view.order[offset:offset + k]
                hits = self._article_hits(grouped.best.where(shown), grouped.matched_passages[shown], parsed, offset)
            hits = [replace(h, more_like_it=view.more_like(h.rank - 1)) for h in hits]
        if not counted.matches:
            notices.insert(0, absence_notice(parsed.text, level))
        # Counted before folding: a reprint of a story is one more article that holds the words.
        return SearchResults(query=parsed.text, mode=mode_used, level=level, matches=counted.matches,
                             related=counted.related, hits=tuple(hits), notice="; ".join(notices),
                             collapsed=view.collapsed, undated=view.undated, facets=view.facets)

    def _keyword_results(self, parsed: ParsedQuery, level: str, k: int, offset: int, page: KeywordPage,
                         notices: list[str]) -> SearchResults:
        """``search``'s results from a ``keyword_page``: the same as from the whole ranking."""
        shown = Ranking(page.pids, page.scores, np.ones(len(page.pids), dtype=bool))
        hits = (self._shown(shown, parsed, offset) if level == "passages"
                else self._article_hits(shown, page.matched_passages, parsed, offset))
        hits = [replace(h, more_like_it=more) for h, more in zip(hits, page.more_like)]
        if not page.matches:
            notices.insert(0, absence_notice(parsed.text, level))
        return SearchResults(query=parsed.text, mode="keyword", level=level, matches=page.matches, related=0,
                             hits=tuple(hits), notice="; ".join(notices), collapsed=page.collapsed)

    def _pairs(self) -> PairKeys:
        return self.store.duplicates.derived(PairKeys.of)

    @contextmanager
    def reading(self) -> Iterator[None]:
        """One consistent view of the index: both derived indexes pinned at states no newer than
        the store snapshot, which still holds every retired version those states can return, so
        each retriever's hits resolve to the article versions its index holds. ``search`` and
        ``ask`` retrieve and read passages inside one; re-entrant."""
        if self._generations is not None:
            yield
            return
        for attempt in range(VIEW_ATTEMPTS):
            # Generations before states (a state file is written after its index, so the states
            # are at least this new), states before the snapshot (the store commits first, so it
            # holds every passage the states hold).
            generations = (self.keyword_index.generation, self.vector_index.generation)
            self.keyword_index.refresh()
            self.vector_index.reload_if_changed()
            with self.store.snapshot():
                # A writer purged versions between the two steps that these states may return;
                # a purge waits for both indexes on disk to pass it, so newer states will not.
                if self.store.retired.purged_through() > min(generations) and attempt < VIEW_ATTEMPTS - 1:
                    continue
                self._generations = generations
                try:
                    yield
                finally:
                    self._generations = None
                return

    def ranking(self, parsed: ParsedQuery, mode: str, run: MatchRun,
                allowed: np.ndarray | None) -> tuple[Ranking, Owners]:
        """The query's whole passage ranking in ``mode`` (every match of the keyword ``run``, among
        the ``allowed`` pids if given, and related passages at or above the similarity floor), and
        each ranked passage's article. Callers hold ``reading()`` around it."""
        dense, found = self._dense_run(parsed, mode, CANDIDATES, allowed)
        if self._compiled(run, found):
            # Every match is a current passage and the compiled postings know its article:
            # nothing to read from the store per match (docs/performance.md, "One million").
            ranking = self.rank((run.pids, run.scores), dense, mode)
            return ranking, _owners(ranking, run, found)
        keyword = self._visible(list(zip(run.pids.tolist(), run.scores.tolist())), self._generations[0], found)
        ranking = self.rank(keyword, dense, mode)
        ranking = ranking.where(newest_versions(ranking.pids, found))
        return ranking, Owners.of_ids([found[pid].article_id for pid in ranking.pids.tolist()])

    def _compiled(self, run: MatchRun, found: dict[int, PassageVersion]) -> bool:
        """Do the compiled postings know each match's article, and is each match current (as are
        the dense side's ``found``)?"""
        return (run.view.joined.keys is not None and self._keyword_current()
                and all(v.retired is None for v in found.values()))

    def _keyword_current(self) -> bool:
        """Is every passage the keyword index holds (read at its generation) current in the store
        snapshot? Then its matches need no check one by one. So it is at the snapshot's generation
        (a writer commits the store first, then the index, then its state), and also while
        ``baheth embed`` commits vectors, hours at a million passages: the store's generation moves
        then, but no passage goes. The log since the index's generation is read once; after
        another commit, only what that commit logged (a passage removed later is logged again)."""
        indexed, store = self._generations[0], self.store.generation()
        if indexed == store:
            return True
        base, through = self._unremoved if self._unremoved else (None, None)
        start = through if base == indexed and through <= store else indexed
        if self.store.removed_between(start, store):
            self._unremoved = None
            return False
        self._unremoved = (indexed, store)
        return True

    def all_matches(self) -> int:
        """A keyword depth that holds every match."""
        return max(1, self.keyword_index.searcher().doc_count_all())

    def rank(self, keyword: Hits, dense: Hits, mode: str) -> Ranking:
        """``mode``'s ranking of every keyword match (``keyword``) and the dense top ``CANDIDATES``."""
        if mode == "keyword":
            return keyword_ranking(keyword)
        if mode == "dense":
            return dense_ranking(keyword, dense, self.related_floor)
        return fused_ranking(keyword, dense, self.related_floor, self.fusion, self.dense_weight, RRF_K)

    def passage_candidates(self, parsed: ParsedQuery, mode: str, depth: int,
                           filters: Filters) -> tuple[Hits, Hits, str, str]:
        """Fused (passage id, score) pairs, best first, from each retriever's top ``depth``, with
        no similarity floor (``ask`` reads what they hold), and the keyword run they were fused
        from (``ask``'s confidence asks whether it agrees). Callers that read the passages
        afterwards hold ``reading()`` around both."""
        with self.reading():
            mode, notices = self._mode_available(mode)
            keyword, dense, found = self._runs(parsed, mode, depth, filters, dense_depth=depth)
            ranked = keyword if mode == "keyword" else dense if mode == "dense" else self.fuse(keyword, dense)
            keep = newest_versions(np.array([pid for pid, _ in ranked], dtype=np.int64), found)
            return [hit for hit, ok in zip(ranked, keep.tolist()) if ok], keyword, mode, "; ".join(notices)

    def _mode_available(self, mode: str) -> tuple[str, list[str]]:
        if mode != "keyword" and not self.dense.available():
            if mode == "dense":
                raise QueryError("the index has no vectors yet; run `baheth embed` first or use --mode keyword")
            return "keyword", ["the index has no vectors yet (run `baheth embed`); searched in keyword mode"]
        return mode, []

    def _runs(self, parsed: ParsedQuery, mode: str, keyword_depth: int, filters: Filters,
              dense_depth: int = CANDIDATES) -> tuple[Hits, Hits, dict[int, PassageVersion]]:
        """Each retriever's hits on the article versions its index holds (``Store.visible``), and
        those versions; the dense side is not asked in keyword mode."""
        allowed = self.store.filtered_pids(filters) if filters.active() else None
        dense, found = self._dense_run(parsed, mode, dense_depth, allowed)
        keyword = self._visible(self.keyword.search(parsed, keyword_depth, filters, allowed), self._generations[0], found)
        return keyword, dense, found

    def _dense_run(self, parsed: ParsedQuery, mode: str, depth: int,
                   allowed: np.ndarray | None) -> tuple[Hits, dict[int, PassageVersion]]:
        """The dense top ``depth`` on the versions the vector index holds, and those versions;
        nothing in keyword mode."""
        found: dict[int, PassageVersion] = {}
        if mode == "keyword":
            return [], found
        return self._visible(self.dense.search(parsed, depth, allowed), self._generations[1], found), found

    def _visible(self, hits: Hits, generation: int, found: dict[int, PassageVersion]) -> Hits:
        """``hits`` on the article versions an index at ``generation`` holds (``Store.visible``),
        those versions added to ``found``."""
        passages = self.store.visible((pid for pid, _ in hits), generation)
        found.update(passages)
        return [(pid, s) for pid, s in hits if pid in passages]

    def fuse(self, keyword: Hits, dense: Hits) -> Hits:
        if self.fusion == "rrf":
            return reciprocal_rank_fusion([keyword, dense], k=RRF_K)
        normalize = z_score if self.fusion == "zscore" else min_max
        return convex_combination([keyword, dense], [1.0 - self.dense_weight, self.dense_weight], normalize)

    def _article_hits(self, page: Ranking, matched_passages: np.ndarray, parsed: ParsedQuery,
                      offset: int) -> list[ArticleHit]:
        """The articles of ``page`` (their best passages), ranked from ``offset + 1``."""
        return [ArticleHit(rank=h.rank, score=h.score, article_id=h.article_id, passage_id=h.passage_id,
                           title=h.title, date=h.date, source=h.source, section=h.section, snippet=h.snippet,
                           highlights=h.highlights, label=h.label, matched_passages=n)
                for h, n in zip(self._shown(page, parsed, offset), matched_passages.tolist())]

    def passage_hits(self, ranked: Hits, parsed: ParsedQuery, k: int, offset: int,
                     labels: Sequence[str] | None = None) -> list[PassageHit]:
        """Hits ``offset`` to ``offset + k`` of ``ranked``, each with ``labels``' entry if given."""
        page = ranked[offset:offset + k]
        labels = labels[offset:offset + k] if labels is not None else [""] * len(page)
        stored = self.store.passages(pid for pid, _ in page)
        meta = self.store.articles_meta(stored.values())
        hits = []
        forms = parsed.forms   # a property that expands every query word: once per page
        for rank, ((pid, score), label) in enumerate(zip(page, labels), start=offset + 1):
            p = stored[pid]
            a = meta[p.article_id]
            text, spans = snippet(p.text, term_spans(p.text, forms))
            hits.append(PassageHit(rank=rank, score=round(score, 6), article_id=p.article_id, passage_id=pid,
                                   title=a["title"], date=a["date"], source=a["source"], section=a["section"],
                                   snippet=text, highlights=spans, label=label,
                                   heading=p.heading, start=p.start, end=p.end))
        return hits

    def _shown(self, page: Ranking, parsed: ParsedQuery, offset: int) -> list[PassageHit]:
        """The hits of ``page``, labelled, ranked from ``offset + 1``."""
        hits = self.passage_hits(page.hits(), parsed, len(page.pids), 0,
                                 [MATCH if m else RELATED for m in page.matched.tolist()])
        return [replace(h, rank=offset + i) for i, h in enumerate(hits, start=1)]

    # -- questions -----------------------------------------------------------------
    def ask(self, question: str, *, k: int = 3, filters: Filters = Filters(),
            all_from_article: bool = False) -> AnswerResults:
        """The sentences that answer ``question``, one per article unless ``all_from_article``."""
        if self._answer_finder is None:
            from search.answers.finder import AnswerFinder  # loaded on the first question
            self._answer_finder = AnswerFinder(self, model=self.answer_model)
        return self._answer_finder.ask(question, k=k, filters=filters, all_from_article=all_from_article)

    # -- articles and stats --------------------------------------------------------
    def catalogue(self) -> dict:
        """Every article counted by source and by section (most first), and the range of their dates."""
        with self.store.snapshot():
            counts = facet_counts(self.store.all_article_facts())
        months = [m for m in counts["month"] if m["value"] != UNDATED]
        undated = sum(m["count"] for m in counts["month"] if m["value"] == UNDATED)
        first, last = self.store.date_range()
        return {"sources": counts["source"], "sections": counts["section"],
                "dates": {"first": first, "last": last, "dated": sum(m["count"] for m in months), "undated": undated}}

    def similar(self, article_id: str, *, k: int = 10, filters: Filters = Filters()):
        """The articles closest to ``article_id`` by its vectors and its words, its near-duplicates
        left out (``search.similar``)."""
        from search.similar import similar
        return similar(self, article_id, k=k, filters=filters)

    def article(self, article_id: str) -> StoredArticle | None:
        if not isinstance(article_id, str):
            raise QueryError(f"an article id must be text, not {type(article_id).__name__}")
        with self.store.snapshot():
            row = self.store.article(clean_text(article_id))   # ids were stored cleaned
            if row is None:
                return None
            passages = tuple({"passage_id": p.pid, "heading": p.heading, "start": p.start, "end": p.end,
                              "text": p.text} for p in self.store.passages_of(article_id))
        return StoredArticle(id=row["id"], title=row["title"], date=row["date"], source=row["source"],
                             url=row["url"], section=row["section"], body=row["body"],
                             metadata=json.loads(row["metadata"]), passages=passages)

    def stats(self) -> dict:
        """Counts, size, encoder and settings; never the index's path (``baheth serve`` sends these
        to whoever asks, and the CLI adds the path it was given)."""
        with_sentences, sentences = self.store.sentences.count()
        data = {
            "articles": self.store.count_articles(),
            "passages": self.store.count_passages(),
            "passages_with_vectors": self.store.count_passages(embedded_only=True),
            # An index from before sentence vectors has none until `baheth embed` fills them in.
            "passages_with_sentence_vectors": with_sentences,
            "sentence_vectors": sentences,
            "near_duplicates": dict(zip(("articles_sketched", "pairs"), self.store.duplicates.count())),
            **self.catalogue(),
            "size_bytes": self.layout.size_on_disk(),
            "encoder": self.manifest.encoder.to_dict(),
            "analyzer": {"name": self.manifest.analyzer, "version": self.manifest.analyzer_version},
            "chunking": {**self.manifest.to_dict()["chunking"], "chunker_version": self.manifest.chunker_version,
                         "splitter_version": self.manifest.splitter_version},
            "keyword": self.manifest.to_dict()["keyword"],
        }
        overflow = self.store.token_overflow()
        if overflow:
            data["passages_over_max_tokens"] = overflow
        return data


def _owners(ranking: Ranking, run: MatchRun, found: dict[int, PassageVersion]) -> Owners:
    """The article of each ranked passage: from the compiled postings for keyword matches, from
    ``found`` (the store) for the few the dense side adds."""
    at = positions(run.pids, ranking.pids) if ranking.run_at is None else ranking.run_at
    in_run = at < len(run.pids)
    keys, numbers = np.empty(len(at), dtype=np.int64), np.empty(len(at), dtype=np.int64)
    keys[in_run], numbers[in_run] = run.keys_at(at[in_run]), run.article_numbers(at[in_run])
    added = article_keys([found[pid].article_id for pid in ranking.pids[~in_run].tolist()])
    keys[~in_run], numbers[~in_run] = added, _article_numbers(added, run.distinct_keys)

    def ids(where: np.ndarray) -> list[str]:
        out = np.empty(len(where), dtype=object)
        mine = in_run[where]
        out[mine] = run.article_ids(at[where[mine]])
        out[~mine] = [found[pid].article_id for pid in ranking.pids[where[~mine]].tolist()]
        return out.tolist()
    return Owners(keys, numbers, ids, run.distinct_keys)


def _article_numbers(keys: np.ndarray, distinct: np.ndarray) -> np.ndarray:
    """The article number of each of ``keys``: its index in the index's ``distinct`` keys (sorted),
    or for a key not among them (an article the keyword index does not hold yet) one past them,
    the same for the same key."""
    at = np.minimum(np.searchsorted(distinct, keys), max(len(distinct) - 1, 0))
    known = distinct[at] == keys if len(distinct) else np.zeros(len(keys), bool)
    _, new = np.unique(keys[~known], return_inverse=True)
    out = at.astype(np.int64)
    out[~known] = len(distinct) + new.reshape(-1)
    return out


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise QueryError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
