"""Word lists and word-shape helpers shared by the question side (``search.answers.question``) and the
answer side (``search.answers.types``).  Vocabulary is written in ordinary spelling and stored
normalized, the form text is compared in."""
from __future__ import annotations

import re
from typing import Iterable

from indexer.text.arabic import normalize


def norm_set(words: Iterable[str]) -> frozenset[str]:
    """Vocabulary written in ordinary spelling, stored in the form text is compared in."""
    return frozenset(normalize(w) for w in words)


# Letters, digits and the marks that sit on letters: the part of a token that
# is a word, as opposed to quotes and punctuation glued to it.
WORD_CORE_RE = re.compile(r"[\w\u064B-\u065F\u0670]+(?:.*[\w\u064B-\u065F\u0670])?")

DATE_NOUNS = norm_set(
    "عام سنة شهر يوم تاريخ قرن عقد وقت ساعة فترة موسم أعوام سنوات أيام أشهر شهور".split()
)
PLACE_NOUNS = norm_set(
    "مدينة دولة بلد مكان منطقة قارة محافظة ولاية قرية جزيرة عاصمة بلاد إقليم حي "
    "شارع ملعب نهر جبل بحر مدن دول بلدان مناطق أماكن موقع مقر "
    # administrative units and landforms: «في أي مقاطعة», «في أي إمارة», «أي بحيرة»
    "مقاطعة إمارة مملكة إمبراطورية ناحية بلدية قضاء مديرية ضاحية مستعمرة بلدة "
    "ساحل وادي بحيرة محيط خليج صحراء ولايات مقاطعات محافظات قرى جزر".split()
)
PERSON_NOUNS = norm_set(
    "شخص لاعب رئيس ملك أمير وزير فريق نادي منتخب حزب شركة منظمة كاتب مؤلف شاعر "
    "مدرب أشخاص لاعبين فرق أندية شركات أحزاب".split()
)
# Leaders, bodies and groups, read as persons after «أي» only («أي زعيم», «أي محكمة», «أية طائفة»):
# after «ما هي» they are as often the subject to define («ما هي مجموعة بلدربيرغ؟»).
WHICH_PERSON_NOUNS = PERSON_NOUNS | norm_set(
    "زعيم قائد طائفة مجموعة محكمة جامعة مؤسسة هيئة كيان طرف مخترع مغني ممثل فنان".split()
)
NUMBER_NOUNS = norm_set(
    "عدد كمية مقدار نسبة مساحة طول عرض ارتفاع عمق وزن سعر قيمة حجم عمر سرعة "
    "مسافة ثمن تعداد درجة مبلغ مدة معدل رقم".split()
)
DATE_OR_PLACE_NOUNS = DATE_NOUNS | PLACE_NOUNS
WHAT_DATE_NOUNS = DATE_NOUNS | norm_set(["موعد"])
WHAT_PERSON_NOUNS = PERSON_NOUNS | norm_set("فرقة جماعة حركة".split())
REASON_NOUNS = norm_set("سبب أسباب دوافع دافع".split())
NAME_NOUNS = norm_set("اسم أسماء".split())
# Generic nouns that belong to the pattern rather than to the topic.
GENERIC_NOUNS = norm_set("عدد اسم أسماء عام سنة شهر يوم تاريخ وقت مدينة دولة بلد مكان".split())

# Set phrases where a leading «من» is a preposition, and «ما» negation.
MIN_PREPOSITIONAL = norm_set(
    "المتوقع المقرر المنتظر الممكن المحتمل الضروري المفترض المهم الواضح المعروف "
    "المؤكد الصعب السهل المعلوم الجدير اللافت الطبيعي المستبعد المرجح جهة جهته "
    "جهتها جانب جانبه جانبها جانبهم ناحية ناحيته أجل خلال بين قبل بعد حيث دون "
    "أهم أبرز أكثر أبرزها".split()
)
MA_NEGATION = norm_set("زال زالت يزال تزال دام برح فتئ انفك".split())
# Interrogatives that are never anything else, so a pattern holding one may
# be matched past the start of the question.
UNAMBIGUOUS = norm_set(
    "متى امتى أين كم بكم لماذا كيف ماذا وين فين ليش قديش هل ازاي "
    "وقتاش علاش قداش منين".split()
)

# How Arabic frames a quantity question («كم يبلغ حجم التبادل»): an answer states the amount
# («13 مليار دولار») and seldom repeats these, so they are no evidence for or against it.
AMOUNT_FRAMING = norm_set("يبلغ تبلغ بلغ بلغت يصل تصل يساوي تساوي حجم مقدار كمية".split())

# What a «كم» question measures, named by a noun or verb of the question («كم تبلغ مساحة», «كم
# استمر»), and the units a number answering it is written with («18.011 كم²», «ثلاثين سنة»).
_TIME_UNITS = "سنة سنوات سنين عام أعوام شهر أشهر شهور أسبوع أسابيع يوم أيام يوما ساعة ساعات دقيقة دقائق قرن قرون عقد عقود"
_LENGTH_UNITS = "متر مترا أمتار كم كلم كيلو كيلومتر كيلومترا كيلومترات ميل ميلا أميال قدم أقدام سم سنتيمتر ملم مليمتر"
QUANTITY_UNITS = {
    **dict.fromkeys(norm_set("مساحة".split()), norm_set("مربع مربعا مربعة كم² كم2 هكتار هكتارا دونم دونما فدان فدانا".split())),
    **dict.fromkeys(norm_set("طول عرض ارتفاع عمق مسافة بعد يبعد تبعد يمتد سماكة قطر".split()), norm_set(_LENGTH_UNITS.split())),
    **dict.fromkeys(norm_set("سرعة".split()), norm_set(f"{_LENGTH_UNITS} عقدة".split())),
    **dict.fromkeys(norm_set("وزن كتلة يزن".split()), norm_set("كغ كجم كيلوغرام كيلوجرام غرام جرام طن أطنان رطل".split())),
    **dict.fromkeys(norm_set("سعر ثمن قيمة مبلغ تكلفة كلفة ميزانية يكلف تكلف راتب دخل".split()),
                    norm_set("دولار دولارا دولارات يورو جنيه جنيها ريال ريالا دينار دينارا ليرة درهم درهما فرنك روبل ين".split())),
    **dict.fromkeys(norm_set("نسبة".split()), norm_set("% ٪ بالمئة بالمائة المئة المائة".split())),
    **dict.fromkeys(norm_set("مدة عمر استمر استمرت دام دامت استغرق استغرقت فترة".split()), norm_set(_TIME_UNITS.split())),
    **dict.fromkeys(norm_set("سكان تعداد".split()), norm_set("نسمة شخص أشخاص مواطن ساكن فرد أفراد".split())),
    **dict.fromkeys(norm_set("حرارة".split()), norm_set("درجة درجات".split())),
}
