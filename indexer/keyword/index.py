"""The Whoosh keyword index over passages: text, heading and the article title.

Documents are keyed by the store's passage id; everything else a result needs is
read back from the store, so the index holds only what ranking and filtering need.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from whoosh import index as whoosh_index
from whoosh.filedb.filestore import FileStorage
from whoosh import query as wq
from whoosh import scoring
from whoosh.codec.whoosh3 import W3Codec
from whoosh.fields import ID, Schema

from indexer.text.analysis import arabic_analyzer
from indexer.text.arabic import is_stopword
from indexer.text.dates import utc_day
from indexer.keyword.clitics import READINGS_KEPT, ReadWords, read_clitics
from indexer.keyword.fields import ArabicText
from indexer.keyword.merge import tiered_merge
from indexer.keyword.adjacency import adjacent
from indexer.keyword.groups import add_positions, merge_runs
from indexer.keyword.postings import CompiledPostings, MatchRun, PostingsView, SegmentArticles
from indexer.keyword.query import KeywordQuery
from indexer.keyword.safe_pickle import SafeFileIndex
from indexer.keyword.settings import FORM_FIELD_NAMES, KeywordSettings
from indexer.keyword.writer import CompilingWriter
from indexer.keyword import files as index_files
from indexer.store.layout import IndexDamaged, IndexLayout, fsync_tree, read_state, write_json_atomic
from indexer.store.filters import Filters, spellings
from indexer.store.sqlite import Store

# Tries to open a searcher while a writer keeps publishing (each try fails only if one did).
OPEN_ATTEMPTS = 5

# Whoosh's in-memory postings buffer per write, spilled to disk when full: an indexing commit of
# 8,192 passages fills about 232 with the exact-form fields (its own estimate; about 1.4 times that
# in RSS), so a commit never spills (spilling cost a quarter of the commit) and a merge spills
# instead of growing past it (docs/performance.md, "Indexing memory").
WRITER_BUFFER_MB = 288


def make_schema(settings: KeywordSettings) -> Schema:
    analyzer = arabic_analyzer(settings.stem)
    forms_analyzer = arabic_analyzer("none", renumber=False)
    return Schema(
        pid=ID(stored=True, unique=True),
        article_id=ID(stored=True),
        text=ArabicText(analyzer=analyzer, phrase=True),
        text_root=ArabicText(analyzer=arabic_analyzer(settings.root_stem), phrase=False),
        heading=ArabicText(analyzer=analyzer, phrase=False),
        title=ArabicText(analyzer=analyzer, phrase=False, field_boost=settings.title_boost),
        # The words as written (normalized, not stemmed), with positions for names and phrases.
        text_form=ArabicText(analyzer=forms_analyzer, phrase=True),
        heading_form=ArabicText(analyzer=forms_analyzer, phrase=True),
        title_form=ArabicText(analyzer=forms_analyzer, phrase=True, field_boost=settings.title_boost),
        source=ID, section=ID, date=ID,
    )


def _document(passage, article_row) -> dict:
    return {
        "pid": str(passage.pid), "article_id": passage.article_id, "text": passage.text, "text_root": passage.text,
        "heading": passage.heading, "title": article_row["title"],
        "text_form": passage.text, "heading_form": passage.heading, "title_form": article_row["title"],
        "source": article_row["source"], "section": article_row["section"],
        "date": utc_day(article_row["date"]),
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


def field_terms(query: KeywordQuery, settings: KeywordSettings) -> tuple[tuple[str, float, tuple[str, ...]], ...]:
    """(field, boost, terms) for every field a bag-of-words query searches."""
    words = [w for g in query.searched for w in g]
    terms, roots = tuple(dict.fromkeys(settings.stems(words))), tuple(dict.fromkeys(settings.roots(words)))
    return (*((f, b, terms) for f, b in settings.stem_fields), *((f, b, roots) for f, b in settings.root_fields))


def build_query(query: KeywordQuery, settings: KeywordSettings) -> wq.Query:
    """Whoosh's form of the bag of words ``field_terms`` scores (the compiled postings' reference)."""
    return wq.Or([wq.Term(f, t, boost=b) for f, b, terms in field_terms(query, settings) for t in terms])


def _storage(folder: Path) -> FileStorage:
    # Without mmap: Whoosh would otherwise map every segment file it reads, and copying a merged
    # segment into the compiled postings reads all of it, so the writer's resident memory grew
    # with the index (docs/robustness.md); plain reads keep it flat.
    return FileStorage(str(folder), supports_mmap=False)


class KeywordIndex:
    """``settings`` are the index's own (its manifest's): its schema was written with them."""

    def __init__(self, layout: IndexLayout, settings: KeywordSettings):
        self.layout = layout
        self.settings = settings
        self._ix = None
        self._searcher = None
        self._whoosh_checked = False   # the searcher's Whoosh files checksummed (first Whoosh search)
        self._readings = None          # (searcher, ReadWords): ``_readings_memo``
        self._state = None             # (the state file's identity, its generation): ``generation``
        self.compiled = CompiledPostings(layout.keyword_postings_dir, [
            f for f, _ in (*settings.stem_fields, *settings.root_fields, *settings.form_fields)])

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
        self._ix = _storage(self.layout.keyword_dir).create_index(make_schema(self.settings), indexclass=SafeFileIndex)

    def open(self) -> "KeywordIndex":
        if self._ix is None:
            try:
                self._ix = _storage(self.layout.keyword_dir).open_index(indexclass=SafeFileIndex)
            except Exception as exc:  # Whoosh raises many kinds on a damaged TOC; all mean "rebuild"
                raise IndexDamaged(self.layout.keyword_dir, exc) from None
        return self

    def exists(self) -> bool:
        """A table of contents is there (read nothing: ``whoosh.index.exists_in`` unpickles it)."""
        return self.layout.keyword_dir.is_dir() and self._toc_generation() >= 0

    def _toc_generation(self) -> int:
        """The generation of Whoosh's latest table of contents (-1: none)."""
        return whoosh_index.TOC._latest_generation(_storage(self.layout.keyword_dir), "MAIN")

    def _state_identity(self) -> tuple[int, int, int] | None:
        """Which state file is there: a writer always replaces it by a rename (a new inode)."""
        try:
            stat = self.layout.keyword_state.stat()
        except OSError:
            return None
        return stat.st_ino, stat.st_mtime_ns, stat.st_size

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None

    @property
    def generation(self) -> int:
        # Every search asks; the state file lists every file with its digest (half a megabyte at
        # a million passages), so it is parsed again only when a writer has replaced it.
        identity = self._state_identity()
        if identity is None or self._state is None or self._state[0] != identity:
            self._state = (identity, int(read_state(self.layout.keyword_state)["generation"]))
        return self._state[1]

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
        owners += [name for name, (members, _) in self.compiled.groups().items() if set(members) <= set(owners)]
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
        self._sync_compiled()

    def _sync_compiled(self) -> None:
        """The compiled postings in step with the segments, then runs of bulk segments grouped."""
        self.compiled.sync(self._ix)
        with self._ix.reader() as reader:
            merge_runs(self.compiled, reader, self.settings.merge_segments)

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

    def complete_compiled(self) -> int:
        """What a writer's open does: articles and positions for the compiled copies written
        before they were recorded (positions: a re-export of the positional fields of each such
        segment, then merged into its groups), and groups for runs of bulk segments not grouped
        yet (an index from before groups); returns how many folders it wrote."""
        folders = self.layout.keyword_postings_dir
        if not folders.is_dir():
            return 0
        self.open()
        schema = self._ix.schema
        incomplete = sum(SegmentArticles.load(f) is None or self.compiled.lacks_positions(f, schema)
                         for f in folders.iterdir() if f.is_dir())
        if incomplete:
            self.compiled.sync(self._ix)
            add_positions(self.compiled, schema)
        with self._ix.reader() as reader:
            written = merge_runs(self.compiled, reader, self.settings.merge_segments)
        if incomplete or written:
            self.set_generation(self.generation)   # same generation, the new files recorded
        return incomplete + written

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
        return CompilingWriter(self._ix, self.layout.keyword_postings_dir, self.compiled.fields, "pid", "article_id",
                               **options)

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
            for attempt in range(OPEN_ATTEMPTS):
                before = self._published()
                try:
                    self._searcher = self._open_searcher()
                    break
                except IndexDamaged:
                    # A writer's commit deletes the files of the state it replaces: a reader that
                    # read that state just before finds them gone. Damage is what stays the same.
                    if attempt == OPEN_ATTEMPTS - 1 or self._published() == before:
                        raise
            self._whoosh_checked = False
        return self._searcher

    def _open_searcher(self):
        self.compiled.recorded = read_state(self.layout.keyword_state).get("files", {})
        self._raise_damage(deep=False)
        try:
            return self._ix.searcher(weighting=scoring.BM25F(B=self.settings.bm25_b, K1=self.settings.bm25_k1))
        except Exception as exc:  # a segment Whoosh cannot open: only a rebuild helps
            raise IndexDamaged(self.layout.keyword_dir, exc) from None

    def _published(self) -> tuple:
        """What a writer changes when it publishes: Whoosh's latest table of contents, the state file."""
        return self._toc_generation(), self._state_identity()

    def search(self, query: KeywordQuery, limit: int, filters: Filters = Filters(),
               allowed: np.ndarray | None = None) -> tuple[list[tuple[int, float]], int]:
        """Top ``limit`` (pid, BM25F score) pairs and the exact number of passages matching
        ``query`` (see ``matches``)."""
        if not query.groups and not query.phrases:
            return [], 0
        run = self.matches(query, filters, allowed, limit)
        return list(zip(run.pids.tolist(), run.scores.tolist())), run.total

    def matches(self, query: KeywordQuery, filters: Filters = Filters(), allowed: np.ndarray | None = None,
                limit: int | None = None) -> MatchRun:
        """The passages matching ``query`` (see ``KeywordQuery``; its readings are read here unless the
        caller read them, ``read_clitics``), best first by BM25F, every one
        unless ``limit``, among the ``allowed`` pids (those passing ``filters``, from the store) when
        filters are active. The engine takes every match, to page one ranking; a query without
        words or phrases matches nothing."""
        view = self._view()
        if not query.groups and not query.phrases:
            return view.run(np.zeros(view.total_docs), np.zeros(view.total_docs, dtype=bool))
        if filters.active() and allowed is None:
            searcher = view.searcher
            allowed = np.array([int(searcher.stored_fields(d)["pid"])
                                for d in searcher.docs_for_query(filter_query(filters, searcher.reader()))], dtype=np.int64)
        if not query.readings:
            query = read_clitics(view, query, self.settings, self._readings_memo(view))
        scores, matched = _match(view, query, self.settings)
        if filters.active():
            matched &= view.allowed(allowed)
        return view.run(scores, matched, limit)

    def largest_pid(self) -> int:
        """The largest passage id the index holds or held (deleted ones not merged away yet); -1
        when none. Ids are never reused and reach the index in increasing order, so each current
        passage of the store up to it is in the index as the store holds it."""
        pids = self._view().joined.pids
        return int(pids.max()) if len(pids) else -1

    def read_clitics(self, query: KeywordQuery) -> KeywordQuery:
        """``query`` with the readings ``matches`` searches it with (see ``read_clitics``)."""
        view = self._view()
        return read_clitics(view, query, self.settings, self._readings_memo(view))

    def _readings_memo(self, view: PostingsView) -> ReadWords:
        """The words read so far by this searcher, with their readings and whole words: those depend
        only on what the index holds, which one searcher never sees change, and questions share
        many words (each costs several look-ups over every segment). Bounded; a new searcher
        starts afresh."""
        if self._readings is None or self._readings[0] is not view.searcher or len(self._readings[1]) >= READINGS_KEPT:
            self._readings = (view.searcher, ReadWords())
        return self._readings[1]

    def _view(self) -> PostingsView:
        searcher = self.searcher()
        if not self._whoosh_checked and self.compiled.missing(searcher):
            # A segment without its compiled copy is copied from Whoosh's postings, and Whoosh
            # reads a garbled postings block as other postings: checksums first, once.
            self._raise_damage(deep=True)
            self._whoosh_checked = True
        try:
            view = self.compiled.view(searcher)
        except Exception as exc:  # damage the writer had no record of (an index from before records)
            raise IndexDamaged(self.layout.keyword_dir, exc) from None
        if view is None:
            raise ValueError("the keyword index must be searched with BM25F")
        return view

    def search_terms(self, terms: Sequence[str], limit: int,
                     allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top ``limit`` (pid, BM25F score) for the OR of analyzed ``terms`` (light stems) in the
        stemmed fields, among ``allowed`` if given: a bag of words chosen by the caller, not typed
        (more like this)."""
        fields = [(f, b, tuple(terms)) for f, b in self.settings.stem_fields]
        return self.compiled.search(self.searcher(), fields, limit, allowed)[0]

    def documents(self) -> list[tuple[int, str]]:
        """(passage id, article id) of every live document, duplicates included."""
        reader = self.searcher().reader()
        return [(int(fields["pid"]), fields["article_id"]) for _, fields in reader.iter_docs()]


def _match(view: PostingsView, query: KeywordQuery, settings: KeywordSettings) -> tuple[np.ndarray, np.ndarray]:
    """Every document's score, and which live documents match ``query``."""
    phrase_words = [(w,) for p in query.phrases for w in p if not is_stopword(w)]
    if query.short:
        groups = [query.forms(g) for g in (*query.searched, *phrase_words)]
        scores, held = view.score([(f, b, groups) for f, b in settings.form_fields])
        matched = (_groups_held(view, held, len(groups)) == len(groups)) & view.live
        if len(query.groups) > 1:
            matched, scores = _name_or_all(view, query, matched, scores, settings)
    else:
        # A word typed twice counts once, as in v3's bag of words.
        stem_groups = _once(settings.stems(g) for g in query.searched)
        root_groups = _once(settings.roots(g) for g in query.searched)
        scores, held = view.score([*((f, b, stem_groups) for f, b in settings.stem_fields),
                                   *((f, b, root_groups) for f, b in settings.root_fields)])
        # Roots re-rank; only the stem fields decide what matches.
        stem_held = held[:len(settings.stem_fields)]
        if settings.min_should_match == 1:   # any group: one mask, not a count of each group's
            matched = _any_held(view, stem_held)
        else:
            matched = _groups_held(view, stem_held, len(stem_groups)) >= settings.min_should_match
        if query.phrases:
            # As in v3: a question's phrases are its light stems, next to each other in the text,
            # and they alone decide what matches; its other words only rank.
            phrase_stems = [settings.stems([w]) for w, in phrase_words]
            phrase_scores, phrase_held = view.score([("text", 1.0, phrase_stems)])
            scores = scores + phrase_scores
            matched = _groups_held(view, phrase_held, len(phrase_stems)) == len(phrase_stems)
    matched &= view.live
    for phrase in query.phrases:
        matched &= _phrase_mask(view, query, phrase, matched, settings)
    if query.excluded:
        _, held = view.score([(f, 0.0, [query.forms(query.excluded)]) for f, _ in settings.form_fields])
        matched &= _groups_held(view, held, 1) == 0
    return scores, matched


def _once(groups) -> list[list[str]]:
    return [list(g) for g in dict.fromkeys(tuple(g) for g in groups)]


def group_masks(view: PostingsView, held: list[list[np.ndarray]], groups: int) -> Iterator[np.ndarray]:
    """For each of the first ``groups`` groups: True where a document holds it in any of ``held``'s
    fields (``PostingsView.score``'s second part)."""
    for g in range(groups):
        mask = np.zeros(view.total_docs, dtype=bool)
        for per_field in held:
            mask[per_field[g]] = True
        yield mask


def _any_held(view: PostingsView, held: list[list[np.ndarray]]) -> np.ndarray:
    """True where a document holds any group in any of ``held``'s fields."""
    mask = np.zeros(view.total_docs, dtype=bool)
    for per_field in held:
        for docs in per_field:
            mask[docs] = True
    return mask


def _groups_held(view: PostingsView, held: list[list[np.ndarray]], groups: int) -> np.ndarray:
    """How many of the first ``groups`` groups each document holds in any of ``held``'s fields.
    Added up a group at a time in the smallest integers that hold the count: a [group, document]
    matrix summed along its groups was a sixth of a question's matching at a million passages."""
    counts = np.zeros(view.total_docs, dtype=np.min_scalar_type(groups))
    for mask in group_masks(view, held, groups):
        counts += mask
    return counts


def _phrase_mask(view: PostingsView, query: KeywordQuery, phrase: tuple[str, ...], candidates: np.ndarray,
                 settings: KeywordSettings) -> np.ndarray:
    """The ``candidates`` holding ``phrase``: in written forms in the form fields, where stopwords
    keep their places; for a question, by light stems in the text field, where they do not."""
    if query.short:
        sequence = [(i, query.word_forms(w)) for i, w in enumerate(phrase) if not is_stopword(w)]
        return _adjacent_mask(view, sequence, candidates) if len(sequence) > 1 else candidates
    sequence = [(i, frozenset(settings.stems([w]))) for i, w in enumerate(w for w in phrase if not is_stopword(w))]
    return _adjacent_mask(view, sequence, candidates, ("text",)) if len(sequence) > 1 else candidates


def _adjacent_mask(view: PostingsView, sequence, candidates: np.ndarray,
                   fields: tuple[str, ...] = FORM_FIELD_NAMES) -> np.ndarray:
    """The ``candidates`` holding the (offset, forms) ``sequence`` as placed (see ``adjacent``)."""
    docs = np.flatnonzero(candidates)
    mask = np.zeros(view.total_docs, dtype=bool)
    if len(docs):
        mask[docs[adjacent(view, docs, sequence, fields)]] = True
    return mask


def _name_or_all(view: PostingsView, query: KeywordQuery, holding_all: np.ndarray,
                 scores: np.ndarray, settings: KeywordSettings) -> tuple[np.ndarray, np.ndarray]:
    """(matches, scores): the documents holding the words as typed (next to each other, in order)
    when they are a name, i.e. stand so in at least ``settings.collocation`` of the documents holding
    them all; else all of them, those holding them as typed boosted by ``settings.adjacent_boost``."""
    together = _adjacent_mask(view, [(o, frozenset(query.forms(g))) for o, g in zip(query.offsets, query.searched)],
                              holding_all)
    if together.sum() >= settings.collocation * holding_all.sum():
        return together, scores
    return holding_all, scores + settings.adjacent_boost * scores * together
