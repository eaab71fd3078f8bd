"""The store's sentence vectors: the embeddings of each passage's sentences
(``indexer/vectors/sentence_vectors.py``), one float16 row per passage, in sentence order.

Not in the change log: no derived index holds them; the dense retriever and ``ask`` read them
from here. A passage's row goes with the passage; a retired version keeps its text but not its
sentence vectors, and is scored by its passage vector alone for the moment it stays visible.
"""
from __future__ import annotations

import sqlite3
from typing import Iterable

import numpy as np

SCHEMA = """
CREATE TABLE IF NOT EXISTS sentence_vectors (
    pid INTEGER PRIMARY KEY, sentences INTEGER NOT NULL, vectors BLOB NOT NULL
);
"""


class SentenceVectorTable:
    """The sentence vectors of one store connection. ``present`` is false for a store that
    predates them and was opened read-only (a writer's open migrates it)."""

    def __init__(self, conn: sqlite3.Connection, present: bool):
        self.conn = conn
        self.present = present

    def put(self, vectors: Iterable[tuple[int, np.ndarray]]) -> None:
        """(pid, (sentences, dim) matrix) pairs; float16 halves the bytes and keeps cosines to
        about three decimals."""
        self.conn.executemany("INSERT OR REPLACE INTO sentence_vectors VALUES (?,?,?)",
                              [(pid, len(m), np.asarray(m, dtype=np.float16).tobytes()) for pid, m in vectors])

    def get(self, pids: Iterable[int]) -> dict[int, np.ndarray]:
        """float32 (sentences, dim) matrices of the passages that have them."""
        if not self.present:
            return {}
        rows, pids = [], list(pids)
        for start in range(0, len(pids), 500):
            chunk = pids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            rows += self.conn.execute(f"SELECT pid, sentences, vectors FROM sentence_vectors WHERE pid IN ({marks})",
                                      chunk).fetchall()
        if not rows:
            return {}
        # One conversion for all of them (the dense side reads a hundred passages' a query), then
        # each passage's rows as a view into it.
        counts = [n for _, n, _ in rows]
        every = np.frombuffer(b"".join(blob for *_, blob in rows), dtype=np.float16).reshape(sum(counts), -1)
        every = every.astype(np.float32)
        ends = np.cumsum(counts).tolist()
        return {pid: every[end - n:end] for (pid, n, _), end in zip(rows, ends)}

    def drop_article(self, article_id: str) -> None:
        """Before the article's current passages are deleted."""
        self.conn.execute("DELETE FROM sentence_vectors WHERE pid IN (SELECT pid FROM passages WHERE article_id=?)",
                          (article_id,))

    def clear(self) -> None:
        """Every passage's sentence vectors, when the splitter that cut them has changed."""
        if self.present:
            self.conn.execute("DELETE FROM sentence_vectors")

    def any(self) -> bool:
        return self.present and self.conn.execute("SELECT 1 FROM sentence_vectors LIMIT 1").fetchone() is not None

    def missing(self, limit: int, after: int = 0) -> list[tuple[int, str]]:
        """(pid, text) of embedded passages without sentence vectors (stores from before them), past pid ``after``."""
        return [tuple(r) for r in self.conn.execute(
            "SELECT pid, text FROM passages p WHERE embedding IS NOT NULL AND pid > ? AND NOT EXISTS"
            " (SELECT 1 FROM sentence_vectors s WHERE s.pid = p.pid) ORDER BY pid LIMIT ?", (after, limit))]

    def count(self) -> tuple[int, int]:
        """(current passages with sentence vectors, their sentences)."""
        if not self.present:
            return 0, 0
        row = self.conn.execute("SELECT COUNT(*), COALESCE(SUM(s.sentences), 0) FROM sentence_vectors s"
                                " JOIN passages p ON p.pid = s.pid").fetchone()
        return row[0], row[1]
