"""bench.serve_load's RawClient speaks enough HTTP/1.1 to load ``baheth serve``: it reads each
response's body in full, keeps a kept-alive connection, opens a new one after a response that
closes its own, and reports the status as it came."""
from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.serve_load import RawClient, run_clients

BODY = {"text": "نص عربي " * 500}   # longer than one read of the stream


def app() -> Starlette:
    async def kept(request):
        return JSONResponse({**BODY, "q": request.query_params.get("q")})

    async def closed(request):
        return JSONResponse(BODY, headers={"connection": "close"})

    return Starlette(routes=[Route("/kept", kept), Route("/closed", closed), Route("/api/search", kept)])


@pytest.fixture(scope="module")
def port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app(), host="127.0.0.1", port=free, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started
    yield free
    server.should_exit = True
    thread.join(timeout=30)


def test_the_raw_client_keeps_a_connection_reopens_a_closed_one_and_reports_statuses(port):
    async def session():
        client = RawClient("127.0.0.1", port, timeout=10)
        statuses = [await client.get("/kept", {"q": "أسعار النفط"})]
        first = client._streams
        statuses.append(await client.get("/kept", {"q": "x"}))
        kept = client._streams is first
        statuses.append(await client.get("/closed", {}))
        closed = client._streams is None
        statuses.append(await client.get("/missing", {}))
        statuses.append(await client.get("/kept", {}))
        await client.close()
        return statuses, kept, closed

    statuses, kept, closed = asyncio.run(session())
    assert statuses == [200, 200, 200, 404, 200]
    assert kept and closed


def test_the_load_loop_counts_requests_and_no_errors(port):
    row = asyncio.run(run_clients(f"http://127.0.0.1:{port}", "keyword", ["النفط"], clients=3, seconds=0.5))
    assert row["requests"] > 3 and row["errors"] == 0
    assert asyncio.run(run_clients(f"http://127.0.0.1:{port}", "ask", ["النفط"], clients=2, seconds=0.3))["errors"] > 0
