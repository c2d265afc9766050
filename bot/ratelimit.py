"""Sliding-window rate limits per key (user, channel), in memory, with an injected clock.

Memory is bounded by activity, not by history: a key keeps at most `limit` timestamps, a key with
no hit in the last window is dropped when it is next looked at, and once per window every such key
is swept out, so a bot that has seen a million users holds only those active in the last window.
"""

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
        # key → its last `limit` hits, oldest first; only keys with a hit in the last window.
        self._hits: dict[str, deque[float]] = {}
        self._next_sweep = clock() + window_seconds

    def __len__(self) -> int:
        """How many keys are tracked (those with a hit in the last window, give or take one)."""
        return len(self._hits)

    def _sweep(self, now: float) -> None:
        """Drop every key whose newest hit left the window; at most once per window, so the cost
        is constant per call on average."""
        if now < self._next_sweep:
            return
        self._next_sweep = now + self.window
        stale = [key for key, hits in self._hits.items() if now - hits[-1] >= self.window]
        for key in stale:
            del self._hits[key]

    def _current(self, key: str, now: float) -> deque[float] | None:
        """The key's hits still in the window; None (and the key forgotten) when there are none."""
        self._sweep(now)
        hits = self._hits.get(key)
        if hits is None:
            return None
        while hits and now - hits[0] >= self.window:
            hits.popleft()
        if not hits:
            del self._hits[key]
            return None
        return hits

    def retry_after(self, key: str) -> float:
        """0 when a hit is allowed now; otherwise seconds until it is."""
        return self._wait(key, self._clock())

    def _wait(self, key: str, now: float) -> float:
        hits = self._current(key, now)
        if hits is None or len(hits) < self.limit:
            return 0.0
        # The oldest of the last `limit` hits: when it leaves the window, a hit is allowed.
        return max(self.window - (now - hits[0]), 0.0)

    def hit(self, key: str) -> None:
        self._hit(key, self._clock())

    def _hit(self, key: str, now: float) -> None:
        hits = self._current(key, now)
        if hits is None:
            # Only the last `limit` hits decide anything: older ones fall off by themselves.
            hits = self._hits[key] = deque(maxlen=max(self.limit, 1))
        hits.append(now)

    def reserve(self, key: str) -> float:
        """Check and count in one step (no await between them, so a burst cannot all pass the
        check before any of it counts): 0 when the hit was counted, else seconds to wait. The
        clock is read once for both."""
        now = self._clock()
        wait = self._wait(key, now)
        if wait == 0:
            self._hit(key, now)
        return wait

    def release(self, key: str) -> None:
        """Give back the newest hit (a reserved hit whose work was not created after all)."""
        hits = self._hits.get(key)
        if hits:
            hits.pop()
            if not hits:
                del self._hits[key]
