"""The best few of many scores, in order, without ordering them all.

Why: a question matches a good share of a million passages (159,000 at the median of 30
XQuAD-ar questions), and a page shows ten. A stable sort of every match's score was 14 CPU ms of a
keyword search there; a partition finds the page's threshold and only the scores at or above it
are sorted (docs/performance.md, "Questions at 1M without ordering every
match").

>>> best_first(np.array([1.0, 3.0, 2.0, 3.0]), 2).tolist()
[1, 3]
>>> best_first(np.array([1.0, 3.0, 2.0, 3.0]), 2, among=np.array([0, 2, 3])).tolist()
[3, 2]
"""
from __future__ import annotations

import numpy as np


def best_first(scores: np.ndarray, count: int, among: np.ndarray | None = None) -> np.ndarray:
    """The positions of the ``count`` highest ``scores`` (only of those at ``among``, ascending
    positions, if given), best first, ties by position: the first ``count`` of a stable sort of
    them all by descending score."""
    if among is None:
        among = np.arange(len(scores))
    values = scores[among]
    if 0 < count < len(among):
        # Every tie of the count-th score stays, so the sort below orders them by position.
        kth = -np.partition(-values, count - 1)[count - 1]
        keep = values >= kth
        among, values = among[keep], values[keep]
    return among[np.argsort(-values, kind="stable")][:count]
