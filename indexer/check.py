"""Consistency check and repair: do the Whoosh and faiss indexes hold what the store holds?

The SQLite store is the source of truth. The keyword index must hold exactly one document
per stored passage, under that passage's article; the vector index exactly one vector per
passage that has a stored embedding; both must record the store generation they reflect;
no retired version both indexes have moved past may still be kept (a writer that died before
purging leaves them; opening the index for writing, or repair, purges them).
Repair rebuilds each index that disagrees from the store, vectors from the stored
embeddings, so nothing is ever re-encoded. Both run under the writer lock, so no writer
changes the index halfway through.
"""
from __future__ import annotations

import dataclasses
from collections import Counter
from contextlib import contextmanager
from typing import Iterator
from dataclasses import dataclass
from pathlib import Path

from indexer.text.analysis import ANALYZER_NAME, ANALYZER_VERSION
from indexer.keyword.index import KeywordIndex
from indexer.store.layout import IndexDamaged, IndexLayout, IndexNotFound, read_json
from indexer.store.lock import WriterLock
from indexer.store.manifest import Manifest, ManifestError, restore_manifest
from indexer.store.sqlite import STORE_FIX, Store
from indexer.vectors.index import VectorIndex

PARTS = ("store", "manifest", "keyword", "vectors", "retired", "files")
SHOWN_IDS = 5


@dataclass(frozen=True)
class Problem:
    part: str       # one of PARTS
    message: str

    def __str__(self) -> str:
        return f"{self.part}: {self.message}"


@dataclass(frozen=True)
class CheckReport:
    articles: int
    passages: int
    embedded: int
    keyword_documents: int
    vectors: int
    generation: int
    retired: int          # passages of replaced versions kept for readers of lagging indexes
    problems: tuple[Problem, ...]
    repaired: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["ok"] = self.ok
        data["problems"] = [{"part": p.part, "message": p.message} for p in self.problems]
        data["repaired"] = list(self.repaired)
        return data


def check_index(path: str | Path, *, repair: bool = False, wait: float = 0.0) -> CheckReport:
    """Compare the three stores; with ``repair``, rebuild what disagrees and check again."""
    layout = IndexLayout(Path(path))
    if not layout.store.is_file():
        if layout.manifest.is_file():
            raise IndexDamaged(layout.store, "missing", STORE_FIX)
        raise IndexNotFound(f"no index at {layout.root}")
    lock = _lock(layout, repair, wait)
    try:
        store = Store(layout.store, readonly=True)
        try:
            problem = store.integrity_problem()
            if problem:
                raise IndexDamaged(layout.store, problem, STORE_FIX)
            manifest, manifest_problems = _manifest(layout, store)
            report = _inspect(layout, manifest, store, manifest_problems)
            if repair and not report.ok:
                repaired = _repair(layout, manifest, store, {p.part for p in report.problems})
                manifest, manifest_problems = _manifest(layout, store)
                report = dataclasses.replace(_inspect(layout, manifest, store, manifest_problems), repaired=repaired)
            return report
        finally:
            store.close()
    finally:
        if lock is not None:
            lock.release()


def _lock(layout: IndexLayout, repair: bool, wait: float) -> WriterLock | None:
    """The writer lock; none for a plain check of a folder this process cannot write (nobody
    writes there through it), which is then read as it is."""
    try:
        return WriterLock(layout.lock, wait=wait).acquire()
    except PermissionError as exc:
        if repair:
            raise IndexDamaged(layout.root, f"not writable: {exc.strerror}",
                               "`check --repair` needs write access to the index folder") from None
        return None


def _manifest(layout: IndexLayout, store: Store) -> tuple[Manifest, list[Problem]]:
    """The manifest without the analyzer check (an analyzer change is something repair fixes);
    the store's copy, and a problem, when manifest.json is missing or unreadable."""
    problems = []
    try:
        data = read_json(layout.manifest)
    except (OSError, ValueError) as exc:
        data = store.manifest_copy()
        if data is None:
            raise ManifestError(f"{layout.manifest}: unreadable manifest ({exc}), and the store holds no copy"
                                " (an index from before the copy); put it back from a backup") from None
        problems.append(Problem("manifest", f"{layout.manifest} is missing or unreadable"
                                            " (`baheth check --repair` rewrites it from the store's copy)"))
    try:
        manifest = Manifest.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ManifestError(f"{layout.manifest}: unreadable manifest ({exc})") from None
    dataclasses.replace(manifest, analyzer=ANALYZER_NAME, analyzer_version=ANALYZER_VERSION).check_engine()
    return manifest, problems


def _inspect(layout: IndexLayout, manifest: Manifest, store: Store, manifest_problems: list[Problem]) -> CheckReport:
    with store.snapshot():
        owners = store.passage_owners()
        embedded = store.embedded_pids()
        generation = store.generation()
        problems = manifest_problems + [Problem("store", f"{n} passage(s) belong to no article")
                                        for n in [store.orphan_passages()] if n] + _row_problems(store, manifest)
        articles = store.count_articles()
        retired = store.retired.count()
        stale = store.retired.count(through=_derived_generation(layout, manifest))
    if stale:
        problems.append(Problem("retired", f"{stale} retired passage(s) that both indexes have replaced are still"
                                           " kept (the next writer to open the index purges them; or run `baheth check --repair`)"))
    keyword_docs, keyword_problems = _check_keyword(layout, manifest, owners, generation)
    vector_count, vector_problems = _check_vectors(layout, manifest, embedded, generation)
    leftovers = layout.temp_files()
    if leftovers:
        problems.append(Problem("files", f"{len(leftovers)} temporary file(s) left by an interrupted writer"))
    return CheckReport(articles=articles, passages=len(owners), embedded=len(embedded),
                       keyword_documents=keyword_docs, vectors=vector_count, generation=generation, retired=retired,
                       problems=tuple(problems + keyword_problems + vector_problems))


def _row_problems(store: Store, manifest: Manifest) -> list[Problem]:
    """Rows whose content changed under intact SQLite pages (``Store.damaged_rows``): only a backup
    or indexing the articles again restores them."""
    articles, passages, vectors = store.damaged_rows(manifest.encoder.dim)
    found = [(articles, "article row(s) no longer hold what was indexed (their content hash differs)"),
             (passages, "passage(s) whose text is not their article's text between their offsets"),
             (vectors, f"stored embedding(s) that are not {manifest.encoder.dim} numbers")]
    return [Problem("store", f"{len(ids)} {what}: {_sample(ids)}; {STORE_FIX}") for ids, what in found if ids]


def _derived_generation(layout: IndexLayout, manifest: Manifest) -> int:
    """The generation both derived indexes on disk have reached."""
    return min(KeywordIndex(layout, manifest.keyword).generation, VectorIndex.for_manifest(layout, manifest).generation)


def _check_keyword(layout: IndexLayout, manifest: Manifest, owners: dict[int, str],
                   generation: int) -> tuple[int, list[Problem]]:
    keyword = KeywordIndex(layout, manifest.keyword)
    if not keyword.exists():
        return 0, [Problem("keyword", "the keyword index is missing")]
    try:
        damage = keyword.damage(deep=True)
        documents = keyword.documents()
    except Exception as exc:  # Whoosh raises many kinds on a damaged segment; all mean "rebuild"
        return 0, [Problem("keyword", f"the keyword index cannot be read ({type(exc).__name__}: {exc})")]
    finally:
        keyword.close()
    problems = [Problem("keyword", f"{path}: {problem}") for path, problem in damage]
    if (manifest.analyzer, manifest.analyzer_version) != (ANALYZER_NAME, ANALYZER_VERSION):
        problems.append(Problem("keyword", f"built with analyzer {manifest.analyzer} v{manifest.analyzer_version},"
                                           f" this baheth uses {ANALYZER_NAME} v{ANALYZER_VERSION}"))
    counts = Counter(pid for pid, _ in documents)
    problems += _id_problems("keyword", "document", set(owners), counts)
    wrong_article = sorted(pid for pid, art in documents if pid in owners and owners[pid] != art)
    if wrong_article:
        problems.append(Problem("keyword", f"{len(wrong_article)} document(s) filed under the wrong article:"
                                           f" {_sample(wrong_article)}"))
    problems += _generation_problem("keyword", keyword.generation, generation)
    return len(documents), problems


def _check_vectors(layout: IndexLayout, manifest: Manifest, embedded: set[int],
                   generation: int) -> tuple[int, list[Problem]]:
    vectors = VectorIndex.for_manifest(layout, manifest)
    if not layout.vectors.exists():
        return 0, [Problem("vectors", "the vector index file is missing")]
    try:
        ids = vectors.ids()
    except IndexDamaged as exc:
        return 0, [Problem("vectors", f"the vector index cannot be read ({exc})")]
    problems = []
    if vectors.index.d != manifest.encoder.dim:
        problems.append(Problem("vectors", f"vectors have {vectors.index.d} dimensions,"
                                           f" the encoder {manifest.encoder.dim}"))
    problems += _id_problems("vectors", "vector", embedded, Counter(ids.tolist()))
    problems += _generation_problem("vectors", vectors.generation, generation)
    return len(ids), problems


def _id_problems(part: str, noun: str, expected: set[int], counts: Counter) -> list[Problem]:
    missing = sorted(expected - counts.keys())
    extra = sorted(counts.keys() - expected)
    doubled = sorted(pid for pid, n in counts.items() if n > 1)
    problems = []
    if missing:
        problems.append(Problem(part, f"{len(missing)} stored passage(s) have no {noun}: {_sample(missing)}"))
    if extra:
        problems.append(Problem(part, f"{len(extra)} {noun}(s) for passages not in the store: {_sample(extra)}"))
    if doubled:
        problems.append(Problem(part, f"{len(doubled)} passage(s) have more than one {noun}: {_sample(doubled)}"))
    return problems


def _generation_problem(part: str, derived: int, generation: int) -> list[Problem]:
    if derived == generation:
        return []
    if derived < 0:
        return [Problem(part, f"{part}.json is missing or unreadable, or a rebuild of the {part} index was"
                              " interrupted (run `baheth check --repair`)")]
    return [Problem(part, f"reflects store generation {derived}, the store is at {generation}"
                          " (the next writer to open the index catches up; or run `baheth check --repair`)")]


def _sample(pids: list[int]) -> str:
    shown = ", ".join(map(str, pids[:SHOWN_IDS]))
    return shown + (f" and {len(pids) - SHOWN_IDS} more" if len(pids) > SHOWN_IDS else "")


def _repair(layout: IndexLayout, manifest: Manifest, store: Store, parts: set[str]) -> tuple[str, ...]:
    repaired = []
    if "manifest" in parts:
        restore_manifest(layout)
        repaired.append("manifest")
    if "files" in parts:
        for leftover in layout.temp_files():
            leftover.unlink(missing_ok=True)
        repaired.append("files")
    if "keyword" in parts:
        keyword = KeywordIndex(layout, manifest.keyword)
        keyword.rebuild(store)
        keyword.close()
        if (manifest.analyzer, manifest.analyzer_version) != (ANALYZER_NAME, ANALYZER_VERSION):
            with _writable(layout) as writable:
                dataclasses.replace(manifest, analyzer=ANALYZER_NAME, analyzer_version=ANALYZER_VERSION).save(
                    layout, writable)
        repaired.append("keyword")
    if "vectors" in parts:
        VectorIndex.for_manifest(layout, manifest, store.embeddings).rebuild(store)
        repaired.append("vectors")
    if parts & {"keyword", "vectors", "retired"}:
        # Rebuilt indexes are past every retired version; the lock keeps writers out.
        with _writable(layout) as writable:
            if writable.retired.purge(_derived_generation(layout, manifest)):
                repaired.append("retired")
    return tuple(repaired)


@contextmanager
def _writable(layout: IndexLayout) -> Iterator[Store]:
    store = Store(layout.store, existing=True)
    try:
        yield store
    finally:
        store.close()
