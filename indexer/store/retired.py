"""Retired article versions: a corrected article's old passages and fields, kept for readers.

When a batch replaces an article, the store commits first and the derived indexes follow:
Whoosh at its next keyword commit, faiss when the run saves it. Until an index has caught up
it still returns the old passages' ids. Deleting those rows at once would leave a reader
with neither version (the old ids resolve to nothing, the new passages are not indexed yet),
so they are moved here, with the article as it was, tagged with the generation that retired
them. A reader keeps a hit on a retired passage only while the index it came from is older
than that generation (``Store.visible``), so each index shows exactly the version it holds.
Rows are purged once both indexes on disk are past their generation; ``purged_through``
records how far, so a reader can tell that its view of an index is older than a purge.
A withdrawn article's rows go at once with the article (no reader may show it).
"""
from __future__ import annotations

import sqlite3
from typing import Iterable

SCHEMA = """
CREATE TABLE IF NOT EXISTS retired_passages (
    pid INTEGER PRIMARY KEY, article_id TEXT NOT NULL, retired INTEGER NOT NULL,
    ordinal INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL,
    heading TEXT NOT NULL, text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS retired_passages_article ON retired_passages(article_id);
CREATE INDEX IF NOT EXISTS retired_passages_generation ON retired_passages(retired);
CREATE TABLE IF NOT EXISTS retired_articles (
    id TEXT NOT NULL, retired INTEGER NOT NULL,
    title TEXT NOT NULL, date TEXT NOT NULL, source TEXT NOT NULL, url TEXT NOT NULL,
    section TEXT NOT NULL, body TEXT NOT NULL, metadata TEXT NOT NULL,
    PRIMARY KEY (id, retired)
);
CREATE TABLE IF NOT EXISTS state (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
ARTICLE_FIELDS = "title, date, source, url, section, body, metadata"
PASSAGE_FIELDS = "pid, article_id, ordinal, start, end, heading, text"


class RetiredVersions:
    """The retired tables of one store connection. ``present`` is false for a store that no
    writer has migrated yet: it holds no retired versions, and readers must not query them."""

    def __init__(self, conn: sqlite3.Connection, present: bool):
        self.conn = conn
        self.present = present

    # -- writing (inside the store's transaction) ------------------------------------
    def retire(self, article_id: str, generation: int) -> None:
        """Copy the article's current passages and fields here; the caller then deletes them."""
        self.conn.execute(f"INSERT INTO retired_passages ({PASSAGE_FIELDS}, retired)"
                          f" SELECT {PASSAGE_FIELDS}, ? FROM passages WHERE article_id=?", (generation, article_id))
        self.conn.execute(f"INSERT INTO retired_articles (id, retired, {ARTICLE_FIELDS})"
                          f" SELECT id, ?, {ARTICLE_FIELDS} FROM articles WHERE id=?", (generation, article_id))

    def drop_article(self, article_id: str) -> None:
        self.conn.execute("DELETE FROM retired_passages WHERE article_id=?", (article_id,))
        self.conn.execute("DELETE FROM retired_articles WHERE id=?", (article_id,))

    def purge(self, through: int) -> int:
        """Drop the versions retired at or before generation ``through``, in a transaction of its
        own; returns the passages dropped. Writes nothing when there is nothing to drop, so an
        unchanged index stays byte-identical."""
        newest, count = self.conn.execute("SELECT MAX(retired), COUNT(*) FROM retired_passages WHERE retired <= ?",
                                          (through,)).fetchone()
        if not count:
            return 0
        with self.conn:
            self.conn.execute("DELETE FROM retired_passages WHERE retired <= ?", (through,))
            self.conn.execute("DELETE FROM retired_articles WHERE retired <= ?", (through,))
            self.conn.execute("INSERT INTO state VALUES ('purged_through', ?) ON CONFLICT(name)"
                              " DO UPDATE SET value = MAX(value, excluded.value)", (newest,))
        return count

    # -- reading ---------------------------------------------------------------------
    def purged_through(self) -> int:
        """The newest generation whose versions were purged (0 if none ever were)."""
        if not self.present:
            return 0
        row = self.conn.execute("SELECT value FROM state WHERE name='purged_through'").fetchone()
        return row[0] if row else 0

    def oldest(self) -> int | None:
        """The lowest generation that retired a version still kept; None if none is kept."""
        if not self.present:
            return None
        return self.conn.execute("SELECT MIN(retired) FROM retired_passages").fetchone()[0]

    def count(self, through: int | None = None) -> int:
        """Retired passages kept; with ``through``, those retired at or before that generation."""
        if not self.present:
            return 0
        if through is None:
            return self.conn.execute("SELECT COUNT(*) FROM retired_passages").fetchone()[0]
        return self.conn.execute("SELECT COUNT(*) FROM retired_passages WHERE retired <= ?", (through,)).fetchone()[0]

    def passages(self, pids: list[int]) -> list[tuple]:
        """Rows (``PASSAGE_FIELDS``, retired) of those of ``pids`` (at most 500) kept here."""
        if not self.present or not pids:
            return []
        marks = ",".join("?" * len(pids))
        return self.conn.execute(f"SELECT {PASSAGE_FIELDS}, retired FROM retired_passages"
                                 f" WHERE pid IN ({marks})", pids).fetchall()

    def owners(self, pids: list[int]) -> list[tuple[int, str, int]]:
        """(pid, article id, retired) of those of ``pids`` (at most 500) kept here."""
        if not self.present or not pids:
            return []
        marks = ",".join("?" * len(pids))
        return self.conn.execute(f"SELECT pid, article_id, retired FROM retired_passages WHERE pid IN ({marks})",
                                 pids).fetchall()

    def passages_of(self, article_id: str, generation: int) -> list[tuple]:
        return self.conn.execute(f"SELECT {PASSAGE_FIELDS}, retired FROM retired_passages"
                                 " WHERE article_id=? AND retired=? ORDER BY ordinal", (article_id, generation)).fetchall()

    def article(self, article_id: str, generation: int) -> sqlite3.Row | None:
        return self.conn.execute(f"SELECT id, {ARTICLE_FIELDS} FROM retired_articles WHERE id=? AND retired=?",
                                 (article_id, generation)).fetchone()

    def articles_meta(self, versions: Iterable[tuple[str, int]]) -> dict[str, sqlite3.Row]:
        rows = {}
        for article_id, generation in dict.fromkeys(versions):
            rows[article_id] = self.conn.execute(
                "SELECT id, title, date, source, url, section FROM retired_articles WHERE id=? AND retired=?",
                (article_id, generation)).fetchone()
        return rows

    def distinct(self, column: str) -> list[str]:
        """The distinct values of an article ``column`` (source, section) among retired versions."""
        if not self.present:
            return []
        return [r[0] for r in self.conn.execute(f"SELECT DISTINCT {column} FROM retired_articles")]

    def filtered_sql(self, where: str) -> str:
        """A query for the retired passages whose article version passes ``where`` (``filter_sql``
        over alias ``a``); empty when there are none."""
        if not self.present:
            return ""
        return ("SELECT p.pid FROM retired_passages p JOIN retired_articles a"
                f" ON a.id = p.article_id AND a.retired = p.retired WHERE {where}")
