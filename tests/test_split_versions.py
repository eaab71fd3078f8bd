"""The chunker's and the sentence splitter's versions in the manifest. Sentence vectors are stored
by position, so search refuses an index whose sentences another splitter cut, adding to an index
with vectors that another version cut is refused, and `baheth embed` re-cuts and re-embeds it."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cli import main
from indexer.pipeline import Indexer
from indexer.store.layout import IndexLayout
from indexer.store.manifest import ManifestError
from indexer.store.sqlite import Store
from indexer.text.articles import Article
from indexer.text.passages import CHUNKER_VERSION, PassageSpan, split_passages
from indexer.text.sentences import SPLITTER_VERSION
from search.engine import Engine
from tests.conftest import FIXTURES, SEED, SEED_ID


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def record_versions(index: Path, **versions) -> None:
    """Rewrite the manifest as an older baheth left it: without versions (read as 0) unless given."""
    layout = IndexLayout(index)
    data = json.loads(layout.manifest.read_text())
    for key in ("chunker_version", "splitter_version"):
        data.pop(key)
    layout.manifest.write_text(json.dumps({**data, **versions}))


def one_passage_per_article(path: Path, encoder) -> None:
    """A keyword-only index cut by an older chunker: each article one passage."""
    import indexer.pipeline as pipeline
    current = pipeline.split_passages
    pipeline.split_passages = lambda body, params: [PassageSpan(0, len(body.rstrip()), "")]
    try:
        with Indexer(path, encoder=encoder, vectors=False) as ix:
            ix.add_paths([str(SEED), str(FIXTURES / "articles.jsonl")])
    finally:
        pipeline.split_passages = current
    record_versions(path, chunker_version=0, splitter_version=SPLITTER_VERSION)


def cut(index: Path) -> dict[str, list[tuple[int, int, str]]]:
    store = Store(IndexLayout(index).store, readonly=True)
    try:
        return {art: [(p.start, p.end, p.heading) for p in store.passages_of(art)] for art in store.article_ids()}
    finally:
        store.close()


def expected_cut(index: Path) -> dict[str, list[tuple[int, int, str]]]:
    store = Store(IndexLayout(index).store, readonly=True)
    try:
        return {art: [(s.start, s.end, s.heading) for s in split_passages(store.article(art)["body"])]
                for art in store.article_ids()}
    finally:
        store.close()


def sentence_rows(index: Path) -> dict[tuple[str, int], bytes]:
    """Each passage's sentence vectors by (article, passage ordinal), which survive a re-cut."""
    with sqlite3.connect(IndexLayout(index).store) as conn:
        return {(art, ordinal): blob for art, ordinal, blob in conn.execute(
            "SELECT p.article_id, p.ordinal, s.vectors FROM sentence_vectors s JOIN passages p ON p.pid = s.pid")}


def test_a_new_index_records_this_baheths_versions(built_index):
    data = json.loads(IndexLayout(built_index).manifest.read_text())
    assert (data["chunker_version"], data["splitter_version"]) == (CHUNKER_VERSION, SPLITTER_VERSION)


def test_search_refuses_sentence_vectors_another_splitter_cut_naming_the_fix(index_copy):
    record_versions(index_copy)
    result = run("search", "الكاظمي", "--index", index_copy)
    assert result.exit_code != 0
    assert f"sentence splitter v0, this baheth splits v{SPLITTER_VERSION}" in result.output
    assert f"`baheth embed --index {index_copy}`" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_adding_to_an_index_with_vectors_another_version_cut_is_refused(index_copy, encoder):
    record_versions(index_copy)
    with Indexer(index_copy, encoder=encoder) as ix:
        with pytest.raises(ManifestError, match="run `baheth embed --index"):
            ix.add([Article(id="late", body="خبر جديد عن الكاظمي.")])
        assert ix.store.stored_hash("late") is None


def test_embed_resplits_sentence_vectors_an_older_splitter_placed(index_copy):
    right = sentence_rows(index_copy)
    # An older splitter cut one passage's sentences elsewhere: as many vectors, other sentences.
    with sqlite3.connect(IndexLayout(index_copy).store) as conn:
        pid, n, blob = conn.execute("SELECT pid, sentences, vectors FROM sentence_vectors WHERE sentences > 1"
                                    " ORDER BY pid LIMIT 1").fetchone()
        shifted = np.roll(np.frombuffer(blob, dtype=np.float16).reshape(n, -1), 1, axis=0)
        conn.execute("UPDATE sentence_vectors SET vectors=? WHERE pid=?", (shifted.tobytes(), pid))
    record_versions(index_copy)
    assert sentence_rows(index_copy) != right
    result = run("embed", "--index", index_copy, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["rechunked"], report["encoded"]) == (0, 0)   # same passages; sentences from the cache
    assert sentence_rows(index_copy) == right
    with Engine(index_copy) as engine:
        assert engine.stats()["chunking"]["splitter_version"] == SPLITTER_VERSION
        assert engine.search("الكاظمي طهران", k=1).hits[0].article_id == SEED_ID


def test_embed_recuts_articles_an_older_chunker_cut_and_embeds_them(tmp_path, encoder, built_index):
    path = tmp_path / "index"
    one_passage_per_article(path, encoder)
    assert cut(path) != expected_cut(path)
    result = run("embed", "--index", path, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    recut = sum(len(spans) > 1 for spans in expected_cut(path).values())
    assert recut >= 1 and report["rechunked"] == recut
    assert report["encoded"] == 0     # the same passages and sentences as the session's index: cached
    assert cut(path) == expected_cut(path) == cut(built_index)
    assert sentence_rows(path) == sentence_rows(built_index)


def test_adding_to_a_keyword_only_index_an_older_chunker_cut_recuts_it_first(tmp_path, encoder):
    path = tmp_path / "index"
    one_passage_per_article(path, encoder)
    with Indexer(path, vectors=False) as ix:
        report = ix.add([Article(id="late", body="خبر جديد عن الكاظمي.")])
        assert (report.added, report.encoded) == (1, 0)
        assert ix.manifest.chunker_version == CHUNKER_VERSION
    assert cut(path) == expected_cut(path)
    with Engine(path) as engine:
        seed = engine.article(SEED_ID)
        last = seed.passages[-1]
        words = seed.body[last["start"]:last["end"]].split()[:4]
        hit = engine.search(" ".join(words), mode="keyword", level="passages", k=1).hits[0]
        assert hit.passage_id == last["passage_id"]
