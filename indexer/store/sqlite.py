"""SQLite store: the source of truth for articles, passages and their embeddings.

The passage row id is the vector id and the keyword document key, so there is one
mapping and nothing to drift. Every passage that is added, re-embedded or deleted is
appended to ``log``; the derived indexes remember the last log sequence they applied
(their *generation*) and catch up from the log after a crash. A corrected article's old
version is retired rather than deleted, until both derived indexes have caught up
(``indexer/store/retired.py``); readers resolve hits through ``visible``.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from indexer.text.articles import Article
from indexer.store.layout import IndexDamaged
from indexer.store.filters import Filters, day_sql, filter_sql, spellings
from indexer.text.dates import utc_day
from indexer.store.retired import PASSAGE_FIELDS, RetiredVersions
from indexer.store.retired import SCHEMA as RETIRED_SCHEMA
from indexer.store.sentence_table import SCHEMA as SENTENCE_SCHEMA
from indexer.store.sentence_table import SentenceVectorTable
from indexer.store.duplicate_table import SCHEMA as DUPLICATE_SCHEMA
from indexer.store.duplicate_table import DuplicateTable

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL, date TEXT NOT NULL, source TEXT NOT NULL,
    url TEXT NOT NULL, section TEXT NOT NULL, body TEXT NOT NULL,
    metadata TEXT NOT NULL, content_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS passages (
    pid INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id TEXT NOT NULL REFERENCES articles(id),
    ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL, end INTEGER NOT NULL,
    heading TEXT NOT NULL, text TEXT NOT NULL,
    embedding BLOB
);
CREATE INDEX IF NOT EXISTS passages_article ON passages(article_id);
CREATE INDEX IF NOT EXISTS articles_source ON articles(source);
CREATE INDEX IF NOT EXISTS articles_date ON articles(date);
CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY AUTOINCREMENT, pid INTEGER NOT NULL);
-- Passage length in the encoder's tokens, for models that cut passages at max_tokens.
-- Rows of deleted passages are ignored by joining on passages (pids are never reused).
CREATE TABLE IF NOT EXISTS passage_tokens (
    pid INTEGER PRIMARY KEY, tokens INTEGER NOT NULL, max_tokens INTEGER NOT NULL
);
-- A copy of manifest.json, from which `check --repair` recreates a lost or damaged one.
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
""" + RETIRED_SCHEMA + SENTENCE_SCHEMA + DUPLICATE_SCHEMA
# PRAGMA user_version of a store holding every table above: 0 before retired versions, 1 before
# sentence vectors, 2 before near-duplicates. A writer's open migrates an older store (the
# statements above are idempotent).
SCHEMA_VERSION = 3


@dataclass(frozen=True)
class StoredPassage:
    pid: int
    article_id: str
    ordinal: int
    start: int
    end: int
    heading: str
    text: str
    retired: int | None = None   # the generation that retired this version; None while current


@dataclass(frozen=True)
class PassageVersion:
    """Which article a passage belongs to, and which version of it."""

    article_id: str
    retired: int | None = None   # as in ``StoredPassage``


@dataclass(frozen=True)
class NewPassage:
    start: int
    end: int
    heading: str
    text: str
    embedding: np.ndarray | None = None
    sentence_vectors: np.ndarray | None = None   # (sentences, dim)


def content_hash(article: Article) -> str:
    canonical = json.dumps(article.to_dict(), ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


STORE_FIX = ("the store is the source of truth and no index file can restore it: put back store.sqlite from a"
             " backup, or index the articles again into a new folder")


def _connect(path: Path, readonly: bool) -> sqlite3.Connection:
    if not readonly:
        return _with_functions(sqlite3.connect(f"file:{path}?mode=rwc", uri=True, timeout=60, check_same_thread=False))
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60, check_same_thread=False)
    try:
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        return _with_functions(conn)
    except sqlite3.OperationalError:
        # A WAL store in a folder this process cannot write: SQLite cannot make the shared-memory
        # file readers need, but nobody can be writing there either, so the file is read as is.
        conn.close()
        return _with_functions(sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, timeout=60,
                                               check_same_thread=False))
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise IndexDamaged(path, exc, STORE_FIX) from None


def _with_functions(conn: sqlite3.Connection) -> sqlite3.Connection:
    """``conn`` with the SQL functions the store's queries use (``filters.day_sql``)."""
    conn.create_function("utc_day", 1, utc_day, deterministic=True)
    return conn


def _check_tables(conn: sqlite3.Connection, path: Path) -> None:
    try:
        found = conn.execute("SELECT count(*) FROM sqlite_master WHERE name='articles'").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise IndexDamaged(path, exc, STORE_FIX) from None
    if not found:
        conn.close()
        raise IndexDamaged(path, "it holds no articles table", STORE_FIX)


def _blob(vector: np.ndarray | None) -> bytes | None:
    return None if vector is None else np.asarray(vector, dtype=np.float32).tobytes()


class Store:
    def __init__(self, path: Path, readonly: bool = False, existing: bool = False):
        """``existing``: the store of an index that has a manifest, so it must hold the tables
        (an empty or foreign file is damage, not a new store)."""
        self.path = path
        self.conn = _connect(path, readonly)
        self.conn.row_factory = sqlite3.Row
        if existing or readonly:
            _check_tables(self.conn, path)
        if not readonly:
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.executescript(SCHEMA)
            if self.schema_version() < SCHEMA_VERSION:   # only then, so an unchanged store stays unwritten
                self.conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        self.retired = RetiredVersions(self.conn, present=self.schema_version() >= 1)
        self.sentences = SentenceVectorTable(self.conn, present=self.schema_version() >= 2)
        self.duplicates = DuplicateTable(self.conn, present=self.schema_version() >= 3)
        # FULL: a batch reported committed survives power loss, not only a process crash.
        self.conn.execute("PRAGMA synchronous=FULL")

    def close(self) -> None:
        self.conn.close()

    def save_manifest(self, data: dict) -> None:
        with self.conn:
            self.conn.execute("INSERT OR REPLACE INTO settings(key, value) VALUES ('manifest', ?)",
                              (json.dumps(data, sort_keys=True),))

    def manifest_copy(self) -> dict | None:
        try:
            row = self.conn.execute("SELECT value FROM settings WHERE key='manifest'").fetchone()
        except sqlite3.OperationalError:   # a store no writer has opened since the copy existed
            return None
        return json.loads(row[0]) if row else None

    def integrity_problem(self) -> str:
        """SQLite's own quick check of every page: "" when the file is sound."""
        try:
            rows = [r[0] for r in self.conn.execute("PRAGMA quick_check")]
        except sqlite3.DatabaseError as exc:
            return str(exc)
        return "" if rows == ["ok"] else "; ".join(rows[:3])

    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    # -- writing -------------------------------------------------------------------
    def transaction(self):
        """``with store.transaction():`` commits on success, rolls back on error."""
        return self.conn

    def stored_hash(self, article_id: str) -> str | None:
        row = self.conn.execute("SELECT content_hash FROM articles WHERE id=?", (article_id,)).fetchone()
        return row[0] if row else None

    def replace_article(self, article: Article, digest: str, passages: Sequence[NewPassage]) -> list[int]:
        """Insert or replace one article and its passages; returns the new passage ids. The old
        passages are retired under the generation of their change-log entries."""
        if self._log_passages_of(article.id):
            self.retired.retire(article.id, self.generation())
            self._delete_passages_of(article.id)
        self.duplicates.drop_article(article.id)
        self.conn.execute(
            "INSERT OR REPLACE INTO articles VALUES (?,?,?,?,?,?,?,?,?)",
            (article.id, article.title, article.date, article.source, article.url,
             article.section, article.body, json.dumps(article.metadata, ensure_ascii=False), digest))
        pids = []
        for ordinal, p in enumerate(passages):
            cur = self.conn.execute(
                "INSERT INTO passages(article_id, ordinal, start, end, heading, text, embedding)"
                " VALUES (?,?,?,?,?,?,?)",
                (article.id, ordinal, p.start, p.end, p.heading, p.text, _blob(p.embedding)))
            pids.append(cur.lastrowid)
        self.sentences.put((pid, p.sentence_vectors) for pid, p in zip(pids, passages)
                           if p.sentence_vectors is not None)
        self._log(pids)
        return pids

    def delete_article(self, article_id: str) -> bool:
        """Withdraw an article: its current and retired versions go at once."""
        if self._log_passages_of(article_id):
            self._delete_passages_of(article_id)
        self.retired.drop_article(article_id)
        self.duplicates.drop_article(article_id)
        return self.conn.execute("DELETE FROM articles WHERE id=?", (article_id,)).rowcount > 0

    def _delete_passages_of(self, article_id: str) -> None:
        self.sentences.drop_article(article_id)
        self.conn.execute("DELETE FROM passages WHERE article_id=?", (article_id,))

    def _log_passages_of(self, article_id: str) -> list[int]:
        """Log the article's current passages as changed; returns their ids."""
        old = [r[0] for r in self.conn.execute("SELECT pid FROM passages WHERE article_id=?", (article_id,))]
        self._log(old)
        return old

    def set_embeddings(self, pids: Sequence[int], vectors: np.ndarray) -> None:
        self.conn.executemany("UPDATE passages SET embedding=? WHERE pid=?",
                              [(_blob(v), pid) for pid, v in zip(pids, vectors)])
        self._log(pids)

    def set_token_counts(self, pids: Sequence[int], tokens: Sequence[int], max_tokens: int) -> None:
        self.conn.executemany("INSERT OR REPLACE INTO passage_tokens VALUES (?,?,?)",
                              [(pid, n, max_tokens) for pid, n in zip(pids, tokens)])

    def clear_token_counts(self) -> None:
        self.conn.execute("DELETE FROM passage_tokens")

    def _log(self, pids: Iterable[int]) -> None:
        self.conn.executemany("INSERT INTO log(pid) VALUES (?)", [(pid,) for pid in pids])

    # -- reading -------------------------------------------------------------------
    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """``with store.snapshot():`` every read inside sees one committed state, even while
        a writer commits (WAL), so a passage found by one query is still there for the next."""
        if self.conn.in_transaction:
            yield
            return
        self.conn.execute("BEGIN")
        try:
            yield
        finally:
            self.conn.rollback()

    def generation(self) -> int:
        return self.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM log").fetchone()[0]

    def visible(self, pids: Iterable[int], generation: int) -> dict[int, PassageVersion]:
        """Those of ``pids`` that a derived index at ``generation`` holds as its version of their
        article: current passages, and retired ones it has not caught up with (retired after
        ``generation``). Ids the store no longer has (withdrawn articles) are left out."""
        return {pid: v for pid, v in self.versions(pids).items() if v.retired is None or v.retired > generation}

    def versions(self, pids: Iterable[int]) -> dict[int, PassageVersion]:
        """The article version of each of ``pids`` that still exists, current or retired."""
        pids = [int(pid) for pid in pids]
        found = {pid: PassageVersion(article_id) for pid, article_id in self._current(pids)}
        for chunk in _chunks(pids, 500) if self.retired.present else ():
            for pid, article_id, retired in self.retired.owners(chunk):
                found[pid] = PassageVersion(article_id, retired)
        return found

    def current_pids(self, pids: Sequence[int]) -> set[int]:
        """Those of ``pids`` the store holds as current passages."""
        return {pid for pid, _ in self._current([int(p) for p in pids])}

    def _current(self, pids: list[int]):
        """(pid, article id) of those of ``pids`` that are current passages."""
        # One statement over a JSON array, not one per 500 ids: search asks this of every keyword
        # match, tens of thousands of passages at 100k (docs/performance.md, "Paging").
        return self.conn.execute(
            "SELECT pid, article_id FROM passages WHERE pid IN (SELECT value FROM json_each(?))", (json.dumps(pids),))

    def removed_between(self, after: int, through: int) -> bool:
        """Was a passage logged in generations ``after`` (exclusive) to ``through`` removed since,
        replaced or withdrawn? False when only vectors were given (``baheth embed``)."""
        return self.conn.execute(
            "SELECT 1 FROM log l WHERE l.seq > ? AND l.seq <= ? AND NOT EXISTS"
            " (SELECT 1 FROM passages p WHERE p.pid = l.pid) LIMIT 1", (after, through)).fetchone() is not None

    def changed_since(self, generation: int) -> list[int]:
        rows = self.conn.execute("SELECT DISTINCT pid FROM log WHERE seq > ? ORDER BY pid", (generation,))
        return [r[0] for r in rows]

    def count_articles(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0]

    def count_passages(self, embedded_only: bool = False) -> int:
        where = " WHERE embedding IS NOT NULL" if embedded_only else ""
        return self.conn.execute(f"SELECT COUNT(*) FROM passages{where}").fetchone()[0]

    def article(self, article_id: str, retired: int | None = None) -> sqlite3.Row | None:
        """The current article, or with ``retired`` the version that generation retired."""
        if retired is not None:
            return self.retired.article(article_id, retired)
        return self.conn.execute("SELECT * FROM articles WHERE id=?", (article_id,)).fetchone()

    def stored_article(self, article_id: str) -> Article:
        """The current version of an article as it was indexed."""
        return _article(self.article(article_id))

    def articles_meta(self, passages: Iterable[StoredPassage]) -> dict[str, sqlite3.Row]:
        """Title, date, source, url and section of each passage's article at the passage's version,
        by article id: pass one version per article (a result list holds one, see ``visible``)."""
        passages = list(passages)
        ids = list(dict.fromkeys(p.article_id for p in passages if p.retired is None))
        rows = self.retired.articles_meta((p.article_id, p.retired) for p in passages if p.retired is not None)
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            for row in self.conn.execute(
                    f"SELECT id, title, date, source, url, section FROM articles WHERE id IN ({marks})", chunk):
                rows[row["id"]] = row
        return rows

    def passages_of(self, article_id: str, retired: int | None = None) -> list[StoredPassage]:
        """The article's current passages, or with ``retired`` those of the version it retired."""
        if retired is not None:
            return [StoredPassage(*r) for r in self.retired.passages_of(article_id, retired)]
        rows = self.conn.execute(f"SELECT {PASSAGE_FIELDS} FROM passages WHERE article_id=? ORDER BY ordinal",
                                 (article_id,))
        return [StoredPassage(*r) for r in rows]

    def passages(self, pids: Iterable[int]) -> dict[int, StoredPassage]:
        """Passages by id, current or retired (``StoredPassage.retired`` tells them apart)."""
        found = {}
        for chunk in _chunks(list(pids), 500):
            marks = ",".join("?" * len(chunk))
            rows = self.conn.execute(f"SELECT {PASSAGE_FIELDS} FROM passages WHERE pid IN ({marks})", chunk)
            for r in [*rows, *self.retired.passages(chunk)]:
                found[r[0]] = StoredPassage(*r)
        return found

    def iter_passages(self, pids: Iterable[int] | None = None) -> Iterator[tuple[StoredPassage, sqlite3.Row]]:
        """Passages with their article's title and filter fields, for (re)building the keyword index."""
        sql = ("SELECT p.pid, p.article_id, p.ordinal, p.start, p.end, p.heading, p.text,"
               " a.title, a.date, a.source, a.section FROM passages p JOIN articles a ON a.id = p.article_id")
        if pids is None:
            for r in self.conn.execute(sql + " ORDER BY p.pid"):
                yield StoredPassage(*r[:7]), r
            return
        for chunk in _chunks(list(pids), 500):
            marks = ",".join("?" * len(chunk))
            for r in self.conn.execute(sql + f" WHERE p.pid IN ({marks}) ORDER BY p.pid", chunk):
                yield StoredPassage(*r[:7]), r

    def embeddings(self, pids: Iterable[int] | None = None, batch: int = 4096) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, vectors) batches of stored embeddings, in pid order."""
        if pids is None:
            cursor = self.conn.execute("SELECT pid, embedding FROM passages WHERE embedding IS NOT NULL ORDER BY pid")
            while rows := cursor.fetchmany(batch):
                yield _stack(rows)
            return
        for chunk in _chunks(list(pids), 500):
            marks = ",".join("?" * len(chunk))
            rows = self.conn.execute(
                f"SELECT pid, embedding FROM passages WHERE embedding IS NOT NULL AND pid IN ({marks})"
                " ORDER BY pid", chunk).fetchall()
            if rows:
                yield _stack(rows)

    def missing_embeddings(self, limit: int, after: int = 0) -> list[tuple[int, str]]:
        """(pid, text) of the first ``limit`` passages past pid ``after`` that have no vector."""
        return [tuple(r) for r in self.conn.execute(
            "SELECT pid, text FROM passages WHERE embedding IS NULL AND pid > ? ORDER BY pid LIMIT ?", (after, limit))]

    def uncounted_passages(self, limit: int) -> list[tuple[int, str]]:
        """(pid, text) of passages whose token count is not recorded yet."""
        return [tuple(r) for r in self.conn.execute(
            "SELECT p.pid, p.text FROM passages p LEFT JOIN passage_tokens t ON t.pid = p.pid"
            " WHERE t.pid IS NULL ORDER BY p.pid LIMIT ?", (limit,))]

    def token_overflow(self) -> dict | None:
        """How many counted passages are longer than the encoder reads; None when nothing was counted."""
        try:
            counted, over, max_tokens, longest = self.conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(t.tokens > t.max_tokens), 0), MAX(t.max_tokens), MAX(t.tokens)"
                " FROM passage_tokens t JOIN passages p ON p.pid = t.pid").fetchone()
        except sqlite3.OperationalError:   # a store written before token counts existed
            return None
        if not counted:
            return None
        return {"max_tokens": max_tokens, "counted": counted, "over": over, "longest": longest}

    def passage_owners(self) -> dict[int, str]:
        """Every passage id -> its article id (for consistency checks)."""
        return dict(self.conn.execute("SELECT pid, article_id FROM passages"))

    def embedded_pids(self) -> set[int]:
        return {r[0] for r in self.conn.execute("SELECT pid FROM passages WHERE embedding IS NOT NULL")}

    def orphan_passages(self) -> int:
        """Passages whose article row is gone (a bug if ever non-zero)."""
        return self.conn.execute("SELECT COUNT(*) FROM passages p LEFT JOIN articles a ON a.id = p.article_id"
                                 " WHERE a.id IS NULL").fetchone()[0]

    def damaged_rows(self, dim: int) -> tuple[list[str], list[int], list[int]]:
        """Rows SQLite's page checks cannot fault, whose content is no longer what was written:
        (articles whose fields no longer hash to their recorded ``content_hash``, passages whose
        text is not their article's body between their offsets, embeddings not ``dim`` float32s)."""
        articles = [row["id"] for row in self.conn.execute("SELECT * FROM articles ORDER BY id") if not _hash_holds(row)]
        # SQLite's substr counts characters from 1, as Python's slices count code points from 0.
        passages = [r[0] for r in self.conn.execute(
            "SELECT p.pid FROM passages p JOIN articles a ON a.id = p.article_id"
            " WHERE p.text IS NOT substr(a.body, p.start + 1, p.end - p.start) ORDER BY p.pid")]
        vectors = [r[0] for r in self.conn.execute(
            "SELECT pid FROM passages WHERE embedding IS NOT NULL AND length(embedding) != ? ORDER BY pid",
            (4 * dim,))]
        return articles, passages, vectors

    def article_of(self, pids: Iterable[int]) -> dict[int, str]:
        """passage id -> article id, for the passages that still exist (current or retired)."""
        return {pid: v.article_id for pid, v in self.versions(pids).items()}

    def filtered_pids(self, filters: Filters) -> np.ndarray:
        """Ids of the passages, current or retired, whose article version passes ``filters``."""
        where, args = filter_sql(self.spelled(filters))
        # The articles first: a date with an offset costs a Python call (``day_sql``), made once
        # per article this way; as a join, SQLite made it once per passage.
        sql = f"SELECT p.pid FROM passages p WHERE p.article_id IN (SELECT a.id FROM articles a WHERE {where})"
        if retired := self.retired.filtered_sql(where):
            sql, args = f"{sql} UNION ALL {retired}", args * 2
        return np.fromiter((r[0] for r in self.conn.execute(sql, args)), dtype=np.int64)

    def article_facts(self, article_ids: Iterable[str]) -> dict[str, tuple[str, str, str]]:
        """(date, source, section) of each of ``article_ids`` the store holds."""
        found, ids = {}, list(dict.fromkeys(article_ids))
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            for row in self.conn.execute(f"SELECT id, date, source, section FROM articles WHERE id IN ({marks})", chunk):
                found[row[0]] = (row[1], row[2], row[3])
        return found

    def date_range(self) -> tuple[str, str]:
        """The first and last day among the articles' dates ("" when none is dated)."""
        day = day_sql("articles")
        first, last = self.conn.execute(f"SELECT MIN({day}), MAX({day}) FROM articles WHERE date != ''").fetchone()
        return first or "", last or ""

    def all_article_facts(self) -> Iterator[tuple[str, str, str]]:
        """(date, source, section) of every article."""
        return (tuple(r) for r in self.conn.execute("SELECT date, source, section FROM articles"))

    def spelled(self, filters: Filters) -> Filters:
        """``filters`` with the sources and sections as the store spells them, current or retired
        (``filters.spellings``): an exact match on those keeps the index on ``source`` usable."""
        names = {}
        for column in ("source", "section"):
            wanted = getattr(filters, column)
            if wanted:
                stored = self.conn.execute(f"SELECT DISTINCT {column} FROM articles").fetchall()
                names[column] = spellings(wanted, [r[0] for r in stored] + self.retired.distinct(column))
        return replace(filters, **names)

    def article_ids(self, source: str | None = None, before: str | None = None) -> list[str]:
        where, args = filter_sql(self.spelled(Filters(source=source)), alias="articles")
        if before:
            where += f" AND articles.date != '' AND {day_sql('articles')} < ?"
            args.append(before)
        return [r[0] for r in self.conn.execute(f"SELECT id FROM articles WHERE {where}", args)]


def _article(row: sqlite3.Row) -> Article:
    return Article(id=row["id"], title=row["title"], body=row["body"], date=row["date"], source=row["source"],
                   url=row["url"], section=row["section"], metadata=json.loads(row["metadata"]))


def _hash_holds(row: sqlite3.Row) -> bool:
    try:
        return content_hash(_article(row)) == row["content_hash"]
    except (ValueError, TypeError):   # metadata no longer JSON, a field no longer text
        return False


def _stack(rows) -> tuple[np.ndarray, np.ndarray]:
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    vecs = np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])
    return ids, vecs


def _chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
