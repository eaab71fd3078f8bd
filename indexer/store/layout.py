"""The on-disk layout of an index folder: the one place that knows file names.

    index/
      manifest.json      settings the index was built with (format, analyzer, encoder, chunking)
      store.sqlite       the source of truth: articles, passages, offsets, embeddings, change log
      keyword/           Whoosh index (derived from the store)
      vectors.faiss      faiss index (derived from the store)
      vectors.json       which store generation vectors.faiss reflects
      keyword.json       which store generation keyword/ reflects
      keyword-postings/  keyword/'s segments as numpy arrays, one folder per segment (derived);
                         with word positions for names and phrases (``positions_file``)
      writer.lock        held by the one process allowed to write
      encoder-switch.json  only while `baheth embed --model` swaps in another encoder's vectors
"""
from __future__ import annotations

import json
import os
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

FORMAT_VERSION = 1


class IndexNotFound(Exception):
    pass


class IndexDamaged(Exception):
    """A file of an index folder that cannot be read; the message names it and the fix."""

    def __init__(self, path: Path, problem: str | BaseException, fix: str = "run `baheth check --repair`"):
        if isinstance(problem, BaseException):
            problem = f"{type(problem).__name__}: {str(problem).splitlines()[0] if str(problem) else ''}".rstrip(": ")
        super().__init__(f"{path}: damaged ({problem}); {fix}")
        self.path = path


@dataclass(frozen=True)
class IndexLayout:
    root: Path

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    @property
    def store(self) -> Path:
        return self.root / "store.sqlite"

    @property
    def keyword_dir(self) -> Path:
        return self.root / "keyword"

    @property
    def keyword_state(self) -> Path:
        return self.root / "keyword.json"

    @property
    def keyword_postings_dir(self) -> Path:
        return self.root / "keyword-postings"

    @property
    def vectors(self) -> Path:
        return self.root / "vectors.faiss"

    @property
    def vectors_state(self) -> Path:
        return self.root / "vectors.json"

    @property
    def lock(self) -> Path:
        return self.root / "writer.lock"

    @property
    def encoder_switch(self) -> Path:
        """Present only while ``baheth embed --model`` swaps in vectors from a new encoder."""
        return self.root / "encoder-switch.json"

    def exists(self) -> bool:
        return self.manifest.is_file() and self.store.is_file()

    def temp_files(self) -> list[Path]:
        """Half-written files a killed writer left behind (``write_json_atomic``, vector saves)."""
        return sorted(self.root.glob(".*.tmp"))

    def size_on_disk(self) -> int:
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())


def positions_file(field: str) -> str:
    """A compiled segment folder's positions of ``field``: uint16, each posting's in posting order."""
    return f"{field}.positions.bin"


def position_offsets_file(field: str) -> str:
    """Where each term's positions start in ``positions_file`` (int64, one per term and one past
    the end). Written last: a folder holds a field's positions when it holds this file."""
    return f"{field}.position_offsets.npy"


def write_json_atomic(path: Path, data: dict) -> None:
    """Write to a temporary name and rename, so readers never see half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, ensure_ascii=False, indent=2, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_path(path.parent)


def fsync_path(path: Path) -> None:
    """Flush one file, or a folder's entries (so a rename in it survives power loss)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(folder: Path) -> None:
    """Flush a folder and everything under it: for derived indexes written by libraries that
    never fsync (Whoosh), before a state file claims they are complete."""
    if folder.exists():
        for path in [folder, *folder.rglob("*")]:
            fsync_path(path)


def read_json(path: Path, default: dict | None = None) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if default is not None:
            return default
        raise


def read_state(path: Path) -> dict:
    """A derived index's state file; ``{"generation": -1}`` (rebuild it from the store) when it is
    missing, cut short or garbled: a state nobody can read claims nothing."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        int(state["generation"])
    except (OSError, ValueError, KeyError, TypeError):
        return {"generation": -1}
    return state


def file_digest(path: Path) -> list[int]:
    """[size, CRC-32] of a file, as the writer records it and a reader checks it."""
    crc = 0
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            crc = zlib.crc32(block, crc)
    return [path.stat().st_size, crc]
