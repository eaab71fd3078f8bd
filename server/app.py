"""The ASGI application: a JSON API under /api and the Arabic search pages, on an engine pool.

Every JSON body is the CLI's ``--json`` output for the same request (the result types'
``to_dict``); nothing here writes the index.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException

from indexer.store.filters import FilterError
from search.engine import Engine
from search.query import QueryError, UnknownArticle
from server import api, pages
from server.batching import Batching, BatcherClosed
from server.pool import EnginePool, PoolBusy
from server.security import SecurityHeaders

log = logging.getLogger("baheth.server")
# Searches one worker process answers at once. Python runs one thread at a time per process, and
# threads of one process contending for it cost CPU: at 16 clients one process with 16 engines
# spent 41.6 server CPU ms a keyword request, two processes with 1 or 2 engines 13.5 to 14.4,
# the same as one request at a time (11.5) (`python -m bench.serve_load`, docs/performance.md,
# "Serving: one process per core"). Two, not one, so a request waiting for SQLite or for the
# query encoder does not hold up its process.
DEFAULT_ENGINES = 2
# Worker processes by default: one per core this process may run on, up to this many (each
# holds its own encoder and engines: 360 to 630 MB at 100k passages).
MAX_DEFAULT_WORKERS = 8
# How `baheth serve --workers N` hands its settings to each worker process: uvicorn starts a
# worker by importing ``worker_app``, which takes no arguments.
WORKER_SETTINGS = "BAHETH_SERVE_WORKER"
# One inference thread per query encoder: under concurrent requests the other cores have other
# requests' work, and e5-openvino spent 14 CPU ms a question on one thread against 16 on two
# (`python -m bench.query_batching`, docs/performance.md).
ENCODER_THREADS = 1
# numpy's matrix products on one thread, for the same reason: the batched dense search's product
# over the vectors cost 16.7 CPU ms a question in batches of 8 with numpy's default two threads
# on the shared machine, against 8.4 searched alone (`python -m bench.dense_batching
# --blas-threads 0`, docs/performance.md).
BLAS_THREADS = 1
WORKER_PING_S = 120


def default_workers() -> int:
    """One server process per core this process may run on, at most ``MAX_DEFAULT_WORKERS``."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(cores, MAX_DEFAULT_WORKERS))


def create_app(index_dir: str | Path, engines: int = DEFAULT_ENGINES, answer_model=None,
               encoder_threads: int | None = None, close_connections: bool = False,
               batching: Batching = Batching(), static_queries: bool = True) -> FastAPI:
    """The app over the index at ``index_dir``; opens the engines now, so a missing index fails
    here (``IndexNotFound``), not on the first request. Whoever creates it closes
    ``app.state.pool`` when done (not on the app's shutdown: one app may be started twice).
    ``answer_model``: ``ask``'s model (``search.answers.model.AnswerModel``; None: the shipped one);
    ``encoder_threads``: the query encoder's threads (None: its default); ``close_connections``:
    each response closes its connection (``serve`` with several workers: see ``worker_app``);
    ``batching``: how concurrent requests share the query encoder and the dense search;
    ``static_queries``: e5-openvino encodes each question through a model compiled for its padded
    length (``OpenVinoEncoder``), 0.53 to 0.67 of the dynamic model's CPU in the server with the
    same retrieval quality, for about 280 MiB more a process; the CLI and ``Engine`` keep the
    dynamic model (docs/performance.md, "Serving: static query shapes")."""
    pool = EnginePool(index_dir, engines, answer_model, encoder_threads, batching, static_queries=static_queries)
    app = FastAPI(title="baheth", version="1", docs_url=None, redoc_url=None,
                  description="Search an Arabic news archive: keyword, dense and hybrid search, questions, articles.")
    app.state.pool = pool
    app.include_router(api.router)
    app.include_router(pages.router)
    app.add_middleware(SecurityHeaders, extra=[(b"connection", b"close")] if close_connections else [])
    add_error_handlers(app)
    return app


def serve(index_dir: str | Path, host: str, port: int, engines: int | None = None, workers: int | None = None,
          opened=lambda: None, batching: Batching = Batching(), static_queries: bool = True) -> None:
    """Answer HTTP until interrupted: ``workers`` processes (None: ``default_workers()``; Python
    runs one thread at a time per process), each with its own ``engines`` (None:
    ``DEFAULT_ENGINES``), query encoder (``static_queries``: see ``create_app``) and ``batching``
    of dense searches (docs/performance.md, "Serving"). ``opened`` is called once the index has opened, before the first request."""
    import uvicorn
    engines, workers = engines or DEFAULT_ENGINES, workers or default_workers()
    settings = {"index": str(index_dir), "engines": engines, "encoder_threads": ENCODER_THREADS,
                "close_connections": workers > 1, "batching": asdict(batching),
                "static_queries": static_queries}
    options = dict(host=host, port=port, log_level="warning", server_header=False)
    if workers == 1:
        app = worker_app(settings)
        opened()
        try:
            uvicorn.run(app, **options)
        finally:
            app.state.pool.close()
        return
    # Opened here first, so that a missing or damaged index is one message, not one per worker.
    Engine(index_dir).close()
    opened()
    os.environ[WORKER_SETTINGS] = json.dumps(settings)
    # uvicorn kills a worker that does not answer its ping within this; loading the encoder holds
    # Python for seconds at a time (e5-openvino's tokenizer), far longer on a busy machine.
    uvicorn.run("server.app:worker_app", factory=True, workers=workers, timeout_worker_healthcheck=WORKER_PING_S,
                **options)


def worker_app(settings: dict | None = None) -> FastAPI:
    """The app of one server process, with ``settings`` (``serve``'s), by default those in
    ``$BAHETH_SERVE_WORKER``. A worker's engines only read, so they end with its process.
    With several workers each response closes its connection: the workers share one listening
    socket, and a kept-alive connection stays with the worker that accepted it (16 clients' were
    split 16/0 and 11/5 between two workers), while a new one goes to whichever is free first."""
    from threadpoolctl import threadpool_limits
    settings = settings or json.loads(os.environ[WORKER_SETTINGS])
    threadpool_limits(BLAS_THREADS, user_api="blas")   # for the life of this server process
    return create_app(settings["index"], settings["engines"], encoder_threads=settings["encoder_threads"],
                      close_connections=settings["close_connections"], batching=Batching(**settings["batching"]),
                      static_queries=settings["static_queries"])


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
