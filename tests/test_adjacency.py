"""Names and phrases are checked from the positions in the compiled postings: the same documents as
Whoosh's positions give, on random small indexes (several segments, deletions, groups), with no
Whoosh position decoding where the compiled folders hold positions; folders from before positions
fall back to Whoosh and get positions when a writer completes them."""
from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st
from whoosh import scoring
from whoosh.filedb.filestore import FileStorage

import indexer.keyword.adjacency as adjacency
from indexer.keyword.adjacency import adjacent
from indexer.keyword.groups import add_positions, write_group
from indexer.keyword.index import KeywordIndex, make_schema
from indexer.keyword.postings import GROUP_PREFIX, CompiledPostings, PostingsView, leaves_of
from indexer.keyword.settings import FORM_FIELD_NAMES, KeywordSettings
from indexer.keyword.writer import CompilingWriter
from indexer.pipeline import Indexer
from indexer.store.layout import IndexLayout, position_offsets_file, positions_file
from indexer.text.articles import Article
from indexer.text.forms import word_forms
from cli import main
from search.engine import Engine

SETTINGS = KeywordSettings()
FIELDS = [f for f, _ in (*SETTINGS.stem_fields, *SETTINGS.root_fields, *SETTINGS.form_fields)]
POSITIONAL = ("text", *FORM_FIELD_NAMES)
# Names, their clitic forms and stopwords (كي في من stop, and leave their places empty in the form fields).
WORDS = ["بان", "كي", "مون", "حزب", "الله", "رام", "في", "من", "لبنان", "بلبنان", "الحزب", "وزير"]
FAST = settings(derandomize=True, max_examples=40, deadline=None)


def build(folder: Path, batches: list[list[tuple[str, str]]], deleted: set[int], grouped: bool):
    """A Whoosh index of ``batches`` of (text, title), one segment per batch (no merges), the
    ``deleted`` documents deleted in a last commit, and all segments in one group if ``grouped``."""
    ix = FileStorage(str(folder / "ix"), supports_mmap=False).create_index(make_schema(SETTINGS))
    pid = 0
    for batch in batches:
        writer = CompilingWriter(ix, folder / "compiled", FIELDS, "pid", "article_id")
        for text, title in batch:
            writer.add_document(pid=str(pid), article_id=f"a{pid}", text=text, text_root=text, heading=title,
                                title=title, text_form=text, heading_form=title, title_form=title)
            pid += 1
        writer.commit(merge=False)
    if deleted:
        writer = CompilingWriter(ix, folder / "compiled", FIELDS, "pid", "article_id")
        for d in deleted:
            writer.delete_by_term("pid", str(d))
        writer.commit(merge=False)
    compiled = CompiledPostings(folder / "compiled", FIELDS)
    if grouped:
        with ix.reader() as reader:
            members = [(leaf.segment().segment_id(), compiled.segment(leaf)) for leaf, _ in leaves_of(reader)]
        if len(members) > 1:
            write_group(compiled.folder, members, FIELDS)
    return ix, compiled


def without_positions(view: PostingsView) -> PostingsView:
    """``view`` as a folder from before positions gives it: the Whoosh path everywhere."""
    stripped = {}

    def strip(unit):
        if id(unit) not in stripped:
            stripped[id(unit)] = dataclasses.replace(unit, fields={
                f: dataclasses.replace(fp, positions=None, position_offsets=None) for f, fp in unit.fields.items()})
        return stripped[id(unit)]
    return PostingsView(view.searcher, view.leaves, [(base, strip(u)) for base, u in view.units],
                        [(strip(u), start) for u, start in view.per_leaf], view.joined)


def sequences(field: str, words: list[str], gaps: list[int]):
    """The (offset, forms) sequence ``_phrase_mask`` and ``_name_or_all`` ask: written forms in
    the form fields, light stems in ``text``."""
    offsets = np.cumsum([0, *gaps[:len(words) - 1]]).tolist()
    if field == "text":
        return [(o, frozenset(SETTINGS.stems([w]))) for o, w in zip(offsets, words)]
    return [(o, word_forms(w)) for o, w in zip(offsets, words)]


texts = st.lists(st.sampled_from(WORDS), min_size=1, max_size=12).map(" ".join)
documents = st.tuples(texts, st.sampled_from(["", "بان كي مون", "حزب الله", "وزير من لبنان"]))


@FAST
@given(batches=st.lists(st.lists(documents, min_size=1, max_size=6), min_size=1, max_size=4),
       deleted=st.sets(st.integers(0, 23), max_size=4), grouped=st.booleans(),
       words=st.lists(st.sampled_from(WORDS), min_size=2, max_size=3),
       gaps=st.lists(st.integers(1, 3), min_size=2, max_size=2),
       field=st.sampled_from([FORM_FIELD_NAMES, ("text",)]))
def test_positions_in_numpy_find_what_whoosh_positions_find(batches, deleted, grouped, words, gaps, field):
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "ix").mkdir()
        ix, compiled = build(Path(tmp), batches, deleted, grouped)
        with ix.searcher(weighting=scoring.BM25F()) as searcher:
            view = compiled.view(searcher)
            assert all(u.fields[f].positions is not None for _, u in view.units for f in POSITIONAL)
            docs = np.arange(view.total_docs)
            sequence = sequences(field[0], words, gaps)
            got = adjacent(view, docs, sequence, field)
            assert np.array_equal(got, adjacent(without_positions(view), docs, sequence, field))


def test_bound_words_with_stopword_gaps(tmp_path):
    (tmp_path / "ix").mkdir()
    texts = ["قال بان كي مون إن", "بان مون وصل", "مون كي بان", "زار حزب الله لبنان", "الحزب قال الله",
             "بان كي مون وحزب الله"]
    ix, compiled = build(tmp_path, [[(t, "") for t in texts[:3]], [(t, "") for t in texts[3:]]], set(), False)
    with ix.searcher(weighting=scoring.BM25F()) as searcher:
        view = compiled.view(searcher)
        docs = np.arange(view.total_docs)
        ban_ki_moon = [(0, word_forms("بان")), (2, word_forms("مون"))]   # كي stops, keeping its place
        hezbollah = [(0, word_forms("حزب")), (1, word_forms("الله"))]
        for whoosh in (False, True):
            searched = without_positions(view) if whoosh else view
            assert np.flatnonzero(adjacent(searched, docs, ban_ki_moon, FORM_FIELD_NAMES)).tolist() == [0, 5]
            assert np.flatnonzero(adjacent(searched, docs, hezbollah, FORM_FIELD_NAMES)).tolist() == [3, 5]
            # With its stopword counted as a word, بان and مون stand next to each other only in «بان مون».
            assert np.flatnonzero(adjacent(searched, docs, [(0, word_forms("بان")), (1, word_forms("مون"))],
                                           FORM_FIELD_NAMES)).tolist() == [1]


NAMES = {"ban": "قال الأمين العام بان كي مون إن المنظمة قلقة.", "apart": "وصل مون وبعده قال بان.",
         "hezbollah": "أعلن حزب الله موقفه من الحكومة.", "party": "قال رئيس الحزب إن الله يعلم النوايا.",
         "ramallah": "اجتمع المسؤولون في رام الله لبحث الأوضاع."}


def name_results(path: Path) -> list:
    with Engine(path) as engine:
        return [(q, sorted(h.article_id for h in engine.search(q, mode="keyword", k=20).hits))
                for q in ("بان كي مون", "حزب الله", "رام الله", '"قال بان"', '"في رام الله"')]


def test_names_search_without_whoosh_positions_and_an_older_index_gets_them(tmp_path, monkeypatch):
    path = tmp_path / "index"
    with Indexer(path, vectors=False) as ix:
        ix.add([Article(id=i, title="", body=b) for i, b in NAMES.items()])
    expected = [("بان كي مون", ["ban"]), ("حزب الله", ["hezbollah"]), ("رام الله", ["ramallah"]),
                ('"قال بان"', ["apart"]), ('"في رام الله"', ["ramallah"])]
    with monkeypatch.context() as patch:
        patch.setattr(adjacency, "_adjacent_in_leaf", lambda *a: pytest.fail("decoded Whoosh positions"))
        assert name_results(path) == expected
    folders = IndexLayout(path).keyword_postings_dir
    written = {p.relative_to(folders): p.read_bytes() for p in folders.rglob("*position*")}
    assert written
    older = strip_positions(path, tmp_path / "older")
    older_folders = IndexLayout(older).keyword_postings_dir
    assert name_results(older) == expected   # Whoosh's positions
    # What any writer's open does, on its own.
    run = CliRunner().invoke(main, ["optimize", "--index", str(older), "--compiled-only", "--format", "json"])
    assert run.exit_code == 0, run.output
    assert json.loads(run.output)["compiled_folders_completed"] == len(list(older_folders.iterdir()))
    assert {p.relative_to(older_folders): p.read_bytes() for p in older_folders.rglob("*position*")} == written
    with monkeypatch.context() as patch:
        patch.setattr(adjacency, "_adjacent_in_leaf", lambda *a: pytest.fail("decoded Whoosh positions"))
        assert name_results(older) == expected
    keyword = KeywordIndex(IndexLayout(older), SETTINGS)
    assert keyword.damage() == []


def strip_positions(index: Path, target: Path) -> Path:
    """A copy of ``index`` as a writer from before positions left it."""
    shutil.copytree(index, target)
    for path in (target / "keyword-postings").rglob("*position*"):
        path.unlink()
    state = json.loads((target / "keyword.json").read_text())
    state["files"] = {f: d for f, d in state["files"].items() if "position" not in f}
    (target / "keyword.json").write_text(json.dumps(state))
    return target


def test_a_group_of_older_segments_gets_positions(tmp_path):
    (tmp_path / "ix").mkdir()
    batches = [[("بان كي مون", "حزب الله"), ("رام الله", "")], [("قال بان كي مون", "")]]
    ix, compiled = build(tmp_path, batches, set(), True)
    (group,) = compiled.folder.glob(f"{GROUP_PREFIX}*")
    written = {p.name: p.read_bytes() for p in group.glob("*position*")}
    assert sorted(written) == sorted(n for f in POSITIONAL for n in (positions_file(f), position_offsets_file(f)))
    for path in compiled.folder.rglob("*position*"):
        path.unlink()
    compiled = CompiledPostings(compiled.folder, FIELDS)
    with ix.searcher(weighting=scoring.BM25F()) as searcher:
        assert all(u.fields["text_form"].positions is None for _, u in compiled.view(searcher).units)
    compiled.sync(ix)
    assert add_positions(compiled, ix.schema) == len(POSITIONAL)
    assert {p.name: p.read_bytes() for p in group.glob("*position*")} == written
