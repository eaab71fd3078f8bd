"""The speed paths give the answers of the slow ones: compiled BM25F postings against Whoosh,
and the vector structures (flat, IVF, IVF with 8-bit or 4-bit codes re-scored from the store) against exact search."""
from __future__ import annotations

import json
import shutil
import sys
from contextlib import contextmanager
from dataclasses import asdict, replace

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from indexer.text.articles import Article
from indexer.keyword.index import KeywordIndex, build_query, field_terms, filter_query
from indexer.keyword.settings import KeywordSettings
from indexer.store.layout import IndexLayout
from indexer.store.manifest import Manifest
from indexer.pipeline import Indexer
from indexer.store.sqlite import Filters
from bench.vector_choice import float_store
from indexer.vectors.index import KIND_FLAT, KIND_IVF, KIND_IVF_SQ8, RESCORED, VectorIndex, VectorSettings, build_index
from search.engine import Engine
from search.query import parse_query
from tests.conftest import SEED_ID

QUERIES = ["الكاظمي طهران", "أسعار النفط أوبك", "البنك المركزي سعر الفائدة", "المنتخب كأس العالم",
           "وزير الخارجية القاهرة", "إيران العراق مليار دولار التجاري", "كوكب الماء علماء"]


def whoosh_hits(keyword: KeywordIndex, text: str, limit: int = 10) -> list[tuple[int, float]]:
    results = keyword.searcher().search(build_query(parse_query(text).keyword, keyword.settings), limit=limit)
    return [(int(h["pid"]), h.score) for h in results]


def compiled_hits(keyword: KeywordIndex, text: str, limit: int = 10):
    return keyword.compiled.search(keyword.searcher(), field_terms(parse_query(text).keyword, keyword.settings), limit)


@pytest.mark.parametrize("text", QUERIES)
def test_compiled_postings_rank_and_score_as_whoosh(engine, text):
    expected = whoosh_hits(engine.keyword_index, text)
    hits, total = compiled_hits(engine.keyword_index, text)
    assert [pid for pid, _ in hits] == [pid for pid, _ in expected]
    assert [s for _, s in hits] == pytest.approx([s for _, s in expected], rel=1e-9)
    assert total == len(engine.keyword_index.searcher().search(
        build_query(parse_query(text).keyword, engine.keyword_index.settings)))


def test_compiled_postings_skip_deleted_passages_and_follow_new_segments(index_copy):
    with Indexer(index_copy) as ix:
        seed_pids = {p.pid for p in ix.store.passages_of(SEED_ID)}
        ix.delete([SEED_ID])
        ix.add([Article(id="new-1", title="طهران", body="زار الكاظمي طهران مرة أخرى لبحث الميزان التجاري.")])
        keyword = ix.keyword
        for text in QUERIES:
            hits, _ = compiled_hits(keyword, text)
            assert [pid for pid, _ in hits] == [pid for pid, _ in whoosh_hits(keyword, text)]
            assert not seed_pids & {pid for pid, _ in hits}
        top, _ = compiled_hits(keyword, "الكاظمي طهران")
        assert ix.store.article_of([top[0][0]]) == {top[0][0]: "new-1"}


@pytest.mark.parametrize("filters", [Filters(source="الصحيفة اليومية"), Filters(since="2021-06-01"), Filters(until="2021-03-15"), Filters(source="none")])
def test_filtered_search_is_the_unfiltered_ranking_restricted(engine, filters):
    keyword = engine.keyword_index
    passing = {int(h["pid"]) for h in keyword.searcher().search(filter_query(filters, keyword.searcher().reader()), limit=None)}
    for text in QUERIES:
        query = parse_query(text).keyword
        everything, _ = keyword.search(query, 10**6)
        expected = [pid for pid, _ in everything if pid in passing]
        for allowed in (engine.store.filtered_pids(filters), None):
            hits, total = keyword.search(query, 10, filters, allowed)
            assert [pid for pid, _ in hits] == expected[:10] and total == len(expected)


def test_missing_segment_copy_is_compiled_in_memory(index_copy):
    layout = IndexLayout(index_copy)
    keyword = KeywordIndex(layout, KeywordSettings()).open()
    before = [keyword.search(parse_query(text).keyword, 10) for text in QUERIES]
    keyword.close()
    shutil.rmtree(layout.keyword_postings_dir)
    keyword = KeywordIndex(layout, KeywordSettings()).open()
    assert [keyword.search(parse_query(text).keyword, 10) for text in QUERIES] == before
    assert [pid for pid, _ in compiled_hits(keyword, QUERIES[0])[0]] == [pid for pid, _ in whoosh_hits(keyword, QUERIES[0])]
    keyword.close()


def clustered(n: int, dim: int = 32, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(20, dim))
    x = centers[rng.integers(0, 20, n)] + 0.3 * rng.normal(size=(n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_ivf_finds_what_exact_search_finds():
    vectors = clustered(4000)
    ids = np.arange(10, 4010, dtype=np.int64)
    flat, ivf = (build_index(kind, ids, vectors, 32) for kind in (KIND_FLAT, KIND_IVF))
    queries = clustered(50, seed=2)
    _, exact = flat.search(queries, 10)
    _, approx = ivf.search(queries, 10)
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact)])
    assert recall >= 0.98
    assert set(approx.ravel()) <= set(ids)


def test_forced_structure_is_recorded_and_searches_the_same(index_copy, encoder):
    layout = IndexLayout(index_copy)
    query = encoder.encode_queries(["الكاظمي طهران"])[0]
    before = VectorIndex.for_manifest(layout, Manifest.load(layout)).search(query, 5)
    with Indexer(index_copy, encoder=encoder) as ix:
        ix.set_vector_index("ivf")
    assert json.loads(layout.manifest.read_text())["vector_index"] == "ivf"
    assert json.loads(layout.vectors_state.read_text())["kind"] == KIND_IVF
    vectors = VectorIndex.for_manifest(layout, Manifest.load(layout))
    assert vectors.kind == KIND_IVF
    # A tiny index has a single cell, so IVF is exact here.
    assert [pid for pid, _ in vectors.search(query, 5)] == [pid for pid, _ in before]
    with Indexer(index_copy, encoder=encoder) as ix:
        ix.set_vector_index("auto")
    assert VectorIndex.for_manifest(layout, Manifest.load(layout)).kind == KIND_FLAT


@pytest.mark.parametrize("kind", RESCORED)
def test_codes_have_their_candidates_rescored_with_the_stored_floats(tmp_path, kind):
    vectors, ids = clustered(4000), np.arange(10, 4010, dtype=np.int64)
    store = float_store(tmp_path, np.vstack([np.zeros((10, 32), np.float32), vectors]))
    layout = IndexLayout(tmp_path / "index")
    layout.root.mkdir()
    codes = dict(policy=kind, settings=VectorSettings())
    vectors_index = VectorIndex(layout, 32, **codes, floats=store.embeddings)
    vectors_index.add(ids, vectors)
    vectors_index.save(1)
    assert json.loads(layout.vectors_state.read_text()) | {"file": None} == {
        "generation": 1, "kind": kind, "lists": 63, "probes": 32, "rerank": 100, "file": None}
    reopened = VectorIndex(layout, 32, **codes, floats=store.embeddings)
    flat = build_index(KIND_FLAT, ids, vectors, 32)
    queries = clustered(50, seed=2)
    _, exact = flat.search(queries, 10)
    found = [reopened.search(q, 10) for q in queries]
    recall = np.mean([len({pid for pid, _ in f} & set(e)) / 10 for f, e in zip(found, exact)])
    assert recall >= 0.98
    # The scores are the float vectors' cosines, not the codes' estimates.
    assert [s for _, s in found[0]] == pytest.approx([float(vectors[pid - 10] @ queries[0]) for pid, _ in found[0]], abs=1e-6)
    with pytest.raises(RuntimeError, match="store's float vectors"):
        VectorIndex(layout, 32, **codes).search(queries[0], 10)
    store.close()


def mapped_files() -> set[str]:
    """The files this process maps (/proc/self/maps), a replaced one with " (deleted)"."""
    rows = (line.split(maxsplit=5) for line in open("/proc/self/maps", encoding="utf-8"))
    return {row[5].strip() for row in rows if len(row) == 6}


@pytest.mark.parametrize("kind", [KIND_FLAT, KIND_IVF_SQ8])
def test_a_reader_maps_the_vector_file_and_keeps_its_version_while_a_writer_replaces_it(tmp_path, kind):
    vectors, ids = clustered(4000), np.arange(10, 4010, dtype=np.int64)
    store = float_store(tmp_path, np.vstack([np.zeros((10, 32), np.float32), vectors]))
    layout = IndexLayout(tmp_path / "index")
    layout.root.mkdir()
    options = dict(policy=kind, settings=VectorSettings(), floats=store.embeddings)
    writer = VectorIndex(layout, 32, **options)
    writer.add(ids, vectors)
    writer.save(1)
    reader, copied = VectorIndex(layout, 32, **options, mapped=True), VectorIndex(layout, 32, **options)
    queries = clustered(20, seed=2)
    before = [reader.search(q, 10) for q in queries]
    assert before == [copied.search(q, 10) for q in queries]
    assert str(layout.vectors) in mapped_files()
    writer.remove(ids[:2000])
    writer.save(2)
    # The reader still searches the version it mapped, then takes the new one.
    assert f"{layout.vectors} (deleted)" in mapped_files()
    assert [reader.search(q, 10) for q in queries] == before
    reader.reload_if_changed()
    assert all(pid >= 2010 for q in queries for pid, _ in reader.search(q, 10))
    store.close()


_RECORDERS: list[list[str]] = []


def _record_open(event: str, args: tuple) -> None:
    if event == "open" and _RECORDERS:
        _RECORDERS[-1].append(str(args[0]))


@contextmanager
def opened_files():
    """The paths Python opens (``open`` audit events: ``open()``, ``Path.read_text``) inside."""
    if not getattr(opened_files, "hooked", False):
        sys.addaudithook(_record_open)   # hooks cannot be removed: it records only in here
        opened_files.hooked = True
    seen: list[str] = []
    _RECORDERS.append(seen)
    try:
        yield seen
    finally:
        _RECORDERS.pop()


# Today's settings, and those an index built when ivf-sq8 was the choice recorded (it keeps it).
@pytest.mark.parametrize("settings", [VectorSettings(exact_max=5), VectorSettings(exact_max=5, approximate=KIND_IVF_SQ8)])
def test_auto_switches_to_codes_above_the_manifests_exact_limit(index_copy, encoder, settings):
    layout = IndexLayout(index_copy)
    query = encoder.encode_queries(["الكاظمي طهران"])[0]
    with Engine(index_copy, encoder=encoder) as engine:
        before = engine.search("الكاظمي طهران", mode="dense", level="passages", k=5)
        exact = engine.vector_index.search(query, 5)
    with Indexer(index_copy, encoder=encoder) as ix:
        assert len(ix.vectors) > 5 and ix.vectors.kind == KIND_FLAT
        ix.manifest = replace(ix.manifest, vector_settings=settings)
        ix.manifest.save(ix.layout, ix.store)
        ix.vectors.settings = ix.manifest.vector_settings
        ix.vectors.save(ix.vectors.generation)
    assert json.loads(layout.manifest.read_text())["vector_settings"] == asdict(settings)
    assert json.loads(layout.vectors_state.read_text())["kind"] == settings.approximate
    with Engine(index_copy, encoder=encoder) as engine:
        assert engine.vector_index.kind == settings.approximate
        # A tiny index has a single cell and every candidate is re-scored: exact here.
        approximate = engine.vector_index.search(query, 5)
        assert [pid for pid, _ in approximate] == [pid for pid, _ in exact]
        assert [s for _, s in approximate] == pytest.approx([s for _, s in exact], abs=1e-6)
        with opened_files() as opened:
            after = engine.search("الكاظمي طهران", mode="dense", level="passages", k=5)
        assert [h.passage_id for h in after.hits] == [h.passage_id for h in before.hits]
    # Its settings (candidates to re-score) were passed in when the engine opened: a search opens
    # the state files, not the manifest.
    assert str(layout.vectors_state) in opened   # the recorder sees the index's files
    assert str(layout.manifest) not in opened
    with Indexer(index_copy, encoder=encoder) as ix:
        ix.delete([SEED_ID])
    with Engine(index_copy, encoder=encoder) as engine:
        assert engine.vector_index.kind == settings.approximate
        assert SEED_ID not in {h.article_id for h in engine.search("الكاظمي طهران", mode="dense", k=5).hits}


def test_cli_records_the_forced_vector_structure(tmp_path):
    from click.testing import CliRunner
    from cli import main
    from tests.conftest import FIXTURES
    index = tmp_path / "index"
    result = CliRunner().invoke(main, ["index", str(FIXTURES / "articles.jsonl"), "--index", str(index),
                                       "--no-vectors", "--vector-index", "flat", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads((index / "manifest.json").read_text())["vector_index"] == "flat"
    bad = CliRunner().invoke(main, ["index", str(FIXTURES / "articles.jsonl"), "--index", str(index),
                                    "--vector-index", "hnsw"])
    assert bad.exit_code == 2 and "hnsw" in bad.output


def postings_term_by_term(per_segment, groups):
    """``PostingsView._groups_postings`` as first written: each term of each group looked up in
    each segment in turn."""
    for group in groups:
        docs, weights, lengths = [], [], []
        for base, fp in per_segment:
            for term, hit in zip(dict.fromkeys(group), fp.postings(np.array(list(dict.fromkeys(group)), dtype=str))):
                if hit is not None:
                    docs.append(np.add(hit[0], base, dtype=np.int64))
                    weights.append(hit[1])
                    lengths.append(fp.lengths[hit[0]])
        if not docs:
            yield np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0, np.float32)
        else:
            yield np.concatenate(docs), np.concatenate(weights), np.concatenate(lengths)


@pytest.mark.parametrize("field", ["text", "text_form", "title"])
def test_postings_gathered_per_segment_are_those_looked_up_term_by_term(engine, field):
    """Same postings, same order (scores are summed in it), for groups of one term and of many,
    absent terms, a term in two groups, a term twice in a group and an empty group."""
    view = engine.keyword_index._view()
    per_segment = [(base, segment.fields[field]) for base, segment in view.units]
    held = sorted({str(t) for _, fp in per_segment for t in fp.terms[:: max(1, len(fp.terms) // 40)]})
    groups = [held[:1], held[1:9], ["غير_موجود", held[2], held[2]], [], held[::3], ["غير_موجود"], held[5:7]]
    for new, old in zip(view._groups_postings(per_segment, groups), postings_term_by_term(per_segment, groups),
                        strict=True):
        for a, b in zip(new, old):
            assert a.dtype == b.dtype and np.array_equal(a, b)
    assert sum(len(docs) for docs, *_ in view._groups_postings(per_segment, groups)) > 0


@settings(deadline=None)
@given(st.sets(st.text("ابت", min_size=1, max_size=5), max_size=12), st.lists(st.text("ابت", max_size=9), max_size=6))
def test_terms_are_found_whatever_their_length(held, wanted):
    """A term longer than every term of a field (whose search would copy them all to its width) is
    absent, and never found as the held term its first characters spell."""
    from indexer.keyword.postings import FieldPostings
    terms = np.array(sorted(held), dtype=str) if held else np.array([], dtype="U1")
    counts = np.arange(1, len(terms) + 1)
    offsets = np.concatenate(([0], np.cumsum(counts)))
    docs = np.arange(offsets[-1], dtype=np.int32)
    postings = FieldPostings(terms, offsets, docs, docs.astype(np.float32), np.ones(len(docs), np.float32))
    starts, ends = postings.ranges(np.array(wanted, dtype=str))
    place = {t: i for i, t in enumerate(terms.tolist())}
    assert [(s, e) for s, e in zip(starts.tolist(), ends.tolist())] == [
        (int(offsets[place[w]]), int(offsets[place[w] + 1])) if w in place else (0, 0) for w in wanted]
    found = postings.postings(np.array(wanted, dtype=str))
    assert [None if f is None else f[0].tolist() for f in found] == [
        docs[offsets[place[w]]:offsets[place[w] + 1]].tolist() if w in place else None for w in wanted]


def scores_as_first_written(view, entries) -> np.ndarray:
    """``PostingsView.score`` as first written: each group's postings term by term, a group of
    several terms made one (its weights summed), ``whoosh.scoring.bm25`` of each group, and every
    part added up by one ``np.bincount`` of them all end to end, in entry and group order."""
    from whoosh.scoring import bm25
    from indexer.keyword.postings import _TermStats
    weighting = view.searcher.weighting
    docs_parts, score_parts = [], []
    for field, boost, groups in entries:
        per_segment = [(base, unit.fields[field]) for base, unit in view.units]
        for group, (docs, weights, lengths) in zip(groups, postings_term_by_term(per_segment, groups)):
            if len(group) > 1 and len(docs):
                docs, first, inverse = np.unique(docs, return_index=True, return_inverse=True)
                weights, lengths = np.bincount(inverse, weights=weights), lengths[first]
            if len(docs):
                idf = weighting.idf(_TermStats(view.total_docs, len(docs)), field, group[0])
                docs_parts.append(docs)
                score_parts.append(boost * bm25(idf, weights.astype(np.float64), lengths.astype(np.float64),
                                                view.avg_length(field), weighting._field_B.get(field, weighting.B),
                                                weighting.K1))
    if not docs_parts:
        return np.zeros(view.total_docs)
    return np.bincount(np.concatenate(docs_parts), weights=np.concatenate(score_parts), minlength=view.total_docs)


def test_scores_are_those_first_written_to_the_bit(index_copy):
    """Scores are shown and ties ordered by them: a faster summation must give the same bits, over
    segments and a deleted article's passages, for questions' stems and roots and names' forms,
    groups of several terms, repeated and absent terms, empty groups and boosts that round."""
    with Indexer(index_copy) as ix:
        ix.delete([SEED_ID])
        ix.add([Article(id="new-1", title="طهران", body="زار الكاظمي طهران مرة أخرى لبحث الميزان التجاري.")])
    with Engine(index_copy) as engine:
        keyword = engine.keyword_index
        view = keyword._view()
        assert len(view.units) > 1 and not view.live.all()
        held = sorted({str(t) for _, unit in view.units for t in unit.fields["text"].terms[:: max(1, len(unit.fields["text"].terms) // 40)]})
        entries = [[(f, b * boost, [[t] for t in dict.fromkeys(terms)])
                    for f, b, terms in field_terms(parse_query(text).keyword, keyword.settings)]
                   for text in QUERIES for boost in (1.0, 0.7)]
        entries.append([("text", 1.0, [held[:1], held[1:9], ["غير_موجود", held[2], held[2]], [], held[::3]]),
                        ("title", 0.7, [held[5:7], held[:2]]), ("text_root", 1.3, [held[3:4]]), ("heading", 2.0, [])])
        from indexer.keyword.query import KeywordQuery
        entries.append([(f, b, [KeywordQuery().forms([w]) for w in ("الكاظمي", "طهران", "النفط")])
                        for f, b in keyword.settings.form_fields])
        for entry in entries:
            got, holding = view.score(entry)
            assert np.array_equal(got, scores_as_first_written(view, entry))
            assert (got > 0).any()
            for (field, _, groups), per_group in zip(entry, holding):
                per_segment = [(base, unit.fields[field]) for base, unit in view.units]
                for docs, (expected, _, _) in zip(per_group, postings_term_by_term(per_segment, groups), strict=True):
                    assert np.array_equal(np.sort(docs), np.unique(expected))


def test_articles_holding_are_those_of_the_live_postings_scoring_gathers(index_copy):
    """``PostingsView.articles_holding`` gathers only the documents, not ``_groups_postings``'
    weights and lengths: the same articles, a deleted article's passages left out, for held terms,
    absent ones, a term twice, a term of many articles and none."""
    with Indexer(index_copy) as ix:
        ix.delete([SEED_ID])
    with Engine(index_copy) as engine:
        view = engine.keyword_index._view()
        fields = [f for f, _ in engine.keyword_index.settings.form_fields]
        held = sorted({str(t) for _, unit in view.units for f in fields
                       for t in unit.fields[f].terms[:: max(1, len(unit.fields[f].terms) // 40)]})
        assert not view.live.all() and held
        for terms in ([held[0]], held[1:9], ["غير_موجود", held[2], held[2]], held, ["غير_موجود"], []):
            docs = [next(view._groups_postings([(b, unit.fields[f]) for b, unit in view.units], [terms]))[0]
                    for f in fields]
            docs = np.concatenate([np.zeros(0, np.int64), *docs])
            expected = np.unique(view.joined.numbers[1][docs[view.live[docs]]])
            assert np.array_equal(view.articles_holding(terms, fields), expected)
        assert len(view.articles_holding(held, fields)) > 1


def test_faiss_is_asked_to_remove_only_ids_the_index_can_hold(tmp_path, monkeypatch):
    # remove_ids walks every vector: asked for each batch of new passages, it made a million-passage
    # fill quadratic. Passage ids are never reused, so ids above the largest held are new.
    import faiss
    layout = IndexLayout(tmp_path / "index")
    layout.root.mkdir()
    flat = dict(policy=KIND_FLAT, settings=VectorSettings())
    vectors = clustered(30)
    written = VectorIndex(layout, 32, **flat)
    written.add(np.arange(10, 20), vectors[:10])
    written.save(1)
    asked = []
    remove_ids = faiss.IndexIDMap2.remove_ids
    monkeypatch.setattr(faiss.IndexIDMap2, "remove_ids",
                        lambda self, ids: asked.append(sorted(np.asarray(ids).tolist())) or remove_ids(self, ids))
    reopened = VectorIndex(layout, 32, **flat)
    reopened.remove(np.arange(20, 30))
    reopened.add(np.arange(20, 30), vectors[10:20])
    reopened.remove([15, 25, 40])
    assert asked == [[15, 25]]
    assert sorted(reopened.ids().tolist()) == [i for i in range(10, 30) if i not in (15, 25)]


def test_the_keyword_state_is_parsed_again_only_when_a_writer_replaced_it(index_copy, monkeypatch):
    # Every search reads the keyword index's generation; its state file lists every file with its
    # digest, half a megabyte at a million passages.
    import indexer.keyword.index as keyword_module
    parsed = []
    read_state = keyword_module.read_state
    monkeypatch.setattr(keyword_module, "read_state", lambda path: parsed.append(path) or read_state(path))
    index = KeywordIndex(IndexLayout(index_copy), KeywordSettings())
    first = index.generation
    assert [index.generation for _ in range(5)] == [first] * 5 and len(parsed) == 1
    index.set_generation(first + 7)
    assert index.generation == first + 7 and KeywordIndex(IndexLayout(index_copy), KeywordSettings()).generation == first + 7


def test_a_searcher_opened_while_a_writer_publishes_is_opened_again(index_copy, monkeypatch):
    # A writer's commit deletes the files of the state it replaces; a reader that read that state
    # just before found them gone and reported the index damaged (seen under serve while indexing).
    from indexer.store.layout import IndexDamaged
    index = KeywordIndex(IndexLayout(index_copy), KeywordSettings())
    tries = []
    open_searcher = KeywordIndex._open_searcher

    def racing(self):
        tries.append(self._published())
        if len(tries) == 1:
            self.set_generation(self.generation + 1)   # a writer published meanwhile
            raise IndexDamaged(self.layout.keyword_dir, "_MAIN_13.toc: no such file")
        return open_searcher(self)
    monkeypatch.setattr(KeywordIndex, "_open_searcher", racing)
    assert index.searcher() is not None and len(tries) == 2


def test_damage_that_stays_while_nothing_is_published_is_reported(index_copy, monkeypatch):
    from indexer.store.layout import IndexDamaged
    tries = []

    def damaged(self):
        tries.append(1)
        raise IndexDamaged(self.layout.keyword_dir, "a segment file is missing")
    monkeypatch.setattr(KeywordIndex, "_open_searcher", damaged)
    with pytest.raises(IndexDamaged, match="a segment file is missing"):
        KeywordIndex(IndexLayout(index_copy), KeywordSettings()).searcher()
    assert len(tries) == 1
