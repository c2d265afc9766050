"""What bench/public_reddit_sim.py runs the public source against: the fake Reddit counting
requests by kind (each answered after a simulated round trip), the source's pacer measured (and a
FIFO pacer for comparison), and the core's re-checks of watch candidates, emulated from
bot/core/watch.py's tick."""

from __future__ import annotations

import asyncio
import heapq
import math
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from adapters.reddit_source.pacing import Priority, PriorityPacer
from adapters.reddit_source.public import PublicRedditSource
from bot.commands import WatchCmd
from bot.core import CoreConfig
from bot.ports import SourceError
from tests.fakes.reddit_server import FakeReddit

EPOCH = 1_700_000_000.0  # created_utc of virtual time 0
DAY = 86_400.0
LATENCY = (0.1, 0.5)  # s: a request's round trip to Reddit, uniform
LISTING_SPAN = 3600.0  # how far back the fake's listings of watched subreddits reach
CORE = CoreConfig()
FIRST_CHECK = CORE.watch_first_check.total_seconds()
MAX_BACKOFF = CORE.watch_max_backoff.total_seconds()
WITHIN = WatchCmd("x", 1).within_hours * 3600.0
WORKERS = CORE.workers
BY_ID_BATCH = 100  # storage.due_candidates' limit, and ids per /by_id/ request
TOP = 5  # posts per daily subscription run


# --- the fake, counting ----------------------------------------------------------------------


def kind_of(path: str) -> str:
    if path.endswith("/new.json"):
        return "poll"
    if path.startswith("/by_id/"):
        return "recheck"
    if path.endswith("/top.json"):
        return "listing"
    if path.startswith("/comments/"):
        return "digest"
    return "other"


class CountingFake(FakeReddit):
    """The fake Reddit, counting requests by kind (up to `count_until`) and keeping none; each
    answer takes a simulated round trip of `latency` seconds (0.1-0.5, uniform)."""

    def __init__(self, now: Callable[[], float], seed: int, **kwargs: Any) -> None:
        super().__init__(clock=lambda: EPOCH + now(), **kwargs)
        self.now = now
        self.received = 0
        self.counts: Counter[str] = Counter()
        self.count_until = math.inf
        self.poll_times: list[float] = []
        self._rng = random.Random(seed)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.received += 1
        now = self.now()
        kind = kind_of(request.path)
        if now < self.count_until:
            self.counts[kind] += 1
        if kind == "poll":
            self.poll_times.append(now)
        await asyncio.sleep(self._rng.uniform(*LATENCY))
        try:
            return await super()._handle(request)
        finally:
            self.requests.clear()  # a day of listings would not fit in memory


class MeasuredPacer(PriorityPacer):
    """The source's pacer, noting how long each on-demand request waits for its slot."""

    def __init__(self, per_minute: int, clock: Callable[[], float]) -> None:
        super().__init__(per_minute, clock, asyncio.sleep)
        self.on_demand_waits: list[float] = []

    async def acquire(self, priority: Priority, *, max_hold: float | None = None) -> None:
        start = self._clock()
        await self._take(priority, max_hold)
        if priority is Priority.ON_DEMAND:
            self.on_demand_waits.append(self._clock() - start)

    async def _take(self, priority: Priority, max_hold: float | None) -> None:
        await super().acquire(priority, max_hold=max_hold)


class FifoPacer(MeasuredPacer):
    """The naive pacer: the same ceiling, served in arrival order whatever the priority."""

    async def _take(self, priority: Priority, max_hold: float | None) -> None:
        await super()._take(Priority.BACKGROUND, max_hold)


# --- the core's watch candidates -------------------------------------------------------------


def backoff(checks: int) -> float:
    """bot/core/watch.py tick: the wait after a candidate's check number `checks` (0-based)."""
    return min(FIRST_CHECK * (1 << checks), MAX_BACKOFF)


def check_schedule(seen: float, created: float) -> list[float]:
    """When the core checks a candidate first seen at `seen` that never crosses its threshold:
    the last check is the first one later than `within_hours` after the post was created."""
    times = [seen + FIRST_CHECK]
    while times[-1] - created <= WITHIN:
        times.append(times[-1] + backoff(len(times) - 1))
    return times


CHECKS_PER_CANDIDATE = len(check_schedule(0.0, 0.0))


@dataclass(slots=True)
class Candidate:
    post_id: str
    created: float
    due: float
    checks: int = 0


class Watcher:
    """bot/core/loops.py's watch loop over the source: due candidates (≤100, earliest first) in one
    `posts()` request, the next check `backoff(checks)` after the tick, expired after
    `within_hours`; it sleeps until the earliest check (at least 1 s, at most 300 s)."""

    def __init__(self, source: PublicRedditSource, clock: Callable[[], float]) -> None:
        self._source = source
        self._clock = clock
        self._heap: list[tuple[float, str]] = []
        self._cands: dict[str, Candidate] = {}
        self.known: set[str] = set()
        self.lateness: list[float] = []  # s between a check's due time and its tick
        self.seen_after: list[float] = []  # s between a new post's creation and its stream
        self.failures = 0

    def seed(self, post_id: str, created: float, seen: float) -> None:
        """A candidate of the day before: its checks before time 0 are taken as done."""
        self.known.add(post_id)
        times = check_schedule(seen, created)
        later = [i for i, t in enumerate(times) if t >= 0]
        if later:
            index = later[0]
            self._add(Candidate(post_id, created, times[index], checks=index))

    def seen(self, post_id: str, created: float) -> None:
        if post_id in self.known:
            return
        self.known.add(post_id)
        now = self._clock()
        self.seen_after.append(now - created)
        self._add(Candidate(post_id, created, now + FIRST_CHECK))

    def _add(self, cand: Candidate) -> None:
        self._cands[cand.post_id] = cand
        heapq.heappush(self._heap, (cand.due, cand.post_id))

    async def run(self) -> None:
        while True:
            now = self._clock()
            due: list[Candidate] = []
            while self._heap and self._heap[0][0] <= now and len(due) < BY_ID_BATCH:
                _, post_id = heapq.heappop(self._heap)
                due.append(self._cands[post_id])
            if due:
                try:
                    found = {p.id for p in await self._source.posts([c.post_id for c in due])}
                except SourceError:
                    self.failures += 1
                    found = {c.post_id for c in due}
                for cand in due:
                    self.lateness.append(now - cand.due)
                    if cand.post_id not in found or now - cand.created > WITHIN:
                        del self._cands[cand.post_id]
                        continue
                    cand.due = now + backoff(cand.checks)
                    cand.checks += 1
                    heapq.heappush(self._heap, (cand.due, cand.post_id))
            seconds = self._heap[0][0] - self._clock() if self._heap else 300.0
            await asyncio.sleep(min(max(seconds, 1.0), 300.0))


def recheck_requests_per_day(watched: int, posts_per_day: float, interval: float) -> float:
    """Re-check requests a day by the formula: the candidates one poll finds share their checks,
    so each poll that finds a new post costs CHECKS_PER_CANDIDATE requests (Poisson arrivals)."""
    if watched == 0:
        return 0.0
    polls = DAY / interval
    per_poll = watched * posts_per_day * interval / DAY
    return polls * (1.0 - math.exp(-per_poll)) * CHECKS_PER_CANDIDATE
