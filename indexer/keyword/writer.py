"""Whoosh's segment writer, writing the compiled postings of each segment as it writes the segment.

Why: reading a finished segment back to copy it into arrays cost a fifth of the keyword stage (a
hash lookup and a matcher per term), and Whoosh's own postings writer looked up each posting's
field length with a seek and a read (the storage does not use mmap, docs/robustness.md): a third
of the commit. Here the postings Whoosh is about to write, sorted by field and term, pass through
a ``SegmentFolderWriter`` on their way, and the length columns are read into memory once, one
byte per document and field. The Whoosh segment holds what Whoosh's own writer would write, and
the compiled copy equals one read back (``tests/test_keyword_writer.py``). Merges go through the
same path: Whoosh merges segments by adding their documents to the writer's pool. The postings of
the fields with positions carry them in Whoosh's encoding, which the folder writer decodes.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import whoosh.util
from whoosh.codec import whoosh3
from whoosh.util.numeric import byte_to_length
from whoosh.writing import SegmentWriter

from indexer.keyword.positions import positional
from indexer.keyword.postings import SegmentFolderWriter

# Whoosh names segments, runs and temporary files with the global ``random`` (``whoosh.util``), so
# an application that seeds it (``random.seed(0)``) got the same segment name twice in one process
# and its second indexing run failed. The names come from the OS instead, which no seed touches.
whoosh.util.random = random.SystemRandom()

# Whoosh's length of each length byte; 0 means "no length" (None to Whoosh, 1 to the scorer).
_LENGTHS = [None] + [byte_to_length(b) for b in range(1, 256)]
_SCORED_LENGTHS = np.array([1.0] + _LENGTHS[1:], dtype=np.float32)


class CompilingWriter(SegmentWriter):
    """A ``SegmentWriter`` that also writes ``folder/<segment id>`` for the segment it flushes,
    with the postings of ``fields``; ``id_field`` and ``article_field`` (one term per document
    each) give the pids and article ids."""

    def __init__(self, ix, folder: Path, fields: Sequence[str], id_field: str, article_field: str, **kwargs):
        super().__init__(ix, **kwargs)
        self.compiled_folder = folder
        self.compiled_fields = tuple(fields)
        self.id_field = id_field
        self.article_field = article_field

    def _flush_segment(self):
        # SegmentWriter._flush_segment, with the lengths from memory and the postings teed.
        self.perdocwriter.close()
        segment = self.get_segment()
        ndocs = segment.doc_count_all()
        pdr = self.per_document_reader()
        try:
            columns = {name: _length_bytes(pdr, name, ndocs)
                       for name, field in self.schema.items() if field.scorable}
        finally:
            pdr.close()
        self.compiled_folder.mkdir(parents=True, exist_ok=True)
        out = SegmentFolderWriter(self.compiled_folder / segment.segment_id(), self.compiled_fields,
                                  positional(self.schema, self.compiled_fields))
        try:
            pids = np.full(ndocs, -1, dtype=np.int64)
            articles: list[str | None] = [None] * ndocs
            postings = self.pool.iter_postings()
            self.fieldwriter.add_postings(self.schema, _MemoryLengths(columns), self._tee(postings, out, pids, articles))
            self.fieldwriter.close()
            if (pids < 0).any() or None in articles:
                raise ValueError(f"a document of segment {segment.segment_id()} has no {self.id_field} "
                                 f"or no {self.article_field}")
            out.finish(pids, {f: _SCORED_LENGTHS[np.frombuffer(columns[f], dtype=np.uint8)]
                              for f in self.compiled_fields}, articles)
        except BaseException:
            out.abort()
            raise

    def _tee(self, postings, out: SegmentFolderWriter, pids: np.ndarray, articles: list) -> Iterator[tuple]:
        fields, id_field, article_field = self.compiled_fields, self.id_field, self.article_field
        field = term = None
        docs: list[int] = []
        weights: list[float] = []
        values: list[bytes] = []   # only for a field with positions (``out.positional``)
        keep_values = False
        for posting in postings:
            fieldname, btext, docnum, weight, value = posting
            if docnum >= 0:   # docnum -1 marks a spelling word, not a posting
                if fieldname == id_field:
                    pids[docnum] = int(btext)
                elif fieldname == article_field:
                    articles[docnum] = btext.decode("utf-8")
                elif fieldname in fields:
                    if btext != term or fieldname != field:
                        if docs:
                            out.add_postings(field, term.decode("utf-8"), docs, weights, values)
                        field, term, docs, weights, values = fieldname, btext, [], [], []
                        keep_values = fieldname in out.positional
                    docs.append(docnum)
                    weights.append(weight)
                    if keep_values:
                        values.append(value)
            yield posting
        if docs:
            out.add_postings(field, term.decode("utf-8"), docs, weights, values)


def _length_bytes(pdr, field: str, ndocs: int) -> bytes:
    """One length byte per document of ``field`` (0: none), read in one go. Whoosh's column
    writer leaves out trailing zeros, and writes no column for a field no document has."""
    name = whoosh3._lenfield(field)
    if not pdr.has_column(name):
        return bytes(ndocs)
    colfile, offset, length = pdr._get_column_file(name)
    try:
        raw = colfile.get(offset, length)
    finally:
        colfile.close()
    return bytes(raw).ljust(ndocs, b"\0")


class _MemoryLengths:
    """What ``FieldWriter.add_postings`` asks of a per-document reader, answered from memory with
    the values ``W3PerDocReader.doc_field_length`` gives: 0 without a column, None for a 0 byte."""

    def __init__(self, columns: dict[str, bytes]):
        self.columns = columns

    def doc_field_length(self, docnum: int, fieldname: str) -> int | None:
        column = self.columns.get(fieldname)
        return 0 if column is None else _LENGTHS[column[docnum]]
