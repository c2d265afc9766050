"""A ThreadSource that remembers: a thread digested in several channels within minutes is
fetched once, and concurrent requests for the same thread share one fetch."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from bot.ports import ListingSort, RateQuota, ThreadRef, ThreadSource, TopPeriod
from bot.ratelimit import SharedQuota
from digest.model import Post, Thread
from digest.report import Depth

_RANK = {Depth.BRIEF: 0, Depth.DEEP: 1}


@dataclass(frozen=True, slots=True)
class _Entry:
    thread: Thread
    depth: Depth
    fetched_at: float


class CachingThreadSource:
    """Wraps a ThreadSource; a deep fetch also serves brief requests for the same thread."""

    def __init__(
        self,
        inner: ThreadSource,
        *,
        ttl_seconds: dict[Depth, float],
        max_entries: int = 64,
        max_comments: int = 20_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._ttl = ttl_seconds
        self._max = max_entries
        # A parsed thread weighs ~0.5 KiB a comment: the cache is bounded by what it holds, not
        # only by how many threads (the memory soak saw 256 large threads keep ~150 MiB alive).
        self._max_comments = max_comments
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._inflight: dict[tuple[str, Depth], asyncio.Future[Thread]] = {}
        self.hits = 0
        self.misses = 0

    def _fresh(self, key: str, depth: Depth) -> Thread | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if _RANK[entry.depth] < _RANK[depth]:
            return None
        if self._clock() - entry.fetched_at > self._ttl[entry.depth]:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry.thread

    async def fetch_thread(self, ref: ThreadRef, depth: Depth) -> Thread:
        cached = self._fresh(ref.key, depth)
        if cached is not None:
            self.hits += 1
            return cached
        for d in Depth:  # a fetch under way that is at least as deep serves this one too
            pending = self._inflight.get((ref.key, d))
            if pending is not None and _RANK[d] >= _RANK[depth]:
                self.hits += 1
                return await asyncio.shield(pending)
        self.misses += 1
        future: asyncio.Future[Thread] = asyncio.get_running_loop().create_future()
        self._inflight[(ref.key, depth)] = future
        try:
            thread = await self._inner.fetch_thread(ref, depth)
        except BaseException as exc:
            if not future.done():
                future.set_exception(exc)
                future.exception()  # consumed here: waiters re-raise it themselves
            raise
        finally:
            self._inflight.pop((ref.key, depth), None)
        future.set_result(thread)
        now = self._clock()
        self._entries[ref.key] = _Entry(thread, depth, now)
        self._entries.move_to_end(ref.key)
        for key, entry in list(self._entries.items()):  # expired ones go now, not when asked
            if now - entry.fetched_at > self._ttl[entry.depth]:
                del self._entries[key]
        held = sum(len(e.thread.comments) for e in self._entries.values())
        while len(self._entries) > 1 and (
            len(self._entries) > self._max or held > self._max_comments
        ):
            _, oldest = self._entries.popitem(last=False)
            held -= len(oldest.thread.comments)
        return thread

    async def resolve(self, text: str) -> ThreadRef:
        return await self._inner.resolve(text)

    async def listing(
        self,
        subreddit: str,
        sort: ListingSort,
        *,
        period: TopPeriod = TopPeriod.DAY,
        limit: int = 25,
    ) -> list[Post]:
        return await self._inner.listing(subreddit, sort, period=period, limit=limit)

    async def posts(self, post_ids: Sequence[str]) -> list[Post]:
        return await self._inner.posts(post_ids)

    def stream(self, subreddits: Sequence[str]) -> AsyncIterator[Post]:
        return self._inner.stream(subreddits)

    def quota(self) -> RateQuota:
        return self._inner.quota()

    def share_budget(self, quota: SharedQuota) -> None:
        """The source's request budget, counted with the other processes' (bot/ratelimit.py)."""
        share = getattr(self._inner, "share_budget", None)
        if share is not None:
            share(quota)
