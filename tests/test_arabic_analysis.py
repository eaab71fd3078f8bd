"""The Arabic analyzer: normalization, stopwords, stemming, offsets, Whoosh contract."""
from __future__ import annotations

import functools
import pickle
import subprocess
import sys
from itertools import groupby

import pytest
from hypothesis import given, settings, strategies as st
from whoosh.fields import ID, TEXT, Schema
from whoosh.filedb.filestore import RamStorage
from whoosh.qparser import QueryParser

from indexer.text import analysis
from indexer.text.analysis import (
    ANALYZER_NAME,
    ANALYZER_VERSION,
    DEFAULT_STEM,
    ArabicTokenizer,
    TokenSpan,
)
from indexer.text.arabic import DIACRITICS, STOPWORDS, WORD_PATTERN, is_stopword, normalize, token_words
from indexer.text.stemmers import STEM_VARIANTS, get_stemmer, light_stem

# The examples pin the prefix-only stemmer: they check normalization and clitic rules, which
# the default's suffix stripping (since analyzer v2, chosen by measurement) would blur.
analyze = functools.partial(analysis.analyze, stem="light")
analyze_spans = functools.partial(analysis.analyze_spans, stem="light")
arabic_analyzer = functools.partial(analysis.arabic_analyzer, stem="light")

FAST = settings(derandomize=True, max_examples=200, deadline=None)

ZWJ, ZWNJ, RLM, LRM = "\u200d", "\u200c", "\u200f", "\u200e"


# --- examples -----------------------------------------------------------------


def test_manifest_identity():
    assert ANALYZER_NAME == "arabic-light"
    assert ANALYZER_VERSION == 4


def test_default_strips_light10_suffixes_after_prefixes():
    assert DEFAULT_STEM == "light+suffix"
    assert analysis.analyze("والإيرانيات") == analysis.analyze("إيراني") == ["ايران"]
    assert analysis.analyze("إيران") == ["اير"]   # the price on names, measured worth paying


def test_hamza_and_diacritic_spellings_agree():
    assert analyze("إيران") == analyze("ايران") == ["ايران"]
    assert analyze("الإيرانيّ") == analyze("الايراني") == analyze("ايراني") == ["ايراني"]


def test_article_with_preposition_is_stripped():
    assert analyze("بالعراق") == analyze("العراق") == analyze("للعراق") == ["عراق"]
    assert analyze("وبالعراق") == ["عراق"]


def test_eastern_digits_become_ascii():
    assert analyze("١٣") == analyze("۱۳") == analyze("13") == ["13"]
    assert analyze("عام ٢٠٢٠") == ["عام", "2020"]


def test_latin_and_digits_are_tokens():
    assert analyze("COVID-19") == ["covid", "19"]
    assert analyze("2020") == ["2020"]


def test_plain_word_is_unchanged():
    assert analyze("مليار") == ["مليار"]


def test_tatweel_is_ignored():
    assert analyze("الـعـراق") == ["عراق"]


def test_conjoined_stopwords():
    assert is_stopword("في") and is_stopword("وفي") and is_stopword("فهو")
    assert analyze("وفي") == analyze("في") == []


def test_content_words_behind_conjunction_are_not_stopped():
    # «ولي» is و + «لي» but in news it is «ولي العهد».
    assert analyze("ولي العهد") == ["ولي", "عهد"]


def test_stopword_list_is_normalized_and_sized():
    assert 100 <= len(STOPWORDS) <= 200
    assert all(normalize(w) == w for w in STOPWORDS)


def test_presentation_forms():
    assert analyze("ﷲ") == analyze("الله") == ["الله"]
    # ﻻ is «لا», a stopword.
    assert analyze("ﻻ") == []
    assert analyze("ﻻ", stopwords=False) == ["لا"]


def test_ligature_phrase_splits_into_words_on_one_span():
    text = "النبي ﷺ قال"
    spans = analyze_spans(text)
    assert [s.term for s in spans] == ["نبي", "صلي", "الله", "سلم", "قال"]
    ligature = {(s.start, s.end) for s in spans[1:4]}
    assert ligature == {(6, 7)}
    assert analyze("﷽") == ["بسم", "الله", "رحمن", "رحيم"]


def test_short_remainders_keep_their_prefix():
    # ال, و and ف go only while three letters remain; ب, ك and ل while four do.
    assert analyze("ألين") == ["الين"]
    assert analyze("ودم") == ["ودم"]
    assert light_stem("الله") == "الله"
    assert light_stem("كتاب") == light_stem("الكتاب") == "كتاب"
    assert light_stem("للجنه") == light_stem("اللجنه") == "لجنه"
    assert light_stem("بالغ") == "بالغ"


def test_clitics_are_stripped_consistently():
    # Stripping is state-free, so a word whose own first letter is a clitic
    # letter loses it in every form alike: one stem whatever precedes it.
    washington = {"واشنطن", "وواشنطن", "بواشنطن", "لواشنطن", "فبواشنطن"}
    assert {light_stem(w) for w in washington} == {"اشنطن"}
    minister = {"وزير", "الوزير", "والوزير", "للوزير", "ووزير", "بوزير"}
    assert {light_stem(w) for w in minister} == {"زير"}
    assert light_stem("بلدين") == light_stem("البلدين") == light_stem("للبلدين")
    assert analyze("لإيران") == analyze("إيران") == ["ايران"]


def test_suffix_option_follows_light10():
    assert light_stem("ايراني", suffixes=True) == "ايران"
    assert light_stem("الايرانيه", suffixes=True) == "ايران"
    assert light_stem("ايرانيون", suffixes=True) == "ايران"
    assert light_stem("مدرستها", suffixes=True) == "مدرست"
    assert analyze("الإيرانية", stem="light+suffix") == ["ايران"]


def test_min_stem_is_enforced():
    assert light_stem("بالعراق", min_stem=4) == "عراق"
    assert light_stem("بالعراق", min_stem=5) == "العراق"
    assert light_stem("بالعراق", min_stem=7) == "بالعراق"
    with pytest.raises(ValueError):
        light_stem("العراق", min_stem=1)


def test_unknown_variant_is_refused():
    with pytest.raises(ValueError):
        arabic_analyzer(stem="khoja")
    with pytest.raises(ValueError):
        get_stemmer("khoja")


def test_root_field_stems_to_isri_roots():
    assert analysis.ROOT_STEM == "isri"
    # Broken plurals and derived forms meet their singular / base word, which the light stem cannot do.
    assert analysis.analyze("النجوم", stem="isri") == analysis.analyze("نجم", stem="isri") == ["نجم"]
    assert analysis.analyze("المكتبات والكتاب", stem="isri") == ["كتب", "كتب"]
    assert analysis.analyze("في هذا", stem="isri") == []          # stopwords go before stemming
    assert analysis.analyze("2020 Iran", stem="isri") == ["2020", "iran"]
    assert analysis.analyze("مر", stem="isri") == ["مر"]            # never below two letters


def test_snowball_variant():
    assert analyze("والمكتبات", stem="snowball")
    assert analyze("في", stem="snowball") == []


def test_snowball_is_imported_only_when_asked_for():
    code = (
        "import sys; from indexer.text.analysis import analyze; analyze('العراق');"
        "assert 'Stemmer' not in sys.modules;"
        "analyze('العراق', stem='snowball'); assert 'Stemmer' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_joiners_and_bidi_marks_do_not_split_words():
    text = f"ال{ZWJ}عر{ZWNJ}اق و{RLM}بغداد{LRM}"
    spans = analyze_spans(text)
    assert [s.term for s in spans] == ["عراق", light_stem("بغداد")]
    # The span ends on the last letter, not on a trailing bidi mark.
    assert text[spans[1].start:spans[1].end] == f"و{RLM}بغداد"


def test_underscores_split_hashtags():
    assert analyze("#براد_بيت") == ["براد", "بيت"]


def test_highlight_spans_keep_diacritics():
    text = "زيادة الميزانِ التجاريّ بين البلدين"
    spans = analyze_spans(text)
    slices = [text[s.start:s.end] for s in spans]
    assert slices == ["زيادة", "الميزانِ", "التجاريّ", "البلدين"]
    assert spans[1] == TokenSpan("ميزان", 6, 14)
    assert spans[2].term == "تجاري"
    assert spans[3].term == light_stem("بلدين")


# --- Whoosh contract -----------------------------------------------------------


def _tokens(analyzer, text, **kwargs):
    return [(t.text, t.pos, t.startchar, t.endchar, t.stopped)
            for t in analyzer(text, positions=True, chars=True, **kwargs)]


def test_tokenizer_honours_start_pos_and_start_char():
    got = _tokens(ArabicTokenizer(), "في العراق", start_pos=3, start_char=10)
    assert got == [("في", 3, 10, 12, False), ("العراق", 4, 13, 19, False)]


def test_positions_stay_consecutive_after_stops_and_ligatures():
    got = _tokens(arabic_analyzer(), "قال ﷺ في ـــ العراق")
    assert [t[0] for t in got] == ["قال", "صلي", "الله", "سلم", "عراق"]
    assert [t[1] for t in got] == [0, 1, 2, 3, 4]


def test_phrase_mode_keeps_stopwords_marked():
    got = _tokens(arabic_analyzer(), "في العراق", mode="query", removestops=False)
    assert [(t[0], t[4]) for t in got] == [("في", True), ("عراق", False)]


def test_tokenize_false_keeps_one_token():
    got = _tokens(arabic_analyzer(), "الإيرانيّ", tokenize=False, removestops=False,
                  start_pos=2, start_char=5)
    assert got == [("ايراني", 2, 5, 14, False)]


def test_analyzer_pickles():
    for stem in STEM_VARIANTS:
        analyzer = arabic_analyzer(stem=stem)
        clone = pickle.loads(pickle.dumps(analyzer))
        assert clone == analyzer
        text = "وبالعراق الإيرانيّة"
        assert [t.text for t in clone(text)] == [t.text for t in analyzer(text)]


def test_whoosh_index_and_query_roundtrip():
    schema = Schema(id=ID(stored=True), body=TEXT(analyzer=arabic_analyzer(), chars=True))
    ix = RamStorage().create_index(schema)
    with ix.writer() as w:
        w.add_document(id="a", body="زار الرئيسُ الإيرانيّ بغدادَ لبحث الميزانِ التجاريّ بين البلدين")
        w.add_document(id="b", body="ارتفع سعر النفط في الأسواق العالمية")
    parser = QueryParser("body", schema)
    with ix.searcher() as s:
        def hits(q):
            return [h["id"] for h in s.search(parser.parse(q))]
        assert hits("ايراني") == ["a"]
        assert hits("والإيراني") == ["a"]
        assert hits('"الميزان التجاري"') == ["a"]
        assert hits('"الميزان في التجاري"') == ["a"]
        assert hits("الأسواق") == ["b"]
        assert hits("الميز*") == ["a"]


# --- properties ----------------------------------------------------------------

ARABIC_LETTERS = "ءآأؤإئابةتثجحخدذرزسشصضطظعغفقكلمنهوىيٱ"
_ALPHABET = (
    list(ARABIC_LETTERS) * 3
    + list(DIACRITICS[11:25]) + ["\u0670", "\u0640"]
    + list("0123456789٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹")
    + [ZWJ, ZWNJ, RLM, LRM, "\u200b", "\u2060", "\ufeff", "\u061c", "\u202b", "\u2067"]
    + list("ﻻﷲﷺﷻ﷽﷼ﻷﭐﹰ﴾﴿ﺍﺑ")
    + list("aZeßİ") + ["\u0301", "½", "⑴"]
    + list(".,،؛؟!-_#()«»") + [" "] * 8 + ["\n", "\t"]
)
mixed_text = st.text(alphabet=st.sampled_from(_ALPHABET), max_size=60)
any_text = st.one_of(mixed_text, st.text(max_size=40))
variants = st.sampled_from(STEM_VARIANTS)


@FAST
@given(any_text)
def test_normalize_is_idempotent(text):
    once = normalize(text)
    assert normalize(once) == once


@FAST
@given(any_text, variants, st.booleans())
def test_analyze_returns_nonempty_terms(text, stem, stopwords):
    terms = analyze(text, stem=stem, stopwords=stopwords)
    assert all(isinstance(t, str) and t for t in terms)


@FAST
@given(any_text, variants, st.booleans())
def test_spans_point_at_text_that_analyzes_to_their_terms(text, stem, stopwords):
    """Terms sharing a span are exactly the stemmed, unstopped words of its slice."""
    spans = analyze_spans(text, stem=stem, stopwords=stopwords)
    assert [s.term for s in spans] == analyze(text, stem=stem, stopwords=stopwords)
    stemmer = get_stemmer(stem)
    previous_end = 0
    for (start, end), group in groupby(spans, key=lambda s: (s.start, s.end)):
        assert previous_end <= start < end <= len(text)
        words = token_words(text[start:end])
        expected = [stemmer(w) for w in words if not (stopwords and is_stopword(w))]
        assert [s.term for s in group] == expected
        if WORD_PATTERN.fullmatch(normalize(text[start:end])):
            assert words == (normalize(text[start:end]),)
        previous_end = end


@FAST
@given(any_text)
def test_token_words_are_normalized_words(text):
    for match in WORD_PATTERN.finditer(text):
        for word in token_words(match.group()):
            assert normalize(word) == word
            assert WORD_PATTERN.fullmatch(word)


words = st.one_of(st.text(alphabet=ARABIC_LETTERS, max_size=10), st.text(max_size=10))


@FAST
@given(words.map(normalize), st.booleans(), st.booleans(), st.integers(2, 4))
def test_light_stem_keeps_two_letters_and_is_a_substring(word, prefixes, suffixes, min_stem):
    stem = light_stem(word, prefixes=prefixes, suffixes=suffixes, min_stem=min_stem)
    assert len(stem) >= min(2, len(word))
    assert stem in word


@FAST
@given(words.map(normalize), variants)
def test_every_variant_keeps_two_letters(word, stem):
    assert len(get_stemmer(stem)(word)) >= min(2, len(word))


NORMALIZED_LETTERS = normalize(ARABIC_LETTERS)
CLITICS = ["و", "ف", "ب", "ك", "ل", "وو", "لو", "ال", "بال", "كال", "لل", "وال", "فال",
           "وبال", "ولل", "فلل"]


def _floor(clitic):
    """Letters the word must have for ``clitic`` to come off in front of it."""
    return 4 if clitic[-1] in "بكل" and not clitic.endswith("ال") else 3


def _has_own_article(word):
    return word.lstrip("وفبكل").startswith("ال")


@FAST
@given(
    st.text(alphabet=NORMALIZED_LETTERS, min_size=3, max_size=9),
    st.sampled_from(CLITICS),
    st.integers(2, 4),
)
def test_clitics_never_change_the_stem(word, clitic, min_stem):
    """stem(clitics + w) == stem(w) for long enough w without its own article."""
    if len(word) < max(min_stem, _floor(clitic)) or _has_own_article(word):
        return
    assert light_stem(clitic + word, min_stem=min_stem) == light_stem(word, min_stem=min_stem)
