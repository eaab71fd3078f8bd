"""Damage to any file of an index folder: every file of a small index, deleted, cut to 0 bytes,
cut to half, or garbled (64 bytes in its middle flipped). Each case ends in the right results or a
one-line message naming the file and the fix (exit code 1, no traceback); ``check`` finds every
case that changed the index; ``check --repair`` restores the index from the store, except damage
to the store itself, the source of truth, which it names and leaves to a backup.
"""
from __future__ import annotations

import re
import shutil

import pytest
from click.testing import CliRunner

from cli import main
from tests.conftest import FIXTURES, SEED

DAMAGES = ("delete", "truncate-0", "truncate-half", "garble")
# Hybrid (compiled postings and faiss) and a phrase (Whoosh's own postings).
QUERIES = (("الكاظمي طهران", "hybrid"), ('"أسعار النفط"', "keyword"))
LOCKS = ("writer.lock", "keyword/MAIN_WRITELOCK")          # empty lock files: nothing to damage
ONE_LINE_ERROR = re.compile(r"Error: [^\n]*(store\.sqlite|manifest\.json|keyword|vectors|\.toc|\.seg|\.npy|\.bin)"
                            r"[^\n]*(check --repair|backup)[^\n]*\n")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, encoder):
    """A small index with vectors, its files, and what each query finds in it."""
    from indexer.pipeline import Indexer
    path = tmp_path_factory.mktemp("damage") / "index"
    with Indexer(path, encoder=encoder) as indexer:
        indexer.add_paths([str(SEED), str(FIXTURES / "articles.jsonl")])
    results = {q: run("search", q, "--index", path, "--level", "passages", "--mode", m).output for q, m in QUERIES}
    return path, results


def index_files(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()
                  and not p.name.endswith(("-wal", "-shm")))


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def damage(path, how: str) -> None:
    if how == "delete":
        path.unlink()
        return
    data = bytearray(path.read_bytes())
    if how == "truncate-0":
        data = bytearray()
    elif how == "truncate-half":
        data = data[:len(data) // 2]
    else:
        middle = len(data) // 2
        data[middle:middle + 64] = bytes(b ^ 0x5A for b in data[middle:middle + 64])
    path.write_bytes(bytes(data))


def cases(root_files: list[str]):
    return [(name, how) for name in root_files for how in DAMAGES]


def no_traceback(result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output


def test_every_file_damaged_every_way(pristine, tmp_path):
    """Table-driven over the files of the built index, so a file the layout gains is covered."""
    source, expected = pristine
    table = {"cases": 0, "changed": 0, "detected": 0, "repaired": 0, "store": 0, "tracebacks": 0}
    failures = []
    for name, how in cases(index_files(source)):
        target = tmp_path / "index"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target)
        before = (target / name).read_bytes()
        damage(target / name, how)
        changed = (target / name).exists() and (target / name).read_bytes() != before or not (target / name).exists()
        table["cases"] += 1
        outcome = _one_case(target, name, how, expected, changed and name not in LOCKS)
        table["changed"] += changed and name not in LOCKS
        for key in ("detected", "repaired", "store", "tracebacks"):
            table[key] += outcome.get(key, 0)
        if outcome.get("failure"):
            failures.append(f"{name} {how}: {outcome['failure']}")
    print(f"\ndamage table: {table}")
    assert not failures, "\n".join(failures)
    assert table["tracebacks"] == 0
    assert table["detected"] == table["changed"]
    assert table["repaired"] + table["store"] == table["changed"]


def _one_case(index, name: str, how: str, expected: dict, changed: bool) -> dict:
    outcome = {}
    for (query, mode), output in zip(QUERIES, expected.values()):
        result = run("search", query, "--index", index, "--level", "passages", "--mode", mode)
        if "Traceback" in result.output or not (result.exception is None or isinstance(result.exception, SystemExit)):
            return {"tracebacks": 1, "failure": f"search {query!r} crashed: {result.exception!r} {result.output[-300:]}"}
        if result.exit_code == 0 and result.output != output:
            return {"failure": f"search {query!r} changed silently:\n{result.output[:300]}"}
        if result.exit_code != 0 and not ONE_LINE_ERROR.fullmatch(result.output):
            return {"failure": f"search {query!r}: not a one-line message naming the file and the fix:"
                               f" {result.output!r}"}
    check = run("check", "--index", index)
    if "Traceback" in check.output or not (check.exception is None or isinstance(check.exception, SystemExit)):
        return {"tracebacks": 1, "failure": f"check crashed: {check.exception!r}"}
    if not changed:
        return outcome if check.exit_code == 0 else {"failure": f"check of an unchanged index: {check.output}"}
    if check.exit_code == 0:
        return {"failure": f"check missed it: {check.output}"}
    outcome["detected"] = 1
    repair = run("check", "--repair", "--index", index)
    if "Traceback" in repair.output or not (repair.exception is None or isinstance(repair.exception, SystemExit)):
        return {**outcome, "tracebacks": 1, "failure": f"repair crashed: {repair.exception!r}"}
    if name == "store.sqlite":
        if repair.exit_code == 0 or "backup" not in repair.output:
            return {**outcome, "failure": f"repair of a damaged store: {repair.output}"}
        return {**outcome, "store": 1}
    if repair.exit_code != 0 or run("check", "--index", index).exit_code != 0:
        return {**outcome, "failure": f"repair did not restore it: {repair.output}"}
    for (query, mode), output in zip(QUERIES, expected.values()):
        if run("search", query, "--index", index, "--level", "passages", "--mode", mode).output != output:
            return {**outcome, "failure": f"after repair, search {query!r} differs"}
    return {**outcome, "repaired": 1}


ROW_DAMAGES = {   # SQL that changes a row's content and leaves every SQLite page sound
    "article body": "UPDATE articles SET body = replace(body, 'ا', 'أ') WHERE rowid = (SELECT min(rowid) FROM articles)",
    "article metadata": "UPDATE articles SET metadata = '{' WHERE rowid = (SELECT max(rowid) FROM articles)",
    "passage text": "UPDATE passages SET text = text || '.' WHERE pid = (SELECT min(pid) FROM passages)",
    "passage offsets": "UPDATE passages SET start = start + 1 WHERE pid = (SELECT max(pid) FROM passages)",
    "embedding": "UPDATE passages SET embedding = substr(embedding, 1, 8)"
                 " WHERE pid = (SELECT min(pid) FROM passages WHERE embedding IS NOT NULL)",
}


@pytest.mark.parametrize("what", ROW_DAMAGES)
def test_damaged_rows_under_sound_pages_are_found(pristine, tmp_path, what):
    import sqlite3
    index = tmp_path / "index"
    shutil.copytree(pristine[0], index)
    with sqlite3.connect(index / "store.sqlite") as conn:
        assert conn.execute(ROW_DAMAGES[what]).rowcount == 1
        assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    check = run("check", "--index", index)
    no_traceback(check)
    assert check.exit_code == 1 and "store:" in check.output and "backup" in check.output, check.output
    repair = run("check", "--repair", "--index", index)
    no_traceback(repair)
    assert repair.exit_code == 1 and "backup" in repair.output
