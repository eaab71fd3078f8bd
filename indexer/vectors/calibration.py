"""Texts that calibrate the int8 conversion: shipped with baheth (``data/calibration.txt``).

Post-training quantization needs the ranges the model's activations take on texts like the
ones it will encode: news passages of every length, single sentences, and short queries.
From the file's paragraphs and queries this derives all three: whole paragraphs, paragraphs
joined into long passages, 40- and 120-word windows (the sizes of short and full passages),
sentences, and each sentence's opening words as a query. The order is fixed, so the conversion is repeatable.
"""
from __future__ import annotations

import re
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "calibration.txt"
_SENTENCE_END = re.compile(r"(?<=[.؟?!])\s+")


def read(path: Path = DATA) -> tuple[list[str], list[str]]:
    """(paragraphs, queries) of the calibration file."""
    text = "\n".join(line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("# "))
    body, _, queries = text.partition("## queries")
    paragraphs = [p.strip() for p in body.split("\n\n") if p.strip()]
    return paragraphs, [q.strip() for q in queries.splitlines() if q.strip()]


def calibration_texts(path: Path = DATA) -> tuple[list[str], list[str]]:
    """(passages, queries) to run through the model, without their e5 prompts."""
    paragraphs, queries = read(path)
    words = " ".join(paragraphs).split()
    sentences = [s for p in paragraphs for s in _SENTENCE_END.split(p) if len(s.split()) >= 4]
    windows = [" ".join(words[i:i + size]) for size, step in ((40, 20), (120, 40))
               for i in range(0, max(len(words) - size, 1), step)]
    joined = [" ".join(paragraphs[i:i + 4]) for i in range(0, len(paragraphs), 3)]
    openings = [" ".join(s.split()[:3 + i % 4]) for i, s in enumerate(sentences)]
    return paragraphs + joined + windows + sentences, queries + openings
