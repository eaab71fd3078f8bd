"""Retrieval quality on XQuAD-ar in CI: a change that lowers keyword or hybrid MRR@10 fails here.

The index is built from ``../shared/eval/xquad_ar`` (beside the repository, as in CI) by the
engine's indexer, and every question goes through the engine's retrievers and fusion exactly as
``python -m bench.quality --eval ../shared/eval/xquad_ar`` asks them. Nothing is encoded: the
paragraphs' vectors ship with the set, and the chunker's extra passages, every sentence and
every question are recorded in ``tests/fixtures/xquad_ar-vectors.npz`` (``bench/regression_vectors.py``).

The figures are asserted equal to three decimals, so a gain fails too and gets recorded here
rather than silently absorbed. When a change moves them on purpose (issue 14's retrieval work,
a new sentence splitter or chunker):

1. if this test says a text has no recorded vector, run ``python -m bench.regression_vectors``
   and commit the new fixture;
2. run ``python -m bench.quality --eval ../shared/eval/xquad_ar --modes keyword,hybrid`` (and on
   ``../shared/eval/tydiqa_goldp_ar_dev``): EXPECTED is its mrr@10, rounded to three decimals;
3. update EXPECTED, and justify the change in the commit message: what moved, the figures
   before and after on both sets, and why a fall is worth it. README and docs/quality.md follow.
"""
from __future__ import annotations

import numpy as np
import pytest

from bench.harness import build_index, check_against_search, eval_task, mode_ranking, mrr_at_10, retrieve, runs_for
from bench.regression_vectors import EVAL_DIR, ReplayEncoder, load_fixture
from indexer.vectors.cache import EmbeddingCache
from search.engine import Engine

EXPECTED = {"keyword": 0.939, "hybrid": 0.964}


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    if not (EVAL_DIR / "corpus.jsonl").is_file():
        pytest.fail(f"{EVAL_DIR} is missing: this test reads the shared data beside the repository")
    recorded = load_fixture()
    encoder = ReplayEncoder(recorded)
    task = eval_task(EVAL_DIR)
    path, cache_dir = tmp_path_factory.mktemp("xquad_ar") / "index", tmp_path_factory.mktemp("cache")
    cache = EmbeddingCache(cache_dir)
    cache.put_many(list(recorded), np.stack(list(recorded.values())))
    cache.close()
    report = build_index(task, path, encoder=encoder, cache_dir=cache_dir)   # adds the shipped vectors
    with Engine(path, encoder=encoder) as engine:
        candidates = retrieve(engine, task)
        mrr = {}
        for mode in EXPECTED:
            check_against_search(engine, task, candidates, mode)
            run, _ = runs_for(task, candidates, lambda qid: mode_ranking(engine, candidates, mode, qid))
            mrr[mode] = mrr_at_10(task, run)
    return report, mrr


def test_every_vector_of_the_build_comes_from_the_shipped_and_recorded_ones(measured):
    report, _ = measured
    assert (report.added, report.failed, report.passages, report.encoded) == (240, 0, 256, 0)


@pytest.mark.parametrize("mode", EXPECTED)
def test_mrr_at_10(measured, mode):
    _, mrr = measured
    assert round(mrr[mode], 3) == EXPECTED[mode], (
        f"XQuAD-ar {mode} MRR@10 is {mrr[mode]:.4f}, expected {EXPECTED[mode]}: see this module's docstring")
