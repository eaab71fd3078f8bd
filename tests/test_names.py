"""Names survive analysis and queries mean what a news reader expects (issue 14).

A small keyword-only index of articles written for these tests: each class of name (clitic
forms, names that begin with ب ل ف ك و, names that end in ان ين ون ي, multi-word names, nisba
forms), beside unrelated words a light stemmer would make of them (بن, تين, سلم, حر, طهر).
"""
from __future__ import annotations

import pytest

from indexer.pipeline import Indexer
from indexer.text.articles import Article
from search.engine import Engine
from search.highlight import term_spans
from search.query import parse_query

ARTICLES = {
    "lebanon": ("زيارة رسمية", "زار الرئيس لبنان أمس وقال إن اللبنانيين يستحقون الأفضل."),
    "lebanon-2": ("", "وصل الوفد إلى بلبنان وللبنان تاريخ طويل، وقالت الحكومة اللبنانية إنها ترحب."),
    "bin-salman": ("", "وقع ولي العهد محمد بن سلمان اتفاقية جديدة في الرياض مع مسؤولين."),
    "putin": ("", "التقى بوتين نظيره في موسكو، وقال لبوتين الصحفيون إن القمة ناجحة."),
    "figs": ("", "أكل التين مفيد للصحة ويزرع التين في الجبال منذ قرون."),
    "baghdad": ("", "وصل الوفد إلى بغداد وقال مسؤول بغدادي إن المحادثات بدأت."),
    "iraq-1": ("", "قال الوزير إن والعراق يسعى إلى الاستقرار."),
    "iraq-2": ("", "رحب الوزير بالعراق شريكا تجاريا."),
    "iraq-3": ("", "قال إن للعراق دورا في المنطقة."),
    "iraq-4": ("", "وقال المتحدث إن فالعراق بلد كبير وكالعراق لا يوجد."),
    "iraqis": ("", "تظاهر العراقيون في الساحات مطالبين بالإصلاح."),
    "ramallah-1": ("", "اجتمع المسؤولون في رام الله لبحث الأوضاع."),
    "ramallah-2": ("", "عاد الوفد من رام الله مساء الأحد."),
    "allah": ("", "قال الشيخ إن الله رحيم، ومن رام العلا سهر الليالي."),
    "ban": ("", "قال الأمين العام بان كي مون إن المنظمة قلقة."),
    "libya": ("", "أعلنت الحكومة الليبية أن الانتخابات في ليبيا ستجري قريبا."),
    "palestine": ("", "طالب المندوب بدولة فلسطين المستقلة وقال الفلسطينيون إنهم صامدون."),
    "surface": ("", "هبطت المركبة على سطح القمر في وسط الفوهة."),
    "kirkuk": ("", "شهدت كركوك هدوءا حذرا بعد المواجهات."),
    "washington": ("", "قالت واشنطن إن العقوبات باقية، وفي بواشنطن مؤتمر."),
    "berlin": ("", "استضافت برلين قمة المناخ."),
    "morsi": ("", "صدر حكم بحق الرئيس الأسبق مرسي أمس."),
    "salman": ("", "التقى الملك سلمان بالوفد الزائر."),
    "peace": ("", "دعا المؤتمر إلى السلم الأهلي والحر من القول."),
    "tehran": ("", "أعلنت طهران استئناف المحادثات، وتحدث عن الطهر والنقاء."),
    "oil": ("", "ارتفعت أسعار النفط بينما تراجع الذهب في الأسواق."),
    "gold": ("", "تراجع الذهب اليوم وبقيت أسعار الفضة مستقرة."),
    "oil-2": ("", "قال التاجر إن النفط يتحرك مع الذهب عادة."),
    "oil-3": ("", "يسمى النفط الذهب الأسود منذ عقود طويلة في كتب الاقتصاد وتقارير الطاقة العالمية."),
    "hezbollah": ("", "أعلن حزب الله موقفه من الحكومة."),
    "party": ("", "قال رئيس الحزب إن الله يعلم النوايا."),
}


@pytest.fixture(scope="module")
def names_engine(tmp_path_factory):
    path = tmp_path_factory.mktemp("names") / "index"
    with Indexer(path, vectors=False) as ix:
        ix.add([Article(id=i, title=t, body=b) for i, (t, b) in ARTICLES.items()])
    with Engine(path) as engine:
        yield engine


def found(engine, query: str, **options) -> set[str]:
    results = engine.search(query, mode="keyword", k=100, **options)
    return {hit.article_id for hit in results.hits}


@pytest.mark.parametrize("query, expected", [
    ("العراق", {"iraq-1", "iraq-2", "iraq-3", "iraq-4", "iraqis"}),
    ("بالعراق", {"iraq-1", "iraq-2", "iraq-3", "iraq-4", "iraqis"}),
    ("للعراق", {"iraq-1", "iraq-2", "iraq-3", "iraq-4", "iraqis"}),
    ("والعراق", {"iraq-1", "iraq-2", "iraq-3", "iraq-4", "iraqis"}),
])
def test_clitic_forms_of_a_name_match_it(names_engine, query, expected):
    assert found(names_engine, query) == expected


@pytest.mark.parametrize("query, expected", [
    ("بغداد", {"baghdad"}), ("لبنان", {"lebanon", "lebanon-2"}), ("فلسطين", {"palestine"}),
    ("كركوك", {"kirkuk"}), ("واشنطن", {"washington"}),
])
def test_names_beginning_with_clitic_letters_keep_them(names_engine, query, expected):
    assert found(names_engine, query) == expected


@pytest.mark.parametrize("query, expected", [
    ("لبنان", {"lebanon", "lebanon-2"}), ("برلين", {"berlin"}), ("بوتين", {"putin"}), ("مرسي", {"morsi"}),
    ("سلمان", {"bin-salman", "salman"}), ("طهران", {"tehran"}),
])
def test_names_ending_in_suffix_letters_keep_them(names_engine, query, expected):
    assert found(names_engine, query) == expected


@pytest.mark.parametrize("query, unrelated", [
    ("لبنان", "bin-salman"), ("بوتين", "figs"), ("فلسطين", "surface"), ("سلمان", "peace"), ("طهران", "peace"),
])
def test_a_name_never_matches_the_word_a_stemmer_makes_of_it(names_engine, query, unrelated):
    assert unrelated not in found(names_engine, query)


def test_an_ordinary_word_does_not_match_a_name_holding_it(names_engine):
    assert found(names_engine, "التين") == {"figs"}
    assert found(names_engine, "بن") == {"bin-salman"}


@pytest.mark.parametrize("query, expected", [
    ("لبنان", {"lebanon", "lebanon-2"}),   # اللبنانيين, اللبنانية
    ("ليبيا", {"libya"}),                  # الليبية
    ("العراق", {"iraq-1", "iraq-2", "iraq-3", "iraq-4", "iraqis"}),   # العراقيون
    ("فلسطين", {"palestine"}),             # الفلسطينيون
])
def test_nisba_forms_match_the_name(names_engine, query, expected):
    assert found(names_engine, query) == expected


def test_a_multi_word_name_matches_as_a_name(names_engine):
    # رام and الله stand together in two of the three articles holding both: a name.
    assert found(names_engine, "رام الله") == {"ramallah-1", "ramallah-2"}
    assert found(names_engine, "بان كي مون") == {"ban"}


def test_words_that_are_not_a_name_need_only_be_in_the_article_and_rank_first_together(names_engine):
    # النفط and الذهب stand together in one of the three articles holding them: not a name.
    hits = names_engine.search("النفط الذهب", mode="keyword", k=10).hits
    assert {h.article_id for h in hits} == {"oil", "oil-2", "oil-3"} and hits[0].article_id == "oil-3"


def test_questions_and_long_queries_are_not_names(names_engine):
    assert not parse_query("ما هو الرادار؟").keyword.short
    assert not parse_query("كم كان متوسط حجم المنازل").keyword.short
    assert not parse_query("اذكر اسم شعبة تويوتا الفاخرة.").keyword.short
    assert parse_query("مجلس التعاون لدول الخليج العربية").keyword.short
    assert not parse_query("قال الوزير إن العراق يسعى إلى الاستقرار").keyword.short
    # An absent name of four words finds nothing, though three of its words are common.
    assert names_engine.search("تشات الوزير قال العراق", mode="keyword").total == 0


def test_a_short_query_needs_all_its_words(names_engine):
    assert found(names_engine, "الذهب الفضة") == {"gold"}
    assert found(names_engine, "الذهب لبنان") == set()


def test_or_and_exclusion(names_engine):
    assert found(names_engine, "بغداد OR برلين") == {"baghdad", "berlin"}
    assert found(names_engine, "الذهب -النفط") == {"gold"}
    assert found(names_engine, "الذهب -بالنفط") == {"gold"}


def test_phrases_match_word_after_word(names_engine):
    assert found(names_engine, "«حزب الله»") == {"hezbollah"}
    assert found(names_engine, '"الله حزب"') == set()
    assert found(names_engine, "«حزب الله» الحكومة") == {"hezbollah"}


def test_a_long_query_ranks_passages_holding_most_of_its_words_first(names_engine):
    # Five content words: a passage holding any of them (by light stem) matches; the one holding
    # four (والاستقرار meets الاستقرار) ranks first; none holding none.
    hits = names_engine.search("ماذا قال الوزير عن العراق والاستقرار اليوم", mode="keyword", k=100).hits
    assert hits[0].article_id == "iraq-1"
    assert {"iraq-2", "iraq-3", "gold"} <= {h.article_id for h in hits} and "figs" not in {h.article_id for h in hits}
    assert found(names_engine, "هل ارتفعت أسعار النفط في الأسواق العالمية") == {"oil", "gold", "oil-2", "oil-3"}


@pytest.mark.parametrize("query", ["لبنان", "النفط الذهب", "رام الله", "العراق", "بغداد OR برلين", "الذهب -النفط"])
def test_total_is_an_exact_count_for_every_page(names_engine, query):
    everything = names_engine.search(query, mode="keyword", level="passages", k=1000)
    assert everything.total == len(everything.hits)
    first = names_engine.search(query, mode="keyword", level="passages", k=1)
    assert first.total == everything.total
    index = names_engine.keyword_index
    parsed = parse_query(query).keyword
    for limit in (1, 2, 10**9):
        hits, matched = index.search(parsed, limit)
        assert matched == everything.total and len(hits) == min(limit, matched)


def test_highlights_mark_the_name_not_a_word_inside_another(names_engine):
    text = "زار محمد بن سلمان لبنان، واللبنانيون رحبوا."
    marked = [text[s:e] for s, e in term_spans(text, parse_query("لبنان").forms)]
    assert marked == ["لبنان", "واللبنانيون"]
    hit = names_engine.search("لبنان", mode="keyword", level="passages", k=10).hits
    assert all(h.snippet[s:e] in ("لبنان", "اللبنانيين", "بلبنان", "وللبنان", "اللبنانية") for h in hit for s, e in h.highlights)


# -- properties of the form expansion, the form analyzer and the parser ------------------------
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from indexer.text.analysis import arabic_analyzer  # noqa: E402
from indexer.text.forms import ARTICLE, article_form, word_forms  # noqa: E402
from search.query import content_words, normalized_words  # noqa: E402
from indexer.text.arabic import is_stopword  # noqa: E402

LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"
arabic_words = st.text(alphabet=LETTERS, min_size=2, max_size=9)
QUERY_ALPHABET = LETTERS + "أإآةى ـ\u064e\"«»-ORبن()*:؟،.\n\tab1٣"


@settings(max_examples=300, deadline=None)
@given(arabic_words)
def test_every_form_of_a_word_holds_the_word(word):
    core = article_form(word)
    bare = core[len(ARTICLE):] if core.startswith(ARTICLE) else core
    forms = word_forms(word)
    assert word in forms
    # Letters are only added around the word (a nisba ending may replace a final ا or يا).
    kept = bare[:-2] if bare.endswith("ا") else bare
    assert all(kept in form for form in forms)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=LETTERS, min_size=2, max_size=7), st.sampled_from(["و", "ف", "ب", "ك", "وب", "فك"]))
def test_clitics_before_the_article_reduce_to_the_article_form(rest, clitics):
    name = ARTICLE + rest
    assert word_forms(clitics + name) == word_forms(name)
    assert word_forms("لل" + rest) == word_forms(name) | {"لل" + rest}
    assert article_form("و" + "لل" + rest) == name


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=QUERY_ALPHABET, max_size=60))
def test_the_form_field_indexes_the_words_a_query_searches_with_stopword_gaps(text):
    tokens = [(t.text, t.pos) for t in arabic_analyzer("none", renumber=False)(text, positions=True)]
    everything = normalized_words(text)
    assert tokens == [(w, i) for i, w in enumerate(everything) if not is_stopword(w)]
    assert [w for w, _ in tokens] == content_words(text)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=QUERY_ALPHABET, max_size=60))
def test_any_text_parses_and_searches(names_engine, text):
    parsed = parse_query(text)
    words = set(normalized_words(text))
    keyword = parsed.keyword
    assert all(g and all(w in words and not is_stopword(w) for w in g) for g in keyword.groups)
    assert len(keyword.offsets) == len(keyword.groups) and list(keyword.offsets) == sorted(keyword.offsets)
    assert not set(parsed.dense_text) & set('"«»')
    hits, total = names_engine.keyword_index.search(keyword, 10**9)
    assert len(hits) == total and len({pid for pid, _ in hits}) == total
