"""Adaptive concurrency per endpoint: additive increase, multiplicative decrease (AIMD)."""

from __future__ import annotations

import asyncio
import weakref
from collections import deque


class AdaptiveLimiter:
    """At most `limit` calls in flight; the limit halves on a rate-limit answer (once per
    window: calls started before the last decrease do not decrease it again) and grows back by
    one per `limit` successes, up to `max_concurrency`.

    Example:
        >>> limiter = AdaptiveLimiter(16)
        >>> async def call() -> None:
        ...     ticket = await limiter.acquire()
        ...     try:
        ...         ...  # the request
        ...         limiter.succeeded()
        ...     finally:
        ...         limiter.release()
    """

    def __init__(self, max_concurrency: int) -> None:
        self.max_concurrency = max(1, int(max_concurrency))
        self.limit = float(self.max_concurrency)
        self.active = 0
        self.peak = 0
        self._epoch = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> int:
        """Wait for a free slot; returns a ticket for `throttled`."""
        while self.active >= int(self.limit):
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(future)
            try:
                await future
            except asyncio.CancelledError:
                if future in self._waiters:
                    self._waiters.remove(future)
                self._wake()
                raise
        self.active += 1
        self.peak = max(self.peak, self.active)
        return self._epoch

    def release(self) -> None:
        """Free the slot taken by `acquire`."""
        self.active -= 1
        self._wake()

    def succeeded(self) -> None:
        """A call succeeded: grow the limit by 1/limit (one per full window)."""
        self.limit = min(float(self.max_concurrency), self.limit + 1.0 / self.limit)
        self._wake()

    def throttled(self, ticket: int) -> None:
        """The endpoint said 429 to a call that held `ticket`: halve the limit (at least 1)."""
        if ticket == self._epoch:
            self._epoch += 1
            self.limit = max(1.0, self.limit / 2)

    def _wake(self) -> None:
        free = int(self.limit) - self.active
        while free > 0 and self._waiters:
            future = self._waiters.popleft()
            if not future.done():
                future.set_result(None)
                free -= 1


_LIMITERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, AdaptiveLimiter]] = (
    weakref.WeakKeyDictionary()
)


def limiter_for(endpoint: str, max_concurrency: int) -> AdaptiveLimiter:
    """The limiter shared by every judge of `endpoint` in the running event loop (its ceiling
    is the largest `max_concurrency` asked for)."""
    per_loop = _LIMITERS.setdefault(asyncio.get_running_loop(), {})
    limiter = per_loop.get(endpoint)
    if limiter is None:
        limiter = per_loop[endpoint] = AdaptiveLimiter(max_concurrency)
    elif max_concurrency > limiter.max_concurrency:
        limiter.max_concurrency = max_concurrency
    return limiter
