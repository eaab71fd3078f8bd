from hypothesis import given, settings, strategies as st

from indexer.text.arabic import normalize
from search.highlight import snippet, term_spans
from search.query import parse_query

WORDS = ["الذهب", "النفط", "والغاز", "بغداد", "طهران", "الاقتصاد", "13"]
SEPARATORS = [" ", "  ", "\n", "\n\n", "\t", " \n "]


def test_merged_paragraphs_print_as_one_line_with_highlights_on_the_words():
    text = "ارتفع سعر الذهب.\n\nوتراجع  سعر النفط\tوالغاز في الأسواق."
    shown, spans = snippet(text, term_spans(text, parse_query("ذهب نفط").forms))
    assert shown == "ارتفع سعر الذهب. وتراجع سعر النفط والغاز في الأسواق."
    assert [shown[s:e] for s, e in spans] == ["الذهب", "النفط"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPARATORS)), min_size=1, max_size=120),
       st.sets(st.sampled_from(["ذهب", "نفط", "غاز", "بغداد"]), min_size=1))
def test_snippet_is_one_line_and_every_highlight_is_a_matching_word(pieces, terms):
    text = "".join(word + sep for word, sep in pieces)
    forms = parse_query(" OR ".join(terms)).forms
    shown, spans = snippet(text, term_spans(text, forms), max_chars=120)
    assert "\n" not in shown and "\t" not in shown and "  " not in shown.strip(" …")
    for s, e in spans:
        word = shown[s:e]
        assert word in WORDS and normalize(word) in forms and any(t in normalize(word) for t in terms)
