"""The keyword index's settings: BM25's parameters, the field boosts, the stemmers of its two
analyzed text fields, and the matching rules of questions (how many words) and of short queries
(when their words are a name). The manifest records them when an index is created and the engine
reads them back from it, so an index is always searched as it was built; a benchmark sweeps them
by building with other settings (``bench/variants.py``), never by patching module globals."""
from __future__ import annotations

from dataclasses import dataclass

from indexer.text.analysis import DEFAULT_STEM, ROOT_STEM
from indexer.text.stemmers import get_stemmer


# The exact-form fields: names and phrases are matched word after word in them.
FORM_FIELD_NAMES = ("text_form", "title_form", "heading_form")


@dataclass(frozen=True)
class KeywordSettings:
    # Okapi BM25, tuned on XQuAD-ar and confirmed on TyDi-ar (`python -m bench.variants`,
    # docs/analysis.md); Whoosh's defaults were b=0.75, k1=1.2.
    bm25_b: float = 0.5
    bm25_k1: float = 0.9
    # Written into the title's term weights when Whoosh indexes them: fixed at creation.
    title_boost: float = 2.0
    heading_boost: float = 1.0
    # The passage text's ISRI-root field, weighed as the light-stemmed text field (docs/analysis.md).
    root_boost: float = 1.0
    # The stemmer of text, title and heading, and that of the root field (indexer/text/stemmers.py).
    stem: str = DEFAULT_STEM
    root_stem: str = ROOT_STEM
    # A passage holding at least this many of a long query's words (by light stem) matches it. A
    # question is answered by passages that word it differently: requiring a third of its words lost
    # 0.008 / 0.003 MRR@10 on XQuAD-ar / TyDi-ar, half of them 0.04 / 0.02 (docs/analysis.md).
    min_should_match: int = 1
    # A short query of several words is a name (رام الله, بان كي مون) when its words stand next to each
    # other, in order, in at least this share of the passages holding them all: then only those match.
    collocation: float = 0.5
    # Otherwise the passages holding them so still rank first, as edismax's phrase fields do: their
    # score counts once more (بان كي مون: one article names him, five hold بان and مون apart).
    adjacent_boost: float = 1.0
    # The writer merges the compiled postings of this many consecutive bulk segments into one group
    # (indexer/keyword/groups.py), so a bulk import searches about as fast as one merged segment
    # without `baheth optimize`; 0 or 1: never. Speed only: results are the same either way.
    merge_segments: int = 16

    @property
    def stem_fields(self) -> tuple[tuple[str, float], ...]:
        """(field, query-time boost) of the fields a question's stems are searched in."""
        return ("text", 1.0), ("title", 1.0), ("heading", self.heading_boost)

    @property
    def root_fields(self) -> tuple[tuple[str, float], ...]:
        return (("text_root", self.root_boost),)

    @property
    def form_fields(self) -> tuple[tuple[str, float], ...]:
        """Short queries and phrases: each word's written forms, in the exact-form fields."""
        return tuple(zip(FORM_FIELD_NAMES, (1.0, 1.0, self.heading_boost)))

    def stems(self, words) -> list[str]:
        return list(map(get_stemmer(self.stem), words))

    def roots(self, words) -> list[str]:
        return list(map(get_stemmer(self.root_stem), words))
