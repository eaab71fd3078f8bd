"""An index folder or an input folder from someone else: no code runs from a Whoosh pickle, no
file outside the input folder gets indexed through a link, no control character reaches the
terminal."""
from __future__ import annotations

import json
import os
import pickle
import re

import pytest
from click.testing import CliRunner
from whoosh import __version__ as whoosh_version
from whoosh import index as whoosh_index
from whoosh.codec import whoosh3
from whoosh.filedb.filestore import FileStorage
from whoosh.system import _FLOAT_SIZE, _INT_SIZE, _LONG_SIZE

from cli import main
from indexer.check import check_index
from indexer.keyword.safe_pickle import UnsafePickle
from indexer.pipeline import Indexer
from indexer.store.layout import IndexDamaged
from search.engine import Engine
from tests.conftest import FIXTURES

TITLE = "\x1b]0;PWNED\x07\x1b[2J"


def run(*args, color=False):
    return CliRunner().invoke(main, [str(a) for a in args], color=color)


class Payload:
    """Unpickles as a call to ``os.system``: what an attacker would put in a TOC."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


@pytest.fixture
def keyword_index(tmp_path):
    path = tmp_path / "index"
    with Indexer(path, vectors=False) as indexer:
        indexer.add_paths([str(FIXTURES / "articles.jsonl")])
    return path


def write_toc(folder, generation: int, schema: bytes, segments: bytes) -> None:
    """A TOC file laid out as ``whoosh.index.TOC.write`` lays it out."""
    stream = FileStorage(str(folder)).create_file(f"_MAIN_{generation}.toc")
    for size in (_INT_SIZE, _LONG_SIZE, _FLOAT_SIZE):
        stream.write_varint(size)
    stream.write_int(-12345)
    stream.write_int(whoosh_index._CURRENT_TOC_VERSION)
    for part in whoosh_version:
        stream.write_varint(part)
    stream.write_string(schema)
    stream.write_int(generation)
    stream.write_int(0)
    stream.write(segments)
    stream.close()


def plant(index, marker, where: str) -> None:
    """A newer TOC whose schema or segment list runs ``touch marker`` when unpickled."""
    folder = index / "keyword"
    toc = whoosh_index.TOC.read(FileStorage(str(folder)), "MAIN")
    evil = pickle.dumps(Payload(f"touch {marker}"), 2)
    schema = evil if where == "schema" else pickle.dumps(toc.schema, 2)
    segments = evil if where == "segments" else pickle.dumps(toc.segments, 2)
    write_toc(folder, toc.generation + 1, schema, segments)


@pytest.mark.parametrize("where", ["schema", "segments"])
def test_a_toc_that_would_run_a_command_is_refused_and_repaired(keyword_index, tmp_path, where):
    marker = tmp_path / "pwned"
    plant(keyword_index, marker, where)
    result = run("search", "النفط", "--index", keyword_index, "--mode", "keyword")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert re.fullmatch(r"Error: .*keyword: damaged \(UnsafePickle: refused to load posix\.system.*\);"
                        r" run `baheth check --repair`\n", result.output), result.output
    with pytest.raises(IndexDamaged):
        Engine(keyword_index)
    report = check_index(keyword_index)
    assert [p.part for p in report.problems] == ["keyword"] and "refused to load posix.system" in str(report.problems[0])
    assert check_index(keyword_index, repair=True).ok
    with Engine(keyword_index) as engine:
        assert engine.search("النفط", mode="keyword").hits
    assert not marker.exists()


def test_postings_blocks_are_unpickled_with_the_same_rules(tmp_path):
    # Whoosh reads postings blocks with whoosh3.loads and block headers, segment directories and
    # TOC segment lists with StructFile.read_pickle; both go through the restricted unpickler.
    evil = pickle.dumps(Payload(f"touch {tmp_path / 'pwned'}"), 2)
    with pytest.raises(UnsafePickle):
        whoosh3.loads(evil)
    (tmp_path / "block").write_bytes(evil)
    stream = FileStorage(str(tmp_path)).open_file("block")
    with pytest.raises(UnsafePickle):
        stream.read_pickle()
    stream.close()
    assert not (tmp_path / "pwned").exists()


def test_links_out_of_the_input_folder_are_skipped_and_named(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.txt"
    secret.write_text("كلمة المرور السرية للخادم", encoding="utf-8")
    inside = tmp_path / "in"
    inside.mkdir()
    (inside / "news.txt").write_text("خبر عن الأسواق المالية", encoding="utf-8")
    (inside / "passwd.txt").symlink_to(secret)
    (inside / "elsewhere").symlink_to(outside, target_is_directory=True)
    (inside / "again.txt").symlink_to(inside / "news.txt")      # inside the folder: followed
    index = tmp_path / "index"
    result = run("index", inside, "--index", index, "--no-vectors")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"skipped {inside / 'passwd.txt'}: a link to {secret}, outside {inside}; skipped" in result.output
    assert f"skipped {inside / 'elsewhere'}: a link to {outside}, outside {inside}" in result.output
    assert "2 added" in result.output and "2 failed" in result.output
    assert run("search", "السرية", "--index", index, "--mode", "keyword").output == \
        "لا توجد مقالات تحتوي على «السرية» (no article contains «السرية»)\n"
    followed = run("index", inside, "--index", index, "--no-vectors", "--follow-links")
    assert followed.exit_code == 0, followed.output
    hits = run("search", "السرية", "--index", index, "--mode", "keyword", "--json")
    assert {h["article_id"] for h in json.loads(hits.output)["hits"]} == {"passwd", "secret"}


def test_control_characters_never_reach_the_terminal(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "x\x1b[31m", "title": TITLE, "source": "\x9b2J",
                                  "body": "خبر عن \x1b[2J الأسواق المالية\x07"}) + "\n", encoding="utf-8")
    index = tmp_path / "index"
    assert run("index", source, "--index", index, "--no-vectors").exit_code == 0
    outputs = [run("search", "الأسواق", "--index", index, "--mode", "keyword", color=True).output,
               run("search", "الأسواق", "--index", index, "--mode", "keyword", "--level", "passages",
                   color=True).output,
               run("show", "x\x1b[31m", "--index", index, color=True).output,
               run("search", "الأسواق", "--index", index, "--mode", "keyword", "--format", "csv").output,
               run("search", "الأسواق", "--index", index, "--mode", "keyword", "--json").output]
    for output in outputs:
        # Only the bold/dim styles baheth adds itself: ESC [ digits m.
        assert not re.search("[\x00-\x09\x0b-\x1a\x1c-\x1f\x7f-\x9f]|\x1b(?!\\[[0-9;]*m)", output), repr(output)
    assert "\\x1b]0;PWNED\\x07\\x1b[2J" in outputs[0] and "\\x9b2J" in outputs[0]
    assert "\\x1b]0;PWNED\\x07\\x1b[2J" in outputs[3]
    assert json.loads(outputs[4])["hits"][0]["title"] == TITLE
