"""The near-duplicate fold as its rule reads, one ranked item after another, beside ``collapse``:
shared by the tests of folding (a test module imported from another's hypothesis test would define
its own ``@given`` tests inside that run, which hypothesis refuses)."""
from __future__ import annotations

from indexer.keyword.postings import article_keys
from search.collapse import PairKeys, collapse


def folded_one_by_one(ranked: list[str], duplicates: dict[str, dict[str, float]]):
    """The fold as its rule reads, one ranked item after another: what ``collapse`` must equal."""
    folded: dict[int, list[str]] = {}
    gone, home = [], {}
    for position, article_id in enumerate(ranked):
        into = min((home[o] for o in duplicates.get(article_id, {}) if o in home and o != article_id), default=None)
        if into is None:
            home.setdefault(article_id, position)
            continue
        gone.append(position)
        if article_id not in folded.setdefault(into, []):
            folded[into].append(article_id)
    return [i for i in range(len(ranked)) if i not in gone], folded


def folded_by_collapse(ranked: list[str], duplicates: dict[str, dict[str, float]]):
    folding = collapse(article_keys(ranked), PairKeys.of((a, o) for a, others in duplicates.items() for o in others))
    kept = folding.kept.tolist()
    return kept, {at: [ranked[i] for i in folding.under(at).tolist()] for at in kept if len(folding.under(at))}
