"""What the keyword index searches for: a query's words, grouped, as ``search.query`` parses them."""
from __future__ import annotations

from dataclasses import dataclass

from indexer.text.analysis import DEFAULT_STEM
from indexer.text.arabic import is_stopword
from indexer.text.forms import word_forms
from indexer.text.stemmers import get_stemmer


@dataclass(frozen=True)
class KeywordQuery:
    """A query's words, normalized, stopwords out (``search.query`` parses what a user types).

    Each of ``groups`` is one word, or words joined by OR: a passage holds the group when it holds
    any of them. ``short`` (a name or a few words): every group must match, each word in any of
    its written forms (``indexer.text.forms``), scored on the exact-form fields; and where the
    words are a name (``KeywordSettings.collocation``), only where they stand as typed. Otherwise (a
    question): ``KeywordSettings.min_should_match`` of the groups by their light stems, scored on the
    stems and, re-ranking only, their ISRI roots. Each phrase must match word after word, in
    written forms; no passage holding a form of an ``excluded`` word matches. ``readings``: per
    group, the words its typed words are read as once a proclitic the reader typed is taken off
    (``read_clitics``); a group holds them as it holds its own words. ``whole_words``: per word
    whose written forms are matched, those forms the index reads as words of their own
    (``read_clitics``: وزير is no و + زير), which it does not match.
    """

    groups: tuple[tuple[str, ...], ...] = ()
    offsets: tuple[int, ...] = ()     # each group's place among the typed words, stopwords counted
    phrases: tuple[tuple[str, ...], ...] = ()   # stopwords kept: they hold their places
    excluded: tuple[str, ...] = ()
    short: bool = True
    readings: tuple[tuple[str, ...], ...] = ()
    whole_words: tuple[tuple[str, frozenset[str]], ...] = ()

    @property
    def searched(self) -> tuple[tuple[str, ...], ...]:
        """Each group's words with its readings."""
        return tuple(g + r for g, r in zip(self.groups, self.readings)) if self.readings else self.groups

    @property
    def terms(self) -> tuple[str, ...]:
        """The light stems of the group words, once each."""
        return tuple(dict.fromkeys(stems(w for g in self.searched for w in g)))

    @property
    def form_words(self) -> tuple[str, ...]:
        """The words matched in their written forms: a short query's words and readings, its
        phrases' words, and every query's excluded words."""
        phrase_words = (w for p in self.phrases for w in p if not is_stopword(w))
        searched = (w for g in self.searched for w in g) if self.short else ()
        return tuple(dict.fromkeys((*searched, *phrase_words, *self.excluded)))

    def word_forms(self, word: str) -> frozenset[str]:
        """The written forms of ``word`` this query matches (``word_forms`` less its ``whole_words``)."""
        whole = dict(self.whole_words).get(word)
        return word_forms(word) - whole if whole else word_forms(word)

    def forms(self, words) -> tuple[str, ...]:
        """Every written form of any of ``words`` this query matches, sorted (one synonym group)."""
        return tuple(sorted(frozenset().union(*(self.word_forms(w) for w in words))))


def stems(words) -> list[str]:
    stem = get_stemmer(DEFAULT_STEM)
    return [stem(w) for w in words]
