"""The keyword index's text field: Whoosh's TEXT, its terms counted straight from the analyzer.

Why: Whoosh turns a text into postings through four generators per token (analyzer chain, token
filter, format, field), which cost as much as writing the postings. ``ArabicAnalyzer.index_terms``
gives the same (term, position) pairs as a list, and this field counts them as Whoosh's
``Frequency`` and ``Positions`` formats do; any other format or analyzer (an index pickled before
``ArabicAnalyzer`` existed) takes Whoosh's path. ``tests/test_keyword_fields.py`` checks that both
paths write the same segments.
"""
from __future__ import annotations

from collections import defaultdict

from whoosh.fields import TEXT
from whoosh.formats import Frequency, Positions
from whoosh.system import pack_uint

from indexer.text.analysis import ArabicAnalyzer


class ArabicText(TEXT):
    def index(self, value, **kwargs):
        analyzer, fmt = self.analyzer, self.format
        if kwargs or not isinstance(value, str) or not isinstance(analyzer, ArabicAnalyzer):
            return super().index(value, **kwargs)
        boost = fmt.field_boost
        if type(fmt) is Frequency:
            counts: dict[str, int] = defaultdict(int)
            for term, _ in analyzer.index_terms(value):
                counts[term] += 1
            return [(term.encode("utf-8"), n, float(n) * boost, pack_uint(n)) for term, n in counts.items()]
        if type(fmt) is Positions:
            positions: dict[str, list[int]] = defaultdict(list)
            for term, pos in analyzer.index_terms(value):
                positions[term].append(pos)
            return [(term.encode("utf-8"), len(p), float(len(p)) * boost, fmt.encode(p))
                    for term, p in positions.items()]
        return super().index(value, **kwargs)
