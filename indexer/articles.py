"""Articles and the readers that turn files into them.

Readers yield ``Article`` objects and report bad records as ``ReadError`` values
instead of raising, so one malformed line never stops (or undoes) an indexing run;
the caller decides whether to skip or stop (``--strict``).
"""
from __future__ import annotations

import gzip
import io
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Union

KNOWN_FIELDS = ("id", "title", "body", "text", "date", "source", "url", "section")
MAX_ID_LENGTH = 512


@dataclass(frozen=True)
class Article:
    id: str
    body: str
    title: str = ""
    date: str = ""
    source: str = ""
    url: str = ""
    section: str = ""
    metadata: dict = field(default_factory=dict, hash=False, compare=False)

    def to_dict(self) -> dict:
        return {
            "id": self.id, "title": self.title, "date": self.date, "source": self.source,
            "url": self.url, "section": self.section, "body": self.body,
            "metadata": self.metadata,
        }


@dataclass(frozen=True)
class ReadError:
    """A record that could not be read; ``where`` is ``file:line`` (or just the file)."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


Record = Union[Article, ReadError]


class InputError(Exception):
    """A path that cannot be read at all (missing, not UTF-8, unsupported type)."""


def article_from_record(obj: object, where: str, default_id: str = "") -> Record:
    """Validate one decoded JSON value into an Article, naming the bad field."""
    if not isinstance(obj, dict):
        return ReadError(where, f"expected a JSON object, got {type(obj).__name__}")
    raw_id = obj.get("id", default_id)
    if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)):
        return ReadError(where, "field 'id' must be a string or an integer")
    art_id = _clean(str(raw_id)).strip()
    if not art_id:
        return ReadError(where, "field 'id' is missing or empty")
    if len(art_id) > MAX_ID_LENGTH:
        return ReadError(where, f"field 'id' is longer than {MAX_ID_LENGTH} characters")
    body_key = "body" if "body" in obj else "text"
    values = {}
    for key in ("title", body_key, "date", "source", "url", "section"):
        value = obj.get(key, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            return ReadError(where, f"field '{key}' must be a string, got {type(value).__name__}")
        values[key] = _clean(value)
    body = values.pop(body_key)
    if not body.strip():
        return ReadError(where, f"article '{art_id}' has an empty body (field 'body' or 'text')")
    metadata = {k: v for k, v in obj.items() if k not in KNOWN_FIELDS}
    return Article(id=art_id, body=body, metadata=metadata, **values)


def _clean(text: str) -> str:
    # NUL bytes are legal JSON but break SQLite text search and terminals.
    return text.replace("\x00", "")


def read_jsonl(stream: Iterable[str], name: str) -> Iterator[Record]:
    for lineno, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        where = f"{name}:{lineno}"
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError) as exc:
            yield ReadError(where, f"invalid JSON ({_short(exc)})")
            continue
        yield article_from_record(obj, where)


def _short(exc: Exception) -> str:
    return str(exc).split("\n")[0][:200]


def read_text_file(path: Path) -> Iterator[Record]:
    try:
        body = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        yield ReadError(str(path), f"not UTF-8 text (byte {exc.start})")
        return
    yield article_from_record({"id": path.stem, "body": body}, str(path))


def _open_jsonl(path: Path) -> io.TextIOBase:
    if path.name.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return open(path, encoding="utf-8")


def read_jsonl_file(path: Path) -> Iterator[Record]:
    try:
        with _open_jsonl(path) as stream:
            yield from read_jsonl(stream, str(path))
    except UnicodeDecodeError as exc:
        yield ReadError(str(path), f"not UTF-8 text (byte {exc.start})")
    except (OSError, EOFError) as exc:
        yield ReadError(str(path), f"cannot read ({_short(exc)})")


SUFFIX_READERS = {".jsonl": read_jsonl_file, ".jsonl.gz": read_jsonl_file,
                  ".json": read_jsonl_file, ".txt": read_text_file}


def _reader_for(path: Path):
    name = path.name.lower()
    for suffix, reader in SUFFIX_READERS.items():
        if name.endswith(suffix):
            return reader
    return None


def check_paths(paths: Iterable[str]) -> None:
    """Fail before indexing anything if a named path is missing or of an unknown type."""
    for raw in paths:
        if raw == "-":
            continue
        path = Path(raw)
        if not path.exists():
            raise InputError(f"{raw}: no such file or folder")
        if path.is_file() and _reader_for(path) is None:
            raise InputError(f"{raw}: unsupported file type (expected .jsonl, .jsonl.gz, .json or .txt)")


def read_paths(paths: Iterable[str]) -> Iterator[Record]:
    """Articles from files, folders (recursively, sorted) and '-' (JSON Lines on stdin)."""
    for raw in paths:
        if raw == "-":
            yield from read_jsonl(io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8",
                                                   errors="strict"), "<stdin>")
            continue
        path = Path(raw)
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            reader = _reader_for(file)
            if reader is not None:
                yield from reader(file)
