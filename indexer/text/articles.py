"""Articles and the readers that turn files into them.

Readers yield ``Article`` objects and report bad records as ``ReadError`` values
instead of raising, so one malformed line never stops (or undoes) an indexing run;
the caller decides whether to skip or stop (``--strict``).
"""
from __future__ import annotations

import gzip
import json
import os
import sys
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator, Union

from indexer.text.dates import DateError, normalize_date

KNOWN_FIELDS = ("id", "title", "body", "text", "date", "source", "url", "section")
MAX_ID_LENGTH = 512
# A news article is tens of kilobytes; anything past these is a broken export, and indexing it
# would take hours of encoding (or, for one endless line, all the memory there is).
MAX_BODY_CHARS = 1_000_000
MAX_LINE_BYTES = 16 * 1024 * 1024


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
    # The date as the input wrote it, when ``date`` is its conversion to ISO 8601 (for the report).
    date_written: str = field(default="", compare=False)

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
    art_id = clean_text(str(raw_id)).strip()
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
        values[key] = clean_text(value)
    values["date"], values["date_written"], problem = _checked_date(values["date"])
    if problem:
        return ReadError(where, f"article '{art_id}': field 'date' {problem}")
    body = values.pop(body_key)
    if not body.strip():
        return ReadError(where, f"article '{art_id}' has an empty body (field 'body' or 'text')")
    if len(body) > MAX_BODY_CHARS:
        return ReadError(where, f"article '{art_id}' has a body of {len(body):,} characters;"
                                f" the limit is {MAX_BODY_CHARS:,} (split it into several articles)")
    metadata = {k: v for k, v in obj.items() if k not in KNOWN_FIELDS}
    problem = _metadata_problem(metadata)
    if problem:
        return ReadError(where, f"extra fields of article '{art_id}' {problem}")
    return Article(id=art_id, body=body, metadata=metadata, **values)


def _checked_date(written: str) -> tuple[str, str, str]:
    """(ISO date, the date as written when it was converted, what is wrong with it)."""
    try:
        value, converted = normalize_date(written)
    except DateError as exc:
        return "", "", str(exc)
    return value, written if converted else "", ""


def dated(article: Article) -> Record:
    """An ``Article`` built in code, with its date checked as a reader checks one."""
    if article.date_written:
        return article
    value, written, problem = _checked_date(article.date)
    if problem:
        return ReadError(f"article '{article.id}'", f"field 'date' {problem}")
    return replace(article, date=value, date_written=written) if written else article


def clean_text(text: str) -> str:
    """``text`` as SQLite, Whoosh and the encoder can take it (also for queries and ids asked for)."""
    # NUL bytes are legal JSON but break SQLite text search and terminals.
    text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # JSON "\ud800" escapes decode to lone surrogates, which SQLite and Whoosh cannot store.
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _metadata_problem(metadata: dict) -> str:
    """Why the extra fields cannot be stored as JSON text, or "" when they can."""
    try:
        json.dumps(metadata, ensure_ascii=False).encode("utf-8")
    except RecursionError:
        return "are nested too deeply"
    except UnicodeEncodeError:
        return "contain invalid Unicode (a lone surrogate escape)"
    except ValueError as exc:
        return f"cannot be stored ({_short(exc)})"
    return ""


def read_jsonl(stream: Iterable[str | bytes | None], name: str) -> Iterator[Record]:
    """Records from JSON lines; a bytes line is decoded on its own, so one line that is not
    UTF-8 costs only that line, and ``None`` stands for a line ``_bounded_lines`` cut off."""
    for lineno, line in enumerate(stream, start=1):
        where = f"{name}:{lineno}"
        if line is None:
            yield ReadError(where, f"line is longer than {MAX_LINE_BYTES // 2**20} MiB; skipped")
            continue
        if isinstance(line, bytes):
            try:
                line = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield ReadError(where, f"not UTF-8 text (byte {exc.start})")
                continue
        if lineno == 1:
            line = line.removeprefix("\ufeff")  # a byte-order mark some editors write
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError) as exc:
            yield ReadError(where, f"invalid JSON ({_short(exc)})")
            continue
        yield article_from_record(obj, where)


def _short(exc: Exception) -> str:
    return str(exc).split("\n")[0][:200]


def _bounded_lines(stream: BinaryIO) -> Iterator[bytes | None]:
    """The lines of a binary stream, each held in memory only up to ``MAX_LINE_BYTES``;
    a longer line is skipped to its end and yielded as ``None``."""
    while line := stream.readline(MAX_LINE_BYTES + 1):
        if len(line) <= MAX_LINE_BYTES or line.endswith(b"\n"):
            yield line
            continue
        while (rest := stream.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
            pass
        yield None


def read_text_file(path: Path) -> Iterator[Record]:
    try:
        if path.stat().st_size > 4 * MAX_BODY_CHARS:
            yield ReadError(str(path), f"file is larger than {4 * MAX_BODY_CHARS:,} bytes;"
                                       f" an article body is limited to {MAX_BODY_CHARS:,} characters")
            return
        body = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        yield ReadError(str(path), f"not UTF-8 text (byte {exc.start})")
        return
    except OSError as exc:
        yield ReadError(str(path), f"cannot read ({_os_reason(exc)}); skipped")
        return
    yield article_from_record({"id": path.stem, "body": body}, str(path))


def _os_reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or _short(exc)


def _open_jsonl(path: Path) -> BinaryIO:
    return gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")


def read_jsonl_file(path: Path) -> Iterator[Record]:
    """Records of one JSON Lines file, plain or gzipped; a file that breaks off (a corrupt or
    truncated .gz, a read error) ends with one error naming the line it broke at."""
    lines = _Counted(())
    try:
        with _open_jsonl(path) as stream:
            lines = _Counted(_bounded_lines(stream))
            yield from read_jsonl(lines, str(path))
    except (OSError, EOFError, zlib.error) as exc:
        if lines.count:
            yield ReadError(f"{path}:{lines.count + 1}", f"cannot read past this line ({_os_reason(exc)});"
                                                         " the rest of the file is skipped")
        else:
            yield ReadError(str(path), f"cannot read ({_os_reason(exc)}); skipped")


class _Counted:
    """An iterator that counts what it has yielded, so a reader that fails can say where."""

    def __init__(self, items: Iterable):
        self._items = iter(items)
        self.count = 0

    def __iter__(self):
        return self

    def __next__(self):
        item = next(self._items)
        self.count += 1
        return item


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


def read_paths(paths: Iterable[str], follow_links: bool = False) -> Iterator[Record]:
    """Articles from files, folders (recursively, sorted) and '-' (JSON Lines on stdin).

    Inside a folder, a symbolic link that leads out of it is skipped with an error unless
    ``follow_links`` (a link in a shared folder could otherwise put ``/etc/shadow`` in the index);
    an unreadable file or subfolder is an error and the rest is read."""
    for raw in paths:
        if raw == "-":
            yield from read_jsonl(_bounded_lines(sys.stdin.buffer), "<stdin>")
            continue
        for file in _input_files(Path(raw), follow_links):
            if isinstance(file, ReadError):
                yield file
                continue
            reader = _reader_for(file)
            if reader is not None:
                yield from reader(file)


def _input_files(path: Path, follow_links: bool) -> Iterable[Path | ReadError]:
    return _files_under(path, follow_links) if path.is_dir() else [path]


def _files_under(folder: Path, follow_links: bool) -> Iterator[Path | ReadError]:
    """The files under ``folder`` in sorted order, and a ``ReadError`` for each entry skipped."""
    root = folder.resolve()
    seen: set[Path] = set()   # resolved folders walked, so links cannot make a loop

    def walk(current: Path) -> Iterator[Path | ReadError]:
        seen.add(current.resolve())
        try:
            entries = sorted(os.scandir(current), key=lambda e: e.name)
        except OSError as exc:
            yield ReadError(str(current), f"cannot list this folder ({_os_reason(exc)}); skipped")
            return
        for entry in entries:
            path = Path(entry.path)
            if entry.is_symlink():
                target = path.resolve()
                if not follow_links and not target.is_relative_to(root):
                    yield ReadError(str(path), f"a link to {target}, outside {folder}; skipped"
                                               " (--follow-links indexes it)")
                    continue
                if target.is_dir() and target in seen:
                    continue
            if path.is_dir():
                yield from walk(path)
            elif path.is_file() and _reader_for(path) is not None:
                yield path
    yield from walk(folder)


def count_records(paths: Iterable[str], follow_links: bool = False) -> int | None:
    """About how many records ``read_paths`` yields (non-blank JSON lines, one per text file),
    for a progress bar's total; None when one of ``paths`` is stdin, which cannot be read twice."""
    if "-" in paths:
        return None
    total = 0
    for raw in paths:
        for file in _input_files(Path(raw), follow_links):
            reader = None if isinstance(file, ReadError) else _reader_for(file)
            if reader is read_jsonl_file:
                total += _count_lines(file)
            elif reader is not None:
                total += 1
    return total


def _count_lines(path: Path) -> int:
    count = 0
    try:
        with _open_jsonl(path) as stream:
            for line in stream:
                count += bool(line.strip())
    except (OSError, EOFError, zlib.error):
        pass   # the reader reports it, at the line where it happens
    return count
