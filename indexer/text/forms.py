"""The written forms a query word matches in the exact-form fields: expansion at query time.

Why: light stemming strips what looks like a clitic or a suffix from every word it indexes, so a
name loses its own letters (لبنان -> بن, بغداد -> غداد, بوتين -> تين) and meets unrelated words.
The form fields index each word as written (normalized, not stemmed); a query word instead
becomes the set of forms it may take in text: itself behind the clitics و/ف, then ب/ك/ل, with
or without the article (للعراق for ل + العراق), and with a nisba or plural ending (ي يه يون يين
يان يا; a final ا drops before them: ليبيا -> الليبي). Only letters are added, never removed, so a
word can meet its own forms and nothing shorter. A query word that itself carries clitics before
the article (والعراق, بالعراق, للعراق) is first reduced to its article form. The same rules
define the news-names gold (``bench.names``), and ``docs/analysis.md`` measures them.

The other way round, a form can be a word of its own: و + زير is وزير, ل + بنان is لبنان, ك + مال
is كمال. ``attached_forms`` names, for each form where a clitic stands on the bare word, the
word it then spells; the index decides whether that is a word of its own
(``indexer.keyword.clitics.read_clitics``: it stands behind the article or a preposition, الوزير,
بلبنان), and such forms are not matched.

The one way to something shorter: a reader types a clitic too (بتونس, ولبنان, لغزة), and
``proclitic_readings`` offers the word without it; the index alone decides whether that reading
holds (``indexer.keyword.clitics.read_clitics``), since most words that begin with these letters
are whole words (بريطانيا, وزير, فراس).
"""
from __future__ import annotations

import re
from functools import lru_cache

from indexer.text.arabic import is_stopword

CONJUNCTIONS = ("", "و", "ف")
PREPOSITIONS = ("", "ب", "ك", "ل")
ARTICLE = "ال"
# ة and ية are ه and يه once normalized.
NISBA_ENDINGS = ("ي", "يه", "يون", "يين", "يان", "يا")
# The clitics a typed word may carry before its article, and at least two letters after it,
# so «والي» and «بالغ» stay whole.
_CLITICS_BEFORE_ARTICLE = re.compile(r"^[وف]?(?:[بك]?ال|لل)(..+)$")
# A proclitic read off a typed word leaves at least three letters: مصر, غزه and قطر are typed as
# بمصر, لغزة, بقطر; a two-letter remainder (بحر -> حر) is too ambiguous to offer.
READING_FLOOR = 3


def article_form(word: str) -> str:
    """``word`` without clitics before its article: والعراق, بالعراق, للعراق -> العراق."""
    match = _CLITICS_BEFORE_ARTICLE.match(word)
    return ARTICLE + match.group(1) if match else word


def proclitic_readings(word: str) -> tuple[str, ...]:
    """``word`` without the proclitics it may carry, least stripped first: و or ف, then ب ك or ل
    (وبتونس -> بتونس, تونس; للبنان -> لبنان), stopwords left out. Candidates only."""
    readings, rest = [], word
    for letters in (CONJUNCTIONS[1:], PREPOSITIONS[1:]):
        if rest[:1] in letters and len(rest) > READING_FLOOR:
            rest = rest[1:]
            if not is_stopword(rest):
                readings.append(rest)
    return tuple(readings)


def behind_proclitics(word: str) -> tuple[str, ...]:
    """``word`` behind the article or a preposition: forms only a whole word takes, since nothing
    comes before a word that already carries one (no البتونس, no لومصر). Not ل before ل: للجامعة
    is ل + الجامعة."""
    return tuple(p + word for p in (ARTICLE, *PREPOSITIONS[1:]) if not (p == "ل" and word.startswith("ل")))


@lru_cache(maxsize=4096)
def word_forms(word: str) -> frozenset[str]:
    """Every form of the normalized ``word`` the form fields may hold (``word`` included)."""
    core = article_form(word)
    bodies = {core} if core.startswith(ARTICLE) else {core, ARTICLE + core}
    bodies |= {form for body in tuple(bodies) for form in nisba_forms(body)}
    # ل before the article contracts to لل (للعراق), nisba forms included (للبنانيين).
    contracted = {"لل" + body[len(ARTICLE):] for body in bodies if body.startswith(ARTICLE)}
    return frozenset({c + p + body for c in CONJUNCTIONS for p in PREPOSITIONS for body in bodies
                      if not (p == "ل" and body.startswith(ARTICLE))}
                     | {c + body for c in CONJUNCTIONS for body in contracted} | {word})


@lru_cache(maxsize=4096)
def attached_forms(word: str) -> dict[str, str]:
    """The forms of ``word`` (``word_forms``) where a clitic stands right on the word or its nisba
    form, without the article, each with the word the clitic and the body spell together (of بنان:
    ولبنان -> لبنان, لبنانيين -> لبنانيين, and للبنان -> لبنان, since لل is ل + ل as well as ل + the
    article; of زير: وزير -> وزير): what may be a word of its own rather than a clitic on ``word``.
    ``word`` itself is never one."""
    core = article_form(word)
    if core.startswith(ARTICLE):
        return {}
    attached = {}
    for body in nisba_forms(core) | {core}:
        for c in CONJUNCTIONS:
            for p in PREPOSITIONS:
                if c or p:
                    attached[c + p + body] = p + body if p else c + body
            # ل + the article contracts to لل, which is also ل before ل + the body (للبنان).
            attached[c + "لل" + body] = "ل" + body
    attached.pop(word, None)
    return attached


def nisba_forms(body: str) -> set[str]:
    """``body`` with each nisba or plural ending; a final ا drops before them (امريكا -> امريكي),
    and a final يا with it (ليبيا -> ليبي), its ي being the ending's."""
    return {head + ending for head in nisba_heads(body) for ending in NISBA_ENDINGS}


def nisba_heads(word: str) -> set[str]:
    """What a nisba or plural ending attaches to (see ``nisba_forms``)."""
    heads = {word}
    if word.endswith("ا") and len(word) > 3:
        heads.add(word[:-1])
        if word.endswith("يا"):
            heads.add(word[:-2])
    return heads
