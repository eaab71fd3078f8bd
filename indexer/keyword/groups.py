"""The compiled postings of consecutive bulk segments, merged into one group in numpy by the writer.

Why: a bulk import writes one keyword segment per 8,192 passages (about 120 at a million), which
the merge policy never merges (``indexer/keyword/merge.py``), and a query costs a few numpy calls
per term, field and segment. Whoosh's own merge (``baheth optimize``) rewrites the whole index
through its posting pool, at about the cost of indexing it again; a group is only the compiled
copies of ``KeywordSettings.merge_segments`` consecutive segments laid end to end (their terms
united, their documents renumbered), written beside them in seconds (docs/performance.md).

Whoosh's segments stay the index of record, and each keeps its own compiled copy: a reader uses a
group only where its searcher reads exactly the group's segments, one after the other, with the
document counts the group recorded (``members.json``); elsewhere the segments' copies. Segments
never change once written (deletions are read live from Whoosh), so a group of live segments is
always exact; the writer drops a group once one of its segments is merged away. A group is written
under a temporary name and renamed whole, so a reader sees all of it or none. It holds positions
where all its segments do (``indexer/keyword/positions.py``); ``add_positions`` gives them to a
group written before positions were, from its segments' once those have them.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from indexer.keyword.merge import MERGED_TIERS, tier
from indexer.keyword.positions import spans
from indexer.keyword.postings import GROUP_MEMBERS, GROUP_PREFIX, CompiledPostings, FieldPostings, SegmentArticles, \
    SegmentPostings, leaves_of
from indexer.store.layout import position_offsets_file, positions_file

def group_name(segment_ids: Sequence[str]) -> str:
    return GROUP_PREFIX + hashlib.blake2b(",".join(segment_ids).encode(), digest_size=8).hexdigest()


def merge_runs(compiled: CompiledPostings, reader, size: int) -> int:
    """Group each run of ``size`` consecutive bulk segments of ``reader`` (segments of at least
    ``10 ** MERGED_TIERS`` live documents, which the merge policy leaves alone) that no group holds
    yet; returns how many groups it wrote. Called by the writer, after ``compiled.sync``."""
    if size < 2:
        return 0
    held = {segment for members, _ in compiled.groups().values() for segment in members}
    run: list[tuple[str, SegmentPostings]] = []
    written = 0
    for leaf, _ in leaves_of(reader):
        segment_id = leaf.segment().segment_id()
        segment = None if segment_id in held or tier(leaf.doc_count()) < MERGED_TIERS else compiled.segment(leaf)
        if segment is None:
            run = []   # a group's segments are consecutive in the searcher's order
            continue
        run.append((segment_id, segment))
        if len(run) == size:
            write_group(compiled.folder, run, compiled.fields)
            written += 1
            run = []
    return written


def write_group(parent: Path, members: Sequence[tuple[str, SegmentPostings]], fields: Sequence[str]) -> Path:
    """Write the group of ``members`` ((segment id, compiled copy), in the searcher's order)."""
    ids = [segment_id for segment_id, _ in members]
    segments = [segment for _, segment in members]
    name = group_name(ids)
    tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f".{name}.", suffix=".tmp"))
    try:
        sizes = [len(s.pids) for s in segments]
        bases = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        for field in fields:
            parts = [s.fields[field] for s in segments]
            union = term_union(parts)
            terms, offsets, docs, weights = merge_field(parts, bases, union)
            np.save(tmp / f"{field}.terms.npy", terms)
            np.save(tmp / f"{field}.offsets.npy", offsets)
            docs.tofile(tmp / f"{field}.docs.bin")
            weights.tofile(tmp / f"{field}.weights.bin")
            np.save(tmp / f"{field}.lengths.npy", np.concatenate([p.lengths for p in parts]))
            write_positions(tmp, field, parts, union)
        np.save(tmp / "pids.npy", np.concatenate([s.pids for s in segments]))
        merge_articles([s.articles for s in segments]).save(tmp)
        (tmp / GROUP_MEMBERS).write_text(json.dumps({"segments": ids, "docs": sizes}))
        os.replace(tmp, parent / name)
    except BaseException:
        for path in tmp.iterdir():
            path.unlink()
        tmp.rmdir()
        raise
    return parent / name


def term_union(parts: Sequence[FieldPostings]) -> tuple[np.ndarray, list[np.ndarray]]:
    """The terms of ``parts`` united (sorted), and each part's terms as indexes into them."""
    union, inverse = np.unique(np.concatenate([p.terms for p in parts]), return_inverse=True)
    return union, np.split(inverse.reshape(-1), np.cumsum([len(p.terms) for p in parts])[:-1])


def merge_field(parts: Sequence[FieldPostings], bases: np.ndarray, union=None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(terms, offsets, docs, weights) of one field over ``parts`` laid end to end, part ``i``'s
    documents shifted by ``bases[i]``: each term's postings are its parts' in part order, so they
    stay sorted by document, as in a segment. ``union``: ``term_union(parts)``, if known."""
    terms, of_part = union or term_union(parts)
    offsets, (docs, weights) = interleave(len(terms), of_part, [p.offsets for p in parts],
                                          [(np.add(p.docs, base, dtype=np.int32), p.weights)
                                           for p, base in zip(parts, bases.tolist())])
    return terms, offsets, docs, weights


def interleave(n_terms: int, of_part: Sequence[np.ndarray], part_offsets: Sequence[np.ndarray],
               part_columns: Sequence[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, list[np.ndarray]]:
    """(offsets, columns) of ``n_terms`` united terms, where part ``i`` holds, for its terms
    ``of_part[i]``, the values of ``part_columns[i]`` cut per term by ``part_offsets[i]``: each
    term's values are its parts' in part order (postings, or positions)."""
    offsets = np.zeros(n_terms + 1, dtype=np.int64)
    counts = np.concatenate([np.diff(o) for o in part_offsets])
    np.cumsum(np.bincount(np.concatenate(of_part), weights=counts, minlength=n_terms).astype(np.int64),
              out=offsets[1:])
    out = [np.empty(offsets[-1], dtype=column.dtype) for column in part_columns[0]]
    filled = np.zeros(n_terms, dtype=np.int64)   # values already placed per term
    for terms, own, columns in zip(of_part, part_offsets, part_columns):
        here = np.diff(own)
        # Where each of this part's terms starts in the output, then each of its values.
        to = spans(offsets[terms] + filled[terms], here)
        filled[terms] += here
        for merged, column in zip(out, columns):
            merged[to] = column
    return offsets, out


def write_positions(folder: Path, field: str, parts: Sequence[FieldPostings], union) -> bool:
    """Write the merged positions of ``field`` into ``folder`` when all ``parts`` hold theirs, the
    offsets last and renamed into place (a reader of a published group sees them whole or not at
    all); ``union``: ``term_union(parts)``. Whether it wrote them."""
    if any(p.positions is None for p in parts):
        return False
    terms, of_part = union
    offsets, (positions,) = interleave(len(terms), of_part, [p.position_offsets for p in parts],
                                       [(p.positions,) for p in parts])
    positions.tofile(folder / positions_file(field))
    tmp = folder / f".{position_offsets_file(field)}.tmp"
    with open(tmp, "wb") as f:
        np.save(f, offsets)
    os.replace(tmp, folder / position_offsets_file(field))
    return True


def add_positions(compiled: CompiledPostings, schema) -> int:
    """Positions for each whole group written before positions were, from its segments' (added by
    ``compiled.sync`` first); returns how many groups got them."""
    done = 0
    for name, (members, _) in compiled.groups().items():
        folder = compiled.folder / name
        if not compiled.lacks_positions(folder, schema):
            continue
        # Read again, not from the searcher's cache: that may hold the copies from before positions.
        try:
            segments = [SegmentPostings.load(compiled.folder / m, compiled.fields) for m in members]
        except (OSError, ValueError):   # a segment merged away meanwhile: the group goes with it
            continue
        for field in compiled.fields:
            parts = [s.fields[field] for s in segments]
            done += write_positions(folder, field, parts, term_union(parts))
    return done


def merge_articles(parts: Sequence[SegmentArticles]) -> SegmentArticles:
    names, first, inverse = np.unique(np.concatenate([p.names for p in parts]), return_index=True,
                                      return_inverse=True)
    starts = np.concatenate([[0], np.cumsum([len(p.names) for p in parts])[:-1]]).astype(np.int64)
    of = np.concatenate([inverse.reshape(-1)[p.of + s] for p, s in zip(parts, starts.tolist())])
    return SegmentArticles(names, of.astype(np.int32), np.concatenate([p.keys for p in parts])[first])
