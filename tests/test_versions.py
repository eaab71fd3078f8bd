"""Retired versions: a corrected article is found at its old version until the derived index a
hit comes from has caught up, then at its new one; never neither, never both in one list."""
from __future__ import annotations

import sqlite3

from indexer.text.articles import Article
from indexer.check import check_index
from indexer.store.layout import IndexLayout
from indexer.pipeline import Indexer
from indexer.store.retired import RetiredVersions
from indexer.store.sqlite import SCHEMA_VERSION, Filters, NewPassage, Store
from search.engine import Engine
from tests.test_robustness import NEW_BODY, OLD_BODY_WORD, retired_rows

NEW_TITLE = "الذهب يتراجع"
# Not test_robustness's NEW_BODY itself: a test there counts its encoding, and the embedding
# cache is shared by the whole session.
CORRECTED_BODY = NEW_BODY.replace("هذا الأسبوع", "أمس")
QUERY = f"{OLD_BODY_WORD} OR الذهب"      # one word of each version of eco-1


def passage(text: str) -> NewPassage:
    return NewPassage(0, len(text), "", text)


def test_store_retires_a_replaced_version_and_purges_it_once_both_indexes_are_past(tmp_path):
    store = Store(tmp_path / "store.sqlite")
    with store.transaction():
        [old] = store.replace_article(Article(id="a", title="قديم", body="نص قديم"), "h1", [passage("نص قديم")])
        store.replace_article(Article(id="b", title="آخر", body="نص آخر"), "h2", [passage("نص آخر")])
    before = store.generation()
    with store.transaction():
        [new] = store.replace_article(Article(id="a", title="جديد", body="نص جديد"), "h3", [passage("نص جديد")])
    after = store.generation()
    # What the source of truth holds now: the new version only.
    assert [p.pid for p in store.passages_of("a")] == [new] and store.count_passages() == 2
    assert store.article("a")["title"] == "جديد"
    # An index still at `before` holds the old passage: its hit resolves, to the old version.
    assert store.visible([old], before)[old].retired is not None
    retired = store.passages([old])[old]
    assert before < retired.retired <= after and retired.text == "نص قديم"
    assert store.articles_meta([retired])["a"]["title"] == "قديم"
    assert store.article("a", retired.retired)["body"] == "نص قديم"
    assert store.passages_of("a", retired.retired) == [retired]
    # Once the index is past the correction, the old passage is no version it can show.
    assert store.visible([old], after) == {} and list(store.visible([new], before)) == [new]
    assert store.retired.purge(before) == 0 and store.retired.count() == 1
    assert store.retired.purge(after) == 1 and store.retired.count() == 0
    assert store.retired.purged_through() == retired.retired and store.passages([old]) == {}
    # A withdrawn article goes at once, retired versions included.
    with store.transaction():
        [b_old] = [p.pid for p in store.passages_of("b")]
        store.replace_article(Article(id="b", title="آخر", body="نص ثان"), "h4", [passage("نص ثان")])
        store.delete_article("b")
    assert store.passages([b_old]) == {} and store.retired.count() == 0 and store.article("b") is None
    store.close()


def eco_versions(engine: Engine, mode: str, old_pids: set[int]) -> list[str]:
    """'old' or 'new' for each of eco-1's hits in a passage-level search for both versions'
    words, checking that the hit's title is of the same version as its passage."""
    hits = engine.search(QUERY, mode=mode, level="passages", k=50).hits
    found = []
    for hit in (h for h in hits if h.article_id == "eco-1"):
        version = "old" if hit.passage_id in old_pids else "new"
        assert (hit.title == NEW_TITLE) == (version == "new"), hit
        found.append(version)
    return found


def test_each_index_shows_the_version_it_holds_and_hybrid_the_newest(index_copy, encoder, monkeypatch):
    """A writer that has committed a correction to the store but not yet to Whoosh and faiss
    (it holds the lock, so readers cannot catch up) is caught at each step in between."""
    for step in ("_flush_keyword", "_save_vectors", "_purge_retired"):
        monkeypatch.setattr(Indexer, step, lambda self: None)
    with Indexer(index_copy, encoder=encoder) as writer, Engine(index_copy, encoder=encoder) as engine:
        old_pids = {p.pid for p in writer.store.passages_of("eco-1")}
        writer.add([Article(id="eco-1", title=NEW_TITLE, body=CORRECTED_BODY)])
        monkeypatch.undo()
        assert engine.article("eco-1").body == CORRECTED_BODY   # `show` reads the store
        for mode in ("keyword", "dense", "hybrid"):
            found = eco_versions(engine, mode, old_pids)
            assert found and set(found) == {"old"}, (mode, found)
        writer._flush_keyword()                                   # Whoosh has the correction, faiss not
        assert eco_versions(engine, "keyword", old_pids) == ["new"]
        # Dense mode ranks every keyword match too (its labels and its tail), so like hybrid it
        # shows the newest version either side holds.
        for mode in ("dense", "hybrid"):
            assert eco_versions(engine, mode, old_pids) == ["new"], mode
        writer._save_vectors()
        for mode in ("keyword", "dense", "hybrid"):
            assert eco_versions(engine, mode, old_pids) == ["new"], mode
        assert retired_rows(index_copy) == (len(old_pids), 1)
        writer._purge_retired()
        assert retired_rows(index_copy) == (0, 0)
        assert eco_versions(engine, "hybrid", old_pids) == ["new"]
    assert check_index(index_copy).ok


def test_versions_left_by_a_writer_that_died_before_purging_are_purged(index_copy, encoder, monkeypatch):
    monkeypatch.setattr(RetiredVersions, "purge", lambda self, through: 0)
    with Indexer(index_copy, encoder=encoder) as writer:
        writer.add([Article(id="eco-1", title=NEW_TITLE, body=CORRECTED_BODY)])
    monkeypatch.undo()
    report = check_index(index_copy)
    assert [p.part for p in report.problems] == ["retired"] and report.retired == retired_rows(index_copy)[0] > 0
    repaired = check_index(index_copy, repair=True)
    assert repaired.ok and repaired.repaired == ("retired",) and retired_rows(index_copy) == (0, 0)
    # The same left-overs are harmless to a reader, which writes nothing, and purged by the next writer.
    monkeypatch.setattr(RetiredVersions, "purge", lambda self, through: 0)
    with Indexer(index_copy, encoder=encoder) as writer:
        writer.add([Article(id="eco-1", title="الذهب يرتفع", body=CORRECTED_BODY + " ثم ارتفع.")])
    monkeypatch.undo()
    assert retired_rows(index_copy) != (0, 0)
    left = retired_rows(index_copy)
    with Engine(index_copy, encoder=encoder) as engine:
        assert [h.title for h in engine.search("الذهب", mode="keyword").hits] == ["الذهب يرتفع"]
    assert retired_rows(index_copy) == left
    Indexer(index_copy, encoder=encoder).close()
    assert retired_rows(index_copy) == (0, 0) and check_index(index_copy).ok


def test_a_store_from_before_retired_versions_opens_and_is_migrated(index_copy, encoder):
    layout = IndexLayout(index_copy)
    with sqlite3.connect(layout.store) as conn:
        conn.executescript("DROP TABLE retired_passages; DROP TABLE retired_articles; DROP TABLE state;"
                           " PRAGMA user_version=0;")
    old = Store(layout.store, readonly=True)       # a reader before any writer migrated it
    assert old.retired.count() == 0 and old.passages_of("eco-1")
    assert len(old.filtered_pids(Filters(source="وكالة الأنباء"))) > 0
    old.close()
    with Engine(index_copy, encoder=encoder) as engine:       # a reader reads it as it is
        assert engine.search(OLD_BODY_WORD, mode="keyword").hits[0].article_id == "eco-1"
        assert engine.store.schema_version() == 0
    Indexer(index_copy, encoder=encoder).close()              # the next writer migrates it
    assert Store(layout.store, readonly=True).schema_version() == SCHEMA_VERSION
    with Indexer(index_copy, encoder=encoder) as writer:
        writer.add([Article(id="eco-1", title=NEW_TITLE, body=CORRECTED_BODY)])
    assert check_index(index_copy).ok and retired_rows(index_copy) == (0, 0)
