"""Does a sentence hold something of the type a question asks for (number, date, place, person)?

Cheap lexical evidence, graded by how specific the cue is, used as one feature of the answer
ranking (``search.answers.finder``) and to find the stretch to highlight (``typed_spans``). The
question side, which decides the type, is ``search.answers.question``.
"""
from __future__ import annotations

import re
from functools import lru_cache

from indexer.text.arabic import normalize
from indexer.text.analysis import analyze
from search.answers.question import AnswerType, QuestionAnalysis
from search.answers.question_words import AMOUNT_FRAMING, NUMBER_NOUNS, QUANTITY_UNITS, WORD_CORE_RE, norm_set

__all__ = ["answer_type_match", "typed_spans", "quantity_cue", "quantity_match", "NO_QUANTITY", "MONTH_WITHOUT_YEAR"]


_DIGIT_RE = re.compile(r"[0-9\u0660-\u0669\u06F0-\u06F9]")
_NUMBER_RUN_RE = re.compile(r"[0-9\u0660-\u0669\u06F0-\u06F9]+")
_NUMERIC_DATE_RE = re.compile(r"\b\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}\b")
# Words of a «كم» question that frame the amount or name what is measured, not what is counted.
_FRAMING_OR_MEASURE = AMOUNT_FRAMING | NUMBER_NOUNS
# Wikipedia's reference marks, «[7]»: numbers that count nothing.
_CITATION_RE = re.compile(r"\[\s*\d+\s*\]")
# A year as a word of its own: a clitic before it, a range after it, the era's «م»/«ه» glued on.
_YEAR_WORD_RE = re.compile(r"(?:و|ف)?(?:ب|ل|ك)?(\d{4})(?:[-–]\d{2,4})?(?:م|ه)?")
_LATIN_CAP_RE = re.compile(r"\b[A-Z][a-z]+\b")
_LATIN_CAP_PAIR_RE = re.compile(r"\b[A-Z][a-z]+\s+[A-Z][a-z]+\b")

# Clitics that may be glued to a word: conjunction, preposition, article.
_PREFIXES = sorted(
    {c + p + a for c in ("", "و", "ف") for p in ("", "ب", "ل", "ك") for a in ("", "ال")} | {"لل", "ولل", "فلل"},
    key=len,
    reverse=True,
)

_NUMBER_WORDS = norm_set(
    "واحد واحدة اثنان اثنين اثنتان اثنتين ثلاث ثلاثة أربع أربعة خمس خمسة ست ستة "
    "سبع سبعة ثمان ثماني ثمانية تسع تسعة عشر عشرة عشرون عشرين ثلاثون ثلاثين "
    "أربعون أربعين خمسون خمسين ستون ستين سبعون سبعين ثمانون ثمانين تسعون تسعين "
    "مئة مائة مئتان مئتين مائتان مائتين مئات ألف ألفان ألفين آلاف مليون مليونان "
    "مليونين ملايين مليار ملياران مليارين مليارات نصف ربع ثلث عشرات بضع بضعة".split()
)
# After a number, words that scale it: «1500 ألف» is a quantity, not a year.
_MULTIPLIERS = norm_set("ألف آلاف مليون ملايين مليار مليارات بليون".split())
_MONTHS = norm_set(
    "كانون شباط آذار نيسان أيار حزيران تموز أيلول تشرين "
    "يناير فبراير أبريل إبريل ابريل مايو يونيو يونيه يوليو يوليه أغسطس اغسطس "
    "سبتمبر أكتوبر اكتوبر نوفمبر ديسمبر جانفي فيفري أفريل جوان جويلية أوت".split()
)
# Month names that are also ordinary words («مارس» practised, «آب» father);
# they count only next to a number or another month name.
_AMBIGUOUS_MONTHS = norm_set("مارس آب ماي".split())
_HIJRI_MONTHS = norm_set("محرم ربيع جمادى رجب شعبان رمضان شوال القعدة الحجة".split())
_WEEKDAYS = norm_set("الأحد الاثنين الإثنين الثلاثاء الأربعاء الخميس الجمعة السبت".split())
_YEAR_CUES = norm_set("عام العام سنة السنة القرن قرن عامي".split())
# A century or a year of an era is often named by an ordinal, not a number: «القرن التاسع عشر»,
# «في السنة الثانية من الهجرة».
_ORDINALS = norm_set(
    "الأول الأولى الثاني الثانية الثالث الثالثة الرابع الرابعة الخامس الخامسة السادس السادسة "
    "السابع السابعة الثامن الثامنة التاسع التاسعة العاشر العاشرة الحادي الحادية".split()
)
# The second word of an ordinal from eleven to nineteen: «القرن التاسع عشر».
_TEENS = norm_set("عشر عشرة".split())
# A decade is named by the plural of its tens word: «الثمانينيات», «أربعينات القرن الماضي».
_DECADE_RE = re.compile(r"(?:عشرين|ثلاثين|اربعين|خمسين|ستين|سبعين|ثمانين|تسعين)ي?ات")
# A number before a unit of time is a span of time, how «منذ متى» is answered: «منذ 66 مليون سنة».
_TIME_UNITS = norm_set("سنة سنوات سنين عام أعوام شهر أشهر شهور أسبوع أسابيع يوم أيام قرن قرون عقد عقود".split())

_PLACE_CUES = norm_set(
    "مدينة دولة بلدة محافظة ولاية منطقة عاصمة العاصمة قرية جزيرة إقليم قارة "
    "مقاطعة حي ميناء مطار".split()
)
_PLACE_PREPOSITIONS = norm_set("في الى إلى من نحو قرب داخل".split())
_DIRECTIONS = norm_set(
    "شمال جنوب شرق غرب وسط شمالي جنوبي شرقي غربي شمالا جنوبا شرقا غربا قرب "
    "بالقرب ضواحي أطراف".split()
)
# A small gazetteer of the places Arabic news names most often.
_KNOWN_PLACES = norm_set(
    "العراق إيران ايران مصر السعودية سوريا سورية لبنان الأردن فلسطين اليمن ليبيا "
    "تونس الجزائر المغرب السودان الكويت قطر البحرين الإمارات عمان تركيا روسيا "
    "الصين فرنسا بريطانيا ألمانيا أمريكا أميركا واشنطن لندن باريس موسكو بغداد "
    "طهران القاهرة الرياض دمشق بيروت عمان القدس غزة جدة مكة المدينة دبي الدوحة "
    "أنقرة إسطنبول اسطنبول الخرطوم طرابلس صنعاء عدن الموصل البصرة حلب".split()
)
_TITLES = norm_set(
    "الرئيس رئيس الملك الملكة الأمير الأميرة الشيخ الدكتور الدكتورة السيد السيدة "
    "وزير الوزير الوزيرة النائب الجنرال اللواء العميد العقيد المستشار الإمام "
    "البابا القائد المدرب اللاعب الكاتب الشاعر الفنان الفنانة المخرج الممثل "
    "المتحدث السفير الأستاذ المهندس المحامي القاضي".split()
)
_NAME_PARTS = norm_set("بن ابن أبو أبي بنت عبد".split())
_ORG_CUES = norm_set(
    "شركة حزب منظمة وزارة هيئة مجلس جامعة نادي منتخب جمعية اتحاد وكالة جماعة حركة".split()
)
_STOPWORDS = norm_set(
    "في من على إلى الى عن مع أن إن ان كان كانت قد لا لم لن ما هذا هذه ذلك تلك التي "
    "الذي الذين هو هي هم أو او ثم بين حتى كل بعد قبل عند عندما حيث كما لكن إذا اذا "
    "منذ خلال عبر أيضا ايضا قال وقال وأضاف واضاف أكد واكد يكون تكون وقد فقد وهو وهي".split()
)
_REASON_CUES = norm_set(
    "بسبب لأن لان نظرا بهدف لأجل لكي كي جراء نتيجة إثر اثر بفضل بداعي سبب أسباب "
    "بغية للحد خلفية".split()
)
_MANNER_CUES = norm_set("طريق بواسطة عبر باستخدام بطريقة بشكل بالاعتماد خلال".split())

_NEUTRAL = 0.5


def answer_type_match(sentence: str, answer_type: AnswerType) -> float:
    """How strongly ``sentence`` holds something of ``answer_type``, in 0..1.

    Scores are graded by how specific the cue is (see the ``_*_score``
    functions).  YESNO and OTHER expect nothing in particular and return a
    neutral 0.5 for every sentence, so they leave a ranking unchanged.
    """
    scorer = _SCORERS.get(answer_type)
    if scorer is None:
        return _NEUTRAL
    return scorer(sentence, _words(sentence))


def typed_spans(sentence: str, answer_type: AnswerType) -> list[tuple[int, int]]:
    """Stretches of ``sentence`` that look like an answer of ``answer_type``, as character
    offsets: quantities with their number words («13 مليار دولار» gives «13 مليار»; a year is not
    a quantity) for NUMBER; for DATE every form ``answer_type_match`` reads as a date: month names,
    years and «عام 2020», a century or an era's year by its ordinal («القرن التاسع عشر»), a decade
    («التسعينيات»), a span of time («منذ حوالي مليار سنة» gives «مليار سنة»). Other types have no
    such surface form: []."""
    typed = _TYPED_WORD.get(answer_type)
    if typed is None:
        return []
    offsets, words = [], []
    for match in re.finditer(r"\S+", sentence):
        core = WORD_CORE_RE.search(normalize(match.group()))
        offsets.append((match.start(), match.end()))
        words.append(core.group() if core else "")
    spans: list[tuple[int, int]] = []
    for i, (start, end) in enumerate(offsets):
        if not words[i] or not typed(words, i):
            continue
        if spans and _only_space_between(sentence, spans[-1][1], start):
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans


def _only_space_between(text: str, end: int, start: int) -> bool:
    return not text[end:start].strip()


def _number_word(words: list[str], i: int) -> bool:
    return _is_number_word(words[i]) and (not _DIGIT_RE.search(words[i]) or _is_quantity(words, i))


def _date_word(words: list[str], i: int) -> bool:
    """Whether ``words[i]`` is part of a date of a form ``_date_score`` reads."""
    word, stems = words[i], _stems(words[i])
    before = words[i - 1] if i > 0 else ""
    after = words[i + 1] if i + 1 < len(words) else ""
    return (not stems.isdisjoint(_MONTHS) or not stems.isdisjoint(_AMBIGUOUS_MONTHS)
            or _YEAR_WORD_RE.fullmatch(word) is not None
            or (not stems.isdisjoint(_YEAR_CUES) and (_DIGIT_RE.search(after) is not None or after in _ORDINALS))
            or (word in _ORDINALS and not _stems(before).isdisjoint(_YEAR_CUES))
            or (word in _TEENS and before in _ORDINALS)          # «التاسع عشر»
            or any(_DECADE_RE.fullmatch(stem) for stem in stems)
            or (not stems.isdisjoint(_TIME_UNITS) and _is_number_word(before))
            or (_is_number_word(word) and not _stems(after).isdisjoint(_TIME_UNITS)))


_TYPED_WORD = {AnswerType.NUMBER: _number_word, AnswerType.DATE: _date_word}


def _words(sentence: str) -> list[str]:
    """Normalized words of a sentence, punctuation stripped; no offsets needed here."""
    words = (WORD_CORE_RE.search(token) for token in normalize(sentence).split())
    return [w.group() for w in words if w is not None]


@lru_cache(maxsize=1 << 16)
def _stems(word: str) -> frozenset[str]:
    """The word and its forms without glued clitics («وبالعراق» → «عراق», «العراق»).

    Cached: candidate sentences repeat the same few thousand news words.
    """
    forms = {word}
    for prefix in _PREFIXES:
        if prefix and word.startswith(prefix) and len(word) - len(prefix) >= 2:
            forms.add(word[len(prefix):])
    return frozenset(forms)


def _any_in(words: list[str], vocabulary: frozenset[str]) -> bool:
    return any(not _stems(w).isdisjoint(vocabulary) for w in words)


def _number_score(sentence: str, words: list[str]) -> float:
    """1.0 for a quantity written in digits, 0.8 for one in words; a sentence whose only digits
    are dates («سنة 2010», «في 15 مارس») or reference marks («[7]») states no quantity: it answers
    «كم» no better than a sentence without a number."""
    if _CITATION_RE.search(sentence):
        words = _words(_CITATION_RE.sub(" ", sentence))
    if any(_is_quantity(words, i) for i, word in enumerate(words) if _DIGIT_RE.search(word)):
        return 1.0
    return 0.8 if _any_in(words, _NUMBER_WORDS) else 0.0


def _is_quantity(words: list[str], i: int) -> bool:
    """Whether the digits of ``words[i]`` count something rather than name a time: not a year
    («2010», «1892م», «1620–1621», «وفي 1754»), not a day before or after a month name («15
    مارس»), not part of a numeric date («12/05/2019»)."""
    word = words[i]
    if _NUMERIC_DATE_RE.search(word):
        return False
    year = _YEAR_WORD_RE.fullmatch(word)
    if year and 1000 <= int(year.group(1)) <= 2100 and not (i + 1 < len(words) and _stems(words[i + 1]) & _MULTIPLIERS):
        return False
    neighbours = words[max(0, i - 1):i] + words[i + 1:i + 2]
    return not (len(_NUMBER_RUN_RE.findall(word)) == 1 and len(word) <= 3
                and any(not _stems(w).isdisjoint(_MONTHS | _AMBIGUOUS_MONTHS) for w in neighbours))


def _date_score(sentence: str, words: list[str]) -> float:
    scores = [0.0]
    if _NUMERIC_DATE_RE.search(sentence):
        scores.append(1.0)
    for i, word in enumerate(words):
        stems = _stems(word)
        if not stems.isdisjoint(_MONTHS):
            scores.append(1.0 if _year_follows(words, i) else MONTH_WITHOUT_YEAR)
        elif not stems.isdisjoint(_AMBIGUOUS_MONTHS) and _near_number_or_month(words, i):
            scores.append(1.0 if _year_follows(words, i) else MONTH_WITHOUT_YEAR)
        elif not stems.isdisjoint(_YEAR_CUES) and i + 1 < len(words) and _is_number_word(words[i + 1]):
            scores.append(1.0)
        elif not stems.isdisjoint(_YEAR_CUES) and i + 1 < len(words) and words[i + 1] in _ORDINALS:
            scores.append(ORDINAL_OR_DECADE)
        elif any(_DECADE_RE.fullmatch(stem) for stem in stems):
            scores.append(ORDINAL_OR_DECADE)
        elif not stems.isdisjoint(_TIME_UNITS) and i > 0 and _is_number_word(words[i - 1]):
            scores.append(ORDINAL_OR_DECADE)
        elif not stems.isdisjoint(_HIJRI_MONTHS):
            scores.append(0.6)
        elif not stems.isdisjoint(_WEEKDAYS):
            scores.append(0.7)
    scores.extend(_year_score(run) for run in _NUMBER_RUN_RE.findall(sentence))
    return max(scores)


def _year_score(digits: str) -> float:
    if not 3 <= len(digits) <= 4:
        return 0.0
    value = int(digits)  # int() reads Arabic-Indic and Persian digits too
    return 0.9 if 1000 <= value <= 2100 else 0.5


def _is_number_word(word: str) -> bool:
    return _DIGIT_RE.search(word) is not None or not _stems(word).isdisjoint(_NUMBER_WORDS)


# A month with no year after it («في آب الماضي») is a relative date, a weaker answer to «متى»
# than a full one («في تموز يوليو عام 2020»).
MONTH_WITHOUT_YEAR = 0.7
# A century, a decade or a span of time answers «متى» less precisely than a year or a full date.
ORDINAL_OR_DECADE = 0.8


def _year_follows(words: list[str], i: int) -> bool:
    """A number within the three words after a month name: its year (or day) is given."""
    return any(_DIGIT_RE.search(w) for w in words[i + 1:i + 4])


def _near_number_or_month(words: list[str], i: int) -> bool:
    neighbours = words[max(0, i - 1):i] + words[i + 1:i + 2]
    return any(_DIGIT_RE.search(w) or not _stems(w).isdisjoint(_MONTHS) for w in neighbours)


def _place_score(sentence: str, words: list[str]) -> float:
    score = 0.0
    for i, word in enumerate(words):
        stems = _stems(word)
        if not stems.isdisjoint(_PLACE_CUES):
            after_prep = i > 0 and words[i - 1] in _PLACE_PREPOSITIONS
            score = max(score, 1.0 if after_prep or _glued_preposition(word, _PLACE_CUES) else 0.8)
        elif not stems.isdisjoint(_KNOWN_PLACES):
            score = max(score, 0.9)
        elif not stems.isdisjoint(_DIRECTIONS):
            score = max(score, 0.7)
    if score < 0.5 and _LATIN_CAP_RE.search(sentence):
        score = 0.5
    return score


def _glued_preposition(word: str, vocabulary: frozenset[str]) -> bool:
    """Whether «بـ» or «لـ» is glued to a vocabulary word («بمدينة», «وللعاصمة»)."""
    for prefix in _PREFIXES:
        if prefix and word.startswith(prefix) and word[len(prefix):] in vocabulary:
            clitics = prefix[:-2] if prefix.endswith("ال") else prefix
            if "ب" in clitics or "ل" in clitics:
                return True
    return False


def _person_score(sentence: str, words: list[str]) -> float:
    score = 0.0
    for i, word in enumerate(words):
        nxt = words[i + 1] if i + 1 < len(words) else ""
        stems = _stems(word)
        if not stems.isdisjoint(_TITLES):
            score = max(score, 1.0 if _looks_like_name(nxt) else 0.7)
        elif word in _NAME_PARTS or word.startswith("عبدال"):
            score = max(score, 0.8)
        elif not stems.isdisjoint(_ORG_CUES):
            score = max(score, 0.6)
        elif _looks_like_name(word) and _looks_like_name(nxt):
            score = max(score, 0.3)
    if _LATIN_CAP_PAIR_RE.search(sentence):
        score = max(score, 0.7)
    elif _LATIN_CAP_RE.search(sentence):
        score = max(score, 0.4)
    return score


def _looks_like_name(word: str) -> bool:
    """Weak cue for a proper-name word: no article, no digit, not a function word.

    Arabic has no capitals, so this also accepts verbs and indefinite nouns;
    a bigram of such words only earns a low score.
    """
    return (
        len(word) >= 3
        and not word.startswith(("ال", "وال", "بال", "لل"))
        and word not in _STOPWORDS
        and _DIGIT_RE.search(word) is None
    )


def _cue_score(words: list[str], cues: frozenset[str]) -> float:
    return 1.0 if _any_in(words, cues) else 0.0


_SCORERS = {
    AnswerType.NUMBER: _number_score,
    AnswerType.DATE: _date_score,
    AnswerType.PLACE: _place_score,
    AnswerType.PERSON: _person_score,
    AnswerType.REASON: lambda s, w: _cue_score(w, _REASON_CUES),
    AnswerType.MANNER: lambda s, w: _cue_score(w, _MANNER_CUES),
}


NO_QUANTITY: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())


def quantity_cue(analysis: QuestionAnalysis) -> tuple[frozenset[str], frozenset[str]]:
    """What a number answering a «كم» question is written with: the units of what it measures
    («مساحة» → «كم²», «مربع», «هكتار» ...: ``QUANTITY_UNITS``), and the counted noun's terms, the
    first word after the interrogative that neither frames the amount nor names what is measured
    («كم عدد آيات» → «آية»: «عدد آياتها 110 آية»; «كم يبلغ عدد سكان» → «سكان»).  Empty for
    any other question."""
    if analysis.answer_type is not AnswerType.NUMBER:
        return NO_QUANTITY
    words = _words(analysis.keyword_text)
    units = frozenset().union(*(QUANTITY_UNITS.get(stem, frozenset())
                                for w in words for stem in _stems(w) | _without_suffix(w)))
    counted = next((w for w in words if _stems(w).isdisjoint(_FRAMING_OR_MEASURE)), "")
    return units, frozenset(analyze(counted))


def _without_suffix(word: str) -> frozenset[str]:
    """«مساحتها» → «مساحه»: a noun in «ة» keeps it as «ت» before a pronoun."""
    for suffix in ("تها", "ته", "تهم", "تهما"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 2:
            return frozenset({word[:-len(suffix)] + "ه"})
    return frozenset()


def quantity_match(sentence: str, cue: tuple[frozenset[str], frozenset[str]]) -> float:
    """1.0 when a quantity of ``sentence`` (a number that is not a date: ``_number_score``) is
    followed, within three words, by a unit of what the question measures or by its counted noun
    («وتصل مساحتها إلى 18.011 كم²» for «كم تبلغ مساحة أردبيل»); else 0.0."""
    units, counted = cue
    if not units and not counted:
        return 0.0
    if "%" in units and re.search(r"[0-9\u0660-\u0669]\s*[%٪]", sentence):
        return 1.0
    words = _words(_CITATION_RE.sub(" ", sentence))
    for i, word in enumerate(words):
        if not _is_number_word(word) or (_DIGIT_RE.search(word) and not _is_quantity(words, i)):
            continue
        for after in words[i + 1:i + 4]:
            if not _stems(after).isdisjoint(units) or (counted and not counted.isdisjoint(analyze(after))):
                return 1.0
    return 0.0
