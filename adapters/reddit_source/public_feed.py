"""New posts without a stream API: one poller for every watched subreddit, Reddit's Atom feeds as
the fallback when its JSON listings are refused.

Every `stream([sub])` the core opens (one per watched subreddit) subscribes to ONE poller, which
asks for all watched subreddits at once (`/r/a+b+c/new.json?limit=100`) and hands each new post
to the streams watching its subreddit.

Cursor, per subreddit: the posts already handed out (the newest ones, remembered) and a floor. A
subreddit's first poll hands out everything on the page (oldest first), so nothing posted while
the bot was down is missed — the core dedupes candidates in its database; later polls hand out
only posts not seen before. The floor is the oldest post of the first full page: a post that only
comes into view because a newer one was deleted is not new.

When the JSON listing is refused (Reddit's block page, or a 429 twice in a row) the poller reads
each subreddit's feed (`/r/SUB/new/.rss`) instead and fetches the scores of the new entries with
one `/by_id/` request (public_atom.py reads the feeds); it tries JSON again after
`JSON_RETRY_SECONDS`.

Poll interval (seconds), from the per-minute budget R and the number of watched subreddits n:

    requests per poll  p = ceil(n / 50)        on JSON  (one multi-subreddit listing per 50 names)
                       p = n + 1               on feeds (a feed each, one /by_id/ for the scores)
    interval           = max(floor, 60 × p / (R × 0.5))

so polling is planned at no more than half the budget; a sliding window of R // 2 requests a
minute in front of the pacer (see public.py) makes that a ceiling whatever happens. With R = 10
and the default floor of 30 s: JSON, any n up to 50 → a poll every 30 s (2 requests a minute);
feeds, 3 subreddits → every 48 s, 10 subreddits → every 132 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import deque
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from adapters.reddit_source.pacing import Clock, Sleep
from adapters.reddit_source.public_atom import POST_ID as _POST_ID
from adapters.reddit_source.public_atom import posts_from_atom
from adapters.reddit_source.public_http import AnonymousBlocked
from adapters.reddit_source.thread_json import post_from_data
from bot.ports import (
    InvalidSubreddit,
    RateLimited,
    SourceError,
    SubredditUnavailable,
)
from digest.model import Post

log = logging.getLogger(__name__)

__all__ = [  # posts_from_atom: re-exported, where it was before public_atom.py
    "BACKGROUND_SHARE",
    "FAILED_POLLS_BEFORE_TELLING",
    "JSON_RETRY_SECONDS",
    "MULTI_MAX",
    "PAGE",
    "RATE_LIMITS_BEFORE_FEEDS",
    "REFUSED_SECONDS",
    "SEEN_PER_SUBREDDIT",
    "NewPostPoller",
    "PollBackend",
    "poll_interval",
    "posts_from_atom",
]

BACKGROUND_SHARE = 0.5  # of the per-minute budget, at most, for polling
MULTI_MAX = 50  # subreddits per /r/a+b+c/new.json request
PAGE = 100  # posts asked for per listing or feed (Reddit's maximum)
JSON_RETRY_SECONDS = 600.0  # on feeds this long before JSON is tried again
REFUSED_SECONDS = 600.0  # a private/banned/unknown subreddit is not asked again for this long
RATE_LIMITS_BEFORE_FEEDS = 2  # 429s in a row on the JSON listing before feeds are used
SEEN_PER_SUBREDDIT = 500


def poll_interval(
    subreddits: int, requests_per_minute: int, *, feeds: bool, floor: float = 30.0
) -> float:
    """Seconds between two polls (see the module's docstring for the formula)."""
    n = max(subreddits, 1)
    per_poll = n + 1 if feeds else math.ceil(n / MULTI_MAX)
    return max(floor, 60.0 * per_poll / (max(requests_per_minute, 1) * BACKGROUND_SHARE))


class PollBackend(Protocol):
    """What the poller asks the source for (each call is one paced, background request; errors
    are SourceErrors)."""

    async def new_listing(self, subreddits: Sequence[str]) -> list[dict[str, Any]]: ...

    async def new_feed(self, subreddit: str) -> list[dict[str, Any]]: ...

    async def by_id(self, post_ids: Sequence[str]) -> list[dict[str, Any]]: ...


def _created(data: dict[str, Any]) -> float:
    value = data.get("created_utc")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _age_key(data: dict[str, Any]) -> tuple[float, int]:
    post_id = str(data.get("id") or "")
    return _created(data), int(post_id, 36) if _POST_ID.fullmatch(post_id) else 0


class _Cursor:
    """One subreddit's place in its new-post listing."""

    def __init__(self, floor: float) -> None:
        self.floor = floor
        self.newest: str | None = None  # fullname of the newest post handed out
        self._seen: set[str] = set()
        self._order: deque[str] = deque()

    def fresh(self, data: dict[str, Any]) -> bool:
        return str(data.get("id")) not in self._seen and _created(data) >= self.floor

    def mark(self, data: dict[str, Any]) -> None:
        post_id = str(data.get("id"))
        self._seen.add(post_id)
        self._order.append(post_id)
        self.newest = f"t3_{post_id}"
        while len(self._order) > SEEN_PER_SUBREDDIT:
            self._seen.discard(self._order.popleft())


FAILED_POLLS_BEFORE_TELLING = 2  # one failed poll is weather; two in a row are news


@dataclass(eq=False)
class _Subscriber:
    names: frozenset[str]
    queue: asyncio.Queue[Post | SourceError] = field(default_factory=asyncio.Queue)


class NewPostPoller:
    """One background poll loop for every open stream of a source."""

    def __init__(
        self,
        backend: PollBackend,
        *,
        requests_per_minute: int,
        floor_seconds: float,
        clock: Clock,
        sleep: Sleep,
    ) -> None:
        self._backend = backend
        self._rpm = requests_per_minute
        self._floor = floor_seconds
        self._clock = clock
        self._sleep = sleep
        self._subscribers: list[_Subscriber] = []
        self._cursors: dict[str, _Cursor] = {}
        self._polled: set[str] = set()  # names the latest poll covered
        self._refused: dict[str, tuple[SourceError, float]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._json_retry_at: float | None = None  # set while on feeds
        self._rate_limited = 0
        self.polls = 0
        self.problem: SourceError | None = None  # why the latest poll failed (None: it didn't)
        self._failed_polls = 0  # polls in a row that failed

    @property
    def on_feeds(self) -> bool:
        return self._json_retry_at is not None

    def watched(self) -> list[str]:
        now = self._clock()
        names = {n for s in self._subscribers for n in s.names}
        return sorted(n for n in names if n not in self._refused or self._refused[n][1] <= now)

    def interval(self) -> float:
        return poll_interval(len(self.watched()), self._rpm, feeds=self.on_feeds, floor=self._floor)

    async def stream(self, names: Sequence[str]) -> AsyncGenerator[Post, None]:
        keys = frozenset(n.lower() for n in names)
        now = self._clock()
        for key in sorted(keys):
            refused = self._refused.get(key)
            if refused is not None and refused[1] > now:
                raise refused[0]
            self._refused.pop(key, None)
        subscriber = _Subscriber(keys)
        self._subscribers.append(subscriber)
        if not keys <= self._polled:
            self._wake.set()  # a subreddit the poller does not cover yet: poll soon
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="reddit-public-poller")
        try:
            while True:
                item = await subscriber.queue.get()
                if isinstance(item, SourceError):
                    raise item
                yield item
        finally:
            self._subscribers.remove(subscriber)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # ------------------------------------------------------------------ the loop

    async def _run(self) -> None:
        while True:
            names = self.watched()
            if not names:
                await self._pause(None)
                continue
            self._wake.clear()
            try:
                await self.poll(names)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug here must not stop watching for good
                log.exception("polling Reddit for new posts failed")
            self._tell_streams()
            await self._pause(self.interval())

    def _tell_streams(self) -> None:
        """A problem that outlasts a poll (feeds refused too, Reddit down) ends the open streams
        with it, once, so the core can say in each watch's channel why it is quiet; they come
        back through `stream()` and the polls go on meanwhile."""
        self._failed_polls = self._failed_polls + 1 if self.problem is not None else 0
        if self._failed_polls != FAILED_POLLS_BEFORE_TELLING or self.problem is None:
            return
        for subscriber in self._subscribers:
            subscriber.queue.put_nowait(self.problem)

    async def _pause(self, seconds: float | None) -> None:
        """Sleep `seconds` (None: until woken), or less when a stream needs a new subreddit."""
        waker = asyncio.ensure_future(self._wake.wait())
        waiters: set[asyncio.Future[Any]] = {waker}
        if seconds is not None:
            waiters.add(asyncio.ensure_future(self._sleep(seconds)))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)

    async def poll(self, names: Sequence[str]) -> None:
        """One round: the JSON listing, or the feeds when JSON is refused."""
        self.polls += 1
        if self._json_retry_at is not None and self._clock() >= self._json_retry_at:
            log.info("trying Reddit's JSON listing again for new posts")
            self._json_retry_at = None
        if self._json_retry_at is None and await self._poll_json(names):
            return
        await self._poll_feeds(names)

    def _to_feeds(self, why: str) -> None:
        self._json_retry_at = self._clock() + JSON_RETRY_SECONDS
        log.warning(
            "Reddit %s; watching for new posts through the subreddits' "
            "Atom feeds instead (one request per subreddit per poll; JSON is tried again in "
            "%d minutes). Set up OAuth (REDDIT_CLIENT_ID, REDDIT_CLIENT_SECRET) or a proxy "
            "(REDIGEST_REDDIT_PUBLIC_URL) if this lasts.",
            why,
            JSON_RETRY_SECONDS // 60,
        )

    async def _poll_json(self, names: Sequence[str]) -> bool:
        """False when the JSON listing is refused and the feeds must be read instead."""
        for start in range(0, len(names), MULTI_MAX):
            chunk = list(names[start : start + MULTI_MAX])
            try:
                items = await self._backend.new_listing(chunk)
            except AnonymousBlocked as exc:
                self.problem = exc
                self._to_feeds("refused the JSON listing of new posts (its block page)")
                return False
            except RateLimited as exc:
                self.problem = exc
                self._rate_limited += 1
                if self._rate_limited >= RATE_LIMITS_BEFORE_FEEDS:
                    self._rate_limited = 0
                    self._to_feeds("kept rate-limiting the JSON listing of new posts (429)")
                    return False
                return True  # the pacer holds for Retry-After; next poll tries again
            except (SubredditUnavailable, InvalidSubreddit) as exc:
                if len(chunk) == 1:
                    self._refuse(chunk[0], exc)
                else:
                    await self._probe(chunk)
                continue
            except SourceError as exc:
                self.problem = exc
                log.info("polling r/%s for new posts failed: %s", "+".join(chunk), exc)
                return True
            self._rate_limited = 0
            self.problem = None
            self._deliver(chunk, items, full=len(items) >= PAGE)
        return True

    async def _probe(self, names: Sequence[str]) -> None:
        """A multi-subreddit listing was refused for one of its names: ask each alone, once."""
        for name in names:
            try:
                items = await self._backend.new_listing([name])
            except (SubredditUnavailable, InvalidSubreddit) as exc:
                self._refuse(name, exc)
                continue
            except SourceError as exc:
                self.problem = exc
                return
            self._deliver([name], items, full=len(items) >= PAGE)

    async def _poll_feeds(self, names: Sequence[str]) -> None:
        pages: list[tuple[str, list[dict[str, Any]]]] = []
        for name in names:
            try:
                pages.append((name, await self._backend.new_feed(name)))
            except (SubredditUnavailable, InvalidSubreddit) as exc:
                self._refuse(name, exc)
            except SourceError as exc:
                self.problem = exc
                log.info("reading the feed of r/%s failed: %s", name, exc)
        fresh = [
            str(d["id"])
            for name, items in pages
            for d in items
            if name not in self._cursors or self._cursors[name].fresh(d)
        ]
        scored: dict[str, dict[str, Any]] = {}
        if fresh:
            try:
                scored = {str(d.get("id")): d for d in await self._backend.by_id(fresh)}
            except SourceError as exc:
                log.info("scores of %d new post(s) unknown for now: %s", len(fresh), exc)
        for name, items in pages:
            merged = [scored.get(str(d["id"]), d) for d in items]
            self._deliver([name], merged, full=len(items) >= PAGE)
        if pages:
            self.problem = None

    # ------------------------------------------------------------------ fan-out

    def _deliver(self, names: Sequence[str], items: list[dict[str, Any]], *, full: bool) -> None:
        """Hand each post not seen before to the streams watching its subreddit, oldest first."""
        floor = min((_created(d) for d in items), default=-math.inf) if full else -math.inf
        by_name: dict[str, list[dict[str, Any]]] = {}
        for data in items:
            if isinstance(data, dict) and _POST_ID.fullmatch(str(data.get("id") or "")):
                by_name.setdefault(str(data.get("subreddit") or "").lower(), []).append(data)
        if full and all(n in self._cursors for n in names):
            fresh = [d for n in names for d in by_name.get(n, []) if self._cursors[n].fresh(d)]
            if len(fresh) >= PAGE:
                log.info(
                    "r/%s had %d or more new posts since the last poll: some may have been "
                    "missed (fewer subreddits per watch, or OAuth, poll more often)",
                    "+".join(names),
                    PAGE,
                )
        for name in names:
            cursor = self._cursors.setdefault(name, _Cursor(floor))
            new = sorted((d for d in by_name.get(name, []) if cursor.fresh(d)), key=_age_key)
            for data in new:
                cursor.mark(data)
                post = post_from_data(data)
                for subscriber in self._subscribers:
                    if name in subscriber.names:
                        subscriber.queue.put_nowait(post)
            self._polled.add(name)

    def _refuse(self, name: str, exc: SourceError) -> None:
        self._refused[name] = (exc, self._clock() + REFUSED_SECONDS)
        self._polled.discard(name)
        log.warning("r/%s cannot be watched: %s", name, exc.user_message)
        for subscriber in self._subscribers:
            if name in subscriber.names:
                subscriber.queue.put_nowait(exc)
