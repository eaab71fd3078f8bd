"""The size and CRC-32 of every keyword index file, recorded by the writer, checked by readers.

Why: Whoosh and the compiled postings read a cut-short or garbled file as something else (an
``mmap`` error, an ``EOFError``, or worse, other scores with no error at all). The writer records
each file's digest in ``keyword.json`` when it records the generation (only new files are read:
segments and their compiled copies never change once written, and each TOC has its own name).
A reader checks the files of the TOC it opened: sizes on open, the TOC's checksum, and each
compiled segment's checksums when it first loads it (``CompiledPostings``); ``check`` checks every
checksum. Files newer than the record (a writer between its commit and its state) are not
judged: the record catches up with them, and until then they are what that writer just wrote.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from indexer.store.layout import IndexLayout, file_digest

Digests = dict[str, list[int]]   # path relative to the index folder -> [size, crc32]


def owner(relative: str) -> str:
    """The segment id (``MAIN_x``) or TOC file name a recorded file belongs to."""
    parts = relative.split("/")
    if parts[0] == "keyword" and parts[-1].endswith(".toc"):
        return parts[-1]
    return parts[1] if parts[0] != "keyword" else parts[1].split(".")[0]


def index_files(layout: IndexLayout) -> list[Path]:
    """Every file the keyword index consists of (not Whoosh's lock, nor half-written temporaries)."""
    found = []
    for folder in (layout.keyword_dir, layout.keyword_postings_dir):
        if folder.is_dir():
            found += [p for p in folder.rglob("*") if p.is_file() and _kept(p.relative_to(folder))]
    return sorted(found)


def _kept(relative: Path) -> bool:
    return not (relative.name == "MAIN_WRITELOCK" or relative.name.endswith((".tmp", ".ctmp", ".run"))
                or any(part.startswith(".") for part in relative.parts))


def record(layout: IndexLayout, previous: Digests) -> Digests:
    """The digests of every file now on disk, reusing ``previous`` for files already recorded."""
    digests = {}
    for path in index_files(layout):
        relative = str(path.relative_to(layout.root))
        known = previous.get(relative)
        digests[relative] = known if known and known[0] == path.stat().st_size else file_digest(path)
    return digests


def problems(layout: IndexLayout, recorded: Digests, owners: Iterable[str], deep: bool,
             strict: bool = True) -> list[tuple[Path, str]]:
    """(file, what is wrong) for each recorded file of ``owners`` (segment ids and the TOC name)
    that is missing, of another size, or (``deep``, and always for a TOC) of another checksum.
    Not ``strict`` (a reader): a segment whose compiled copy is missing whole is no problem, since
    searches fall back to Whoosh's own postings for it."""
    wanted = set(owners)
    found = []
    for relative, (size, crc) in sorted(recorded.items()):
        if owner(relative) not in wanted:
            continue
        path = layout.root / relative
        if not strict and relative.startswith(f"{layout.keyword_postings_dir.name}/") and not path.parent.is_dir():
            continue
        if not path.is_file():
            found.append((path, "missing"))
        elif path.stat().st_size != size:
            found.append((path, f"{path.stat().st_size} bytes, the writer recorded {size}"))
        elif (deep or relative.endswith(".toc")) and file_digest(path)[1] != crc:
            found.append((path, "its checksum differs from the one the writer recorded"))
    return found


def check_folder(layout: IndexLayout, recorded: Digests, folder: Path) -> list[tuple[Path, str]]:
    """``problems`` with checksums, for the files of one compiled segment folder."""
    return problems(layout, recorded, [folder.name], deep=True)
