"""One version of each article per result list.

Each retriever's hits resolve to the version of each article its own index holds
(``Store.visible``), but while a writer runs the two indexes can be at different generations:
Whoosh takes a correction at its next keyword commit, faiss when the run saves it. A hybrid
list could then hold the old version's passages from one side and the new one's from the
other. The newest version among the candidates wins: it is what the store (and ``show``)
holds, the keyword side carries it first (its commits precede the faiss save, and catch-up
applies keyword first), and it is the version every reader will converge to.
"""
from __future__ import annotations

import math
from typing import Mapping

import numpy as np

from indexer.store.sqlite import PassageVersion


def _version_order(passage: PassageVersion) -> float:
    """Later versions sort higher: a retired version by the generation that retired it, the
    current one above all."""
    return math.inf if passage.retired is None else passage.retired


def newest_versions(pids: np.ndarray, passages: Mapping[int, PassageVersion]) -> np.ndarray:
    """Which of ``pids`` (a mask) belong to the newest version of their article among them."""
    if all(p.retired is None for p in passages.values()):
        return np.ones(len(pids), bool)   # the common case: no writer is catching up
    newest: dict[str, float] = {}
    for pid in pids.tolist():
        p = passages[pid]
        newest[p.article_id] = max(newest.get(p.article_id, -math.inf), _version_order(p))
    return np.array([_version_order(passages[pid]) == newest[passages[pid].article_id] for pid in pids.tolist()],
                    dtype=bool)
