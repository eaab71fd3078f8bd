"""ArabicAnalyzer's memoized path yields exactly the tokens of the plain Whoosh chain it is built
from, for every stemmer, with and without stopwords, whatever Whoosh asks for."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st
from whoosh.analysis import CompositeAnalyzer

from indexer.text.analysis import MAX_WORD_CHARS, ArabicAnalyzer, analyze, arabic_analyzer, term_set, word_terms
from indexer.text.arabic import WORD_PATTERN
from indexer.text.stemmers import STEM_VARIANTS
from indexer.keyword.fields import ArabicText

FAST = settings(derandomize=True, max_examples=150, deadline=None)
ATTRS = ("text", "pos", "startchar", "endchar", "stopped", "boost")
CALLS = ({}, {"positions": True}, {"chars": True},
         {"positions": True, "chars": True, "boosts": True, "mode": "index"},
         {"removestops": False, "positions": True, "chars": True}, {"mode": "query"},
         {"tokenize": False}, {"start_pos": 3, "positions": True}, {"no_morph": True})
# Letters, a stopword's pieces, diacritics, tatweel, a ligature that expands to words, digits,
# Latin, joiners and separators: enough to reach every branch of the chain.
ALPHABET = "ابتثجحمنهويىةءأإآلفوكسa1٣\u064b\u0650\u0640\ufdfa\u200d ،.\n"
texts = st.text(alphabet=ALPHABET, max_size=60)


def tokens(analyzer, text, call):
    return [tuple(getattr(t, a, None) for a in ATTRS) for t in analyzer(text, **call)]


@FAST
@given(texts, st.sampled_from(STEM_VARIANTS), st.booleans(), st.booleans(), st.sampled_from(CALLS))
def test_memoized_tokens_equal_the_chain(text, stem, stopwords, renumber, call):
    memoized = arabic_analyzer(stem, stopwords, renumber)
    assert isinstance(memoized, ArabicAnalyzer)
    assert tokens(memoized, text, call) == tokens(CompositeAnalyzer(*memoized.items), text, call)


@pytest.mark.parametrize("text", ["وفي عام ٢٠٢٤ قال الرئيس في القاهرة إن الاقتصاد ينمو",
                                  "ﷺ " + "ب" * (MAX_WORD_CHARS + 1) + " الأسواق والأسواق", ""])
@pytest.mark.parametrize("phrase", [True, False])
def test_field_counts_terms_as_whoosh_formats_do(text, phrase):
    for stem, renumber in (("light+suffix", True), ("isri", True), ("none", False)):
        fast = ArabicText(analyzer=arabic_analyzer(stem, renumber=renumber), phrase=phrase, field_boost=2.0)
        plain = ArabicText(analyzer=CompositeAnalyzer(*fast.analyzer.items), phrase=phrase, field_boost=2.0)
        assert sorted(fast.index(text)) == sorted(plain.index(text))
        # Pre-tokenized values take Whoosh's path.
        assert sorted(fast.index(["a", "list"])) == sorted(plain.index(["a", "list"]))


@FAST
@given(st.lists(st.sampled_from(["في", "وفي", "الأسواق", "عاصمتها", "ﷺ", "\u0640\u0640", "b" * (MAX_WORD_CHARS + 1)])
                | texts, max_size=8), st.sampled_from(STEM_VARIANTS))
def test_term_set_and_word_terms_are_the_analysis_per_word(pieces, stem):
    text = " ".join(pieces)
    assert term_set(text, stem) == set(analyze(text, stem))
    assert [t for raw in WORD_PATTERN.findall(text) for t in word_terms(stem)(raw)] == analyze(text, stem)
