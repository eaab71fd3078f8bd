"""The Whoosh keyword index over passages: text, heading and the article title.

Documents are keyed by the store's passage id; everything else a result needs is
read back from the store, so the index holds only what ranking and filtering need.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from whoosh import index as whoosh_index
from whoosh.filedb.filestore import FileStorage
from whoosh import query as wq
from whoosh import scoring
from whoosh.codec.whoosh3 import W3Codec
from whoosh.fields import ID, Schema

from indexer.text.analysis import ROOT_STEM, arabic_analyzer
from indexer.keyword.fields import ArabicText
from indexer.keyword.merge import tiered_merge
from indexer.keyword.postings import CompiledPostings
from indexer.keyword.safe_pickle import SafeFileIndex
from indexer.keyword.writer import CompilingWriter
from indexer.keyword import files as index_files
from indexer.store.layout import IndexDamaged, IndexLayout, fsync_tree, read_state, write_json_atomic
from indexer.store.filters import Filters, spellings
from indexer.store.sqlite import Store

TITLE_BOOST = 2.0
HEADING_BOOST = 1.0
# Okapi BM25 parameters, tuned on XQuAD-ar and confirmed on TyDi-ar (docs/analysis.md);
# Whoosh's defaults were b=0.75, k1=1.2.
BM25_B = 0.5
BM25_K1 = 0.9
# Whoosh's in-memory postings buffer per write, spilled to disk when full: an indexing commit of
# 8,192 passages fills about 146 (its own estimate), so a commit never spills and a merge spills
# instead of growing past it (docs/performance.md, "Indexing memory").
WRITER_BUFFER_MB = 160
# The passage text's ISRI-root field, weighed as the light-stemmed text field (docs/analysis.md).
ROOT_BOOST = 1.0


@dataclass(frozen=True)
class KeywordQuery:
    """Analyzed query: terms (light stems) and roots (ISRI, searched in ``text_root``) are OR-ed;
    each phrase (a list of analyzed terms) must match."""

    terms: tuple[str, ...]
    phrases: tuple[tuple[str, ...], ...] = ()
    roots: tuple[str, ...] = ()


def make_schema() -> Schema:
    analyzer = arabic_analyzer()
    return Schema(
        pid=ID(stored=True, unique=True),
        article_id=ID(stored=True),
        text=ArabicText(analyzer=analyzer, phrase=True),
        text_root=ArabicText(analyzer=arabic_analyzer(ROOT_STEM), phrase=False),
        heading=ArabicText(analyzer=analyzer, phrase=False),
        title=ArabicText(analyzer=analyzer, phrase=False, field_boost=TITLE_BOOST),
        source=ID, section=ID, date=ID,
    )


def _document(passage, article_row) -> dict:
    return {
        "pid": str(passage.pid), "article_id": passage.article_id, "text": passage.text, "text_root": passage.text,
        "heading": passage.heading, "title": article_row["title"],
        "source": article_row["source"], "section": article_row["section"],
        "date": article_row["date"][:10],
    }


def filter_query(filters: Filters, reader) -> wq.Query | None:
    """Whoosh's form of ``filters``; ``reader`` lists the spellings of sources and sections indexed,
    so that they match case-insensitively (``indexer.store.filters.spellings``)."""
    parts = []
    for field in ("source", "section"):
        wanted = getattr(filters, field)
        if wanted:
            names = spellings(wanted, (t.decode("utf-8") for t in reader.lexicon(field)))
            parts.append(wq.Or([wq.Term(field, name) for name in names]))
    if filters.since or filters.until:
        # Empty dates sort first: start at "0" so an undated article never matches a date filter.
        parts.append(wq.TermRange("date", filters.since or "0", filters.until or "\uffff"))
    return wq.And(parts) if parts else None


# Each query term is searched in these fields, with these query-time boosts; each root in ROOT_FIELDS.
FIELD_BOOSTS = (("text", 1.0), ("title", 1.0), ("heading", HEADING_BOOST))
ROOT_FIELDS = (("text_root", ROOT_BOOST),)


def field_terms(query: KeywordQuery) -> tuple[tuple[str, float, tuple[str, ...]], ...]:
    """(field, boost, terms) for every field a bag-of-words query searches."""
    terms, roots = tuple(dict.fromkeys(query.terms)), tuple(dict.fromkeys(query.roots))
    return (*((f, b, terms) for f, b in FIELD_BOOSTS), *((f, b, roots) for f, b in ROOT_FIELDS))


def build_query(query: KeywordQuery) -> wq.Query:
    clauses: list[wq.Query] = [wq.Term(f, t, boost=b) for f, b, terms in field_terms(query) for t in terms]
    if query.phrases:
        required = [wq.Phrase("text", list(p)) if len(p) > 1 else wq.Term("text", p[0])
                    for p in query.phrases if p]
        return wq.AndMaybe(wq.And(required), wq.Or(clauses)) if clauses else wq.And(required)
    return wq.Or(clauses)


def _storage(folder: Path) -> FileStorage:
    # Without mmap: Whoosh would otherwise map every segment file it reads, and copying a merged
    # segment into the compiled postings reads all of it, so the writer's resident memory grew
    # with the index (docs/robustness.md); plain reads keep it flat.
    return FileStorage(str(folder), supports_mmap=False)


class KeywordIndex:
    def __init__(self, layout: IndexLayout):
        self.layout = layout
        self._ix = None
        self._searcher = None
        self._whoosh_checked = False   # the searcher's Whoosh files checksummed (first Whoosh search)
        self.compiled = CompiledPostings(layout.keyword_postings_dir, [f for f, _ in (*FIELD_BOOSTS, *ROOT_FIELDS)])

    # -- lifecycle -----------------------------------------------------------------
    def create(self) -> None:
        """An empty index, at the generation of an empty store."""
        self._empty()
        self.set_generation(0)

    def _empty(self) -> None:
        # The state goes first: a process killed anywhere below leaves an index that says it
        # must be rebuilt, never an emptied one that claims to be current.
        write_json_atomic(self.layout.keyword_state, {"generation": -1})
        shutil.rmtree(self.layout.keyword_postings_dir, ignore_errors=True)
        if self.layout.keyword_dir.exists():
            shutil.rmtree(self.layout.keyword_dir)
        self.layout.keyword_dir.mkdir(parents=True)
        self._ix = _storage(self.layout.keyword_dir).create_index(make_schema(), indexclass=SafeFileIndex)

    def open(self) -> "KeywordIndex":
        if self._ix is None:
            try:
                self._ix = _storage(self.layout.keyword_dir).open_index(indexclass=SafeFileIndex)
            except Exception as exc:  # Whoosh raises many kinds on a damaged TOC; all mean "rebuild"
                raise IndexDamaged(self.layout.keyword_dir, exc) from None
        return self

    def exists(self) -> bool:
        """A table of contents is there (read nothing: ``whoosh.index.exists_in`` unpickles it)."""
        folder = self.layout.keyword_dir
        return folder.is_dir() and whoosh_index.TOC._latest_generation(_storage(folder), "MAIN") >= 0

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None

    @property
    def generation(self) -> int:
        return int(read_state(self.layout.keyword_state)["generation"])

    def set_generation(self, generation: int) -> None:
        # Whoosh does not fsync; the segments must be on disk before the state says they are.
        fsync_tree(self.layout.keyword_dir)
        fsync_tree(self.layout.keyword_postings_dir)
        digests = index_files.record(self.layout, read_state(self.layout.keyword_state).get("files", {}))
        write_json_atomic(self.layout.keyword_state, {"generation": generation, "files": digests})

    def damage(self, deep: bool = True, strict: bool = True) -> list[tuple[Path, str]]:
        """(file, what is wrong) for each file of the latest commit that differs from the writer's
        record: missing or of another size, or (``deep``) of another checksum; not ``strict``, what
        a search cannot do without (see ``files.problems``)."""
        self.open()
        toc = self._ix._read_toc()
        owners = [*(segment.segment_id() for segment in toc.segments), f"_MAIN_{toc.generation}.toc"]
        recorded = read_state(self.layout.keyword_state).get("files", {})
        return index_files.problems(self.layout, recorded, owners, deep, strict)

    def _raise_damage(self, deep: bool) -> None:
        found = self.damage(deep, strict=False)
        if found:
            raise IndexDamaged(*found[0])

    # -- writing -------------------------------------------------------------------
    def apply(self, store: Store, pids: Sequence[int], new_pids: Sequence[int] = ()) -> None:
        """Make the index agree with the store: drop each of ``pids``, then add what the store holds
        for ``pids`` and ``new_pids``. ``new_pids`` need no delete (ids are never reused), which
        saves a lookup per passage on the common path of an indexing run.
        """
        self.open()
        writer = self._writer(limitmb=WRITER_BUFFER_MB)
        try:
            for pid in pids:
                writer.delete_by_term("pid", str(pid))
            for passage, row in store.iter_passages([*pids, *new_pids]):
                writer.add_document(**_document(passage, row))
            writer.commit(mergetype=tiered_merge)
        except BaseException:
            writer.cancel()
            raise
        self.compiled.sync(self._ix)

    def rebuild(self, store: Store) -> None:
        self.close()
        self._empty()
        writer = self._writer(limitmb=WRITER_BUFFER_MB)
        for passage, row in store.iter_passages():
            writer.add_document(**_document(passage, row))
        writer.commit(optimize=True)
        self.compiled.sync(self._ix)
        self.set_generation(store.generation())

    def optimize(self) -> None:
        """Merge every segment into one (docs/performance.md: bulk segments are never merged
        automatically); the pool stays bounded, spilling sorted runs to disk."""
        self.open()
        self._writer(limitmb=WRITER_BUFFER_MB).commit(optimize=True)
        self.compiled.sync(self._ix)
        self.set_generation(self.generation)   # same generation, the merged segment's files

    @property
    def segment_count(self) -> int:
        self.open()
        with self._ix.reader() as reader:
            return len(list(reader.leaf_readers()))

    def _writer(self, **options) -> CompilingWriter:
        # Writes each segment's compiled postings as it writes the segment; sync() then only drops
        # the copies of merged-away segments (and copies any segment written some other way).
        # Uncompressed posting blocks: zlib cost 12% of keyword-only indexing for a 30% smaller
        # index (docs/performance.md); each block records its compression, so older segments
        # written compressed stay readable and merge into uncompressed ones.
        options.setdefault("codec", W3Codec(compression=0))
        return CompilingWriter(self._ix, self.layout.keyword_postings_dir, self.compiled.fields, "pid", **options)

    # -- reading -------------------------------------------------------------------
    def refresh(self) -> None:
        """Open a searcher on the latest commit. Between refreshes every search uses that one
        searcher, so the engine can pin the keyword index at a state its store snapshot covers."""
        if self._searcher is not None and not self._searcher.up_to_date():
            # Not ``refresh()``: whoosh-reloaded's reader reuse adds back the segments a merge
            # replaced, so a refreshed searcher holds some documents twice.
            self._searcher.close()
            self._searcher = None
        self.searcher()

    def searcher(self):
        self.open()
        if self._searcher is None:
            self.compiled.recorded = read_state(self.layout.keyword_state).get("files", {})
            self._raise_damage(deep=False)
            try:
                self._searcher = self._ix.searcher(weighting=scoring.BM25F(B=BM25_B, K1=BM25_K1))
            except Exception as exc:  # a segment Whoosh cannot open: only a rebuild helps
                raise IndexDamaged(self.layout.keyword_dir, exc) from None
            self._whoosh_checked = False
        return self._searcher

    def search(self, query: KeywordQuery, limit: int, filters: Filters = Filters(),
               allowed: np.ndarray | None = None) -> tuple[list[tuple[int, float]], int]:
        """Top ``limit`` (pid, BM25F score) pairs and the number of matching passages.

        A plain OR of terms is scored on the compiled postings (same scores, 200x+ faster at 100k),
        filtered by ``allowed`` (the pids that pass ``filters``, from the store) when filters are
        active; phrases, and filters without ``allowed``, go through Whoosh."""
        if not query.terms and not query.phrases:
            return [], 0
        if not query.phrases and (allowed is not None or not filters.active()):
            found = self.compiled.search(self.searcher(), field_terms(query), limit,
                                         allowed if filters.active() else None)
            if found is not None:
                return found
        searcher = self.searcher()
        if not self._whoosh_checked:
            # Whoosh reads a garbled postings block as other postings: checksums first, once.
            self._raise_damage(deep=True)
            self._whoosh_checked = True
        try:
            results = searcher.search(build_query(query), limit=limit, filter=filter_query(filters, searcher.reader()))
            hits = [(int(hit["pid"]), float(hit.score)) for hit in results]
        except Exception as exc:  # damage the writer had no record of (an index from before records)
            raise IndexDamaged(self.layout.keyword_dir, exc) from None
        return hits, len(results)

    def documents(self) -> list[tuple[int, str]]:
        """(passage id, article id) of every live document, duplicates included."""
        reader = self.searcher().reader()
        return [(int(fields["pid"]), fields["article_id"]) for _, fields in reader.iter_docs()]
