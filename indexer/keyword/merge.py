"""When the keyword index merges its Whoosh segments: a tiered policy instead of Whoosh's own.

Why: Whoosh's ``MERGE_SMALL`` lets equal-sized segments pile up, then merges them all at once
when their total falls under a Fibonacci number. With one segment per indexing commit of about
8,200 passages that first happens at 22 segments (about 180,000 passages, 53,000 news articles):
a single merge of the whole index, which filled the writer's whole posting pool (peak memory up
by 120 MiB) and halved the run's throughput (docs/performance.md, "Indexing memory").

Whoosh merges in Python through the writer's posting pool, at about the cost of indexing the
documents again: merging ten such segments took 194 s where each of their commits had taken 11 to
25 s (same run, load 5), and raised the peak by 38 MiB. So bulk commits' segments are never merged
automatically; only small ones are, the segments that single-article updates and deletions leave.
Segments are grouped by the order of magnitude (base ``MERGE_FACTOR``) of their live document
count, and a tier of segments under ``10 ** MERGED_TIERS`` live documents is merged once it holds
``MERGE_FACTOR`` of them: every merge is then smaller than one indexing commit (8,192 passages),
so it fits the same pool, and there are at most ``MERGE_FACTOR`` small segments per tier. Deleted
documents count out, so a bulk segment emptied by corrections drops to a small tier and is merged
away. Searching many bulk segments stays fast on the compiled postings (docs/performance.md).
"""
from __future__ import annotations

from collections import defaultdict

MERGE_FACTOR = 10
MERGED_TIERS = 3   # tiers 0, 1, 2: segments of under 1,000 live documents


def tier(live_docs: int) -> int:
    """The size class of a segment: 0 for under ``MERGE_FACTOR`` live documents, and so on. In
    integers: ``math.log(1000, 10)`` is 2.9999999999999996, which put a segment of exactly 1,000
    documents in tier 2."""
    size, count = 0, max(live_docs, 1)
    while count >= MERGE_FACTOR:
        count //= MERGE_FACTOR
        size += 1
    return size


def segments_to_merge(live_counts: list[int]) -> list[int]:
    """Indexes (into ``live_counts``) of the segments to merge now: those of the smallest small
    tier holding ``MERGE_FACTOR`` or more segments, or none."""
    tiers: dict[int, list[int]] = defaultdict(list)
    for i, count in enumerate(live_counts):
        if tier(count) < MERGED_TIERS:
            tiers[tier(count)].append(i)
    full = sorted(t for t, members in tiers.items() if len(members) >= MERGE_FACTOR)
    return tiers[full[0]] if full else []


def tiered_merge(writer, segments):
    """A Whoosh merge policy (``writer.commit(mergetype=tiered_merge)``): adds the chosen
    segments' documents to the writer's pool, which ``limitmb`` bounds, and returns the rest."""
    from whoosh.reading import SegmentReader

    chosen = set(segments_to_merge([segment.doc_count() for segment in segments]))
    for i in sorted(chosen):
        reader = SegmentReader(writer.storage, writer.schema, segments[i])
        try:
            writer.add_reader(reader)
        finally:
            reader.close()
    return [segment for i, segment in enumerate(segments) if i not in chosen]
