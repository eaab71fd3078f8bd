"""Request parameters shared by the API and the pages, with the server's limits."""
from __future__ import annotations

from typing import Annotated, Literal, Optional

from fastapi import Query

from indexer.store.filters import Filters
from search.engine import DEFAULT_DENSE_WEIGHT, DEFAULT_FUSION
from search.ordering import SORTS

# Limits a public endpoint needs and the CLI does not: one request cannot ask for more work.
MAX_QUERY_CHARS = 500
MAX_K = 100
MAX_OFFSET = 1000
MAX_ASK_K = 10
MAX_FILTER_CHARS = 200
MAX_FILTER_NAMES = 20
PAGE_SIZE = 10

Mode = Literal["hybrid", "keyword", "dense"]
Level = Literal["articles", "passages"]
Fusion = Literal["zscore", "minmax", "rrf"]
Sort = Literal[SORTS]


QueryText = Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS, description="The query, as typed.")]
OptionalText = Annotated[Optional[str], Query(max_length=MAX_QUERY_CHARS)]
ModeParam = Annotated[Mode, Query(description="keyword (BM25F), dense (meaning) or hybrid (both, fused).")]
LevelParam = Annotated[Level, Query(description="Rank articles (by their best passage) or passages.")]
KParam = Annotated[int, Query(ge=1, le=MAX_K, description="Hits to return.")]
OffsetParam = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Hits to skip (pagination).")]
SortParam = Annotated[Sort, Query(description="relevance, or newest or oldest first (undated results last).")]
FusionParam = Annotated[Fusion, Query(description="Hybrid mode: how the two rankings are fused.")]
DenseWeightParam = Annotated[float, Query(ge=0, le=1, description="Hybrid mode: the dense side's weight.")]
AskKParam = Annotated[int, Query(ge=1, le=MAX_ASK_K, description="Answers to return.")]
FilterNames = Annotated[list[Annotated[str, Query(max_length=MAX_FILTER_CHARS)]],
                        Query(max_length=MAX_FILTER_NAMES, description="Any case; repeat for any of several.")]
DateText = Annotated[Optional[str], Query(max_length=10, description="YYYY, YYYY-MM or YYYY-MM-DD, inclusive.")]

DEFAULTS = {"mode": "hybrid", "level": "articles", "sort": "relevance", "fusion": DEFAULT_FUSION, "dense_weight": DEFAULT_DENSE_WEIGHT}


def filters(source: FilterNames = [], section: FilterNames = [],
            since: DateText = None, until: DateText = None) -> Filters:
    """The CLI's --source/--section/--since/--until (``Filters`` checks them: ``FilterError`` is a
    400); empty form fields mean no filter."""
    return Filters(source=[s for s in source if s.strip()], section=[s for s in section if s.strip()],
                   since=since or None, until=until or None)
