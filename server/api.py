"""The JSON API: each endpoint answers with what the matching CLI command prints with --json."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from indexer.store.filters import Filters
from server import tasks
from server.options import (DEFAULTS, AskKParam, DenseWeightParam, FusionParam, KParam, LevelParam, ModeParam,
                            OffsetParam, QueryText, SortParam, filters)

router = APIRouter(prefix="/api", tags=["api"])
FiltersParam = Annotated[Filters, Depends(filters)]


def run(request: Request, task, *args, **kwargs):
    """``task`` on one of the app's engines (``server.tasks``): in this process or a search process."""
    return request.app.state.pool.run(task, *args, **kwargs)


@router.get("/search", summary="Search articles or passages (baheth search --json)")
def search(request: Request, q: QueryText, filters: FiltersParam, mode: ModeParam = DEFAULTS["mode"],
           level: LevelParam = DEFAULTS["level"], k: KParam = 10, offset: OffsetParam = 0,
           fusion: FusionParam = DEFAULTS["fusion"], dense_weight: DenseWeightParam = DEFAULTS["dense_weight"],
           sort: SortParam = DEFAULTS["sort"], collapse: bool = True, facets: bool = False):
    return JSONResponse(run(request, tasks.search, q, fusion=fusion, dense_weight=dense_weight, mode=mode,
                            level=level, k=k, offset=offset, filters=filters, sort=sort, collapse=collapse,
                            facets=facets))


@router.get("/ask", summary="Answer a question with sentences from the archive (baheth ask --json)")
def ask(request: Request, q: QueryText, filters: FiltersParam, k: AskKParam = 3, all_from_article: bool = False):
    return JSONResponse(run(request, tasks.ask, q, k=k, filters=filters, all_from_article=all_from_article))


@router.get("/articles/{article_id:path}", summary="One article with its passages (baheth show --json)")
def article(request: Request, article_id: str):
    found = run(request, tasks.article, article_id)
    if found is None:
        return JSONResponse({"error": f"no article with id {article_id!r}"}, status_code=404)
    return JSONResponse(found)


@router.get("/similar/{article_id:path}", summary="Articles like one article, its near-duplicates left out (baheth similar --json)")
def similar(request: Request, article_id: str, filters: FiltersParam, k: KParam = 10):
    return JSONResponse(run(request, tasks.similar, article_id, k, filters))


@router.get("/stats", summary="Counts, size on disk, encoder and analyzer (baheth stats --json)")
def stats(request: Request):
    return JSONResponse(run(request, tasks.stats))


@router.get("/health", summary="Whether the server can read its index")
def health(request: Request):
    return {"status": "ok", "articles": run(request, tasks.articles)}
