"""What the server asks of an engine, one function per request kind.

Each takes the engine it was handed and returns plain data (the result types' ``to_dict``), so
the same call runs on an engine of this process (``server.pool.EnginePool``) or in a search
process (``server.dispatch.SearchProcesses``), whose answer comes back pickled. The HTTP side
(``server.api``, ``server.pages``) only checks parameters and renders what these return.
"""
from __future__ import annotations

from contextlib import contextmanager

from indexer.store.filters import Filters
from search.engine import Engine
from search.results import SearchResults, absence_in_arabic, absence_notice


@contextmanager
def engine_settings(engine: Engine, **settings):
    """``settings`` (fusion, dense_weight) on ``engine`` for one request, then as they were."""
    saved = {name: getattr(engine, name) for name in settings}
    try:
        for name, value in settings.items():
            setattr(engine, name, value)
        yield engine
    finally:
        for name, value in saved.items():
            setattr(engine, name, value)


def search(engine: Engine, q: str, *, fusion: str, dense_weight: float, **options) -> dict:
    """``baheth search --json``; ``options``: ``Engine.search``'s."""
    with engine_settings(engine, fusion=fusion, dense_weight=dense_weight):
        return engine.search(q, **options).to_dict()


def search_page(engine: Engine, q: str, **options) -> dict:
    """The search page's data: the results with their facets, what the page says above them, and
    the titles of the near-duplicates folded under the hits."""
    results = engine.search(q, facets=True, **options)
    alike = titles(engine, [a for hit in results.hits for a in hit.more_like_it])
    return {"results": results.to_dict(), "notices": notices(results), "alike": alike}


def notices(results: SearchResults) -> dict:
    """What the page says above the hits: that nothing holds the query's words (in Arabic; the
    CLI's notice adds English), and the engine's other notices."""
    absent = absence_notice(results.query, results.level) if not results.matches else ""
    rest = results.notice.removeprefix(absent).lstrip("; ")
    return {"absent": absence_in_arabic(results.query, results.level) if absent else "", "other": rest}


def titles(engine: Engine, article_ids: list[str]) -> dict[str, str]:
    """The titles of the near-duplicates folded under the hits shown (a handful a page)."""
    with engine.store.snapshot():
        rows = {a: engine.store.article(a) for a in dict.fromkeys(article_ids)}
    return {a: (row["title"] if row is not None else "") or a for a, row in rows.items()}


def ask(engine: Engine, q: str, **options) -> dict:
    """``baheth ask --json``; ``options``: ``Engine.ask``'s."""
    return engine.ask(q, **options).to_dict()


def article(engine: Engine, article_id: str) -> dict | None:
    """``baheth show --json``, or None where the index holds no such article."""
    found = engine.article(article_id)
    return found.to_dict() if found is not None else None


def article_page(engine: Engine, article_id: str, similar_shown: int) -> tuple[dict, dict] | None:
    """An article and the ``similar_shown`` articles most like it, or None."""
    found = engine.article(article_id)
    if found is None:
        return None
    return found.to_dict(), engine.similar(article_id, k=similar_shown).to_dict()


def similar(engine: Engine, article_id: str, k: int, filters: Filters) -> dict:
    return engine.similar(article_id, k=k, filters=filters).to_dict()


def stats(engine: Engine) -> dict:
    return engine.stats()


def articles(engine: Engine) -> int:
    return engine.store.count_articles()
