"""Pacing for Reddit's anonymous limits: a per-minute ceiling with a priority queue in front.

`PriorityPacer` lets at most `per_minute` requests start in any 60 s and holds every request while
Reddit has said to wait (`Retry-After`, `x-ratelimit-remaining: 0`). When several requests wait
for a slot, on-demand work (a person waiting for a digest) goes before background work (polling
for new posts, re-checking scores), and within a priority the first to ask goes first.

`SlidingWindow` is a plain ceiling; the new-post poller puts one in front of the pacer so that
background polling never takes more than its share of the budget.

Across processes (several sharing a PostgreSQL database) the budget is counted once more in the
database, through the core's `SharedQuota` (`PriorityPacer.share`): each request reserves a slot
in the shared bucket once this process's pacer lets it go; background requests reserve against a
lower limit (`background_limit`), so people in any process always find a slot within the minute.
Reddit's holds are shared the same way: a hold seen here reaches every process, and one seen
elsewhere comes back with a reservation and is obeyed here. The pacer stays in front, for the
order among this process's own waiters. The shared count only translates: the limits are the
same as the local ones.

Time is injected (`clock`, `sleep`) so that tests drive it without waiting.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from enum import IntEnum

from bot.ratelimit import SharedQuota

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
WINDOW = 60.0  # seconds: budgets are per minute
PEOPLE_SHARE = 0.25  # of a shared budget, at least, that background requests leave to people


class Priority(IntEnum):
    ON_DEMAND = 0  # fetch_thread, resolve, listing: someone is waiting
    BACKGROUND = 1  # stream polling, posts(): nobody is waiting on this one request


class HeldTooLong(Exception):
    """Reddit asked us to wait longer than an on-demand request may wait."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"held for {seconds:.0f} s")
        self.seconds = seconds


def _drop_old(sent: deque[float], now: float) -> None:
    while sent and now - sent[0] >= WINDOW:
        sent.popleft()


class SlidingWindow:
    """At most `limit` acquisitions in any 60 s (first come, first served)."""

    def __init__(self, limit: int, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep):
        self.limit = max(limit, 1)
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self._lock = asyncio.Lock()

    def used(self) -> int:
        _drop_old(self._sent, self._clock())
        return len(self._sent)

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                _drop_old(self._sent, now)
                if len(self._sent) < self.limit:
                    self._sent.append(now)
                    return
                await self._sleep(WINDOW - (now - self._sent[0]))


class PriorityPacer:
    """At most `per_minute` requests in any 60 s for everything that shares it, the waiting ones
    served by (priority, arrival); Reddit's own holds are obeyed on top."""

    def __init__(
        self, per_minute: int, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep
    ) -> None:
        self.per_minute = max(per_minute, 1)
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self._queue: list[tuple[int, int]] = []  # heap of (priority, arrival) still waiting
        self._arrivals = itertools.count()
        self._changed = asyncio.Event()
        self._hold_until = 0.0
        self.granted: deque[Priority] = deque(maxlen=256)  # the latest grants, in order
        self._shared: SharedQuota | None = None
        self._bucket = ""
        self._unshared_hold = 0.0  # seconds of a hold seen here, not yet told to the others
        self._shared_failing = False

    @property
    def background_limit(self) -> int:
        """What background requests may take of a shared minute: the rest is left to people."""
        return max(self.per_minute - math.ceil(self.per_minute * PEOPLE_SHARE), 1)

    def share(self, quota: SharedQuota, bucket: str) -> None:
        """Count every request in `bucket` of `quota` too (the processes sharing a database)."""
        self._shared, self._bucket = quota, bucket

    def hold(self, seconds: float) -> None:
        """Reddit said to wait: no request starts for `seconds` from now (in every process
        sharing the budget once `share_hold` has told them)."""
        self._hold(seconds)
        if self._shared is not None:
            self._unshared_hold = max(self._unshared_hold, seconds)

    def _hold(self, seconds: float) -> None:
        self._hold_until = max(self._hold_until, self._clock() + max(seconds, 0.0))
        self._notify()

    async def share_hold(self) -> None:
        """Tell the other processes of the hold seen here (if any). Never raises: a hold not
        shared leaves the others to meet Reddit's refusal themselves."""
        seconds, self._unshared_hold = self._unshared_hold, 0.0
        if self._shared is None or seconds <= 0:
            return
        try:
            await self._shared.hold(self._bucket, seconds)
        except Exception:
            log.warning("could not share Reddit's hold of %.0f s with the other processes",
                        seconds, exc_info=True)  # fmt: skip

    async def _reserve_shared(self, priority: Priority) -> float:
        """Reserve this request in the shared budget: 0 when counted, else seconds to wait (a
        hold seen by another process is now this one's too). The database unreachable: logged
        once, and this process's own pace goes on alone."""
        if self._shared is None:
            return 0.0
        on_demand = priority is Priority.ON_DEMAND
        limit = self.per_minute if on_demand else self.background_limit
        try:
            got = await self._shared.reserve(self._bucket, limit, WINDOW, urgent=on_demand)
        except Exception:
            if not self._shared_failing:
                log.warning("the shared Reddit budget cannot be read; pacing this process alone",
                            exc_info=True)  # fmt: skip
            self._shared_failing = True
            return 0.0
        self._shared_failing = False
        if got.held > 0:
            self._hold(got.held)
            return got.held
        return got.wait

    def held_for(self) -> float:
        """Seconds left of Reddit's hold (0 when there is none)."""
        return max(self._hold_until - self._clock(), 0.0)

    def delay(self) -> float:
        """Seconds until the next request may start."""
        now = self._clock()
        _drop_old(self._sent, now)
        window = WINDOW - (now - self._sent[0]) if len(self._sent) >= self.per_minute else 0.0
        return max(window, self._hold_until - now, 0.0)

    def waiting(self) -> int:
        return len(self._queue)

    async def acquire(self, priority: Priority, *, max_hold: float | None = None) -> None:
        """Wait for a slot. `max_hold`: give up (HeldTooLong) rather than sit out a hold of
        Reddit's longer than this many seconds."""
        entry = (int(priority), next(self._arrivals))
        heapq.heappush(self._queue, entry)
        granted = False
        try:
            while True:
                if max_hold is not None and self.held_for() > max_hold:
                    raise HeldTooLong(self.held_for())
                if self._queue[0] != entry:
                    # Someone goes before us: wait until the queue or the hold changes.
                    changed = self._changed
                    await changed.wait()
                    continue
                wait = self.delay()
                if wait <= 0:
                    wait = await self._reserve_shared(priority)
                    if wait > 0 and self.held_for() > 0:
                        continue  # a hold seen elsewhere: checked against max_hold first
                if wait <= 0:
                    heapq.heappop(self._queue)
                    self._sent.append(self._clock())
                    self.granted.append(priority)
                    granted = True
                    self._notify()
                    return
                # First in line: sleep until the slot frees; whoever is first then takes it.
                await self._sleep(wait)
        finally:
            if not granted:
                self._queue.remove(entry)
                heapq.heapify(self._queue)
                self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
