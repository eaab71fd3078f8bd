"""``server.batching.MicroBatcher``: requests that arrive together share one call, each gets its
own result, a failed batch fails each of its callers, and closing leaves nobody waiting."""
from __future__ import annotations

import threading

import pytest

from server.batching import BatcherClosed, BatchFailed, MicroBatcher
from tests.threads import all_at_once


def submit_all(batcher: MicroBatcher, items: list) -> dict:
    """Each item submitted from its own thread at once; item -> result or the exception raised."""
    return all_at_once(batcher.submit, items, timeout=30)


def test_requests_arriving_together_share_calls_and_each_gets_its_own_result():
    calls = []
    batcher = MicroBatcher(lambda items: calls.append(len(items)) or [i * i for i in items], max_batch=4, max_wait_s=0.5)
    try:
        got = submit_all(batcher, list(range(10)))
    finally:
        batcher.close()
    assert got == {i: i * i for i in range(10)}
    assert sum(calls) == 10 and max(calls) == 4 and len(calls) <= 4   # batches of at most 4, not 10 calls


def test_a_lone_request_waits_at_most_max_wait():
    batcher = MicroBatcher(lambda items: list(items), max_batch=8, max_wait_s=0.0)
    try:
        assert [batcher.submit(i) for i in range(3)] == [0, 1, 2]
    finally:
        batcher.close()


def test_a_failing_batch_gives_each_caller_the_error_and_the_next_batch_runs():
    def run(items):
        if "bad" in items:
            raise ValueError("the encoder broke")
        return [item.upper() for item in items]

    batcher = MicroBatcher(run, max_batch=8, max_wait_s=0.5)
    try:
        got = submit_all(batcher, ["bad", "a", "b"])
        assert all(isinstance(got[i], BatchFailed) for i in ("bad", "a", "b"))
        assert "the encoder broke" in str(got["a"]) and isinstance(got["a"].__cause__, ValueError)
        assert batcher.submit("c") == "C"
    finally:
        batcher.close()


def test_a_batch_answered_with_too_few_results_fails_instead_of_leaving_callers_waiting():
    batcher = MicroBatcher(lambda items: items[:1], max_batch=8, max_wait_s=0.5)
    try:
        got = submit_all(batcher, ["a", "b"])
    finally:
        batcher.close()
    assert all(isinstance(e, BatchFailed) for e in got.values())


def test_closing_answers_the_batch_in_hand_refuses_the_rest_and_stops_the_worker():
    running, release = threading.Event(), threading.Event()

    def run(items):
        running.set()
        release.wait(10)
        return list(items)

    batcher = MicroBatcher(run, max_batch=1, max_wait_s=0, name="test-batcher")
    got = {}
    first = threading.Thread(target=lambda: got.update(first=batcher.submit("first")))
    first.start()
    running.wait(10)
    queued = threading.Thread(target=lambda: got.update(queued=_outcome(batcher, "queued")))
    queued.start()
    closer = threading.Thread(target=batcher.close)
    closer.start()
    release.set()
    for t in (first, queued, closer):
        t.join(timeout=30)
    assert got["first"] == "first"
    assert isinstance(got["queued"], BatcherClosed)
    assert "test-batcher" not in {t.name for t in threading.enumerate()}
    with pytest.raises(BatcherClosed):
        batcher.submit("late")
    batcher.close()   # a second close does nothing


def _outcome(batcher, item):
    try:
        return batcher.submit(item)
    except BatcherClosed as exc:
        return exc
