"""Sliding-window rate limits per key (user, channel), in memory, with an injected clock."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self, limit: int, window_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window_seconds
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}

    def _prune(self, key: str) -> deque[float]:
        hits = self._hits.setdefault(key, deque())
        now = self._clock()
        while hits and now - hits[0] >= self.window:
            hits.popleft()
        return hits

    def retry_after(self, key: str) -> float:
        """0 when a hit is allowed now; otherwise seconds until it is."""
        hits = self._prune(key)
        if len(hits) < self.limit:
            return 0.0
        return max(self.window - (self._clock() - hits[0]), 0.0)

    def hit(self, key: str) -> None:
        self._prune(key).append(self._clock())
