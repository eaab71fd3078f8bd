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

from indexer.store.sqlite import PassageVersion
from search.retrievers import Hits


def _version_order(passage: PassageVersion) -> float:
    """Later versions sort higher: a retired version by the generation that retired it, the
    current one above all."""
    return math.inf if passage.retired is None else passage.retired


def newest_version_only(ranked: Hits, passages: Mapping[int, PassageVersion]) -> Hits:
    """``ranked`` without the passages of any article version older than another among them."""
    newest: dict[str, float] = {}
    for pid, _ in ranked:
        p = passages[pid]
        newest[p.article_id] = max(newest.get(p.article_id, -math.inf), _version_order(p))
    return [(pid, s) for pid, s in ranked if _version_order(passages[pid]) == newest[passages[pid].article_id]]
