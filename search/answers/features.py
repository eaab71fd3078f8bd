"""The features ``ask`` ranks candidate sentences by (``search.answers.finder``), one row per sentence.

All but ``dense`` are cheap (term sets, a regex or two, a passage vector already stored); ``dense``
needs the sentence embedded, so it is filled in later and only for the best few by the others.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from indexer.text.analysis import analyze_spans, term_set, word_terms
from indexer.text.arabic import WORD_PATTERN, normalize
from indexer.text.stemmers import isri_stem
from indexer.text.sentences import Sentence, split_sentences
from indexer.store.sqlite import StoredPassage
from search.answers.types import NO_QUANTITY, answer_type_match, quantity_match
from search.answers.question import AnswerType

# What ties a sentence to the question, and how its passage was retrieved; nothing about where the
# sentence sits or how long it is: fitted on TyDi-ar, whose answers open its Wikipedia leads, a
# sentence's position and length took XQuAD-ar's accuracy@1 from 0.77 to 0.60 (docs/answers.md).
FEATURES = ("dense", "weighted_overlap", "weighted_context", "number_or_date", "entity", "article", "passage_dense",
            "quantity", "root_overlap")
# The answer-type match is two features: a number or date is a surface form the sentence either has
# or lacks, while the place, person, reason and manner cues are loose, and the fit weighs them apart.
VALUE_TYPES = frozenset({AnswerType.NUMBER, AnswerType.DATE})
ENTITY_TYPES = frozenset({AnswerType.PLACE, AnswerType.PERSON, AnswerType.REASON, AnswerType.MANNER})


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved passage, located by offsets into the passage text."""

    passage: StoredPassage
    passage_rank: int          # 0 for the best passage
    sentence: Sentence
    position: int              # of the sentence in its passage, 0 for the first
    terms: frozenset[str]      # the question's terms the sentence holds
    features: np.ndarray       # in FEATURES order; dense is NaN until embedded
    # The question's terms the sentence holds in any form of their root (``terms`` among them): what
    # the confidence counts (``search.answers.confidence.evidence``).  ``terms`` when no roots are given.
    held: frozenset[str]

    @property
    def text(self) -> str:
        return self.passage.text[self.sentence.start:self.sentence.end]


def candidates(passages: list[StoredPassage], passage_dense: list[float], terms: frozenset[str],
               answer_type: AnswerType, quantity: tuple[frozenset[str], frozenset[str]] = NO_QUANTITY,
               roots: dict[str, str] | None = None) -> list[Candidate]:
    """Every sentence of ``passages`` (best first) with its cheap features.

    ``passage_dense`` is each passage's cosine with the question; ``article`` is 1/(1 + the rank of
    the passage's article among the distinct articles retrieved), so the second passage of the best
    article is not ranked below the best one (a news article spans several passages).  ``quantity``
    is a «كم» question's units and counted noun (``search.answers.types.quantity_cue``): a number
    written with them is the amount asked for, not merely a number (``quantity``).  ``roots`` maps
    each question term to its root (``question_roots``): a sentence may hold the question's word in
    another form of the same root, which the light stem does not join (``root_overlap``)."""
    article_rank = {a: i for i, a in enumerate(dict.fromkeys(p.article_id for p in passages))}
    units = []   # (passage rank, passage, its sentences, each sentence's question terms)
    for rank, p in enumerate(passages):
        sentences = split_sentences(p.text)
        units.append((rank, p, sentences, [held_terms(p.text[s.start:s.end], terms) for s in sentences]))
    weight = term_weights(terms, [t for *_, term_sets in units for t in term_sets])
    roots = {t: r for t, r in (roots or {}).items() if t in terms}
    sentence_roots = [[frozenset(word_roots(p.text[s.start:s.end]).values()) for s in sentences]
                      for _, p, sentences, _ in units]
    root_weight = term_weights(frozenset(roots.values()), [r for rs in sentence_roots for r in rs])
    found = []
    for (rank, p, sentences, term_sets), held_roots in zip(units, sentence_roots):
        for i, s in enumerate(sentences):
            text = p.text[s.start:s.end]
            around = term_sets[i].union(*term_sets[max(0, i - 1):i + 2])
            match = answer_type_match(text, answer_type)
            features = np.array([
                np.nan,
                weighted(term_sets[i], weight),
                weighted(around, weight),
                match if answer_type in VALUE_TYPES else 0.0,
                match if answer_type in ENTITY_TYPES else 0.0,
                1.0 / (1 + article_rank[p.article_id]),
                passage_dense[rank],
                quantity_match(text, quantity),
                weighted(frozenset(r for t, r in roots.items() if t not in term_sets[i] and r in held_roots[i]),
                         root_weight),
            ])
            held = term_sets[i] | frozenset(t for t, r in roots.items() if r in held_roots[i])
            found.append(Candidate(p, rank, s, i, term_sets[i], features, held))
    return found


def held_terms(text: str, terms: frozenset[str]) -> frozenset[str]:
    """The question ``terms`` that ``text`` holds, up to a final «ت»: the light stemmer keeps the
    «ت» of «عاصمتها» («عاصمت») but drops the «ة» of «عاصمة» («عاصم»), so «ما هي عاصمة منغوليا»
    would miss «عاصمتها هي أولان باتور» (feminine verbs, «قامت» for «قام», fold the same way)."""
    held = {_fold(t) for t in term_set(text)}
    return frozenset(t for t in terms if _fold(t) in held)


def question_pairs(keyword_text: str, terms: frozenset[str]) -> tuple[tuple[str, str], ...]:
    """The question's phrases as pairs of ``terms`` held by two words next to each other in its
    keyword text (stopwords skipped): a name of two words or a noun with its complement («نهر
    الأردن», «أيرلندا الشمالية», «نادي ليون»).  A passage that holds both words apart, or one of
    them, names something else (the country of Jordan, an airline of Qatar); ``phrases_held``."""
    words = [[t for t in found if t in terms] for found in _word_terms(keyword_text)]
    return tuple(dict.fromkeys((a, b) for first, second in zip(words, words[1:]) for a in first for b in second
                               if a != b))


def phrases_held(text: str, pairs: tuple[tuple[str, str], ...]) -> frozenset[tuple[str, str]]:
    """The ``pairs`` (``question_pairs``) that ``text`` holds as two words next to each other
    (stopwords skipped), each up to a final «ت» as ``held_terms``."""
    wanted = frozenset(_fold(t) for pair in pairs for t in pair)
    words = [frozenset(map(_fold, found)) & wanted for found in _word_terms(text)]
    adjacent = {(a, b) for first, second in zip(words, words[1:]) for a in first for b in second}
    return frozenset(p for p in pairs if (_fold(p[0]), _fold(p[1])) in adjacent)


def _word_terms(text: str) -> list[tuple[str, ...]]:
    """Each word of ``text`` that is not a stopword, as its index terms, in order."""
    terms_of = word_terms()
    return [found for found in map(terms_of, WORD_PATTERN.findall(text)) if found]


def question_roots(text: str, terms: frozenset[str]) -> dict[str, str]:
    """Each of the question's ``terms`` in ``text`` (its keyword text) and its root (``word_roots``)."""
    return {t: r for t, r in word_roots(text).items() if t in terms}


def word_roots(text: str) -> dict[str, str]:
    """Each word's term (the light stem the index uses) and its ISRI root.  Arabic derives a verb,
    its passive, its verbal noun and its participles from one root, and a question often asks with
    one form what the answer states with another («متى تأسست» / «أُسست عام 1386», «اكتشف» /
    «اكتشاف»); the light stem keeps them apart.  The root is coarse (unrelated words can share
    one), so it is a feature of its own beside the exact terms, never instead of them.  The stemmer
    reads the word as written (it needs the hamza of «تأسست» to see the «ت» as a prefix, and drops
    the diacritics itself); its root is then folded as text is («أسس» and «اسس» alike)."""
    return {t.term: _root(text[t.start:t.end]) for t in analyze_spans(text)}


@lru_cache(maxsize=1 << 16)
def _root(word: str) -> str:
    """``word``'s folded ISRI root, remembered: ``ask`` reads the roots of every word of its
    candidate passages, news vocabulary seen again and again, and the stemmer was most of
    ``word_roots``' time."""
    return normalize(isri_stem(word))


def _fold(term: str) -> str:
    return term[:-1] if len(term) > 3 and term.endswith("ت") else term


def term_weights(terms: frozenset[str], sentence_terms: list[frozenset[str]]) -> dict[str, float]:
    """Inverse frequency of each question term among the candidate sentences: a term that every
    candidate holds cannot tell them apart, one that few hold can."""
    n = len(sentence_terms)
    return {t: math.log((n + 1) / (0.5 + sum(t in found for found in sentence_terms))) for t in terms}


def weighted(found: frozenset[str], weight: dict[str, float]) -> float:
    """The share of the total weight that the terms in ``found`` carry, summed in ``weight``'s order
    as the total is: in a set's order, which the hash seed sets, the share of every term came out
    1.0000000000000002 in some processes."""
    total = sum(weight.values())
    return sum(w for t, w in weight.items() if t in found) / total if total > 0 else 0.0
