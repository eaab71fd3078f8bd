"""Reading the clitics of a query's words on the index's evidence (``read_clitics``): a clitic
the reader typed is read off where the index shows it is one (بتونس as تونس), and a form whose
added clitic spells a word of its own is not matched (ل + بنان is لبنان). docs/analysis.md,
"Clitics a reader types" and "Forms that are words of their own".
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from indexer.keyword.postings import PostingsView
from indexer.keyword.query import KeywordQuery
from indexer.keyword.settings import KeywordSettings
from indexer.text.forms import attached_forms, behind_proclitics, proclitic_readings, word_forms


@dataclass
class ReadWords:
    """What one searcher's index said of words read before (``KeywordIndex._readings_memo``):
    each word's readings, and the forms of each word it reads as words of their own."""
    readings: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    whole: dict[str, frozenset[str]] = dataclasses.field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.readings) + len(self.whole)


def read_clitics(view: PostingsView, query: KeywordQuery, settings: KeywordSettings,
                 memo: ReadWords | None = None) -> KeywordQuery:
    """``query`` with each group's readings (``KeywordQuery.readings``) and the written forms it
    does not match (``KeywordQuery.whole_words``).

    Readings: a typed word the index holds is also read without a proclitic
    (``proclitic_readings``: بتونس as تونس) where the index holds the stripped word in a form of its
    own (not one of the typed word's), never holds the typed word behind the article or a
    preposition (``behind_proclitics``: الفساد says فساد is a whole word), and the articles holding
    the typed word mention the stripped one more often than chance (``_co_mentioned``: none of
    those naming فراس says راس). A word the index does not hold has no readings: without evidence,
    an absent name (فادي) would find an unrelated word (ادي). So a whole word whose letters look like
    a clitic keeps its meaning; and a reading only adds.

    Whole words, the other way: a form with a clitic on the bare word (``attached_forms``: ل + بنان)
    is not matched where the word it spells stands behind the article or a preposition in the index
    (بلبنان) and is more common than the typed word in its other forms (``_whole_words``), so بنان
    does not find Lebanon, nor زير every minister (وزير)."""
    fields = [f for f, _ in settings.form_fields]
    memo = ReadWords() if memo is None else memo

    def of(word: str) -> list[str]:
        if word not in memo.readings:
            memo.readings[word] = _readings(view, word, fields)
        return memo.readings[word]

    def whole(word: str) -> frozenset[str]:
        if word not in memo.whole:
            memo.whole[word] = _whole_words(view, word, fields)
        return memo.whole[word]
    readings = tuple(tuple(dict.fromkeys(r for w in g for r in of(w) if r not in g)) for g in query.groups)
    query = replace(query, readings=readings)
    return replace(query, whole_words=tuple((w, forms) for w in query.form_words if (forms := whole(w))))


# Words whose readings and whole words one keyword index remembers (``KeywordIndex._readings_memo``).
READINGS_KEPT = 1 << 14
# The level of the one-sided test that the articles holding a typed word mention its stripped form
# more often than chance: the usual 1%, not fitted.
CO_MENTION_LEVEL = 0.01


def _readings(view: PostingsView, word: str, fields: Sequence[str]) -> list[str]:
    """The readings of ``word`` the index supports, least stripped first; a deeper one must hold
    against the last one accepted (ولبنان -> لبنان, never on to بنان: بلبنان is written). Looked up
    lazily: most words have no candidate, or none the index holds."""
    readings, base, holding = [], word, None
    for stripped in proclitic_readings(word):
        own = view.articles_holding(sorted(word_forms(stripped) - word_forms(base)), fields)
        if not len(own):
            continue
        if len(view.articles_holding(behind_proclitics(base), fields)):
            break
        if holding is None:
            holding = view.articles_holding(sorted(word_forms(base)), fields)
        if not _co_mentioned(holding, own, view.article_count):
            break
        readings.append(stripped)
        base, holding = stripped, None
    return readings


def _whole_words(view: PostingsView, word: str, fields: Sequence[str]) -> frozenset[str]:
    """The forms of ``word`` with a clitic on the bare word (``attached_forms``) that spell a word
    of their own (see ``read_clitics``), taken by the clitic they add (ل + بنان: لبنان, للبنان,
    لبنانيين): where the index holds what they spell behind the article or a preposition (بلبنان,
    اللبنانيين), and the articles holding them outnumber those holding ``word`` in its other forms
    (لبنان against بنان, البنان, بالبنان): a clitic form of a word is rarer than the word (لوريال
    is written, yet وريال, rarer than ريال, stays و + ريال)."""
    attached = attached_forms(word)
    if not attached:
        return _other_reading_of_contraction(view, word, fields)
    by_clitic: dict[str, dict[str, list[str]]] = {}   # the clitic on the word -> spelled word -> its forms
    for form, spelled in attached.items():
        by_clitic.setdefault(spelled[0], {}).setdefault(spelled, []).append(form)
    behind = [(clitic, behind_proclitics(spelled)) for clitic, words in by_clitic.items() for spelled in words]
    held = iter(view.held([t for _, b in behind for t in b], fields))
    standing = {clitic for clitic, b in behind if any([next(held) for _ in b])}
    if not standing:
        return frozenset()
    bare = len(view.articles_holding(sorted(word_forms(word) - attached.keys()), fields))
    whole = set()
    for clitic in standing:
        forms = [f for fs in by_clitic[clitic].values() for f in fs]
        if len(view.articles_holding(forms, fields)) > bare:
            whole.update(forms)
    return frozenset(whole)


def _other_reading_of_contraction(view: PostingsView, word: str, fields: Sequence[str]) -> frozenset[str]:
    """ل before a word that begins with ل reads as ل + the article too: للبنان as ل + البنان (بالبنان)
    beside ل + لبنان. Where the index holds the second reading as a word (behind the article or
    a preposition: بلبنان) and the articles holding the typed word do not mention the first one's
    other forms more often than chance (``_co_mentioned``), those forms are not matched. Without
    evidence either way (the typed word not held), both stay, as before."""
    if not word.startswith("لل"):
        return frozenset()
    other = word[1:]
    if not view.held(list(behind_proclitics(other)), fields).any():
        return frozenset()
    article = sorted(word_forms(word) - word_forms(other))
    typed = view.articles_holding([word], fields)
    if not len(typed) or _co_mentioned(typed, view.articles_holding(article, fields), view.article_count):
        return frozenset()
    return frozenset(article)


def _co_mentioned(typed: np.ndarray, stripped: np.ndarray, articles: int) -> bool:
    """Do the ``typed`` articles hold ``stripped`` more often than independence would have them?
    (A one-sided Poisson test at ``CO_MENTION_LEVEL``; both sorted article numbers.) Never when
    no article holds the typed word: nothing shows what it is."""
    together = len(np.intersect1d(typed, stripped, assume_unique=True))
    expected = len(typed) * len(stripped) / max(articles, 1)
    return together > expected and poisson_tail(together, expected) < CO_MENTION_LEVEL


def poisson_tail(k: int, mean: float) -> float:
    """P(X >= k) for X ~ Poisson(``mean``), ``k`` above ``mean`` > 0: the terms from k on only fall,
    so they are summed until they no longer count (in logs: a mean in the hundreds underflows exp)."""
    log_term = -mean + k * math.log(mean) - math.lgamma(k + 1)
    total = 0.0
    while True:
        term = math.exp(log_term)
        total += term
        if term <= total * 1e-12:
            return total
        k += 1
        log_term += math.log(mean / k)
