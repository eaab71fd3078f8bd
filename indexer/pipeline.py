"""The indexing pipeline: read -> chunk -> encode -> store -> keyword and vector indexes.

Articles go through in batches. Each batch is committed to SQLite first (the source
of truth, embeddings included), then applied to the derived Whoosh and faiss indexes,
which record the store generation they reflect; a crash between the two is repaired
from the store's change log on the next open, without re-encoding. Encoding the next
batch runs in a worker thread while the current batch is written, so the encoder
(which releases the GIL and uses both cores) is never idle waiting for Whoosh.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from indexer.text.articles import Article, ReadError, Record, check_paths, count_records, dated, read_paths
from indexer.text.near_duplicates import DuplicateFinder, SketchParams, sketch
from indexer.text.passages import CHUNKER_VERSION, ChunkingParams, split_passages
from indexer.text.sentences import SPLITTER_VERSION
from indexer.vectors.cache import EmbeddingCache
from indexer.vectors.encoders import DEFAULT_ENCODER, Encoder, EncoderSpec, canonical_name
from indexer.vectors.loading import encoder_spec, load_encoder
from indexer.keyword.index import KeywordIndex
from indexer.keyword.settings import KeywordSettings
from indexer.store.layout import IndexLayout
from indexer.store.lock import WriterLock
from indexer.store.manifest import Manifest, restore_manifest
from indexer.report import IndexReport, Stopwatch, progress_bar
from indexer.vectors.sentence_vectors import encode_with_sentences
from indexer.store.sqlite import NewPassage, Store, content_hash
from indexer.text.token_counts import count_tokens
from indexer.vectors.index import POLICIES, VectorIndex

BATCH_ARTICLES = 64
# Whoosh pays per distinct term and per segment on every commit, so the keyword index is
# written in commits of this many passages rather than one per batch (docs/performance.md),
# or after this many seconds, so that searches see new articles while a slow encoder runs;
# a crash in between is caught up from the store's log like any other lag.
KEYWORD_COMMIT_PASSAGES = 8192
KEYWORD_COMMIT_SECONDS = 30.0
# Texts per encoder call while indexing: a Ctrl-C waits for at most one such call.
ENCODE_SLICE = 64


class StrictStop(Exception):
    """--strict: the first bad record stops the run (earlier batches stay committed)."""


class Stopped(Exception):
    """The encoder worker's way out after Ctrl-C."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during ``Indexer.add``: the batches committed before it are kept and indexed;
    ``report`` counts them. Running the same input again skips them as unchanged."""

    def __init__(self, report: IndexReport):
        super().__init__("interrupted")
        self.report = report


@dataclass
class PreparedArticle:
    article: Article
    digest: str
    passages: list[NewPassage]
    is_new: bool
    sketch: np.ndarray | None = None   # its near-duplicate sketch, when the index keeps them


class Indexer:
    """Writes to one index folder; holds the writer lock while open.

    >>> with Indexer("index") as ix:
    ...     report = ix.add_paths(["seeds/"])
    """

    def __init__(self, path: str | Path, *, encoder: str | Encoder | None = None,
                 vectors: bool = True, chunking: ChunkingParams | None = None,
                 near_duplicates: SketchParams | bool = True,
                 keyword: KeywordSettings | None = None, cache_dir: str | Path | None = None, wait: float = 0.0,
                 encoder_options: dict | None = None):
        self.layout = IndexLayout(Path(path))
        self._encoder_options = encoder_options or {}
        self.layout.root.mkdir(parents=True, exist_ok=True)
        self.lock = WriterLock(self.layout.lock, wait=wait).acquire()
        try:
            self._open(encoder, chunking, keyword, cache_dir, vectors, near_duplicates)
        except BaseException:
            self.lock.release()
            raise

    def _open(self, encoder, chunking, keyword, cache_dir, vectors, near_duplicates) -> None:
        requested = canonical_name(encoder) if isinstance(encoder, str) else (encoder.spec.name if encoder else None)
        if not self.layout.manifest.exists() and self.layout.store.exists():
            restore_manifest(self.layout)
        if self.layout.manifest.exists():
            self.manifest = Manifest.load(self.layout)
            self.manifest.check_encoder(requested)
            if chunking is not None:
                self.manifest.check_chunking(chunking)
            if keyword is not None:
                self.manifest.check_keyword(keyword)
        self.vectors_enabled = vectors
        self._encoder = encoder if encoder is not None and not isinstance(encoder, str) else None
        self._encoder_name = requested or (self.manifest.encoder.name if self.layout.manifest.exists() else DEFAULT_ENCODER)
        if not self.layout.manifest.exists():
            sketches = near_duplicates if isinstance(near_duplicates, SketchParams) else SketchParams()
            self.manifest = Manifest.for_encoder(self._new_spec(), chunking=chunking or ChunkingParams(),
                                                 near_duplicates=sketches if near_duplicates else None,
                                                 keyword=keyword or KeywordSettings())
        elif {"query_prompt", "passage_prompt"} & self._encoder_options.keys():
            _ = self.encoder  # loading checks the prompts against the manifest's, before any work
        self.store = Store(self.layout.store, existing=self.layout.manifest.exists())
        self.keyword = KeywordIndex(self.layout, self.manifest.keyword)
        self._keyword_backlog: tuple[list[int], list[int]] = ([], [])  # (removed, new) pids
        self._keyword_flushed_at = time.monotonic()
        self.vectors = VectorIndex.for_manifest(self.layout, self.manifest, self.store.embeddings)
        self._stop = threading.Event()
        self._duplicates: DuplicateFinder | None = None   # loaded from the store on first use
        self._cache_dir = cache_dir
        self._cache: EmbeddingCache | None = None
        if not self.layout.manifest.exists():
            self.keyword.create()
            self.vectors.save(0)
            self.manifest.save(self.layout, self.store)
        elif self.store.manifest_copy() is None:   # an index from before the copy
            self.store.save_manifest(self.manifest.to_dict())
        for leftover in self.layout.temp_files():
            leftover.unlink(missing_ok=True)
        self.caught_up = self.sync()   # what the open brought up to date (``baheth optimize`` reports it)

    # -- context -------------------------------------------------------------------
    def __enter__(self) -> "Indexer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.keyword.close()
        self.store.close()
        if self._cache is not None:
            self._cache.close()
        self.lock.release()

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            # An existing index fixes the prompts; options may only change device and batch size.
            recorded = self.manifest.encoder if self.layout.manifest.exists() else None
            self._encoder = load_encoder(self._encoder_name, spec=recorded, **self._encoder_options)
        if self.layout.manifest.exists():
            self.manifest.check_encoder_spec(self._encoder.spec)
        return self._encoder

    def _new_spec(self) -> EncoderSpec:
        """The spec a new index records; a keyword-only one loads no model for it."""
        if self._encoder is None and not self.vectors_enabled:
            return encoder_spec(self._encoder_name, **self._encoder_options)
        return self.encoder.spec

    @property
    def cache(self) -> EmbeddingCache:
        if self._cache is None:
            self._cache = EmbeddingCache(self._cache_dir)
        return self._cache

    # -- catch-up ------------------------------------------------------------------
    def sync(self) -> dict[str, int]:
        """Bring the derived indexes up to the store's generation; returns passages re-applied."""
        generation = self.store.generation()
        applied = {}
        if not self.keyword.exists() or self.keyword.generation < 0:
            self.keyword.rebuild(self.store)
            applied["keyword"] = self.store.count_passages()
        elif self.keyword.generation < generation:
            removed, new = self._keyword_behind(self.store.changed_since(self.keyword.generation))
            self.keyword.apply(self.store, removed, new)
            self.keyword.set_generation(generation)
            applied["keyword"] = len(removed) + len(new)
        if self.vectors.generation < 0 or not self.layout.vectors.exists():
            self.vectors.rebuild(self.store)
            applied["vectors"] = self.store.count_passages(embedded_only=True)
        elif self.vectors.generation < generation:
            pids = self.store.changed_since(self.vectors.generation)
            self.vectors.apply(self.store, pids)
            self.vectors.save(generation)
            applied["vectors"] = len(pids)
        if completed := self.keyword.complete_compiled():
            applied["keyword_compiled"] = completed
        # What each derived index reflects from here on: raised only after a batch reached it, so
        # an interrupted batch never gets recorded as applied (the next open catches it up).
        self._keyword_generation = self._vectors_generation = generation
        self._purge_retired()
        if sketched := self._sketch_missing():
            applied["near_duplicates"] = sketched
        return applied

    def _keyword_behind(self, changed: list[int]) -> tuple[list[int], list[int]]:
        """Of the passages logged since the keyword index's generation, those it holds that the store
        no longer has, and those newer than any it holds. The rest it holds as they are: their
        vectors changed (``baheth embed`` stopped before it recorded that only vectors changed, or
        a crash), and re-indexing them all took hours at a million passages."""
        held, current = self.keyword.largest_pid(), self.store.current_pids(changed)
        return [p for p in changed if p <= held and p not in current], [p for p in changed if p > held]

    # -- adding --------------------------------------------------------------------
    def add_paths(self, paths: Sequence[str], *, follow_links: bool = False, **options) -> IndexReport:
        """Index files, folders and '-'; with ``progress`` the input is counted first, so the bar
        has a total and an estimate of the time left. ``follow_links``: see ``read_paths``."""
        check_paths(paths)
        total = count_records(paths, follow_links) if options.get("progress") else None
        return self.add(read_paths(paths, follow_links), total=total, **options)

    def add(self, records: Iterable[Record | Article], *, strict: bool = False, progress: bool = False,
            on_commit: Callable[[list[str]], None] | None = None,
            batch_size: int = BATCH_ARTICLES, total: int | None = None) -> IndexReport:
        """Index ``records``; raises ``Interrupted`` (with the report) on Ctrl-C."""
        if self.manifest.split_outdated():
            # Re-cutting a keyword-only index encodes nothing, so it is done here; one with vectors
            # may need hours of encoding, which the user starts knowingly with `baheth embed`.
            if self.store.count_passages(embedded_only=True):
                raise self.manifest.split_error(self.layout.root)
            self.resplit()
        return self._add(records, strict=strict, progress=progress, on_commit=on_commit, batch_size=batch_size,
                         total=total)

    def resplit(self, progress: bool = False) -> int:
        """Re-cut an index that another chunker or sentence splitter cut (``Manifest.split_outdated``);
        returns the articles re-chunked. Those this chunker cuts otherwise are replaced as an
        update replaces them (vectors through the embedding cache); after a splitter change every
        sentence vector is dropped first, for ``baheth embed`` to fill in again. The versions are
        recorded last, so an interrupted run is redone by the next."""
        if not self.manifest.split_outdated():
            return 0
        if self.manifest.splitter_version != SPLITTER_VERSION:
            with self.store.transaction():
                self.store.sentences.clear()
        changed = [art for art in self.store.article_ids() if self._cut_otherwise(art)]
        if changed:
            self._add((self.store.stored_article(art) for art in changed), progress=progress, total=len(changed),
                      replace_unchanged=True)
        self.manifest = replace(self.manifest, chunker_version=CHUNKER_VERSION, splitter_version=SPLITTER_VERSION)
        self.manifest.save(self.layout, self.store)
        return len(changed)

    def _cut_otherwise(self, article_id: str) -> bool:
        body = self.store.article(article_id)["body"]
        spans = [(s.start, s.end, s.heading) for s in split_passages(body, self.manifest.chunking)]
        return spans != [(p.start, p.end, p.heading) for p in self.store.passages_of(article_id)]

    def _add(self, records: Iterable[Record | Article], *, strict: bool = False, progress: bool = False,
             on_commit: Callable[[list[str]], None] | None = None, batch_size: int = BATCH_ARTICLES,
             total: int | None = None, replace_unchanged: bool = False) -> IndexReport:
        report = IndexReport()
        started = time.perf_counter()
        self._stop.clear()
        bar = progress_bar(progress, total, unit=" records")
        batches = self._batches(records, report, strict, batch_size, bar, replace_unchanged)
        try:
            for prepared in self._encoded(batches, report):
                ids = self._commit(prepared, report)
                if on_commit:
                    on_commit(ids)
            if report.passages and self.vectors_enabled:
                with Stopwatch(report.seconds, "tokens"):
                    count_tokens(self.store, self.encoder)
        except KeyboardInterrupt:
            report.interrupted = True
            raise Interrupted(report) from None
        finally:
            bar.close()
            with Stopwatch(report.seconds, "keyword"):
                self._flush_keyword()
            with Stopwatch(report.seconds, "vectors"):
                self._save_vectors()
            self._purge_retired()
            report.seconds["total"] = time.perf_counter() - started
        return report

    def _batches(self, records, report, strict, batch_size, bar, replace_unchanged) -> Iterator[list[PreparedArticle]]:
        pending: dict[str, PreparedArticle] = {}
        iterator = iter(records)
        while True:
            with Stopwatch(report.seconds, "read"):
                record = next(iterator, None)
            if record is None:
                break
            bar.update(1)
            if isinstance(record, Article):
                record = dated(record)
            if isinstance(record, ReadError):
                report.failed += 1
                report.errors.append(str(record))
                if strict:
                    raise StrictStop(str(record))
                continue
            report.dates_converted += bool(record.date_written)
            with Stopwatch(report.seconds, "chunk"):
                prepared = self._prepare(record, pending, replace_unchanged)
            if prepared is None:
                report.unchanged += 1
                continue
            with Stopwatch(report.seconds, "near-duplicates"):
                prepared.sketch = self._sketch(record.body)
            pending[record.id] = prepared
            if len(pending) >= batch_size:
                yield list(pending.values())
                pending = {}
        if pending:
            yield list(pending.values())

    def _prepare(self, article: Article, pending: dict[str, PreparedArticle],
                 replace_unchanged: bool = False) -> PreparedArticle | None:
        digest = content_hash(article)
        earlier = pending.get(article.id)
        stored = self.store.stored_hash(article.id)
        if earlier is None and stored == digest and not replace_unchanged:
            return None
        spans = split_passages(article.body, self.manifest.chunking)
        passages = [NewPassage(s.start, s.end, s.heading, article.body[s.start:s.end]) for s in spans]
        is_new = stored is None and (earlier is None or earlier.is_new)
        return PreparedArticle(article, digest, passages, is_new)

    def _sketch(self, body: str) -> np.ndarray | None:
        params = self.manifest.near_duplicates
        return None if params is None else sketch(body, params)

    def _encoded(self, batches: Iterator[list[PreparedArticle]], report: IndexReport) -> Iterator[list[PreparedArticle]]:
        """Yield each batch with embeddings, encoding batch i+1 while the caller writes batch i."""
        if not self.vectors_enabled:
            yield from batches
            return
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="encoder") as pool:
            pending = None
            try:
                for batch in batches:
                    future = pool.submit(self._encode_batch, batch, report)
                    if pending is not None:
                        yield pending.result()
                    pending = future
                if pending is not None:
                    yield pending.result()
            except BaseException:   # Ctrl-C, or the caller closing us: the pool's exit waits for the worker
                self._stop.set()
                raise

    def _encode_batch(self, batch: list[PreparedArticle], report: IndexReport) -> list[PreparedArticle]:
        texts = [p.text for item in batch for p in item.passages]
        with Stopwatch(report.seconds, "encode"):
            vectors, sentences, fresh = encode_with_sentences(self.cache, self.encoder.spec, texts,
                                                              self._encode_until_stopped)
        report.encoded += fresh
        rows = zip(vectors, sentences)
        for item in batch:
            item.passages = [NewPassage(p.start, p.end, p.heading, p.text, *next(rows)) for p in item.passages]
        return batch

    def _encode_until_stopped(self, texts: Sequence[str]):
        """The encoder in slices, checking for Ctrl-C between them: the main thread waits for
        this worker on its way out, and a whole batch takes the model tens of seconds."""
        parts = []
        for start in range(0, len(texts), ENCODE_SLICE):
            if self._stop.is_set():
                raise Stopped()
            parts.append(self.encoder.encode_passages(texts[start:start + ENCODE_SLICE]))
        return np.concatenate(parts) if parts else self.encoder.encode_passages(texts)

    def _commit(self, batch: list[PreparedArticle], report: IndexReport) -> list[str]:
        with Stopwatch(report.seconds, "sqlite"):
            old_pids = {item.article.id: self._pids_of(item.article.id) for item in batch if not item.is_new}
            with self.store.transaction():
                new_pids = []
                for item in batch:
                    new_pids += self.store.replace_article(item.article, item.digest, item.passages)
                # In the batch's transaction: the store dropped the pairs of the articles' old versions.
                with Stopwatch(report.seconds, "near-duplicates"):
                    for item in batch:
                        self._record_duplicates(item.article.id, item.sketch)
            generation = self.store.generation()
        removed = [pid for pids in old_pids.values() for pid in pids]
        self._keyword_backlog[0].extend(removed)
        self._keyword_backlog[1].extend(new_pids)
        self._keyword_generation = generation
        # Replaced articles wait for the next keyword commit like new ones: until then readers
        # resolve the keyword index's hits on their old passages to the retired old version.
        if (len(self._keyword_backlog[1]) >= KEYWORD_COMMIT_PASSAGES
                or time.monotonic() - self._keyword_flushed_at >= KEYWORD_COMMIT_SECONDS):
            with Stopwatch(report.seconds, "keyword"):
                self._flush_keyword()
        with Stopwatch(report.seconds, "vectors"):
            self.vectors.remove(removed)
            self.vectors.apply(self.store, new_pids)
        self._vectors_generation = generation
        for item in batch:
            if item.is_new:
                report.added += 1
            else:
                report.updated += 1
            report.passages += len(item.passages)
        return [item.article.id for item in batch]

    @property
    def duplicates(self) -> DuplicateFinder:
        if self._duplicates is None:
            self._duplicates = DuplicateFinder(self.manifest.near_duplicates, self.store.duplicates.sketches())
        return self._duplicates

    def _record_duplicates(self, article_id: str, values: np.ndarray | None) -> None:
        """Store the article's sketch and its near-duplicates among those indexed."""
        if values is None:
            return
        self.duplicates.remove(article_id)
        self.store.duplicates.put(article_id, values, self.duplicates.matches(values))
        self.duplicates.add(article_id, values)

    def _sketch_missing(self) -> int:
        """Sketch the articles of a store from before near-duplicates; returns how many."""
        done = 0
        while self.manifest.near_duplicates and (rows := self.store.duplicates.unsketched(500)):
            with self.store.transaction():
                for article_id, body in rows:
                    self._record_duplicates(article_id, self._sketch(body))
            done += len(rows)
        return done

    def _pids_of(self, article_id: str) -> list[int]:
        return [p.pid for p in self.store.passages_of(article_id)]

    def _flush_keyword(self) -> None:
        """Apply the committed batches not yet in the keyword index, as one Whoosh commit."""
        removed, new_pids = self._keyword_backlog
        if removed or new_pids:
            self.keyword.apply(self.store, removed, new_pids)
            self.keyword.set_generation(self._keyword_generation)
        self._keyword_backlog = ([], [])
        self._keyword_flushed_at = time.monotonic()

    def optimize(self) -> tuple[int, int]:
        """Merge the keyword index into one segment; returns its segment count before and after."""
        before = self.keyword.segment_count
        if before > 1:
            self.keyword.optimize()
        return before, self.keyword.segment_count

    def set_vector_index(self, policy: str) -> None:
        """Choose the vector structure (auto, flat or ivf): recorded in the manifest, applied now."""
        if policy not in POLICIES:
            raise ValueError(f"vector index must be one of {', '.join(POLICIES)}, not {policy!r}")
        if policy != self.manifest.vector_index:
            self.manifest = replace(self.manifest, vector_index=policy)
            self.manifest.save(self.layout, self.store)
            self.vectors.policy = policy
            self.vectors.save(self.vectors.generation)

    def _save_vectors(self) -> None:
        # Skipped when nothing changed, so re-running an unchanged input rewrites no file.
        if self.vectors.generation != self._vectors_generation:
            self.vectors.save(self._vectors_generation)

    def _purge_retired(self) -> None:
        """Drop the retired versions both derived indexes on disk are past: a reader opening
        either index from here on gets its hits on the new passages."""
        self.store.retired.purge(min(self.keyword.generation, self.vectors.generation))

    # -- deleting ------------------------------------------------------------------
    def delete(self, article_ids: Iterable[str]) -> list[str]:
        """Remove articles from the store and both indexes; returns the ids that existed."""
        ids = [art for art in dict.fromkeys(article_ids) if self.store.stored_hash(art) is not None]
        if not ids:
            return []
        removed_pids = [pid for art in ids for pid in self._pids_of(art)]
        with self.store.transaction():
            for art in ids:
                self.store.delete_article(art)
                if self._duplicates is not None:
                    self._duplicates.remove(art)
        generation = self.store.generation()
        self._keyword_backlog[0].extend(removed_pids)
        self._keyword_generation = generation
        self._flush_keyword()
        self.vectors.remove(removed_pids)
        self._vectors_generation = generation
        self._save_vectors()
        self._purge_retired()
        return ids

    def delete_matching(self, source: str | None = None, before: str | None = None) -> list[str]:
        """Delete every article from ``source`` and/or dated before ``before`` (YYYY-MM-DD)."""
        if not source and not before:
            raise ValueError("delete_matching needs a source or a date; use delete(ids) to name articles")
        return self.delete(self.store.article_ids(source=source, before=before))
