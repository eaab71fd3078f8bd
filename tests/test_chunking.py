"""Sentence and passage splitting: exact offsets, subheadings, size limits."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.text.passages import ChunkingParams, PassageSpan, split_passages
from indexer.text.sentences import Sentence, count_words, split_sentences

SEED = Path(__file__).resolve().parent.parent / "seeds" / "elaph-kadhimi-tehran.txt"
SEED_HEADINGS = {
    "تعزيز العلاقات وأمن المنطقة واستقرارها",
    "توازن أقليمي",
    "دور عراقي في جمع المختلفين",
    "الفصائل المسلحة",
}


@pytest.fixture(scope="module")
def seed() -> str:
    return SEED.read_text(encoding="utf-8")


def texts(text: str, spans: list[Sentence] | list[PassageSpan]) -> list[str]:
    return [text[s.start:s.end] for s in spans]


def assert_exact_spans(text: str, spans: list[Sentence] | list[PassageSpan]) -> None:
    """Spans are non-empty, trimmed, in order and disjoint."""
    previous_end = -1
    for s in spans:
        piece = text[s.start:s.end]
        assert piece and piece == piece.strip()
        assert s.start >= previous_end
        previous_end = s.end


def uncovered(text: str, spans: list[Sentence] | list[PassageSpan], lo: int = 0, hi: int | None = None) -> set[int]:
    """Indices of non-space characters in text[lo:hi] outside every span."""
    hi = len(text) if hi is None else hi
    covered = {i for s in spans for i in range(s.start, s.end)}
    return {i for i in range(lo, hi) if not text[i].isspace() and i not in covered}


def line_of(text: str, i: int) -> str:
    start = max(text.rfind(c, 0, i) for c in "\n\r\u2028\u2029") + 1
    ends = [e for e in (text.find(c, i) for c in "\n\r\u2028\u2029") if e >= 0]
    return text[start:min(ends, default=len(text))].strip()


def assert_passage_invariants(body: str, passages: list[PassageSpan], params: ChunkingParams) -> None:
    assert_exact_spans(body, passages)
    headings = {p.heading for p in passages}
    for i in uncovered(body, passages):
        assert line_of(body, i) in headings, "only subheadings may be left out"
    for p in passages:
        assert count_words(body[p.start:p.end]) <= max(params.max_words, params.min_words)
        if p.heading:
            assert p.heading == p.heading.strip() and p.heading in body[:p.start]


# ------------------------------------------------------------ seed article


def test_seed_headings_detected_and_attached(seed: str) -> None:
    passages = split_passages(seed)
    assert {p.heading for p in passages} - {""} == SEED_HEADINGS
    balance = [p for p in passages if p.heading == "توازن أقليمي"]
    assert seed[balance[0].start:balance[0].end].startswith("واشار مصدر مقرب")
    assert passages[0].heading == ""


def test_seed_no_passage_is_a_heading(seed: str) -> None:
    passage_texts = texts(seed, split_passages(seed))
    assert not SEED_HEADINGS & set(passage_texts)
    assert not any(t.startswith(tuple(SEED_HEADINGS)) for t in passage_texts)


def test_seed_passage_sizes_offsets_and_coverage(seed: str) -> None:
    params = ChunkingParams()
    passages = split_passages(seed, params)
    assert len(passages) >= 5
    for t in texts(seed, passages):
        assert params.min_words <= count_words(t) <= params.max_words
    assert_passage_invariants(seed, passages, params)
    assert {line_of(seed, i) for i in uncovered(seed, passages)} == SEED_HEADINGS


def test_seed_last_paragraph_in_one_passage(seed: str) -> None:
    last = seed.strip().split("\n")[-1]
    assert "13 مليار دولار" in last
    start = seed.index(last)
    end = start + len(last)
    assert any(p.start <= start and end <= p.end for p in split_passages(seed))


def test_seed_sentences_cover_the_text(seed: str) -> None:
    sentences = split_sentences(seed)
    assert_exact_spans(seed, sentences)
    assert not uncovered(seed, sentences)
    assert "توازن أقليمي" in texts(seed, sentences)  # a line break ends a sentence


# ------------------------------------------------------------ sentences


def test_splits_at_arabic_and_latin_punctuation_and_line_breaks() -> None:
    text = "هل زار الوزير بغداد؟ نعم؛ زارها أمس. ثم عاد! وانتهى الأمر\nسطر جديد; and more? yes"
    assert texts(text, split_sentences(text)) == [
        "هل زار الوزير بغداد؟",
        "نعم؛ زارها أمس.",
        "ثم عاد!",
        "وانتهى الأمر",
        "سطر جديد; and more?",
        "yes",
    ]


def test_a_semicolon_joins_clauses_and_cuts_only_a_long_sentence() -> None:
    lead = "أنغريت كرامب كارينباور ؛ (مواليد 9 آب 1962) سياسية ألمانية."
    assert texts(lead, split_sentences(lead)) == [lead]
    long = "؛ ".join(["كلمة " * 40] * 2).strip() + "."
    assert len(split_sentences(long)) == 2


@pytest.mark.parametrize(
    "text",
    [
        "ارتفع النمو إلى 3.5 في المئة هذا العام",
        "بلغ عدد الزوار 13.000 زائر",
        "قال د. محمد علي إن الوضع مستقر",
        "نقلت وكالة (د.ب.أ) الخبر",
        "وفق ما نشره موقع العربية.نت اليوم",
        "visit aawsat.com today",
        "كتب جون سي. ميسنجر عن الجزيرة",
        "درس جيمس أو. ماكينزي في شيكاغو",
        "قال رايموند إس. برادلي إن المناخ تغير",
    ],
)
def test_dots_that_do_not_end_a_sentence(text: str) -> None:
    assert texts(text, split_sentences(text)) == [text]


def test_a_word_or_acronym_ending_like_a_letter_name_still_ends_its_sentence() -> None:
    # «المدرسي» ends in «سي»: only a whole word is a letter name; an acronym of letter names
    # («بي بي سي», «سي إن إن») often ends a news sentence.
    # A letter name followed by a stopword («ما», «وقد») ends its sentence too.
    text = "عاد إلى عمله المدرسي. ثم قالت بي بي سي. وذكرت شبكة سي إن إن. وعرف باسم إكس. ما يعني ذلك"
    assert texts(text, split_sentences(text)) == [
        "عاد إلى عمله المدرسي.", "ثم قالت بي بي سي.", "وذكرت شبكة سي إن إن.", "وعرف باسم إكس.", "ما يعني ذلك"]


def test_missing_space_after_full_stop_between_arabic_words() -> None:
    text = "بحثا عن مكان افضل.ويتقمص الممثل الدور"
    assert texts(text, split_sentences(text)) == ["بحثا عن مكان افضل.", "ويتقمص الممثل الدور"]


def test_closing_quotes_and_brackets_stay_with_their_sentence() -> None:
    text = 'قال الوزير «انتهى الأمر.» ثم غادر (بعد الظهر.) وعاد "مساء؟" أخيرا'
    assert texts(text, split_sentences(text)) == [
        "قال الوزير «انتهى الأمر.»",
        "ثم غادر (بعد الظهر.)",
        'وعاد "مساء؟"',
        "أخيرا",
    ]


def test_runs_of_terminators_are_one_boundary() -> None:
    text = "هل هذا معقول؟! لا أظن... ربما"
    assert texts(text, split_sentences(text)) == ["هل هذا معقول؟!", "لا أظن...", "ربما"]


def test_long_sentence_is_cut_at_arabic_commas() -> None:
    clause = "وأكد المسؤول أن الحكومة ستواصل العمل على تحسين الخدمات العامة في المحافظات"
    text = "، ".join([clause] * 8) + "."
    sentences = texts(text, split_sentences(text))
    assert len(sentences) > 1
    assert all(count_words(s) <= 60 for s in sentences)
    assert sentences[0].endswith("،")


def test_short_sentence_keeps_its_commas() -> None:
    text = "وصل الوزير، واجتمع بالمسؤولين، ثم غادر."
    assert texts(text, split_sentences(text)) == [text]


def test_offsets_refer_to_the_whole_text_when_a_range_is_given() -> None:
    text = "مقدمة. الجملة الأولى. الجملة الثانية؟ خاتمة."
    start, end = text.index("الجملة الأولى"), text.index(" خاتمة")
    sentences = split_sentences(text, start, end)
    assert texts(text, sentences) == ["الجملة الأولى.", "الجملة الثانية؟"]


def test_empty_and_blank_text() -> None:
    assert split_sentences("") == []
    assert split_sentences(" \n\t ") == []


def test_count_words_ignores_punctuation_tokens() -> None:
    assert count_words("سكة حديد شلمجة - البصرة") == 4
    assert count_words("مُصْطَفَى الكاظمي، 2020") == 3
    assert count_words("") == 0


# ------------------------------------------------------------ passages

WORDS = "الحكومة أعلنت اليوم عن خطة جديدة لدعم الاقتصاد الوطني وتحسين الخدمات".split()


def sentence_of(n: int, end: str = ".") -> str:
    return " ".join(WORDS[i % len(WORDS)] for i in range(n)) + end


def test_empty_body_gives_no_passages() -> None:
    assert split_passages("") == []
    assert split_passages("  \n\n \t") == []


def test_short_body_is_one_passage_even_with_a_heading_like_line() -> None:
    body = "  عنوان قصير\nخبر قصير جدا.  \n"
    assert texts(body, split_passages(body)) == ["عنوان قصير\nخبر قصير جدا."]
    assert split_passages(body)[0].heading == ""


def test_short_paragraphs_are_merged() -> None:
    body = "\n".join(sentence_of(15) for _ in range(6))
    passages = split_passages(body)
    assert all(count_words(t) >= 40 for t in texts(body, passages))
    assert_passage_invariants(body, passages, ChunkingParams())


def test_long_paragraph_is_split_at_sentences_near_target() -> None:
    body = " ".join(sentence_of(20) for _ in range(25))  # one 500-word paragraph
    params = ChunkingParams()
    passages = split_passages(body, params)
    sentence_ends = {s.end for s in split_sentences(body)}
    assert len(passages) >= 3
    for p in passages:
        assert p.end in sentence_ends
        assert 80 <= count_words(body[p.start:p.end]) <= params.max_words
    assert_passage_invariants(body, passages, params)


def test_sentence_longer_than_max_is_cut_at_commas_then_words() -> None:
    with_commas = "، ".join(sentence_of(30, "") for _ in range(10)) + "."
    without_commas = sentence_of(450)
    for body in (with_commas, without_commas):
        params = ChunkingParams()
        passages = split_passages(body, params)
        assert len(passages) >= 2
        assert_passage_invariants(body, passages, params)


def test_passages_never_cross_a_subheading() -> None:
    body = "\n".join([sentence_of(20), "عنوان فرعي", sentence_of(20), sentence_of(20)])
    passages = split_passages(body)
    assert [p.heading for p in passages] == ["", "عنوان فرعي"]
    assert count_words(body[passages[0].start:passages[0].end]) == 20  # documented: short section


def test_runs_of_short_lines_are_not_headings() -> None:
    poem = "\n".join(["بيت أول من الشعر", "بيت ثان من الشعر", "بيت ثالث من الشعر"])
    body = sentence_of(50) + "\n" + poem + "\n" + sentence_of(50)
    passages = split_passages(body)
    assert {p.heading for p in passages} == {""}
    assert_passage_invariants(body, passages, ChunkingParams())


def test_short_line_ending_in_punctuation_is_not_a_heading() -> None:
    body = sentence_of(50) + "\nوقال الوزير:\n" + sentence_of(50)
    assert {p.heading for p in split_passages(body)} == {""}


def test_last_line_is_never_a_heading() -> None:
    body = sentence_of(50) + "\n" + sentence_of(50) + "\nالمصدر رويترز"
    passages = split_passages(body)
    assert {p.heading for p in passages} == {""}
    assert body[passages[-1].start:passages[-1].end].endswith("المصدر رويترز")


# ------------------------------------------------------------ properties

ARABIC_WORDS = ["الحكومة", "قال", "في", "من", "بغداد", "د", "13", "3", "5", "مُصطفى", "ـ", "العربية", "نت", "ab", "X"]
PIECES = ARABIC_WORDS + [".", "؟", "?", "!", "؛", ";", "،", ",", "…", "«", "»", '"', ")", "(", "-", " ", " ", " ", "\n", "\n\n", "\t", "\r\n"]
arbitrary_text = st.lists(st.sampled_from(PIECES), max_size=120).map("".join) | st.text(max_size=200)
SMALL = ChunkingParams(min_words=5, max_words=12, target_words=8, heading_max_words=2)


@settings(derandomize=True, max_examples=200, deadline=None)
@given(arbitrary_text)
def test_sentences_are_exact_ordered_and_cover_the_text(text: str) -> None:
    sentences = split_sentences(text)
    assert_exact_spans(text, sentences)
    assert not uncovered(text, sentences)


@settings(derandomize=True, max_examples=200, deadline=None)
@given(arbitrary_text, st.integers(0, 200), st.integers(0, 200))
def test_sentences_of_a_range_stay_in_the_range(text: str, a: int, b: int) -> None:
    start, end = sorted((min(a, len(text)), min(b, len(text))))
    sentences = split_sentences(text, start, end)
    assert all(start <= s.start < s.end <= end for s in sentences)
    assert_exact_spans(text, sentences)
    assert not uncovered(text, sentences, start, end)


@settings(derandomize=True, max_examples=200, deadline=None)
@given(arbitrary_text, st.sampled_from([ChunkingParams(), SMALL]))
def test_passages_are_exact_ordered_bounded_and_cover_all_but_headings(text: str, params: ChunkingParams) -> None:
    assert_passage_invariants(text, split_passages(text, params), params)
