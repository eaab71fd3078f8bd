"""``baheth serve``'s search processes (``server.dispatch``): one queue, every endpoint answered as
one process answers it, busy and dead processes."""
from __future__ import annotations

import os
import threading
import time

import pytest
from fastapi.testclient import TestClient

from server.dispatch import ProcessSettings, SearchProcesses
from server.pool import PoolBusy
from tests.test_server import QUESTION
from tests.threads import all_at_once

URLS = ["/api/search?q=النفط&mode=keyword&k=5&offset=3", "/api/search?q=أسعار النفط&fusion=rrf&dense_weight=0.3",
        "/api/search?q=النفط&level=passages&source=Reuters&sort=newest&facets=true",
        f"/api/ask?q={QUESTION}&k=2", "/api/articles/oil-biden", "/api/articles/none", "/api/similar/oil-03?k=4",
        "/api/stats", "/api/health", "/api/search?q=...", "/?q=النفط&page=2", "/?q=الكاظمي", f"/ask?q={QUESTION}",
        "/article/oil-biden", "/article/none"]


@pytest.fixture(scope="module")
def processes_app(served_index, answer_everything):
    from server.app import create_app
    app = create_app(served_index, answer_model=answer_everything, processes=2)
    yield app
    app.state.pool.close()


@pytest.fixture(scope="module")
def client(served_app):
    with TestClient(served_app) as c:
        yield c


@pytest.fixture(scope="module")
def processes_client(processes_app):
    with TestClient(processes_app) as c:
        yield c


def nap(engine, seconds: float) -> int:
    """A request that holds its search process for ``seconds``; the process's id."""
    time.sleep(seconds)
    return os.getpid()


def die(engine) -> None:
    os._exit(3)


def query_shapes(engine) -> bool:
    return engine.encoder()._static_queries


def test_every_endpoint_answers_as_one_process_does(processes_client, client, processes_app):
    assert len(set(processes_app.state.pool.pids)) == 2
    for url in URLS:
        got, expected = processes_client.get(url), client.get(url)
        assert (got.status_code, got.text) == (expected.status_code, expected.text), url


def test_a_free_process_takes_the_next_request_while_the_other_is_busy(processes_app):
    """One queue: requests never wait behind a busy process while another is free."""
    pool, done = processes_app.state.pool, {}

    def request(name, seconds):
        done[name] = (pool.run(nap, seconds), time.monotonic())

    slow = threading.Thread(target=request, args=("slow", 3.0))
    slow.start()
    time.sleep(0.5)   # the slow request is in a process now
    all_at_once(lambda i: request(i, 0.05), range(6), timeout=60)
    slow.join()
    slow_pid, slow_end = done.pop("slow")
    assert {pid for pid, _ in done.values()} == set(pool.pids) - {slow_pid}
    assert max(end for _, end in done.values()) < slow_end


def test_a_request_still_queued_after_the_limit_is_refused(processes_app, monkeypatch):
    """Two requests hold both processes; the next three are handed to the processes' queue (each
    runs once a process is free, however long that takes); the one after waits in the server's
    queue and is refused at the limit."""
    import server.dispatch
    pool = processes_app.state.pool
    monkeypatch.setattr(server.dispatch, "BORROW_TIMEOUT_S", 0.5)
    got = all_at_once(lambda i: (time.sleep(0.3 * (i > 1) + 0.1 * (i > 4)), pool.run(nap, 2.0 * (i < 2)))[1],
                      range(6), timeout=60)
    assert {got[0], got[1]} == set(pool.pids) and {got[2], got[3], got[4]} <= set(pool.pids)
    assert isinstance(got[5], PoolBusy) and "stayed busy" in str(got[5])


def test_a_process_that_dies_is_replaced_with_the_same_settings(served_index):
    pool = SearchProcesses(ProcessSettings(str(served_index), static_queries=False), 1)
    try:
        assert pool.run(query_shapes) is False
        with pytest.raises(PoolBusy, match="a search process stopped"):
            pool.run(die)
        assert pool.run(query_shapes) is False and pool.run(nap, 0) not in pool.pids
    finally:
        pool.close()
