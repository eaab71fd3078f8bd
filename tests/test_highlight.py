import re
from dataclasses import asdict, fields

from hypothesis import given, settings, strategies as st

from indexer.text.analysis import analyze_spans
from indexer.text.arabic import normalize
from search.highlight import _one_line, snippet, term_spans
from search.query import parse_query
from search.results import Answer, ArticleHit, PassageHit

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


# The fast paths of highlighting against the definitions they replace.
TOKEN_PIECES = ["الذهب", "الذَّهَبُ", "بالذهب", "في", "وفي", "من", "النفـــط", "ـــ", "ﷺ", "ﻻ", "لبنان", "بن",
                "أحمد", "احمد", "Oil", "OIL", "13", "١٣", "ه" * 101, "x_y", "\u200c", "e\u0301"]
TEXT_SEPARATORS = [" ", "  ", "\n", "\n\n", "\t", " \n ", "\r\n", "\u00a0", "\u2003", ".", "،", "-", ""]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(TOKEN_PIECES), st.sampled_from(TEXT_SEPARATORS)), max_size=60),
       st.sets(st.sampled_from(TOKEN_PIECES + ["ذهب", "نفط", "لبنان OR احمد", "صلى", "oil"]), min_size=1, max_size=4))
def test_term_spans_are_the_exact_form_analysis_tokens_of_the_query_forms(pieces, words):
    text = "".join(word + sep for word, sep in pieces)
    forms = parse_query(" ".join(words)).forms | {normalize(w) for w in words}
    expected = [(t.start, t.end) for t in analyze_spans(text, "none") if t.term in forms]
    assert term_spans(text, forms) == expected
    assert term_spans(text, list(forms)) == expected


def one_line_by_every_run(text, spans):
    """``_one_line`` as first written: every whitespace run looked at."""
    runs = [m.span() for m in re.finditer(r"\s+", text) if m.end() - m.start() > 1 or m.group() != " "]
    if not runs:
        return text, spans
    moved = lambda o: o - sum(e - s - 1 for s, e in runs if e <= o)  # noqa: E731
    return re.sub(r"\s+", " ", text), [(moved(s), moved(e)) for s, e in spans]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(TEXT_SEPARATORS + ["\u2028", " \t", "\v"])),
                max_size=60))
def test_one_line_moves_the_runs_every_whitespace_run_would(pieces):
    text = "".join(word + sep for word, sep in pieces)
    spans = [(m.start(), m.end()) for m in re.finditer(r"\w+", text)]
    assert _one_line(text, spans) == one_line_by_every_run(text, spans)


def test_hits_to_dict_is_asdict_with_highlights_as_lists():
    passage = PassageHit(rank=1, score=0.5, article_id="a", passage_id=3, title="ت", date="2020-01-01", source="s",
                         section="", snippet="الذهب", highlights=((0, 5),), label="", more_like_it=("b", "c"))
    article = ArticleHit(rank=2, score=0.25, article_id="a", passage_id=3, title="ت", date="", source="s",
                         section="x", snippet="الذهب", highlights=((0, 5), (6, 7)), matched_passages=2)
    answer = Answer(rank=1, score=0.5, sentence="س", span=(0, 1), context_before="", context_after="ب",
                    article_id="a", passage_id=3, title="ت", date="", source="s")
    assert passage.to_dict() == {**{k: v for k, v in asdict(passage).items() if k != "label"}, "highlights": [[0, 5]]}
    assert article.to_dict() == {**asdict(article), "highlights": [[0, 5], [6, 7]]}
    assert answer.to_dict() == {**asdict(answer), "span": [0, 1]}
    assert list(article.to_dict()) == [f.name for f in fields(ArticleHit)]
