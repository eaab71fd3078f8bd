"""Text for the page, cut into pieces the templates print escaped: marked stretches (the hits'
highlight spans, the answer's span) holding isolated pieces (Latin words and numbers, which the
Arabic around them would otherwise reorder)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

# A run of Latin letters and digits, with the punctuation that joins them inside a name, date or
# figure («Joe Biden», «2021-03-15», «3.5%»).
LTR_RUN = re.compile(r"[A-Za-z0-9\u00C0-\u024F](?:[A-Za-z0-9\u00C0-\u024F .,:/%'&+\-]*[A-Za-z0-9\u00C0-\u024F%])?")


@dataclass(frozen=True)
class Piece:
    text: str
    isolated: bool = False


@dataclass(frozen=True)
class Stretch:
    marked: bool
    pieces: tuple[Piece, ...]


def stretches(text: str, spans: Iterable[Iterable[int]] = ()) -> list[Stretch]:
    """``text`` cut at ``spans`` (marked) and, inside each stretch, at Latin and numeric runs."""
    out, last = [], 0
    for start, end in sorted((int(s), int(e)) for s, e in spans):
        if start < last or end <= start or end > len(text):
            continue   # overlapping or out-of-range spans: the text stays, unmarked
        out += [Stretch(False, isolated(text[last:start])), Stretch(True, isolated(text[start:end]))]
        last = end
    out.append(Stretch(False, isolated(text[last:])))
    return [s for s in out if s.pieces]


def isolated(text: str) -> tuple[Piece, ...]:
    out, last = [], 0
    for match in LTR_RUN.finditer(text):
        if match.start() > last:
            out.append(Piece(text[last:match.start()]))
        out.append(Piece(match.group(), isolated=True))
        last = match.end()
    if last < len(text):
        out.append(Piece(text[last:]))
    return tuple(out)
