"""Admission control: a bounded number of generations, a bounded queue, per-client rates."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from ragqa.errors import Busy


class GenerationLimiter:
    """At most `slots` generations run; at most `queue` more wait; the rest are refused at once.

    A refusal is immediate (no waiting), so an overloaded server answers 503 at once instead
    of piling up requests it cannot serve.
    """

    def __init__(self, slots: int, queue: int, retry_after_s: int) -> None:
        self.slots = slots
        self.queue = queue
        self.retry_after_s = retry_after_s
        self.active = 0
        self.waiting = 0
        self._cond = threading.Condition()

    def acquire(self, timeout_s: float | None = None) -> None:
        """Take a slot, waiting in the queue if there is room; raise Busy otherwise."""
        with self._cond:
            if self.active < self.slots:
                self.active += 1
                return
            if self.waiting >= self.queue:
                raise Busy(self.retry_after_s)
            self.waiting += 1
            try:
                if not self._cond.wait_for(lambda: self.active < self.slots, timeout_s):
                    raise Busy(self.retry_after_s)
                self.active += 1
            finally:
                self.waiting -= 1

    def release(self) -> None:
        with self._cond:
            self.active -= 1
            self._cond.notify()

    @contextmanager
    def slot(self, timeout_s: float | None = None) -> Iterator[None]:
        self.acquire(timeout_s)
        try:
            yield
        finally:
            self.release()


class ClientRateLimiter:
    """A moving-window limit of requests per client per minute (0 disables it)."""

    def __init__(self, per_minute: int) -> None:
        self.item = RateLimitItemPerMinute(per_minute) if per_minute > 0 else None
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def hit(self, client: str) -> float | None:
        """Count a request; None when allowed, else seconds until the client may retry."""
        if self.item is None or self.limiter.hit(self.item, client):
            return None
        reset_at = self.limiter.get_window_stats(self.item, client).reset_time
        return max(1.0, reset_at - time.time())
