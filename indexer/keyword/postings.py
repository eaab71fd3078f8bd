"""Whoosh's postings as numpy arrays, so a bag-of-words query is scored in a few vector ops.

Why: Whoosh scores every posting of every query term in pure Python. A question of nine
words matches tens of thousands of passages at 100k passages: Whoosh took 171 to 273 ms
per question there, this path 0.76 ms, 1.1x bm25s (docs/performance.md). Whoosh stays
the index of record: this module only copies each Whoosh *segment* (immutable once
written) into arrays, one folder per segment id, and scores with Whoosh's own formulas
(the weighting's ``idf``, the searcher's average field lengths, ``whoosh.scoring.bm25`` with
the BM25F object's B and K1), so rankings match Whoosh's up to floating-point summation order.

Per segment and field the folder holds ``terms`` (sorted, as numpy unicode), ``offsets``
into ``docs``/``weights`` (raw int32/float32 files, streamed while exporting; the postings, deleted documents included, as Whoosh keeps
them until a merge), and ``lengths`` (each document's field length as Whoosh quantizes
it); ``pids.npy`` maps segment document numbers to passage ids; the fields with positions
also hold those (``indexer/keyword/positions.py``). Deletions are read live from the Whoosh
segment. The engine's writer (``indexer/keyword/writer.py``) writes each
folder while Whoosh writes the segment; ``export_segment`` copies a segment written any other
way. A segment not yet copied (a writer is publishing it) is copied into memory for the search.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Sequence

import numpy as np
from whoosh.scoring import BM25F, bm25

from indexer.keyword.files import Digests, check_folder
from indexer.keyword.positions import POSITION_DTYPE, PositionsWriter, positional
from indexer.keyword.selection import best_first
from indexer.store.layout import IndexDamaged, IndexLayout, position_offsets_file, positions_file

Hits = list[tuple[int, float]]
# Groups of segments' compiled postings merged by the writer (indexer/keyword/groups.py).
GROUP_PREFIX = "group-"
GROUP_MEMBERS = "members.json"
_LOADING = threading.Lock()


@dataclass(frozen=True)
class FieldPostings:
    terms: np.ndarray      # sorted unicode terms
    offsets: np.ndarray    # int64, len(terms) + 1
    docs: np.ndarray       # int32 segment document numbers
    weights: np.ndarray    # float32 term weights (frequency times field boost)
    lengths: np.ndarray    # float32 field length per document, as Whoosh scores it
    # Word positions (``indexer/keyword/positions.py``); None in a folder from before them.
    positions: np.ndarray | None = None          # uint16, each posting's, in posting order
    position_offsets: np.ndarray | None = None   # int64, len(terms) + 1, into positions

    def ranges(self, terms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where each of ``terms`` (a unicode array) has its postings in ``docs``/``weights``:
        (starts, ends), an empty range where absent."""
        if not len(self.terms):
            return np.zeros(len(terms), np.int64), np.zeros(len(terms), np.int64)
        at, present = self._find(terms)
        return np.where(present, self.offsets[at], 0), np.where(present, self.offsets[at + 1], 0)

    def postings(self, terms: np.ndarray) -> list[tuple[np.ndarray, np.ndarray] | None]:
        """(docs, weights) of each of ``terms`` (a unicode array), None where absent."""
        if not len(self.terms):
            return [None] * len(terms)
        at, present = self._find(terms)
        return [(self.docs[self.offsets[i]:self.offsets[i + 1]], self.weights[self.offsets[i]:self.offsets[i + 1]])
                if ok else None for i, ok in zip(at.tolist(), present.tolist())]

    def _find(self, terms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each of ``terms`` (a unicode array), a place in ``self.terms`` (not empty), and
        whether it is there. A term longer than every term here is not here, and is not searched
        for as it is: ``np.searchsorted`` would first copy every term here to its width (6.0 ms
        for a field of 267,909 terms at 1M, where a word that fits takes 2 us: docs/performance.md)."""
        width = self.terms.dtype.itemsize // 4   # UCS-4 characters
        fits = np.char.str_len(terms) <= width if terms.dtype.itemsize > self.terms.dtype.itemsize else None
        if fits is not None:
            terms = np.where(fits, terms, "").astype(self.terms.dtype)
        at = np.minimum(np.searchsorted(self.terms, terms), len(self.terms) - 1)
        present = self.terms[at] == terms
        return at, present if fits is None else present & fits


def article_key(article_id: str) -> int:
    """The article id's int64 (the first 8 bytes of its BLAKE2b): search groups a query's matches by
    article in numpy with these. Two of a million articles share a key with odds of about 3e-8."""
    return int.from_bytes(hashlib.blake2b(article_id.encode("utf-8"), digest_size=8).digest(), "little", signed=True)


def article_keys(article_ids) -> np.ndarray:
    """``article_key`` of each of ``article_ids``."""
    return np.array([article_key(a) for a in article_ids], dtype=np.int64)


@dataclass(frozen=True)
class SegmentArticles:
    """The article of each segment document: ``names`` (the segment's article ids, sorted, once
    each), ``of`` (int32 per document, into ``names``) and ``keys`` (``article_keys`` of ``names``)."""

    names: np.ndarray
    of: np.ndarray
    keys: np.ndarray

    FILES = ("article_names", "article_of", "article_keys")

    @classmethod
    def of_documents(cls, article_ids: Sequence[str]) -> "SegmentArticles":
        names, of = np.unique(np.array(article_ids, dtype=str), return_inverse=True)
        return cls(names, of.astype(np.int32), article_keys(names.tolist()))

    def save(self, folder: Path) -> None:
        for name, array in zip(self.FILES, (self.names, self.of, self.keys)):
            np.save(folder / f"{name}.npy", array)

    @classmethod
    def load(cls, folder: Path) -> "SegmentArticles | None":
        """None for a folder written before articles were recorded (``CompiledPostings.sync`` adds them)."""
        if not all((folder / f"{name}.npy").is_file() for name in cls.FILES):
            return None
        return cls(*(np.load(folder / f"{name}.npy", mmap_mode="r").view(np.ndarray) for name in cls.FILES))


@dataclass(frozen=True)
class SegmentPostings:
    pids: np.ndarray                 # int64 passage id per segment document number
    fields: dict[str, FieldPostings]
    articles: SegmentArticles | None = None

    @classmethod
    def load(cls, folder: Path, fields: Sequence[str]) -> "SegmentPostings":
        # Mapped, but seen as plain arrays: np.memmap's Python-level __getitem__ was a quarter of
        # a keyword query's time over a nine-segment index (docs/performance.md).
        def arr(name):
            return np.load(folder / f"{name}.npy", mmap_mode="r").view(np.ndarray)

        def raw(name, dtype):
            path = folder / f"{name}.bin"
            return np.memmap(path, dtype=dtype, mode="r").view(np.ndarray) if path.stat().st_size else np.zeros(0, dtype)
        def positions(field):
            if not (folder / position_offsets_file(field)).is_file():   # written last: none, or all
                return None, None
            path = folder / positions_file(field)
            return (np.memmap(path, dtype=POSITION_DTYPE, mode="r").view(np.ndarray) if path.stat().st_size
                    else np.zeros(0, POSITION_DTYPE),
                    np.load(folder / position_offsets_file(field), mmap_mode="r").view(np.ndarray))
        # One thread at a time: np.load parses each header with ast.literal_eval, and CPython 3.11
        # before 3.11.8 can fail that ("AST constructor recursion depth mismatch") when two threads
        # parse at once, as the server's engines did loading segments (tests/test_server.py).
        with _LOADING:
            return cls(arr("pids"), {f: FieldPostings(arr(f"{f}.terms"), arr(f"{f}.offsets"),
                                                      raw(f"{f}.docs", np.int32), raw(f"{f}.weights", np.float32),
                                                      arr(f"{f}.lengths"), *positions(f))
                                     for f in fields}, SegmentArticles.load(folder))


def export_segment(reader, fields: Sequence[str], folder: Path) -> None:
    """Copy one Whoosh segment reader's postings into ``folder`` (written whole, then renamed)."""
    out = SegmentFolderWriter(folder, fields, positional(reader.schema, fields))
    try:
        ndocs = reader.doc_count_all()
        for field in fields:
            fmt = reader.schema[field].format
            with_values = field in out.positional
            for btext in reader.lexicon(field):
                # The raw leaf matcher (deleted documents included) read a block at a time; going
                # posting by posting through the public API is ~100x slower. Whoosh's W3 codec.
                m = reader._terms.matcher(field, btext, fmt)
                term = btext.decode("utf-8")
                while m.is_active():
                    m._read_ids()
                    m._read_weights()
                    if with_values:
                        m._read_values()
                    out.add_postings(field, term, m._ids, m._weights, m._values if with_values else ())
                    m._next_block()
        stored = [reader.stored_fields(d) for d in range(ndocs)]
        out.finish(np.fromiter((int(f["pid"]) for f in stored), dtype=np.int64, count=ndocs),
                   {field: np.fromiter((reader.doc_field_length(d, field, 1) or 1 for d in range(ndocs)),
                                       dtype=np.float32, count=ndocs) for field in fields},
                   [f["article_id"] for f in stored])
    except BaseException:
        out.abort()
        raise


class SegmentFolderWriter:
    """Writes one segment's folder: each field's postings term by term, in the order of the
    terms, streamed to disk a buffer at a time (exporting a large merged segment never holds it
    whole), then the pids and field lengths. Written in a temporary folder and renamed by
    ``finish``, so a crash never leaves a partial copy under the segment's name. The
    ``positional`` fields (field -> boost, ``positions.positional``) also get their positions,
    from the Whoosh values of their postings."""

    FLUSH_POSTINGS = 1 << 16

    def __init__(self, folder: Path, fields: Sequence[str], positional: dict[str, float] | None = None):
        self.folder = folder
        self.fields = tuple(fields)
        self.positional = dict(positional or {})
        self._tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".tmp"))
        self._done: set[str] = set()
        self._field: str | None = None
        self._positions: PositionsWriter | None = None
        self._term: str | None = None

    def add_postings(self, field: str, term: str, docs, weights, values: Sequence[bytes] = ()) -> None:
        """Append postings of ``term`` in ``field``, with their Whoosh ``values`` for a positional
        field; fields and terms arrive grouped, terms sorted."""
        if field != self._field:
            self._close_field()
            self._open_field(field)
        new_term = term != self._term
        if new_term:
            self._terms.append(term)
            self._counts.append(0)
            self._term = term
        if self._positions is not None:
            self._positions.add(new_term, weights, values)
        self._docs.extend(docs)
        self._weights.extend(weights)
        self._counts[-1] += len(docs)
        if len(self._docs) >= self.FLUSH_POSTINGS:
            self._flush()

    def finish(self, pids: np.ndarray, lengths: dict[str, np.ndarray], article_ids: Sequence[str]) -> None:
        """Write the pids and article ids (per segment document number) and each field's lengths,
        then publish."""
        self._close_field()
        for field in self.fields:
            if field not in self._done:   # no postings at all in this segment
                self._open_field(field)
                self._close_field()
            np.save(self._tmp / f"{field}.lengths.npy", lengths[field])
        np.save(self._tmp / "pids.npy", pids)
        SegmentArticles.of_documents(article_ids).save(self._tmp)
        os.replace(self._tmp, self.folder)

    def abort(self) -> None:
        if self._field is not None:
            self._docs_out.close()
            self._weights_out.close()
            if self._positions is not None:
                self._positions.abort()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def _open_field(self, field: str) -> None:
        self._field, self._term = field, None
        self._terms: list[str] = []
        self._counts: list[int] = []
        self._docs: list[int] = []
        self._weights: list[float] = []
        self._docs_out = open(self._tmp / f"{field}.docs.bin", "wb")
        self._weights_out = open(self._tmp / f"{field}.weights.bin", "wb")
        boost = self.positional.get(field)
        self._positions = None if boost is None else PositionsWriter(self._tmp, field, boost)

    def _flush(self) -> None:
        if self._positions is not None:
            self._positions.flush(self._weights)
        # Raw int32/float32, the dtypes SegmentPostings.load maps them with.
        np.asarray(self._docs, dtype=np.int32).tofile(self._docs_out)
        np.asarray(self._weights, dtype=np.float32).tofile(self._weights_out)
        self._docs.clear()
        self._weights.clear()

    def _close_field(self) -> None:
        if self._field is None:
            return
        self._flush()
        self._docs_out.close()
        self._weights_out.close()
        if self._positions is not None:
            self._positions.close()
        offsets = np.zeros(len(self._terms) + 1, dtype=np.int64)
        np.cumsum(self._counts, out=offsets[1:])
        terms = np.array(self._terms, dtype=str) if self._terms else np.array([], dtype="U1")
        np.save(self._tmp / f"{self._field}.terms.npy", terms)
        np.save(self._tmp / f"{self._field}.offsets.npy", offsets)
        self._done.add(self._field)
        self._field = None


class CompiledPostings:
    """The per-segment arrays of one keyword index, kept in step with its Whoosh segments."""

    def __init__(self, folder: Path, fields: Sequence[str]):
        self.folder = folder
        self.fields = tuple(fields)
        self._loaded: dict[str, SegmentPostings] = {}
        self._last_units: tuple | None = None   # (searcher's segments, units, per leaf, Joined)
        self._last_view: PostingsView | None = None
        self.recorded: Digests = {}   # the writer's digests of the index files (keyword.json)

    def sync(self, ix) -> None:
        """Copy every Whoosh segment not copied yet; drop copies of merged-away segments. A copy
        from before articles were recorded gets them (search reads them instead of the store), and
        one from before positions gets those (names and phrases are then checked in numpy)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with ix.reader() as reader:
            live = set()
            for leaf, _ in leaves_of(reader):
                segment_id = leaf.segment().segment_id()
                live.add(segment_id)
                if not (self.folder / segment_id).is_dir():
                    export_segment(leaf, self.fields, self.folder / segment_id)
                    continue
                if SegmentArticles.load(self.folder / segment_id) is None:
                    _add_articles(leaf, self.folder / segment_id)
                if self.lacks_positions(self.folder / segment_id, leaf.schema):
                    _add_positions(leaf, self.folder / segment_id, self.fields)
            live |= {name for name, (members, _) in self.groups().items() if set(members) <= live}
        for path in self.folder.iterdir():
            if path.name not in live:
                shutil.rmtree(path, ignore_errors=True)

    def lacks_positions(self, folder: Path, schema) -> bool:
        """Was ``folder`` written before positions were (it holds none of them, where the schema
        has positional fields)? A field whose positions could not be held (``positions.py``)
        leaves the others'."""
        wanted = positional(schema, self.fields)
        return bool(wanted) and not any((folder / position_offsets_file(f)).is_file() for f in wanted)

    def groups(self) -> dict[str, tuple[tuple[str, ...], tuple[int, ...]]]:
        """Each group folder's (segment ids, document counts): see ``indexer/keyword/groups.py``."""
        found = {}
        for path in self.folder.glob(f"{GROUP_PREFIX}*"):
            members = read_members(path)
            if members is not None:
                found[path.name] = members
        return found

    def segment(self, leaf) -> SegmentPostings | None:
        """The compiled copy of a Whoosh segment reader, or None when there is none."""
        return self._load(leaf.segment().segment_id())

    def _load(self, name: str) -> SegmentPostings | None:
        seg = self._loaded.get(name)
        if seg is None:
            folder = self.folder / name
            damage = check_folder(IndexLayout(self.folder.parent), self.recorded, folder)
            if damage and folder.is_dir():
                raise IndexDamaged(*damage[0])
            try:
                seg = SegmentPostings.load(folder, self.fields)
            except (OSError, ValueError, EOFError):
                # Not copied yet, or a writer just removed the copy of a merged-away segment
                # this searcher still sees (or, in an index from before digests, a damaged
                # copy): the caller copies it from Whoosh.
                return None
            self._loaded[name] = seg
        return seg

    def missing(self, searcher) -> bool:
        """Does a segment ``searcher`` reads lack a usable compiled copy?"""
        return any(self.segment(leaf) is None for leaf, _ in leaves_of(searcher.reader()))

    def view(self, searcher) -> "PostingsView | None":
        """The compiled postings of every segment ``searcher`` reads, or None when the weighting is
        not BM25F: a group where the searcher reads its segments in a row, else each segment's own
        copy; a segment not copied yet (a writer is publishing it) is copied into memory."""
        if not isinstance(searcher.weighting, BM25F):
            return None
        leaves = leaves_of(searcher.reader())
        # A group written since (the writer merges after its commit) counts from the next search.
        key = (tuple((leaf.segment().segment_id(), base) for leaf, base in leaves),
               tuple(sorted(n for n in os.listdir(self.folder) if n.startswith(GROUP_PREFIX)))
               if self.folder.is_dir() else ())
        if self._last_units is None or self._last_units[0] != key:
            units, per_leaf = self._units(leaves)
            self._last_units = (key, units, per_leaf, Joined.of(units))
            self._last_view = None
        _, units, per_leaf, joined = self._last_units
        # One view per searcher: what it works out once (deletions, average field lengths) holds
        # for every search the searcher serves.
        if self._last_view is None or self._last_view.searcher is not searcher:
            self._last_view = PostingsView(searcher, leaves, units, per_leaf, joined)
        return self._last_view

    def _units(self, leaves) -> tuple[list[tuple[int, SegmentPostings]], list[tuple[SegmentPostings, int]]]:
        """(document base, compiled postings) of each unit searched, in order, and for each leaf
        its unit and where the leaf starts in it."""
        by_first = {members[0]: (name, members, sizes) for name, (members, sizes) in self.groups().items()}
        ids = [leaf.segment().segment_id() for leaf, _ in leaves]
        sizes_seen = [leaf.doc_count_all() for leaf, _ in leaves]
        units, per_leaf, loaded, i = [], [], {}, 0
        while i < len(leaves):
            name, members, sizes = by_first.get(ids[i], (None, (), ()))
            n = len(members)
            group = (self._load(name) if name and tuple(ids[i:i + n]) == members
                     and tuple(sizes_seen[i:i + n]) == sizes else None)
            if group is not None:
                loaded[name] = group
                units.append((leaves[i][1], group))
                per_leaf += [(group, start) for start in np.concatenate([[0], np.cumsum(sizes)[:-1]]).tolist()]
                i += n
                continue
            segment = self.segment(leaves[i][0]) or _in_memory(leaves[i][0], self.fields)
            loaded[ids[i]] = segment
            units.append((leaves[i][1], segment))
            per_leaf.append((segment, 0))
            i += 1
        self._loaded = loaded
        return units, per_leaf

    def search(self, searcher, field_terms: Sequence[tuple[str, float, Sequence[str]]],
               limit: int, allowed: np.ndarray | None = None) -> tuple[Hits, int] | None:
        """Top ``limit`` (pid, score) for the OR of each (field, boost, terms) entry's terms in its
        field, scored as Whoosh scores ``Or([Term(field, t, boost=boost) ...])``, and the number of
        matching passages, among the ``allowed`` pids if given; None when the weighting is not
        BM25F (the caller then asks Whoosh)."""
        view = self.view(searcher)
        if view is None:
            return None
        entries = [(field, boost, [[t] for t in dict.fromkeys(terms)]) for field, boost, terms in field_terms]
        scores, docs = view.score(entries)
        matched = np.zeros(view.total_docs, dtype=bool)
        for groups in docs:
            for found in groups:
                matched[found] = True
        matched &= view.live
        if allowed is not None:
            matched &= view.allowed(allowed)
        return view.top(scores, matched, limit)


class PostingsView:
    """One searcher's segments, compiled: scores word groups over them, ranks and maps to pids.
    Documents are numbered as the searcher numbers them (segment base + segment number)."""

    def __init__(self, searcher, leaves, units: list[tuple[int, SegmentPostings]],
                 per_leaf: list[tuple[SegmentPostings, int]], joined: "Joined"):
        self.searcher = searcher
        self.leaves = leaves
        self.units = units          # (document base, compiled postings): segments and groups
        self.per_leaf = per_leaf    # each leaf's unit, and where the leaf starts in it
        self.joined = joined
        self.total_docs = searcher.doc_count_all()
        self._avg_lengths: dict[str, float] = {}

    @cached_property
    def live(self) -> np.ndarray:
        """False for deleted documents."""
        live = np.ones(self.total_docs, dtype=bool)
        for leaf, base in self.leaves:
            if leaf.has_deletions():
                live[base + np.fromiter(leaf.deleted_docs_set, dtype=np.int64)] = False
        live.flags.writeable = False   # shared by every search of the searcher
        return live

    def avg_length(self, field: str) -> float:
        """The searcher's average length of ``field`` (Whoosh adds it up segment by segment)."""
        if field not in self._avg_lengths:
            self._avg_lengths[field] = self.searcher.avg_field_length(field) or 1
        return self._avg_lengths[field]

    def allowed(self, pids: np.ndarray) -> np.ndarray:
        return np.isin(self.joined.pids, pids)

    def score(self, entries: Sequence[tuple[str, float, Sequence[Sequence[str]]]]
              ) -> tuple[np.ndarray, list[list[np.ndarray]]]:
        """BM25F scores of every document for the (field, boost, groups) entries, and the
        documents holding each group in each entry. A group's terms count as one term, as
        Lucene's SynonymQuery does: term frequencies summed per document, the document frequency
        that of their union; a group of one term scores exactly as Whoosh scores that term."""
        weighting = self.searcher.weighting
        # Each group's part added in place as it comes, in entry and group order (a document's
        # parts summed in that order, as Whoosh's ``Or`` sums them: the same bits as one
        # ``bincount`` of every part end to end, without concatenating them first); a group
        # holds a document once.
        scores = np.zeros(self.total_docs)
        holding: list[list[np.ndarray]] = []
        for field, boost, groups in entries:
            holding.append([])
            if not groups:
                continue
            avg_length = self.avg_length(field)
            b = weighting._field_B.get(field, weighting.B)
            per_segment = [(base, seg.fields[field]) for base, seg in self.units]
            for group, (docs, weights, lengths) in zip(groups, self._groups_postings(per_segment, groups)):
                if len(group) > 1 and len(docs):
                    docs, first, inverse = np.unique(docs, return_index=True, return_inverse=True)
                    weights, lengths = np.bincount(inverse, weights=weights), lengths[first]
                holding[-1].append(docs)
                if len(docs):
                    idf = weighting.idf(_TermStats(self.total_docs, len(docs)), field, group[0])
                    np.add.at(scores, docs, boost * bm25(idf, weights.astype(np.float64), lengths.astype(np.float64),
                                                         avg_length, b, weighting.K1))
        return scores, holding

    def articles_holding(self, terms: Sequence[str], fields: Sequence[str]) -> np.ndarray:
        """The sorted article numbers (``Joined.numbers``, one to one with article keys) of the live
        passages holding any of ``terms`` in any of ``fields``; their document numbers where the
        segments do not all record articles."""
        if not terms:
            return np.zeros(0, np.int64)
        wanted = np.array(list(dict.fromkeys(terms)), dtype=str)
        docs = np.concatenate([self._docs_holding(wanted, field) for field in fields])
        docs = docs[self.live[docs]]
        if self.joined.numbers is None:
            return np.unique(docs)
        # Marked in a table of the articles, not sorted: a common word is in many of them.
        held = np.zeros(len(self.joined.numbers[0]), dtype=bool)
        held[self.joined.numbers[1][docs]] = True
        return np.flatnonzero(held)

    def held(self, terms: Sequence[str], fields: Sequence[str]) -> np.ndarray:
        """For each of ``terms``, whether any segment holds it in any of ``fields``: that the text
        has the word at all (a passage deleted but not merged away yet still counts: it was text)."""
        wanted = np.array(terms, dtype=str)
        found = np.zeros(len(wanted), dtype=bool)
        if len(wanted):
            for _, segment in self.units:
                for field in fields:
                    starts, ends = segment.fields[field].ranges(wanted)
                    found |= ends > starts
        return found

    def _docs_holding(self, wanted: np.ndarray, field: str) -> np.ndarray:
        """The searcher document numbers of ``wanted``'s postings in ``field``, repeats kept: the
        documents alone: reading clitics needs no weights or field lengths, which scoring gathers
        with them (``_groups_postings``), a random read of each posting's document length."""
        parts = [np.zeros(0, np.int64)]
        for base, segment in self.units:
            postings = segment.fields[field]
            starts, ends = postings.ranges(wanted)
            counts = ends - starts
            if counts.any():
                parts.append(np.add(_postings_at(postings, starts, counts)[0], base, dtype=np.int64))
        return np.concatenate(parts)

    @property
    def article_count(self) -> int:
        """How many articles ``articles_holding`` counts among (documents, without their keys)."""
        return self.joined.articles

    @staticmethod
    def _groups_postings(per_segment, groups: Sequence[Sequence[str]]):
        """(docs, weights, lengths) of each group, its terms' postings segment after segment, each
        segment's in the group's term order. Per segment, every term is looked up in one
        ``ranges`` call and the postings of all groups are gathered in one indexing, then cut per
        group: a few numpy calls per segment, not a few per segment, group and term (the forms
        of a name or a clitic reading run to dozens of terms)."""
        terms = list(dict.fromkeys(t for group in groups for t in group))
        at = {t: i for i, t in enumerate(terms)}
        members = [[at[t] for t in dict.fromkeys(group)] for group in groups]
        flat = np.array([i for m in members for i in m], dtype=np.int64)
        edges = np.cumsum([0, *map(len, members)])
        wanted = np.array(terms, dtype=str)
        gathered = []   # per segment: its (docs, weights, lengths) for all groups, and each group's bounds
        for base, fp in per_segment:
            starts, ends = fp.ranges(wanted)
            first, counts = starts[flat], ends[flat] - starts[flat]
            total = int(counts.sum())
            if total:
                docs, weights = _postings_at(fp, first, counts, weights=True)
                bounds = np.concatenate(([0], np.cumsum(counts)))[edges].tolist()
                gathered.append((np.add(docs, base, dtype=np.int64), weights, fp.lengths[docs], bounds))
        for g in range(len(groups)):
            parts = [(docs[b[g]:b[g + 1]], weights[b[g]:b[g + 1]], lengths[b[g]:b[g + 1]])
                     for docs, weights, lengths, b in gathered if b[g + 1] > b[g]]
            if not parts:
                yield np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0, np.float32)
            else:
                yield tuple(np.concatenate(column) for column in zip(*parts))

    def top(self, scores: np.ndarray, matched: np.ndarray, limit: int) -> tuple[Hits, int]:
        """The best ``limit`` matched documents as (pid, score), and how many matched."""
        run = self.run(scores, matched, limit)
        return list(zip(run.pids.tolist(), run.scores.tolist())), run.total

    def run(self, scores: np.ndarray, matched: np.ndarray, limit: int | None = None) -> "MatchRun":
        """The best ``limit`` (default: every) matched documents, best first (ordered when first
        read: a page of keyword results needs only its best few, ``search.keyword_page``)."""
        matches = np.flatnonzero(matched)
        return MatchRun(self, matches, scores[matches].astype(np.float64, copy=False), limit)

    def article_ids(self, docs: np.ndarray) -> np.ndarray:
        """The article id of each of ``docs`` (searcher document numbers), as an object array of
        strings."""
        names = self.joined.names
        if names is not None:   # one indexing, not a conversion of each segment's unicode names
            return names[self.joined.numbers[1][docs]]
        out = np.empty(len(docs), dtype=object)
        which = np.searchsorted(self.joined.bases, docs, side="right") - 1
        order = np.argsort(which, kind="stable")
        bounds = np.searchsorted(which[order], np.arange(len(self.units) + 1))
        for w, (_, segment) in enumerate(self.units):
            at = order[bounds[w]:bounds[w + 1]]
            if len(at):
                articles = segment.articles
                out[at] = articles.names[articles.of[docs[at] - self.joined.bases[w]]]
        return out


def _postings_at(postings: FieldPostings, starts: np.ndarray, counts: np.ndarray,
                 weights: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """The documents (int32, numbered in the unit) of the postings ``starts[i]`` ..
    ``starts[i] + counts[i] - 1`` of each ``i``, end to end, and their weights if asked: slices
    concatenated, not gathered through an index of every posting (``spans``), which costs more to
    build than the gather for a question's stems, a few ranges of thousands of postings each."""
    ranges = [(s, s + c) for s, c in zip(starts.tolist(), counts.tolist()) if c]
    return (np.concatenate([postings.docs[s:e] for s, e in ranges]),
            np.concatenate([postings.weights[s:e] for s, e in ranges]) if weights else None)


@dataclass(frozen=True)
class Joined:
    """The segments' per-document arrays end to end, numbered as the searcher numbers documents:
    built once per set of segments, so a search maps its matches with one indexing each."""

    bases: np.ndarray            # int64, each segment's first document number
    pids: np.ndarray             # int64 passage id per document
    keys: np.ndarray | None      # int64 article key per document; None if a segment lacks articles
    segment_articles: tuple[SegmentArticles | None, ...] = ()   # each segment's, in order

    @classmethod
    def of(cls, units: list[tuple[int, SegmentPostings]]) -> "Joined":
        bases = np.array([base for base, _ in units], dtype=np.int64)
        segments = [segment for _, segment in units]
        pids = np.concatenate([s.pids for s in segments]) if segments else np.zeros(0, np.int64)
        complete = all(s.articles is not None for s in segments)
        keys = (np.concatenate([s.articles.keys[s.articles.of] for s in segments]) if segments
                else np.zeros(0, np.int64)) if complete else None
        return cls(bases, pids.astype(np.int64), keys, tuple(s.articles for s in segments))

    @cached_property
    def names(self) -> np.ndarray | None:
        """The article id of each article number (``numbers``), as Python strings; None without
        keys, or where two ids share a key (then only the segments tell them apart)."""
        if self.numbers is None:
            return None
        distinct = self.numbers[0]
        names = np.full(len(distinct), None, dtype=object)
        for articles in self.segment_articles:
            at = np.searchsorted(distinct, articles.keys)
            held = names[at]
            ids = articles.names.astype(object)
            if any(h is not None and h != i for h, i in zip(held.tolist(), ids.tolist())):
                return None
            names[at] = ids
        return names

    @cached_property
    def articles(self) -> int:
        """How many articles the documents belong to (deleted ones included: an article's new
        version keeps its key), or how many documents without keys."""
        return len(self.pids) if self.keys is None else len(self.numbers[0])

    @cached_property
    def numbers(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(the distinct article keys, sorted; each document's article as an index into them), or
        None without keys: search groups a query's matches by these small numbers in a table,
        where keys would need a sort of every match."""
        if self.keys is None:
            return None
        distinct, number = np.unique(self.keys, return_inverse=True)
        return distinct, number.reshape(-1)

    @cached_property
    def articles_together(self) -> bool:
        """Are each article's documents (deleted ones included) next to each other in document
        order? Then so are those of any matches, and ``search.keyword_page`` need not check a
        query's. False without keys."""
        if self.numbers is None:
            return False
        numbers = self.numbers[1]
        starts = np.flatnonzero(np.concatenate(([True], numbers[1:] != numbers[:-1])))
        return not len(numbers) or int(np.bincount(numbers[starts]).max()) <= 1


@dataclass(frozen=True)
class MatchRun:
    """Matched documents: ``matches`` (ascending) and their ``match_scores``, and best first (the
    first ``limit``, or all) their ``docs``, passage ids and ``scores``; ``total`` matches in all.
    ``keys`` and ``article_ids`` say which article each belongs to (``keys`` None: an index whose
    segments do not all record articles yet)."""

    view: PostingsView
    matches: np.ndarray
    match_scores: np.ndarray    # float64
    limit: int | None = None

    @property
    def total(self) -> int:
        return len(self.matches)

    @cached_property
    def order(self) -> np.ndarray:
        """Positions in ``matches``, best first; ties by document number, as Whoosh's collector
        orders them."""
        return best_first(self.match_scores, len(self.matches) if self.limit is None else self.limit)

    @cached_property
    def docs(self) -> np.ndarray:
        return self.matches[self.order]

    @cached_property
    def pids(self) -> np.ndarray:
        return self.view.joined.pids[self.docs]

    @cached_property
    def scores(self) -> np.ndarray:
        return self.match_scores[self.order]

    @property
    def keys(self) -> np.ndarray | None:
        keys = self.view.joined.keys
        return None if keys is None else keys[self.docs]

    def article_ids(self, at: np.ndarray) -> np.ndarray:
        """The article id of the documents at positions ``at`` of the run."""
        return self.view.article_ids(self.docs[at])

    def keys_at(self, at: np.ndarray) -> np.ndarray:
        """The article key of the documents at positions ``at`` of the run; only where ``keys`` is
        not None."""
        return self.view.joined.keys[self.docs[at]]

    def article_numbers(self, at: np.ndarray) -> np.ndarray:
        """The article number (``Joined.numbers``) of the documents at positions ``at`` of the run;
        only where ``keys`` is not None."""
        return self.view.joined.numbers[1][self.docs[at]]

    @property
    def distinct_keys(self) -> np.ndarray:
        """The article keys the numbers of ``article_numbers`` index (sorted)."""
        return self.view.joined.numbers[0]


def _in_memory(leaf, fields: Sequence[str]) -> SegmentPostings:
    """A segment's compiled copy built in a scratch folder and read into memory."""
    with tempfile.TemporaryDirectory() as tmp:
        export_segment(leaf, fields, Path(tmp) / "segment")
        seg = SegmentPostings.load(Path(tmp) / "segment", fields)
        return SegmentPostings(np.array(seg.pids), {f: FieldPostings(*(None if a is None else np.array(a) for a in (
            fp.terms, fp.offsets, fp.docs, fp.weights, fp.lengths, fp.positions, fp.position_offsets)))
            for f, fp in seg.fields.items()},
            SegmentArticles(*(np.array(a) for a in (seg.articles.names, seg.articles.of, seg.articles.keys))))


def _add_articles(leaf, folder: Path) -> None:
    """Record the articles of a segment copied before they were recorded, each file written whole
    under a temporary name first (a reader sees them all, or none: ``SegmentArticles.load``)."""
    articles = SegmentArticles.of_documents([leaf.stored_fields(d)["article_id"] for d in range(leaf.doc_count_all())])
    for name, array in zip(SegmentArticles.FILES, (articles.names, articles.of, articles.keys)):
        tmp = folder / f".{name}.npy.tmp"
        with open(tmp, "wb") as f:
            np.save(f, array)
        os.replace(tmp, folder / f"{name}.npy")


def _add_positions(leaf, folder: Path, fields: Sequence[str]) -> None:
    """Give the positional fields of a segment copied before positions were their positions: the
    segment's copy exported again with those fields only, and their position files moved in, the
    offsets last (a reader sees a field's positions whole, or none: ``SegmentPostings.load``)."""
    wanted = list(positional(leaf.schema, fields))
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=f".{folder.name}.", suffix=".tmp") as tmp:
        copy = Path(tmp) / "copy"
        export_segment(leaf, wanted, copy)
        for field in wanted:
            terms = f"{field}.terms.npy"   # the same segment's lexicon: a check, never expected to differ
            if (copy / position_offsets_file(field)).is_file() and np.array_equal(np.load(copy / terms),
                                                                                  np.load(folder / terms)):
                os.replace(copy / positions_file(field), folder / positions_file(field))
                os.replace(copy / position_offsets_file(field), folder / position_offsets_file(field))


def read_members(folder: Path) -> tuple[tuple[str, ...], tuple[int, ...]] | None:
    """(segment ids, their document counts) of a group folder, or None if it is not a whole one."""
    try:
        data = json.loads((folder / GROUP_MEMBERS).read_text())
        return tuple(data["segments"]), tuple(int(n) for n in data["docs"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def leaves_of(reader) -> list[tuple[object, int]]:
    """(segment reader, document base) of each segment; none for an index with no documents
    (Whoosh's reader of an empty index is a leaf without a segment)."""
    return [(leaf, base) for leaf, base in reader.leaf_readers() if leaf.segment() is not None]


@dataclass(frozen=True)
class _TermStats:
    """The two collection statistics ``WeightingModel.idf`` reads, without Whoosh's per-segment
    hash lookups (postings lengths are the document frequencies Whoosh records)."""

    doc_count: int
    frequency: int

    def get_parent(self) -> "_TermStats":
        return self

    def doc_count_all(self) -> int:
        return self.doc_count

    def doc_frequency(self, fieldname: str, text: str) -> int:
        return self.frequency
