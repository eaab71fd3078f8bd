"""Readers never write, and a full disk is one line: a search of a lagging index reads its last
consistent state without writing a byte or taking the writer's lock, also in a folder it cannot
write; a writer that runs out of space says so and loses nothing it reported committed."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from indexer.check import check_index
from indexer.pipeline import Indexer
from indexer.store.lock import WriterLock
from search.engine import Engine
from tests.conftest import ROOT
from tests.test_robustness import OLD_BODY_WORD, files_on_disk

# root reads and writes anything: without these two capabilities it is held to the mode bits.
AS_USER = ["setpriv", "--bounding-set=-dac_override,-dac_read_search",
           "--inh-caps=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []


def baheth(*args) -> subprocess.CompletedProcess:
    return subprocess.run([*AS_USER, sys.executable, "cli.py", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def lagging(index) -> None:
    """A writer that died after its store commit, before either derived index took it."""
    with Indexer(index) as indexer:
        with indexer.store.transaction():
            indexer.store.delete_article("eco-1")


def test_a_lagging_index_is_searched_without_writing_or_taking_the_lock(index_copy):
    lagging(index_copy)
    writes, watching = [], [True]

    def audit(event, args):
        if not watching:
            return
        if event == "open" and str(args[0]).startswith(str(index_copy)):
            mode, flags = args[1], args[2]
            if (mode and set(mode) & set("wax+")) or (flags or 0) & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
                writes.append(args[0])
        elif event == "sqlite3.connect" and str(args[0]).startswith(f"file:{index_copy}"):
            if "mode=ro" not in str(args[0]):
                writes.append(args[0])
    holder = WriterLock(index_copy / "writer.lock").acquire()   # a writer busy elsewhere
    before = files_on_disk(index_copy)
    sys.addaudithook(audit)
    try:
        with Engine(index_copy) as engine:
            hits = engine.search(OLD_BODY_WORD, mode="keyword").hits
            # The last consistent state: the keyword index still holds eco-1's passages, which
            # resolve to nothing now that the store has deleted it.
            assert hits == () or all(h.article_id != "eco-1" for h in hits)
            assert engine.search("الكاظمي طهران", mode="hybrid").hits
    finally:
        holder.release()
        watching.clear()   # an audit hook cannot be removed, only silenced
    assert writes == [] and files_on_disk(index_copy) == before


@pytest.mark.skipif(AS_USER and not shutil.which("setpriv"), reason="needs setpriv to run as root without DAC override")
def test_a_read_only_index_folder_is_searched_and_checked(index_copy):
    lagging(index_copy)
    for path in [index_copy, *index_copy.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)
    try:
        found = baheth("search", "الكاظمي طهران", "--index", index_copy, "--mode", "keyword", "--json")
        assert found.returncode == 0, found.stderr
        assert json.loads(found.stdout)["hits"]
        checked = baheth("check", "--index", index_copy)
        assert checked.returncode == 1 and "Traceback" not in checked.stderr
        assert "reflects store generation" in checked.stdout
        repair = baheth("check", "--repair", "--index", index_copy)
        assert repair.returncode == 1 and repair.stderr.count("\n") == 1
        assert "not writable" in repair.stderr and "needs write access" in repair.stderr
    finally:
        for path in [index_copy, *index_copy.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)
    assert check_index(index_copy, repair=True).ok


@pytest.fixture
def small_disk(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here")
    yield disk
    subprocess.run(["umount", str(disk)], check=True)


def test_a_full_disk_is_one_line_and_loses_nothing(small_disk, tmp_path):
    source = tmp_path / "many.jsonl"
    with source.open("w", encoding="utf-8") as out:
        for i in range(3000):
            out.write(json.dumps({"id": f"a{i}", "body": " ".join(f"كلمة{i}x{j} الأسواق" for j in range(60))},
                                 ensure_ascii=False) + "\n")
    index = small_disk / "index"
    full = subprocess.run([sys.executable, "cli.py", "index", str(source), "--index", str(index), "--no-vectors"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert full.returncode == 1 and "Traceback" not in full.stderr
    assert full.stderr.startswith("Error: no space left on the device") and full.stderr.count("\n") == 1
    with Engine(index) as engine:   # on the full disk, a reader still reads
        stored = engine.store.count_articles()
        engine.search("الأسواق", mode="keyword")
    assert 0 < stored < 3000
    report = check_index(index)     # and check still checks (the lock holds without its PID note)
    assert not report.ok and report.articles == stored
    moved = tmp_path / "index"      # space freed: the same command finishes the job
    shutil.copytree(index, moved)
    again = subprocess.run([sys.executable, "cli.py", "index", str(source), "--index", str(moved), "--no-vectors",
                            "--json"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    done = json.loads(again.stdout)
    assert done["unchanged"] == stored and done["added"] == 3000 - stored
    assert check_index(moved).ok
