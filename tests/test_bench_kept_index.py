"""A benchmark reuses a kept index only when it holds exactly the articles meant for it: a build
killed part-way leaves a valid, partial index that gave TyDi-ar accuracy@1 0.503 instead of ~0.77."""
from __future__ import annotations

import json
from pathlib import Path

import click
import pytest

from bench.harness import complete_index, stored_ids
from indexer.pipeline import Indexer

FIXTURE = Path(__file__).parent / "fixtures" / "articles.jsonl"
LINES = FIXTURE.read_text(encoding="utf-8").splitlines(keepends=True)
IDS = {json.loads(line)["id"] for line in LINES}


def index(path: Path, lines: list[str], tmp_path: Path) -> None:
    source = tmp_path / f"part-{len(lines)}.jsonl"
    source.write_text("".join(lines), encoding="utf-8")
    with Indexer(path, vectors=False) as ix:
        ix.add_paths([str(source)])


def test_a_partial_index_is_finished_and_said_so(tmp_path, capsys):
    path = tmp_path / "ix"
    index(path, LINES[:3], tmp_path)                       # the build killed after 3 articles
    assert len(stored_ids(path)) == 3
    complete_index(path, IDS, lambda: index(path, LINES, tmp_path))
    assert stored_ids(path) == IDS
    assert f"holds 3 of the {len(IDS)} articles and 0 others; finishing the build" in capsys.readouterr().err


def test_an_index_with_other_articles_is_rebuilt(tmp_path, capsys):
    path = tmp_path / "ix"
    index(path, LINES, tmp_path)
    wanted = {json.loads(line)["id"] for line in LINES[:5]}
    complete_index(path, wanted, lambda: index(path, LINES[:5], tmp_path))
    assert stored_ids(path) == wanted
    assert "and 3 others; rebuilding it" in capsys.readouterr().err


def test_a_build_that_stays_partial_is_refused(tmp_path):
    path = tmp_path / "ix"
    with pytest.raises(click.ClickException, match=f"holds 2 of the {len(IDS)} articles"):
        complete_index(path, IDS, lambda: index(path, LINES[:2], tmp_path))


def test_a_complete_index_is_reused_untouched(tmp_path, capsys):
    path = tmp_path / "ix"
    index(path, LINES, tmp_path)
    store = path / "store.sqlite"
    before = store.stat().st_mtime_ns

    def build():
        raise AssertionError("a complete index is not built again")

    complete_index(path, IDS, build)
    assert store.stat().st_mtime_ns == before and capsys.readouterr().err == ""
