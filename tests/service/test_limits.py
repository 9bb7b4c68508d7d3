"""Admission control: slots, the bounded queue, fast refusals, per-client rates."""

from __future__ import annotations

import threading
import time

import pytest

from ragqa.errors import Busy
from service.limits import ClientRateLimiter, GenerationLimiter


def test_beyond_slots_and_queue_requests_are_refused_at_once() -> None:
    limiter = GenerationLimiter(slots=1, queue=1, retry_after_s=7)
    limiter.acquire()
    waiter_got_slot = threading.Event()

    def wait_in_queue() -> None:
        limiter.acquire(timeout_s=5)
        waiter_got_slot.set()

    waiter = threading.Thread(target=wait_in_queue)
    waiter.start()
    while limiter.waiting == 0:
        time.sleep(0.001)
    started = time.perf_counter()
    with pytest.raises(Busy) as refused:
        limiter.acquire(timeout_s=5)
    assert time.perf_counter() - started < 0.1
    assert refused.value.retry_after_s == 7
    assert not waiter_got_slot.is_set()
    limiter.release()
    waiter.join(2)
    assert waiter_got_slot.is_set()
    assert (limiter.active, limiter.waiting) == (1, 0)


def test_a_queued_request_gives_up_after_its_timeout() -> None:
    limiter = GenerationLimiter(slots=1, queue=4, retry_after_s=1)
    with limiter.slot():
        with pytest.raises(Busy):
            limiter.acquire(timeout_s=0.05)
        assert limiter.waiting == 0
    assert limiter.active == 0


def test_slots_are_released_when_the_work_fails() -> None:
    limiter = GenerationLimiter(slots=2, queue=0, retry_after_s=1)
    with pytest.raises(ValueError), limiter.slot():
        raise ValueError("generation blew up")
    assert limiter.active == 0


def test_rate_limit_counts_per_client() -> None:
    limiter = ClientRateLimiter(per_minute=2)
    assert limiter.hit("a") is None
    assert limiter.hit("a") is None
    wait = limiter.hit("a")
    assert wait is not None and 0 < wait <= 60
    assert limiter.hit("b") is None


def test_rate_limit_zero_means_off() -> None:
    limiter = ClientRateLimiter(per_minute=0)
    assert all(limiter.hit("a") is None for _ in range(100))
