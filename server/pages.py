"""The server-rendered Arabic pages: search, ask, one article, and the API reference.

Every page works without JavaScript (plain GET forms and links); all text reaches the HTML
through Jinja's autoescaping, cut into ``server.text`` runs for highlights and bidi isolation.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from indexer.store.filters import Filters
from search.ordering import UNDATED
from search.results import RELATED
from server import tasks
from server.api import run
from server.coverage import bars
from server.options import (DEFAULTS, MAX_OFFSET, PAGE_SIZE, LevelParam, ModeParam, OptionalText, SortParam,
                            filters)
from server.text import stretches

HERE = Path(__file__).resolve().parent
TEMPLATES = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True),
                        trim_blocks=True, lstrip_blocks=True)
# The only files the server sends, read once at start: no request parameter names a file.
STATIC = {name: (media_type, (HERE / "static" / name).read_bytes())
          for name, media_type in {"style.css": "text/css; charset=utf-8"}.items()}
MODE_NAMES = {"hybrid": "كلمات ومعنى", "keyword": "بالكلمات", "dense": "بالمعنى"}
LEVEL_NAMES = {"articles": "مقالات", "passages": "فقرات"}
SORT_NAMES = {"relevance": "الأكثر صلة", "newest": "الأحدث", "oldest": "الأقدم"}
FACET_NAMES = {"source": "المصادر", "section": "الأقسام"}
# The articles a facet has no value for (no filter selects them, so they get no link).
WITHOUT = {"source": "بلا مصدر", "section": "بلا قسم"}
# Values of a facet the page lists (most articles first); the counts of the rest are in /api/search.
FACET_SHOWN = 8
MAX_PAGE = MAX_OFFSET // PAGE_SIZE + 1
SIMILAR_SHOWN = 5

router = APIRouter(include_in_schema=False)
PageParam = Annotated[int, Query(ge=1, le=MAX_PAGE)]
FiltersParam = Annotated[Filters, Depends(filters)]


def render(template: str, request: Request, **context) -> str:
    return TEMPLATES.get_template(template).render(path=request.url.path, **context)


def article_url(article_id: str, passage_id: int | None = None) -> str:
    return f"/article/{quote(article_id, safe='')}" + (f"#p{passage_id}" if passage_id is not None else "")


TEMPLATES.globals.update(stretches=stretches, article_url=article_url, MODE_NAMES=MODE_NAMES, LEVEL_NAMES=LEVEL_NAMES,
                        SORT_NAMES=SORT_NAMES, FACET_NAMES=FACET_NAMES, RELATED=RELATED)


@router.get("/", response_class=HTMLResponse)
def search_page(request: Request, filters: FiltersParam, q: OptionalText = None, mode: ModeParam = DEFAULTS["mode"],
                level: LevelParam = DEFAULTS["level"], sort: SortParam = DEFAULTS["sort"], page: PageParam = 1):
    form = {"q": q or "", "mode": mode, "level": level, "sort": sort, **form_filters(filters)}
    context = {"form": form, "results": None}
    if q and q.strip():
        found = run(request, tasks.search_page, q, mode=mode, level=level, k=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE,
                    filters=filters, sort=sort)
        results = found["results"]
        context.update(results=results, notices=found["notices"], alike=found["alike"],
                       pages=pagination(request, page, results["ranked"]),
                       sorts={value: page_link(request, sort=value) for value in SORT_NAMES},
                       facets=facet_links(request, results["facets"], filters),
                       chart=chart(request, results["facets"]["month"]))
    return render("search.html", request, **context)


@router.get("/ask", response_class=HTMLResponse)
def ask_page(request: Request, filters: FiltersParam, q: OptionalText = None):
    form = {"q": q or "", **form_filters(filters)}
    answers = run(request, tasks.ask, q, k=3, filters=filters) if q and q.strip() else None
    return render("ask.html", request, form=form, answers=answers)


@router.get("/article/{article_id:path}", response_class=HTMLResponse)
def article_page(request: Request, article_id: str):
    found = run(request, tasks.article_page, article_id, SIMILAR_SHOWN)
    if found is None:
        return HTMLResponse(render("error.html", request, status=404, message=f"لا مقال بالمعرّف {article_id}"),
                            status_code=404)
    article, similar = found
    return render("article.html", request, article=article, url=safe_link(article["url"]), similar=similar)


@router.get("/static/{name}")
def static(name: str):
    if name not in STATIC:
        return Response(status_code=404)
    media_type, body = STATIC[name]
    return Response(body, media_type=media_type, headers={"cache-control": "public, max-age=3600"})


@router.get("/docs", response_class=HTMLResponse)
def api_docs(request: Request):
    """The OpenAPI description (/openapi.json) as a page: no script, nothing from a CDN."""
    return render("docs.html", request, api=request.app.openapi())


def form_filters(filters: Filters) -> dict:
    """The filter fields as the form shows them (the form has one field each; the first name)."""
    return {"source": filters.source[0] if filters.source else "",
            "section": filters.section[0] if filters.section else "",
            "since": filters.since or "", "until": filters.until or ""}


def page_link(request: Request, page: int | None = None, **changes) -> str:
    """This search with ``changes`` (a parameter to its new value, a list for several, or None to
    drop it), on ``page`` (the first when None: a new order or filter starts over)."""
    kept = [(key, value) for key, value in request.query_params.multi_items()
            if key not in changes and key != "page" and value]
    for key, value in changes.items():
        kept += [(key, v) for v in (value if isinstance(value, list) else [value]) if v is not None]
    return "/?" + urlencode(kept + ([("page", page)] if page else []))


def pagination(request: Request, page: int, ranked: int) -> dict:
    """Links to the neighbouring pages of ``ranked`` results (``SearchResults.ranked``: what is
    left after near-duplicates are folded, not the match count), keeping every other parameter of
    this one; a page past the server's offset limit is not offered."""
    last = max(1, min(MAX_PAGE, math.ceil(ranked / PAGE_SIZE)))
    return {"page": page, "last": last, "size": PAGE_SIZE,
            "previous": page_link(request, page - 1) if page > 1 else None,
            "next": page_link(request, page + 1) if page < last else None}


def facet_links(request: Request, facets: dict, filters: Filters) -> dict:
    """Each source and section with its count of matching articles and a link that filters the
    search to it (the articles without one counted too, unlinked); the filters in force, each with
    a link that lifts it."""
    shown = {name: [{**value, "href": page_link(request, **{name: value["value"]})} if value["value"] is not None
                    else {"value": WITHOUT[name], "count": value["count"], "href": None}
                    for value in facets[name][:FACET_SHOWN]] for name in FACET_NAMES}
    active = [{"name": name, "value": value,
               "href": page_link(request, **{name: [v for v in getattr(filters, name) if v != value]})}
              for name in FACET_NAMES for value in getattr(filters, name)]
    if filters.since or filters.until:
        active.append({"name": "dates", "value": f"{filters.since or '…'} – {filters.until or '…'}",
                       "href": page_link(request, since=None, until=None)})
    return {"values": shown, "active": active}


def chart(request: Request, months: list[dict]) -> dict:
    """Bars of the month facet, each a link that filters the search to its month (or year)."""
    counts = {m["value"]: m["count"] for m in months}
    drawn = bars(counts)
    return {"bars": drawn, "undated": counts.get(UNDATED, 0), "articles": sum(counts.values()),
            "links": [page_link(request, since=b.period, until=b.period) for b in drawn]}


def safe_link(url: str) -> str | None:
    """An article's own URL as a link only when it is http(s): never javascript: or data:."""
    return url if url.lower().startswith(("http://", "https://")) else None
