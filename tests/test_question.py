"""Question analysis: interrogative patterns, answer types, keyword text, type matching."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search.answers.types import answer_type_match, quantity_cue, quantity_match
from search.answers.question import AnswerType, analyze_question

N, D, PL, PE = AnswerType.NUMBER, AnswerType.DATE, AnswerType.PLACE, AnswerType.PERSON
R, M, Y, O = AnswerType.REASON, AnswerType.MANNER, AnswerType.YESNO, AnswerType.OTHER


@pytest.mark.parametrize(
    ("question", "answer_type", "keyword_text"),
    [
        ("كم يبلغ حجم التبادل التجاري بين العراق وإيران؟", N, "يبلغ حجم التبادل التجاري بين العراق وإيران"),
        ("كم عدد الوزراء في الوفد؟", N, "الوزراء في الوفد"),
        ("قديش سعر البنزين", N, "سعر البنزين"),
        ("ما هو عدد آيات سورة الكهف ؟", N, "آيات سورة الكهف"),
        ("ما نسبة البطالة في تونس", N, "نسبة البطالة في تونس"),
        ("متى زار الكاظمي طهران أول مرة؟", D, "زار الكاظمي طهران أول مرة"),
        ("منذ متى يحكم الملك؟", D, "يحكم الملك"),
        ("إلى متى ستستمر الأزمة", D, "ستستمر الأزمة"),
        ("الى متى ستستمر الازمة", D, "ستستمر الازمة"),
        ("في أي عام ولد نجيب محفوظ؟", D, "ولد نجيب محفوظ"),
        ("في اي سنة تأسست الجامعة", D, "تأسست الجامعة"),
        ("امتى الامتحان؟", D, "الامتحان"),
        ("ما تاريخ تأسيس الشركة؟", D, "تاريخ تأسيس الشركة"),
        ("نجيب محفوظ، متى ولد؟", D, "نجيب محفوظ، ولد"),
        ("أين يقع مسجد السلطان عبد المجيد؟", PL, "يقع مسجد السلطان عبد المجيد"),
        ("اين عقد الاجتماع", PL, "عقد الاجتماع"),
        ("وين صار الاجتماع؟", PL, "صار الاجتماع"),
        ("فين المطار", PL, "المطار"),
        ("في أي مدينة ولد الرئيس؟", PL, "ولد الرئيس"),
        ("ولد نجيب محفوظ في أي مدينة؟", PL, "ولد نجيب محفوظ"),
        # an administrative unit or a landform is a place too; the noun is the topic, so it stays
        ("في أي مقاطعة تقع جاكسونفيل؟", PL, "مقاطعة تقع جاكسونفيل"),
        ("في أية مستعمرة استقر المهاجرون؟", PL, "مستعمرة استقر المهاجرون"),
        ("من أين جاء المهاجرون", PL, "جاء المهاجرون"),
        ("ما هي عاصمة جورجيا؟", PL, "عاصمة جورجيا"),
        ("ما عاصمة جورجيا", PL, "عاصمة جورجيا"),
        ("ما اسم مدينة الملاهي؟", PL, "مدينة الملاهي"),
        ("من هو رئيس الوزراء العراقي", PE, "رئيس الوزراء العراقي"),
        ("من هي أول امرأة تولت الوزارة؟", PE, "أول امرأة تولت الوزارة"),
        ("من اكتشف الكوارتز؟", PE, "اكتشف الكوارتز"),
        ("ومن هو مكتشف المرو ؟", PE, "مكتشف المرو"),
        ("ما اسم زوجة الرئيس؟", PE, "زوجة الرئيس"),
        ("شو اسم رئيس ايران", PE, "رئيس ايران"),
        ("أي فريق فاز بالدوري؟", PE, "فريق فاز بالدوري"),
        ("أي محكمة قضت بدستورية القانون؟", PE, "محكمة قضت بدستورية القانون"),
        ("أية طائفة أصدرت المرسوم؟", PE, "طائفة أصدرت المرسوم"),
        ("ما هي مجموعة بلدربيرغ؟", O, "مجموعة بلدربيرغ"),     # after «ما هي», the subject to define
        ("لماذا استقال الوزير؟", R, "استقال الوزير"),
        ("ليش استقال الوزير", R, "استقال الوزير"),
        ("ماهو سبب الزيارة؟", R, "سبب الزيارة"),
        ("لمَ غادر الوزير؟", R, "غادر الوزير"),
        ("كيف يتصل الجنين بالرحم ؟", M, "يتصل الجنين بالرحم"),
        ("هل زار الكاظمي طهران؟", Y, "زار الكاظمي طهران"),
        ("وهل وافق البرلمان", Y, "وافق البرلمان"),
        ("ماهو الجرافيك", O, "الجرافيك"),
        ("ما هي أهداف الزيارة؟", O, "أهداف الزيارة"),
        ("ما هى أهداف الزيارة", O, "أهداف الزيارة"),
        ("ماهي أهداف الزيارة", O, "أهداف الزيارة"),
        ("وما هو موقف الحكومة؟", O, "موقف الحكومة"),
        ("ماذا قال الوزير؟", O, "قال الوزير"),
        ("شو صار بالاجتماع", O, "صار بالاجتماع"),
        ("إيش صار", O, "صار"),
        ("وَمَا هُوَ مَوْقِفُ الحُكُومَةِ؟", O, "مَوْقِفُ الحُكُومَةِ"),
    ],
)
def test_question_forms(question: str, answer_type: AnswerType, keyword_text: str) -> None:
    analysis = analyze_question(question)
    assert analysis.question == question
    assert analysis.answer_type is answer_type
    assert analysis.keyword_text == keyword_text


@pytest.mark.parametrize(
    "statement",
    [
        "زار الكاظمي طهران بدعوة من الرئيس الإيراني",
        "من المتوقع أن يزور الكاظمي طهران",
        "من جهة أخرى أعلن الوزير استقالته",
        "لم يحضر الوزير الجلسة",
    ],
)
def test_statements_are_not_person_questions(statement: str) -> None:
    analysis = analyze_question(statement)
    assert analysis.answer_type is AnswerType.OTHER
    assert analysis.interrogative == ""
    assert analysis.keyword_text == statement


@pytest.mark.parametrize(
    ("question", "interrogative"),
    [
        ("وما هو سبب الزيارة؟", "ما هو"),
        ("كم عدد الوزراء؟", "كم عدد"),
        ("في أي مدينة ولد؟", "في أي مدينة"),
        ("فأين ذهب المال", "أين"),
        ("ما اسم زوجة الرئيس", "ما اسم"),
    ],
)
def test_interrogative_is_reported_as_written(question: str, interrogative: str) -> None:
    assert analyze_question(question).interrogative == interrogative


@pytest.mark.parametrize(
    ("sentence", "answer_type", "low", "high"),
    [
        ("بلغ الميزان التجاري 13 مليار دولار سنويا", N, 1.0, 1.0),
        ("بلغ عدد الضحايا ٢٥ شخصا", N, 1.0, 1.0),
        ("يضم الوفد ثلاثة وزراء", N, 0.7, 0.9),
        ("وصل الوفد إلى العاصمة", N, 0.0, 0.0),
        # a year, a day of a month, a numeric date or a reference mark counts nothing
        ("تركز الجفاف في سنة 2005 بالجزء الجنوبي", N, 0.0, 0.0),
        ("وفقدت الجزائر سكانها في 1620–1621", N, 0.0, 0.0),
        ("ولد في مارس 1892م بالمدية", N, 0.0, 0.0),
        ("انتهت الحرب في 30 مايو", N, 0.0, 0.0),
        ("[7] ووفقا لمركز بيو ارتفعت النسبة", N, 0.0, 0.0),
        ("كان لجفاف سنة 2010 ثلاثة مراكز", N, 0.8, 0.8),      # the number word still counts
        ("قدر عدد الضحايا بنحو 1500 ألف", N, 1.0, 1.0),       # a multiplier after it: not a year
        ("عدد آياتها 110 آية نزلت عام 622", N, 1.0, 1.0),
        ("زار الكاظمي طهران في تموز يوليو عام 2020", D, 1.0, 1.0),
        ("وقعت الحادثة في الرابع من أغسطس", D, 0.7, 0.7),   # a month with no year: a partial date
        ("وقعت الحادثة في الرابع من أغسطس 2019", D, 1.0, 1.0),
        ("وصل الوفد يوم الأحد", D, 0.6, 0.8),
        ("تأسست الشركة سنة 1998", D, 1.0, 1.0),
        ("تم الاتفاق في 12/05/2019", D, 1.0, 1.0),
        ("قال الوزير إن الاتفاق مهم", D, 0.0, 0.0),
        # a century or an era's year by its ordinal, a decade, a span of time: less precise than a year
        ("ظل الطاعون حتى الربع الثاني من القرن التاسع عشر", D, 0.8, 0.8),
        ("وفرض في السنة الثانية من الهجرة", D, 0.8, 0.8),
        ("تجدد الاهتمام به منذ التسعينيات", D, 0.8, 0.8),
        ("بعد أربعينات القرن الماضي تغير النمط", D, 0.8, 0.8),
        ("دخلت الخلية منذ حوالي مليار سنة", D, 0.8, 0.8),
        ("حل الفريق في المركز الأول", D, 0.0, 0.0),     # an ordinal with no year or century before it
        ("تغير النمط في السنة الماضية", D, 0.0, 0.0),
        ("ولد في مدينة جبيل اللبنانية", PL, 1.0, 1.0),
        ("عقد الاجتماع بمدينة جدة", PL, 1.0, 1.0),
        ("وصل الكاظمي إلى طهران", PL, 0.9, 0.9),
        ("وقع الانفجار جنوب البلاد", PL, 0.7, 0.7),
        ("تقع القرية على التل", PL, 0.8, 0.8),
        ("the summit was held in Geneva", PL, 0.5, 0.5),
        ("قال الوزير إن الاتفاق مهم", PL, 0.0, 0.0),
        ("التقى الرئيس ابراهيم رئيسي بالوفد", PE, 1.0, 1.0),
        ("اكتشفه بيير كوري وأخوه", PE, 0.3, 0.3),
        ("أعلنت شركة أرامكو أرباحها", PE, 0.6, 0.6),
        ("فاز فريق Manchester United باللقب", PE, 0.7, 1.0),
        ("ارتفعت الأسعار بسبب الحرب", R, 1.0, 1.0),
        ("ارتفعت الأسعار كثيرا", R, 0.0, 0.0),
        ("يتصل الجنين بالرحم عن طريق الحبل السري", M, 1.0, 1.0),
        ("أي جملة", Y, 0.5, 0.5),
        ("أي جملة", O, 0.5, 0.5),
    ],
)
def test_answer_type_match(sentence: str, answer_type: AnswerType, low: float, high: float) -> None:
    assert low <= answer_type_match(sentence, answer_type) <= high


def test_ambiguous_month_names_need_a_number_nearby() -> None:
    assert answer_type_match("مارس الضغط على الحكومة", D) == 0.0
    assert answer_type_match("في 15 مارس الماضي", D) == 0.7    # a day and month, no year
    assert answer_type_match("في 15 مارس 2019", D) == 1.0


QUESTION_PIECES = ["من", "ما", "هو", "كم", "متى", "أين", "أي", "في", "عام", "و", "ف", "لم", "؟", "?", "،", " ", " ", "\n", "ـ", "َ", "«", "»", "الوزير", "زار", "اسم", "مدينة"]
questions = st.lists(st.sampled_from(QUESTION_PIECES), max_size=40).map("".join) | st.text(max_size=120)


@settings(derandomize=True, max_examples=200, deadline=None)
@given(questions)
def test_analyze_question_never_crashes(question: str) -> None:
    analysis = analyze_question(question)
    assert "؟" not in analysis.keyword_text and "?" not in analysis.keyword_text
    assert analysis.keyword_text == analysis.keyword_text.strip()
    assert analysis.interrogative in question
    assert isinstance(analysis.answer_type, AnswerType)
    for answer_type in AnswerType:
        assert 0.0 <= answer_type_match(question, answer_type) <= 1.0


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        # the unit of what the question measures
        ("كم تبلغ مساحة أردبيل؟", "وتصل مساحتها إلى 18.011 كم².", 1.0),
        ("ماهى مساحة إربد الأردنية ؟", "وتقدر مساحة المدينة بحوالي 30 كيلو متر مربع.", 1.0),
        ("كم تبلغ مساحة أردبيل؟", "تقع أردبيل على بعد حوالي 70 كم من بحر قزوين.", 0.0),   # a length, not an area
        ("كم استمر حكم السلطان؟", "وقد دام مدة ثلاثين سنة.", 1.0),
        ("ما نسبة المسلمين في ألمانيا؟", "فإن 1.9% من سكان ألمانيا مسلمون.", 1.0),
        ("ماهو تعداد سكان العراق ؟", "ويبلغ عددهم ما يقارب 37,5 مليون نسمة.", 1.0),
        # the counted noun, the first word after the interrogative
        ("ما هو عدد آيات سورة الكهف ؟", "عدد آياتها 110 آية، وهي من السور المكية.", 1.0),
        ("ما هو عدد آيات سورة الكهف ؟", "سورة الكهف رقمها 18 في ترتيب السور.", 0.0),
        ("كم عدد فصوص الدماغ ؟", "ويمكن تقسيمها لستة فصوص.", 1.0),
        # a year is not the amount, whatever follows it; a question of another type has no cue
        ("كم عدد سكان المدينة؟", "تأسست المدينة عام 1900 نسمة الجبل.", 0.0),
        ("متى تأسست المدينة؟", "تأسست المدينة عام 1900.", 0.0),
    ],
)
def test_quantity_match(question: str, sentence: str, expected: float) -> None:
    assert quantity_match(sentence, quantity_cue(analyze_question(question))) == expected
