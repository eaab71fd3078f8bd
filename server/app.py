"""The ASGI application: a JSON API under /api and the Arabic search pages, on an engine pool.

Every JSON body is the CLI's ``--json`` output for the same request (the result types'
``to_dict``); nothing here writes the index.
"""
from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException

from indexer.store.filters import FilterError
from search.engine import Engine
from search.query import QueryError, UnknownArticle
from server import api, pages
from server.batching import DEFAULT_ENGINES, Batching, BatcherClosed
from server.dispatch import ProcessSettings, SearchProcesses
from server.pool import EnginePool, PoolBusy
from server.security import SecurityHeaders

log = logging.getLogger("baheth.server")
# Search processes by default: one per core this process may run on, up to this many (each
# holds its own encoder and engine: at 100k passages 1,308 MiB resident, 690 MiB of it its own,
# the rest the index's mapped files and libraries, docs/performance.md, "Serving: one queue").
MAX_DEFAULT_WORKERS = 8
# One inference thread per query encoder: under concurrent requests the other cores have other
# requests' work, and e5-openvino spent 14 CPU ms a question on one thread against 16 on two
# (`python -m bench.query_batching`, docs/performance.md).
ENCODER_THREADS = 1
# numpy's matrix products on one thread, for the same reason: the batched dense search's product
# over the vectors cost 16.7 CPU ms a question in batches of 8 with numpy's default two threads
# on the shared machine, against 8.4 searched alone (`python -m bench.dense_batching
# --blas-threads 0`, docs/performance.md).
BLAS_THREADS = 1


def default_workers() -> int:
    """One search process per core this process may run on, at most ``MAX_DEFAULT_WORKERS``."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(cores, MAX_DEFAULT_WORKERS))


def create_app(index_dir: str | Path, engines: int = DEFAULT_ENGINES, answer_model=None,
               encoder_threads: int | None = None, batching: Batching = Batching(), static_queries: bool = True,
               processes: int = 0) -> FastAPI:
    """The app over the index at ``index_dir``; opens the engines now, so a missing index fails
    here (``IndexNotFound``), not on the first request. Whoever creates it closes
    ``app.state.pool`` when done (not on the app's shutdown: one app may be started twice).
    ``processes``: search processes fed from one queue (``SearchProcesses``), each with one
    engine; 0: ``engines`` engines in this process, their questions encoded and searched in
    shared calls as ``batching`` says. ``answer_model``: ``ask``'s model
    (``search.answers.model.AnswerModel``; None: the shipped one); ``encoder_threads``: the query
    encoder's threads (None: its default); ``static_queries``: e5-openvino encodes each question
    through a model compiled for its padded length (``OpenVinoEncoder``), 0.53 to 0.67 of the
    dynamic model's CPU in the server with the same retrieval quality, for about 280 MiB more a
    process; the CLI and ``Engine`` keep the dynamic model (docs/performance.md, "Serving: static
    query shapes")."""
    if processes:
        Engine(index_dir).close()   # a missing or damaged index is one message here, not one per process
        pool = SearchProcesses(ProcessSettings(str(index_dir), answer_model, encoder_threads, static_queries,
                                               BLAS_THREADS), processes)
    else:
        pool = EnginePool(index_dir, engines, answer_model, encoder_threads, batching, static_queries=static_queries)
    app = FastAPI(title="baheth", version="1", docs_url=None, redoc_url=None,
                  description="Search an Arabic news archive: keyword, dense and hybrid search, questions, articles.")
    app.state.pool = pool
    app.include_router(api.router)
    app.include_router(pages.router)
    app.add_middleware(SecurityHeaders)
    add_error_handlers(app)
    return app


def serve(index_dir: str | Path, host: str, port: int, engines: int | None = None, workers: int | None = None,
          opened=lambda: None, batching: Batching = Batching(), static_queries: bool = True) -> None:
    """Answer HTTP until interrupted, in this process: with ``workers`` search processes (None:
    ``default_workers()``) fed from one queue, or, with one worker, ``engines`` engines here (None:
    ``DEFAULT_ENGINES``) sharing ``batching``. ``static_queries``: see ``create_app``. ``opened``
    is called once the index has opened, before the first request."""
    import uvicorn
    from threadpoolctl import threadpool_limits
    workers = workers or default_workers()
    if workers > 1 and engines:
        raise ValueError("engines are set for one process (--workers 1); each search process has one")
    with threadpool_limits(BLAS_THREADS, user_api="blas"):
        app = create_app(index_dir, engines or DEFAULT_ENGINES, encoder_threads=ENCODER_THREADS, batching=batching,
                         static_queries=static_queries, processes=workers if workers > 1 else 0)
        opened()
        # uvicorn stops on SIGTERM, then raises it again once stopped: end through the finally
        # below (the search processes stop with the pool), not at once.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False)
        finally:
            app.state.pool.close()


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/openapi.json"


def error_response(request: Request, status: int, message: str):
    if wants_json(request):
        return JSONResponse({"error": message}, status_code=status)
    return HTMLResponse(pages.render("error.html", request, status=status, message=message), status_code=status)


def validation_message(exc: RequestValidationError) -> str:
    """The first problem, as «where: what» (``query.k: Input should be less than or equal to 100``)."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    return f"{where}: {first.get('msg', 'invalid value')}"


def add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        return error_response(request, 422, validation_message(exc))

    @app.exception_handler(QueryError)
    async def bad_query(request: Request, exc: QueryError):
        return error_response(request, 400, str(exc))

    @app.exception_handler(UnknownArticle)
    async def unknown_article(request: Request, exc: UnknownArticle):
        return error_response(request, 404, str(exc))

    @app.exception_handler(FilterError)
    async def bad_filter(request: Request, exc: FilterError):
        return error_response(request, 400, str(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return error_response(request, exc.status_code, str(exc.detail))

    @app.exception_handler(PoolBusy)
    async def busy(request: Request, exc: PoolBusy):
        return error_response(request, 503, str(exc))

    @app.exception_handler(BatcherClosed)
    async def stopping(request: Request, exc: BatcherClosed):
        return error_response(request, 503, "the server is stopping")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        # Logged here with its traceback; the client gets one line, never the traceback.
        log.exception("error answering %s", request.url.path)
        return error_response(request, 500, "internal error")
