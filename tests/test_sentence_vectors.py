"""Sentence vectors: stored for every passage at indexing time, used by the dense retriever
(a passage scores the mean of its cosine and its best sentence's), filled in by `baheth embed`
for an index from before them, and dropped with the passages they belong to."""
from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
from click.testing import CliRunner

from cli import main
from indexer.text.articles import Article
from indexer.store.layout import IndexLayout
from indexer.pipeline import Indexer
from indexer.vectors.sentence_vectors import SentenceVectors, sentence_texts
from indexer.store.sqlite import Store
from search.engine import Engine
from search.query import parse_query
from tests.conftest import SEED_ID


def test_scores_average_the_passage_cosine_and_its_best_sentence():
    query = np.array([1.0, 0.0], dtype=np.float32)
    sentences = SentenceVectors([np.array([[0.2, 0.9], [0.8, 0.6]], dtype=np.float32), None,
                                 np.array([[-0.5, 0.5]], dtype=np.float32)])
    scores = sentences.scores(np.array([0.4, 0.7, 0.1], dtype=np.float32), query)
    # best sentence 0.8; no sentences: the passage's own cosine twice; a single sentence below it.
    assert scores.tolist() == pytest.approx([0.6, 0.7, -0.2])


def test_every_passage_has_its_sentences_vectors_in_order(built_index, encoder):
    store = Store(IndexLayout(built_index).store, readonly=True)
    passages = [p for p, _ in store.iter_passages()]
    found = store.sentences.get(p.pid for p in passages)
    store.close()
    assert set(found) == {p.pid for p in passages}
    seed = max((p for p in passages if p.article_id == SEED_ID), key=lambda p: len(sentence_texts(p.text)))
    texts = sentence_texts(seed.text)
    assert len(texts) > 1 and found[seed.pid].shape == (len(texts), 384)
    # float16 in the store: the cosines keep three decimals.
    np.testing.assert_allclose(found[seed.pid], encoder.encode_passages(texts), atol=2e-3)


def test_dense_scores_are_the_mean_of_passage_and_best_sentence(engine):
    query = parse_query("كم يبلغ حجم التبادل التجاري بين العراق وإيران؟")
    vector = engine.dense.encode(query.dense_text)
    hits = engine.dense.search(query, 5)
    found = engine.store.sentences.get(pid for pid, _ in hits)
    for pid, score in hits:
        cosine = float(engine.vector_index.index.reconstruct(pid) @ vector)
        assert score == pytest.approx((cosine + float((found[pid] @ vector).max())) / 2, abs=1e-5)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)


def test_an_index_from_before_sentence_vectors_searches_as_before_until_embed_fills_them(index_copy, encoder):
    path = IndexLayout(index_copy).store
    with sqlite3.connect(path) as conn:
        before = {pid: blob for pid, blob in conn.execute("SELECT pid, vectors FROM sentence_vectors")}
        conn.executescript("DROP TABLE sentence_vectors; PRAGMA user_version=1;")
    old = Store(path, readonly=True)     # a reader before any writer migrated the store
    assert old.sentences.get(before) == {} and old.sentences.count() == (0, 0)
    old.close()
    with Engine(index_copy, encoder=encoder) as engine:       # its catch-up migrates the store
        query = parse_query("الكاظمي طهران")
        vector = engine.dense.encode(query.dense_text)
        cosines = engine.vector_index.search(vector, 3)
        # Without sentence vectors a passage counts its own cosine twice: the faiss order stands.
        assert engine.dense.search(query, 3) == [(pid, pytest.approx(c, abs=1e-6)) for pid, c in cosines]
    result = CliRunner().invoke(main, ["embed", "--index", str(index_copy), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["passages"] == len(before)
    with sqlite3.connect(path) as conn:
        assert {pid: blob for pid, blob in conn.execute("SELECT pid, vectors FROM sentence_vectors")} == before


def test_replacing_or_deleting_an_article_drops_its_sentence_vectors(index_copy, encoder):
    with Indexer(index_copy, encoder=encoder) as ix:
        old = [p.pid for p in ix.store.passages_of(SEED_ID)]
        ix.add([Article(id=SEED_ID, body="نص جديد قصير. وجملة ثانية فيه.")])
        new = [p.pid for p in ix.store.passages_of(SEED_ID)]
        assert not ix.store.sentences.get(old) and len(ix.store.sentences.get(new)[new[0]]) == 2
        ix.store.delete_article(SEED_ID)
        assert not ix.store.sentences.get(new)


class CountingEncoder:
    """The real encoder, counting the passage texts it is asked to encode."""

    def __init__(self, encoder):
        self.spec, self._encoder, self.passages = encoder.spec, encoder, 0

    def encode_queries(self, texts):
        return self._encoder.encode_queries(texts)

    def encode_passages(self, texts):
        self.passages += len(texts)
        return self._encoder.encode_passages(texts)


def test_ask_reads_sentence_vectors_from_the_index_and_encodes_only_the_question(built_index, encoder, tmp_path,
                                                                                 monkeypatch, answer_everything):
    monkeypatch.setenv("BAHETH_CACHE", str(tmp_path / "empty-cache"))
    counting = CountingEncoder(encoder)
    with Engine(built_index, encoder=counting, answer_model=answer_everything) as engine:
        result = engine.ask("كم يبلغ حجم التبادل التجاري بين العراق وإيران؟", k=1)
    assert "13 مليار" in result.answers[0].sentence and counting.passages == 0


def test_embed_reads_each_batch_past_the_last_one_not_from_the_first_passage(tmp_path, encoder, monkeypatch):
    # From the first pid, each batch stepped over every row filled before it: quadratic in the
    # number of passages (a million-passage `baheth embed` would not finish).
    from indexer.vectors import embedding
    with Indexer(tmp_path / "ix", encoder=encoder, vectors=False) as ix:
        ix.add([Article(id=f"a{i}", title=f"خبر {i}", body=f"نص الخبر رقم {i} عن الأسواق في المنطقة.") for i in range(7)])
    monkeypatch.setattr(embedding, "COMMIT_BATCH", 3)
    asked = []
    missing = Store.missing_embeddings
    monkeypatch.setattr(Store, "missing_embeddings", lambda self, limit, after=0: asked.append(after) or missing(self, limit, after))
    with Indexer(tmp_path / "ix", encoder=encoder) as ix:
        filled, _ = embedding.fill_missing(ix, ix.encoder)
        pids = sorted(pid for pid, _ in ix.store.conn.execute("SELECT pid, 1 FROM passages WHERE embedding IS NOT NULL"))
    assert filled == len(pids) == 7
    assert asked == [0, pids[2], pids[5], pids[6]]


def test_a_stopped_embed_leaves_the_keyword_index_nothing_to_redo(tmp_path, encoder, monkeypatch):
    # Vectors committed to the store, the keyword index's generation left behind (embed stopped
    # before recording that only vectors changed): the next open re-indexed every such passage,
    # hours at a million. Only passages removed since, or newer than any it holds, are applied.
    from indexer.keyword.index import KeywordIndex
    with Indexer(tmp_path / "ix", encoder=encoder, vectors=False) as ix:
        ix.add([Article(id=f"a{i}", title=f"خبر {i}", body=f"نص الخبر رقم {i} عن الأسواق في المنطقة.") for i in range(5)])
    with Engine(tmp_path / "ix", encoder=encoder) as engine:
        before = [(h.article_id, h.score) for h in engine.search("الأسواق", mode="keyword", k=10).hits]
    with Indexer(tmp_path / "ix", encoder=encoder) as ix:
        rows = list(ix.store.conn.execute("SELECT pid, text FROM passages ORDER BY pid"))
        with ix.store.transaction():
            ix.store.set_embeddings([pid for pid, _ in rows], encoder.encode_passages([text for _, text in rows]))
            withdrawn = ix.store.passages_of("a4")
            ix.store.delete_article("a4")
        assert ix.keyword.generation < ix.store.generation()
    applied = []
    apply = KeywordIndex.apply
    monkeypatch.setattr(KeywordIndex, "apply", lambda self, store, pids, new_pids=():
                        applied.append((list(pids), list(new_pids))) or apply(self, store, pids, new_pids))
    with Indexer(tmp_path / "ix", encoder=encoder) as ix:
        assert ix.keyword.generation == ix.store.generation()
    assert applied == [([p.pid for p in withdrawn], [])]
    with Engine(tmp_path / "ix", encoder=encoder) as engine:
        assert [(h.article_id, h.score) for h in engine.search("الأسواق", mode="keyword", k=10).hits] == [
            (a, s) for a, s in before if a != "a4"]
