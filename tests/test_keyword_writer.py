"""The compiling writer writes what Whoosh's own writer writes, and the compiled copy it writes on
the way equals a copy read back from the finished segment."""
from __future__ import annotations

import numpy as np
import pytest
from whoosh.filedb.filestore import FileStorage
from whoosh.writing import SegmentWriter

from indexer.keyword.index import _document, make_schema
from indexer.keyword.settings import KeywordSettings
from indexer.keyword.postings import CompiledPostings, export_segment
from indexer.keyword.writer import CompilingWriter
from indexer.store.layout import IndexLayout
from indexer.store.sqlite import Store

SETTINGS = KeywordSettings()
FIELDS = [f for f, _ in (*SETTINGS.stem_fields, *SETTINGS.root_fields, *SETTINGS.form_fields)]


def segment_content(leaf) -> dict:
    """Everything a segment holds that searching reads, keyed so two segments compare equal."""
    ndocs = leaf.doc_count_all()
    content = {"stored": [leaf.stored_fields(d) for d in range(ndocs)],
               "deleted": sorted(leaf.deleted_docs_set) if leaf.has_deletions() else []}
    for field in leaf.schema.names():
        content[field, "lengths"] = [leaf.doc_field_length(d, field) for d in range(ndocs)]
        content[field, "length"] = leaf.field_length(field)
        if field not in leaf.indexed_field_names():
            continue
        for btext in leaf.lexicon(field):
            info = leaf.term_info(field, btext)
            postings, m = [], leaf.postings(field, btext)
            while m.is_active():
                postings.append((m.id(), m.weight(), m.value()))
                m.next()
            content[field, btext] = (info.weight(), info.doc_frequency(), info.min_length(),
                                     info.max_length(), info.max_weight(), postings)
    return content


def write_in_commits(folder, rows, compiled=None):
    """Index ``rows`` in five commits (Whoosh merges small segments on the way), deleting some
    documents in the fourth and merging everything in the last. Returns the segments' content
    after each commit, and the index."""
    ix = FileStorage(str(folder), supports_mmap=False).create_index(make_schema(SETTINGS))
    states = []
    for step in range(5):
        writer = (CompilingWriter(ix, compiled, FIELDS, "pid", "article_id", limitmb=16) if compiled
                  else SegmentWriter(ix, limitmb=16))
        if step == 3:
            for passage, _ in rows[::3]:
                writer.delete_by_term("pid", str(passage.pid))
        for passage, row in rows[step::5]:
            writer.add_document(**_document(passage, row))
        writer.commit(optimize=step == 4)
        with ix.reader() as reader:
            states.append([segment_content(leaf) for leaf, _ in reader.leaf_readers()])
    return states, ix


@pytest.fixture(scope="module")
def rows(built_index):
    store = Store(IndexLayout(built_index).store, readonly=True)
    try:
        return list(store.iter_passages())
    finally:
        store.close()


def test_segments_equal_whoosh_writers_and_copies_equal_read_back(rows, tmp_path):
    assert len(rows) >= 15
    (tmp_path / "plain").mkdir()
    (tmp_path / "compiling").mkdir()
    expected, _ = write_in_commits(tmp_path / "plain", rows)
    got, ix = write_in_commits(tmp_path / "compiling", rows, tmp_path / "compiled")
    assert got == expected
    with ix.reader() as reader:
        leaves = [leaf for leaf, _ in reader.leaf_readers()]
        assert len(leaves) == 1
        segment_id = leaves[0].segment().segment_id()
        export_segment(leaves[0], FIELDS, tmp_path / "read-back")
    written = tmp_path / "compiled" / segment_id
    files = sorted(p.name for p in (tmp_path / "read-back").iterdir())
    assert files == sorted(p.name for p in written.iterdir())
    for name in files:
        if name.endswith(".npy"):
            assert np.array_equal(np.load(written / name), np.load(tmp_path / "read-back" / name)), name
        else:
            assert (written / name).read_bytes() == (tmp_path / "read-back" / name).read_bytes(), name


def writer_with_documents(rows, tmp_path):
    (tmp_path / "ix").mkdir()
    ix = FileStorage(str(tmp_path / "ix"), supports_mmap=False).create_index(make_schema(SETTINGS))
    writer = CompilingWriter(ix, tmp_path / "compiled", FIELDS, "pid", "article_id")
    for passage, row in rows[:5]:
        writer.add_document(**_document(passage, row))
    return ix, writer


def disk_full(*args):
    raise OSError("disk full")


def test_failed_flush_leaves_no_copy(rows, tmp_path, monkeypatch):
    _, writer = writer_with_documents(rows, tmp_path)
    monkeypatch.setattr(writer.fieldwriter, "add_postings", disk_full)
    with pytest.raises(OSError):
        writer.commit()
    assert list((tmp_path / "compiled").iterdir()) == []


def test_copy_of_a_segment_that_never_reached_the_index_is_dropped(rows, tmp_path, monkeypatch):
    # The copy is published before Whoosh writes its table of contents; dying in between leaves a
    # copy of a segment no reader will see, which the next sync drops like a merged-away one.
    ix, first = writer_with_documents(rows, tmp_path)
    first.commit()
    (live,) = [p.name for p in (tmp_path / "compiled").iterdir()]
    writer = CompilingWriter(ix, tmp_path / "compiled", FIELDS, "pid", "article_id")
    for passage, row in rows[5:10]:
        writer.add_document(**_document(passage, row))
    monkeypatch.setattr(writer, "_commit_toc", disk_full)
    with pytest.raises(OSError):
        writer.commit()
    assert len(list((tmp_path / "compiled").iterdir())) == 2
    CompiledPostings(tmp_path / "compiled", FIELDS).sync(ix)
    assert [p.name for p in (tmp_path / "compiled").iterdir()] == [live]
