"""One story once: a ranked list with each near-duplicate folded under the first result it
duplicates (``indexer/text/near_duplicates.py`` found the pairs at indexing time).

Not transitive: an article joins a shown result only if it is itself a near-duplicate of that
result, so a chain of updates that drifts away from the first version is not swallowed whole.

>>> collapse(["a", "b", "c"], {"c": {"a": 0.9}, "a": {"c": 0.9}})
[(0, ['c']), (1, [])]
"""
from __future__ import annotations

from typing import Sequence


def collapse(article_ids: Sequence[str], duplicates: dict[str, dict[str, float]]) -> list[tuple[int, list[str]]]:
    """(position in ``article_ids`` of each result kept, the article ids folded under it), in
    rank order. ``duplicates`` maps an article to its near-duplicates; at the passage level one
    article may come several times, and its own passages are never folded into each other."""
    kept: list[tuple[int, list[str]]] = []
    home: dict[str, int] = {}   # a kept article id -> its entry in ``kept``
    for position, article_id in enumerate(article_ids):
        entry = min((home[other] for other in duplicates.get(article_id, ())
                     if other in home and other != article_id), default=None)
        if entry is None:
            home.setdefault(article_id, len(kept))
            kept.append((position, []))
        elif article_id not in kept[entry][1]:
            kept[entry][1].append(article_id)
    return kept
