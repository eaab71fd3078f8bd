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
    folded: dict[int, list[str]] = {}   # a kept position -> the article ids folded under it
    gone: set[int] = set()              # positions folded under an earlier one
    home: dict[str, int] = {}           # a kept article id -> its first kept position
    # Only articles with near-duplicates can fold or be folded into (the pairs go both ways): the
    # loop skips the rest of a ranking of every match.
    for position in (i for i, a in enumerate(article_ids) if a in duplicates):
        article_id = article_ids[position]
        into = min((home[other] for other in duplicates[article_id] if other in home and other != article_id),
                   default=None)
        if into is None:
            home.setdefault(article_id, position)
            continue
        gone.add(position)
        group = folded.setdefault(into, [])
        if article_id not in group:
            group.append(article_id)
    return [(i, folded.get(i, [])) for i in range(len(article_ids)) if i not in gone]
