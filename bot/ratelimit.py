"""Sliding-window rate limits: the ones shared by every process on the database, and one in
memory.

Shared (`Window`, `HitCounter`): the limits per user, per channel and on flags, and Reddit's
request budget, are counted in the database (bot/storage/ratelimits.py), so they hold across all
the processes that share it, not per process. A reservation checks and counts in one
transaction; a reserved hit whose work was not created after all is given back. `SharedQuota` is
what a Reddit adapter sees of it: reserve a request in a bucket, and hold the bucket when Reddit
said to wait (`StoredQuota` is it on the storage).

In memory (`RateLimiter`), with an injected clock. Memory is bounded by activity, not by history:
a key keeps at most `limit` timestamps, a key with no hit in the last window is dropped when it
is next looked at, and once per window every such key is swept out, so a process that has seen a
million keys holds only those active in the last window.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.ttl_map import TTLMap


@dataclass(frozen=True, slots=True)
class Window:
    """At most `limit` hits in any `seconds` in `bucket` (`user:…`, `channel:…`, `flag:…`,
    `reddit:…`)."""

    bucket: str
    limit: int
    seconds: float


@dataclass(frozen=True, slots=True)
class Reserved:
    """What a reservation got: counted (`hits`, to give back), or the seconds to wait: until a
    hit leaves a full window (`wait`), or until a hold on the bucket ends (`held`)."""

    wait: float = 0.0
    held: float = 0.0
    hits: tuple[int, ...] = ()

    @property
    def counted(self) -> bool:
        return self.wait <= 0 and self.held <= 0


class HitCounter(Protocol):
    """The shared windows (the storage has them)."""

    async def reserve_hits(
        self, windows: Sequence[Window], *, urgent: bool = True, hold: str | None = None
    ) -> Reserved:
        """Every window has room (and `hold` is not held): one hit counted in each, all in one
        transaction; otherwise nothing counted and how long to wait."""
        ...

    async def release_hits(self, hits: Sequence[int]) -> None: ...

    async def hold_quota(self, name: str, seconds: float) -> None:
        """No reservation naming `name` as its hold is counted for `seconds` from now."""
        ...


class MemoryHits:
    """`HitCounter` in this process's memory, for a database no other process shares (a SQLite
    file has one owner): the same answers as the database's, without a write per reservation.
    One `RateLimiter` per (limit, window) kept, each bucket one of its keys."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._limiters: dict[tuple[int, float], RateLimiter] = {}
        self._held: dict[str, float] = {}  # name → until
        # hit → its limiter and bucket, until it is given back or pushed out by newer ones (a
        # hit is given back by the request that reserved it, at once, if ever).
        self._reserved: TTLMap[int, tuple[RateLimiter, str]] = TTLMap(None, size=4096)
        self._ids = itertools.count(1)

    def _limiter(self, window: Window) -> RateLimiter:
        key = (window.limit, window.seconds)
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = self._limiters[key] = RateLimiter(*key, clock=self._clock)
        return limiter

    async def reserve_hits(
        self, windows: Sequence[Window], *, urgent: bool = True, hold: str | None = None
    ) -> Reserved:
        # No await between the check and the count: a burst cannot all pass before one counts.
        now = self._clock()
        if hold is not None and self._held.get(hold, 0.0) > now:
            return Reserved(held=self._held[hold] - now)
        wait = max((self._limiter(w)._wait(w.bucket, now) for w in windows), default=0.0)
        if wait > 0:
            return Reserved(wait=wait)
        hits = []
        for w in windows:
            limiter = self._limiter(w)
            limiter._hit(w.bucket, now)
            hit = next(self._ids)
            self._reserved.put(hit, (limiter, w.bucket))
            hits.append(hit)
        return Reserved(hits=tuple(hits))

    async def release_hits(self, hits: Sequence[int]) -> None:
        for hit in hits:
            reserved = self._reserved.pop(hit)
            if reserved is not None:
                limiter, bucket = reserved
                limiter.release(bucket)

    async def hold_quota(self, name: str, seconds: float) -> None:
        until = self._clock() + max(seconds, 0.0)
        self._held[name] = max(self._held.get(name, 0.0), until)


class SharedQuota(Protocol):
    """A request budget shared by the processes, as a Reddit adapter uses it."""

    async def reserve(self, bucket: str, limit: int, window: float, *, urgent: bool) -> Reserved:
        """One request in `bucket` (at most `limit` in any `window` s), unless it is held."""
        ...

    async def hold(self, bucket: str, seconds: float) -> None:
        """Reddit said to wait: no request of `bucket` starts in any process for `seconds`."""
        ...


class StoredQuota:
    """`SharedQuota` on the shared windows (the bucket is its own hold)."""

    def __init__(self, counter: HitCounter) -> None:
        self._counter = counter

    async def reserve(self, bucket: str, limit: int, window: float, *, urgent: bool) -> Reserved:
        return await self._counter.reserve_hits(
            (Window(bucket, limit, window),), urgent=urgent, hold=bucket
        )

    async def hold(self, bucket: str, seconds: float) -> None:
        await self._counter.hold_quota(bucket, seconds)


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
