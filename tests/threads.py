"""Calls made all at once from their own threads, for the tests of concurrent requests."""
from __future__ import annotations

import threading
from typing import Callable, Sequence


def all_at_once(call: Callable, items: Sequence, timeout: float) -> dict:
    """``call(item)`` for every item, each on its own thread, released together by a barrier;
    item -> result or the exception raised. Fails if a call is still waiting after ``timeout``."""
    got, start = {}, threading.Barrier(len(items))

    def one(item):
        start.wait()
        try:
            got[item] = call(item)
        except Exception as exc:
            got[item] = exc

    threads = [threading.Thread(target=one, args=(item,)) for item in items]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads), "a caller was left waiting"
    return got
