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
under a temporary name and renamed whole, so a reader sees all of it or none.
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
from indexer.keyword.postings import GROUP_MEMBERS, GROUP_PREFIX, CompiledPostings, FieldPostings, SegmentArticles, \
    SegmentPostings, leaves_of

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
            terms, offsets, docs, weights = merge_field(parts, bases)
            np.save(tmp / f"{field}.terms.npy", terms)
            np.save(tmp / f"{field}.offsets.npy", offsets)
            docs.tofile(tmp / f"{field}.docs.bin")
            weights.tofile(tmp / f"{field}.weights.bin")
            np.save(tmp / f"{field}.lengths.npy", np.concatenate([p.lengths for p in parts]))
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


def merge_field(parts: Sequence[FieldPostings], bases: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(terms, offsets, docs, weights) of one field over ``parts`` laid end to end, part ``i``'s
    documents shifted by ``bases[i]``: each term's postings are its parts' in part order, so they
    stay sorted by document, as in a segment."""
    union, inverse = np.unique(np.concatenate([p.terms for p in parts]), return_inverse=True)
    inverse = inverse.reshape(-1)
    counts = np.concatenate([np.diff(p.offsets) for p in parts])
    offsets = np.zeros(len(union) + 1, dtype=np.int64)
    np.cumsum(np.bincount(inverse, weights=counts, minlength=len(union)).astype(np.int64), out=offsets[1:])
    docs = np.empty(offsets[-1], dtype=np.int32)
    weights = np.empty(offsets[-1], dtype=np.float32)
    filled = np.zeros(len(union), dtype=np.int64)   # postings already placed per term
    start = 0
    for part, base in zip(parts, bases.tolist()):
        terms = inverse[start:start + len(part.terms)]
        start += len(part.terms)
        here = np.diff(part.offsets)
        # Where each of this part's terms starts in the output, then each of its postings.
        first = offsets[terms] + filled[terms]
        filled[terms] += here
        to = np.repeat(first - part.offsets[:-1], here) + np.arange(part.offsets[-1])
        docs[to] = part.docs + base
        weights[to] = part.weights
    return union, offsets, docs, weights


def merge_articles(parts: Sequence[SegmentArticles]) -> SegmentArticles:
    names, first, inverse = np.unique(np.concatenate([p.names for p in parts]), return_index=True,
                                      return_inverse=True)
    starts = np.concatenate([[0], np.cumsum([len(p.names) for p in parts])[:-1]]).astype(np.int64)
    of = np.concatenate([inverse.reshape(-1)[p.of + s] for p, s in zip(parts, starts.tolist())])
    return SegmentArticles(names, of.astype(np.int32), np.concatenate([p.keys for p in parts])[first])
