"""The store's near-duplicate tables: each current article's MinHash sketch, and the pairs of
articles whose sketches pass the threshold (``indexer/text/near_duplicates.py``), both ways.

Not in the change log: no derived index holds them; search reads the pairs from here to collapse
a story printed several times into one result. An article's rows go when it is replaced or
deleted; the pipeline then records the new version's.
"""
from __future__ import annotations

import sqlite3
from typing import Callable, Iterable, Iterator, TypeVar

import numpy as np

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS article_sketches (article_id TEXT PRIMARY KEY, sketch BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS near_duplicates (
    article_id TEXT NOT NULL, other_id TEXT NOT NULL, similarity REAL NOT NULL,
    PRIMARY KEY (article_id, other_id)
);
"""


class DuplicateTable:
    """``present`` is false for a store that predates the tables, opened read-only."""

    def __init__(self, conn: sqlite3.Connection, present: bool):
        self.conn = conn
        self.present = present
        self._derived: dict[Callable, tuple[tuple[int, int], object]] = {}

    def put(self, article_id: str, sketch: np.ndarray, matches: Iterable[tuple[str, float]]) -> None:
        self.conn.execute("INSERT OR REPLACE INTO article_sketches VALUES (?,?)",
                          (article_id, np.asarray(sketch, dtype=np.uint32).tobytes()))
        rows = [(article_id, other, s) for other, s in matches]
        self.conn.executemany("INSERT OR REPLACE INTO near_duplicates VALUES (?,?,?)",
                              rows + [(other, a, s) for a, other, s in rows])

    def drop_article(self, article_id: str) -> None:
        self.conn.execute("DELETE FROM article_sketches WHERE article_id=?", (article_id,))
        # Pairs are stored both ways, so the rows naming the article second are found through its
        # own rows and the primary key: ``other_id=?`` alone has no index, and a scan of the whole
        # table per replaced article made a bulk import quadratic (34% of a 500k-passage build).
        self.conn.execute("DELETE FROM near_duplicates WHERE other_id=? AND article_id IN"
                          " (SELECT other_id FROM near_duplicates WHERE article_id=?)", (article_id, article_id))
        self.conn.execute("DELETE FROM near_duplicates WHERE article_id=?", (article_id,))

    def sketches(self) -> Iterator[tuple[str, np.ndarray]]:
        for article_id, blob in self.conn.execute("SELECT article_id, sketch FROM article_sketches"):
            yield article_id, np.frombuffer(blob, dtype=np.uint32)

    def unsketched(self, limit: int) -> list[tuple[str, str]]:
        """(id, body) of articles without a sketch: stores from before near-duplicates."""
        return [tuple(r) for r in self.conn.execute(
            "SELECT id, body FROM articles a WHERE NOT EXISTS"
            " (SELECT 1 FROM article_sketches s WHERE s.article_id = a.id) ORDER BY id LIMIT ?", (limit,))]

    def of(self, article_ids: Iterable[str]) -> dict[str, dict[str, float]]:
        """Each of ``article_ids`` that has near-duplicates -> {other id: similarity}."""
        out: dict[str, dict[str, float]] = {}
        if not self.present:
            return out
        for a in dict.fromkeys(article_ids):
            for other, s in self.conn.execute(
                    "SELECT other_id, similarity FROM near_duplicates WHERE article_id=?", (a,)):
                out.setdefault(a, {})[other] = s
        return out

    def derived(self, build: Callable[[Iterable[tuple[str, str]]], T]) -> T:
        """``build`` of every pair (article id, other id), both ways: what search makes of the pairs
        for every query (``search.collapse.PairKeys``). Built again only once this connection or
        another one has written since (``total_changes``, SQLite's ``data_version``), and only the
        built value is kept: at a million passages the pairs as Python dicts held 210 MiB of a
        search process (1.3 million rows), their arrays 20."""
        version = (self.conn.execute("PRAGMA data_version").fetchone()[0], self.conn.total_changes)
        cached = self._derived.get(build)
        if cached is None or cached[0] != version:
            cached = self._derived[build] = (version, build(self._pair_rows()))
        return cached[1]

    def _pair_rows(self) -> Iterable[tuple[str, str]]:
        if not self.present:
            return ()
        cursor = self.conn.cursor()
        cursor.row_factory = None   # plain tuples: a million sqlite3.Row objects cost more
        return cursor.execute("SELECT article_id, other_id FROM near_duplicates")

    def count(self) -> tuple[int, int]:
        """(articles sketched, pairs of near-duplicates)."""
        if not self.present:
            return 0, 0
        sketched = self.conn.execute("SELECT COUNT(*) FROM article_sketches").fetchone()[0]
        pairs = self.conn.execute("SELECT COUNT(*) FROM near_duplicates").fetchone()[0] // 2
        return sketched, pairs
