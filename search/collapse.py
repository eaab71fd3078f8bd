"""One story once: a ranked list with each near-duplicate folded under the first result it
duplicates (``indexer/text/near_duplicates.py`` found the pairs at indexing time).

Not transitive: an article joins a shown result only if it is itself a near-duplicate of that
result, so a chain of updates that drifts away from the first version is not swallowed whole.

>>> kept, folded = collapse(["a", "b", "c"], {"c": {"a": 0.9}, "a": {"c": 0.9}})
>>> kept.tolist(), folded
([0, 1], {0: ['c']})
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np


def collapse(article_ids: Sequence[str], duplicates: Mapping[str, Mapping[str, float]]
             ) -> tuple[np.ndarray, dict[int, list[str]]]:
    """The positions in ``article_ids`` of the results kept, in rank order, and for those with
    near-duplicates folded under them, the article ids folded. ``duplicates`` maps an article to
    its near-duplicates (both ways); at the passage level one article may come several times, and
    its own passages are never folded into each other."""
    folded: dict[int, list[str]] = {}   # a kept position -> the article ids folded under it
    gone: list[int] = []                # positions folded under an earlier one
    home: dict[str, int] = {}           # a kept article id -> its first kept position
    # Only articles with near-duplicates can fold or be folded into: the loop skips the rest of a
    # ranking of every match (tens of thousands at 100k passages).
    with_pairs = np.fromiter(map(duplicates.__contains__, article_ids), dtype=bool, count=len(article_ids))
    for position in np.flatnonzero(with_pairs).tolist():
        article_id = article_ids[position]
        into = min((home[other] for other in duplicates[article_id] if other in home and other != article_id),
                   default=None)
        if into is None:
            home.setdefault(article_id, position)
            continue
        gone.append(position)
        group = folded.setdefault(into, [])
        if article_id not in group:
            group.append(article_id)
    kept = np.ones(len(article_ids), dtype=bool)
    kept[gone] = False
    return np.flatnonzero(kept), folded
