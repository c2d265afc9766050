"""The ThreadSource port on Reddit's public, credential-free pages: for everyone without an
approved API app.

What it asks www.reddit.com (or REDIGEST_REDDIT_PUBLIC_URL) for, with no login and a
descriptive User-Agent:

    a thread       GET /comments/ID.json?raw_json=1&sort=top&limit=…&depth=…   (1 request: brief)
    "load more"    GET /api/morechildren.json?api_type=json&link_id=t3_ID&children=…  (deep: the
                   requests left of its budget, on the stubs expand.py ranks best, ≤100 ids each)
    a comment      GET /comments/ID/_/COMMENT.json
    listings       GET /r/a+b/top.json?t=…, /hot.json, /new.json
    posts by id    GET /by_id/t3_a,t3_b.json                                      (100 a request)
    share links    GET /r/SUB/s/CODE, not followed: its Location names the thread
    new posts      GET /r/a+b+c/new.json?limit=100, or /r/SUB/new/.rss when JSON is refused
                   (one poller for every stream: see public_feed.py)

Thread JSON goes through the same converter as saved files and the OAuth source
(thread_json.py); what is asked and how answers are read is shared with the OAuth source
(shaping.py, expand.py). At most `requests_per_minute` requests start in any 60 s, Reddit's
x-ratelimit-* and Retry-After are obeyed, and on-demand work goes before background work
(pacing.py). Every refusal becomes a SourceError with one sentence, and a log line for the
operator that says what to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import logging
import re
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from adapters.reddit_source import shaping
from adapters.reddit_source.expand import expand
from adapters.reddit_source.pacing import (
    Clock,
    Priority,
    PriorityPacer,
    Sleep,
)
from adapters.reddit_source.public_atom import posts_from_atom
from adapters.reddit_source.public_feed import BACKGROUND_SHARE, PAGE, NewPostPoller
from adapters.reddit_source.public_http import REDIRECTS, AnonymousHttp
from adapters.reddit_source.shaping import FetchPlan, thread_of
from adapters.reddit_source.thread_json import post_from_data
from bot import progress
from bot.ports import (
    ListingSort,
    RateQuota,
    RedditUnavailable,
    SourceError,
    ThreadNotFound,
    ThreadRef,
    TopPeriod,
)
from bot.ratelimit import SharedQuota
from bot.subreddits import validate_subreddits
from bot.thread_ref import ShareLink
from digest import cpu
from digest.errors import ThreadDataError
from digest.model import Post, Thread
from digest.report import Depth

log = logging.getLogger(__name__)

_ID = re.compile(r"[a-z0-9]{1,12}")


def default_user_agent() -> str:
    """Names the project and its version, as Reddit asks of every client."""
    try:
        version = importlib.metadata.version("redigest")
    except importlib.metadata.PackageNotFoundError:
        version = "0.1"
    return f"redigest/{version} (self-hosted Reddit digest bot; +https://github.com/redigest)"


@dataclass(frozen=True, slots=True)
class PublicConfig:
    base_url: str = "https://www.reddit.com"  # REDIGEST_REDDIT_PUBLIC_URL: tests and proxies
    user_agent: str = field(default_factory=default_user_agent)
    requests_per_minute: int = 10  # Reddit's anonymous limit, for the whole process
    brief_requests: int = 1
    deep_requests: int = 4
    timeout_seconds: float = 16.0
    poll_floor_seconds: float = 30.0  # new-post polls never come closer than this
    retry_backoff_seconds: float = 2.0  # before the one retry of a 5xx, timeout or lost connection
    max_hold_seconds: float = 60.0  # on-demand work fails (RateLimited) rather than wait longer
    plans: dict[Depth, FetchPlan] | None = None  # overrides brief/deep_requests entirely

    def fetch_plans(self) -> dict[Depth, FetchPlan]:
        if self.plans is not None:
            return self.plans
        return {
            # One request must carry a brief digest: ask for as much as Reddit gives at once.
            Depth.BRIEF: FetchPlan(requests=max(self.brief_requests, 1), limit=500, max_depth=8),
            Depth.DEEP: FetchPlan(requests=max(self.deep_requests, 1), limit=500, max_depth=10),
        }


class _PollRequests:
    """The poller's three requests: background priority, behind the polling share."""

    def __init__(self, source: PublicRedditSource) -> None:
        self._source = source

    async def new_listing(self, subreddits: Sequence[str]) -> list[dict[str, Any]]:
        names = "+".join(subreddits)
        what = f"subreddit r/{names}"
        response = await self._source._http.fetch(
            f"/r/{names}/new.json",
            {"limit": str(PAGE), "raw_json": "1"},
            priority=Priority.BACKGROUND,
            what=what,
            subreddit=names,
            listing=True,
            polling=True,
        )
        return shaping.t3_data(self._source._http.json(response, what))

    async def new_feed(self, subreddit: str) -> list[dict[str, Any]]:
        response = await self._source._http.fetch(
            f"/r/{subreddit}/new/.rss",
            {"limit": str(PAGE)},
            priority=Priority.BACKGROUND,
            what=f"feed of r/{subreddit}",
            subreddit=subreddit,
            listing=True,
            polling=True,
        )
        return posts_from_atom(response.body, subreddit)

    async def by_id(self, post_ids: Sequence[str]) -> list[dict[str, Any]]:
        return await self._source._by_id(post_ids, polling=True)


class PublicRedditSource:
    """Reddit without credentials; use as `async with PublicRedditSource(config) as source`."""

    def __init__(
        self,
        config: PublicConfig | None = None,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._config = c = config or PublicConfig()
        self._plans = c.fetch_plans()
        self._http = AnonymousHttp(
            base_url=c.base_url,
            user_agent=c.user_agent,
            timeout_seconds=c.timeout_seconds,
            requests_per_minute=c.requests_per_minute,
            poll_share_per_minute=max(int(c.requests_per_minute * BACKGROUND_SHARE), 1),
            retry_backoff_seconds=c.retry_backoff_seconds,
            max_hold_seconds=c.max_hold_seconds,
            clock=clock,
            sleep=sleep,
        )
        self._poller = NewPostPoller(
            _PollRequests(self),
            requests_per_minute=c.requests_per_minute,
            floor_seconds=c.poll_floor_seconds,
            clock=clock,
            sleep=sleep,
        )
        self._more_lock = asyncio.Lock()  # one morechildren request in flight, as Reddit asks

    @property
    def pacer(self) -> PriorityPacer:
        return self._http.pacer

    def share_budget(self, quota: SharedQuota) -> None:
        """Count the requests in the budget the processes sharing a database share (one for
        every process reading Reddit's public pages), and share Reddit's holds with them."""
        self._http.pacer.share(quota, "reddit:public")

    @property
    def poller(self) -> NewPostPoller:
        return self._poller

    @property
    def requests_made(self) -> int:
        return self._http.requests_made

    def describe(self) -> str:
        """The source's one line: where it reads, at what pace, what a digest costs."""
        c = self._config
        return (
            f"Reddit: public access through {self._http.base_url}, {c.requests_per_minute} "
            f"requests/min (a brief digest costs {self._plans[Depth.BRIEF].requests}, a deep one "
            f"up to {self._plans[Depth.DEEP].requests}; watching new posts takes at most "
            f"{self._http.poll_share.limit}/min); no credentials are sent"
        )

    async def __aenter__(self) -> PublicRedditSource:
        self._http.open()
        log.info("%s", self.describe())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._poller.close()
        await self._http.close()

    def quota(self) -> RateQuota:
        """Reddit's own count, from the x-ratelimit-* headers of the latest answer."""
        return self._http.quota

    # ------------------------------------------------------------------ the port

    async def resolve(self, text: str) -> ThreadRef:
        return await shaping.resolve(text, self._resolve_share)

    async def _resolve_share(self, share: ShareLink) -> ThreadRef:
        """A share link answers with a redirect to the thread: read its Location, no login."""
        path = f"/r/{share.subreddit}/s/{share.code}"
        response = await self._http.exchange(path, {}, priority=Priority.ON_DEMAND)
        if response.status not in REDIRECTS:
            if response.status in (200, 404):
                raise shaping.share_failure(share)
            raise await self._http.refused(
                response, path, "share link", share.subreddit, listing=False
            )
        return shaping.ref_from_location(response.headers.get("Location", ""), share)

    async def fetch_thread(self, ref: ThreadRef, depth: Depth) -> Thread:
        plan = self._plans[depth]
        if not _ID.fullmatch(ref.post_id) or not _ID.fullmatch(ref.comment_id or "0"):
            raise ThreadNotFound(f"Reddit has no thread with id {ref.post_id}: the id is mistyped.")
        first = shaping.thread_request(ref, plan)
        what = first.what
        progress.current().step(f"Fetching {what} from Reddit…")
        response = await self._http.fetch(
            f"/{first.path}.json",
            first.params,
            priority=Priority.ON_DEMAND,
            what=what,
            subreddit=ref.subreddit,
        )
        raw = await cpu.run(self._http.json, response, what)  # a thread's page: large
        if not (isinstance(raw, list) and raw):
            raise ThreadNotFound(f"Reddit has no {what}.")
        try:
            thread = await self._expand(ref, raw, plan.requests - 1, plan.sort)
        except ThreadDataError:
            raise RedditUnavailable(shaping.GARBLED) from None
        return shaping.focused(thread, ref, what)

    async def _expand(self, ref: ThreadRef, raw: list[Any], budget: int, sort: str) -> Thread:
        """Spend what is left of the request budget on the most valuable `more` stubs (the
        same ranking and merging as the OAuth source)."""
        what = f"rest of thread {ref.post_id}"

        async def more(ids: list[str]) -> list[dict[str, Any]]:
            params = shaping.more_params(ref.post_id, ids, sort)
            async with self._more_lock:
                response = await self._http.fetch(
                    "/api/morechildren.json", params, priority=Priority.ON_DEMAND, what=what
                )
            return shaping.more_things(await cpu.run(self._http.json, response, what))

        async def continue_thread(comment_id: str) -> list[dict[str, Any]]:
            what = f"comment {comment_id} in thread {ref.post_id}"
            response = await self._http.fetch(
                f"/{shaping.comments_path(ref.post_id, comment_id)}.json",
                shaping.continue_params(sort),
                priority=Priority.ON_DEMAND,
                what=what,
            )
            return shaping.continued(self._http.json(response, what), comment_id)

        flat = await expand(
            ref.post_id,
            shaping.first_page(raw),
            budget,
            more=more,
            continue_thread=continue_thread,
            gone=ThreadNotFound,
            failed=SourceError,
        )
        return await cpu.run(thread_of, raw[0], flat)  # thousands of comments: off the loop

    async def listing(
        self,
        subreddit: str,
        sort: ListingSort,
        *,
        period: TopPeriod = TopPeriod.DAY,
        limit: int = 25,
    ) -> list[Post]:
        names = "+".join(validate_subreddits(subreddit))
        what = f"subreddit r/{names}"

        async def page(params: dict[str, str]) -> Any:
            response = await self._http.fetch(
                f"/r/{names}/{sort.value}.json",
                params,
                priority=Priority.ON_DEMAND,
                what=what,
                subreddit=names,
                listing=True,
            )
            return self._http.json(response, what)

        return await shaping.paginate(page, sort, period, limit)

    async def posts(self, post_ids: Sequence[str]) -> list[Post]:
        # Re-checks of watched posts are watching too: they share the polls' cap (at most half
        # the budget), so a busy watch list cannot crowd out digests people ask for.
        return [post_from_data(d) for d in await self._by_id(post_ids, polling=True)]

    async def _by_id(self, post_ids: Sequence[str], *, polling: bool) -> list[dict[str, Any]]:
        """`/by_id/t3_a,t3_b.json`, 100 ids a request, background priority."""
        ids = [p.removeprefix("t3_") for p in post_ids]
        out: list[dict[str, Any]] = []
        for names in shaping.fullname_batches([i for i in ids if _ID.fullmatch(i)]):
            try:
                response = await self._http.fetch(
                    f"/by_id/{names}.json",
                    {"raw_json": "1"},
                    priority=Priority.BACKGROUND,
                    what="posts",
                    polling=polling,
                )
            except ThreadNotFound:  # none of them exists any more
                continue
            out += shaping.t3_data(self._http.json(response, "posts"))
        return out

    async def stream(self, subreddits: Sequence[str]) -> AsyncIterator[Post]:
        """New posts of these subreddits, from the poller every stream of this source shares."""
        names = validate_subreddits(subreddits)
        if not self._http.is_open:
            raise RuntimeError("PublicRedditSource used outside `async with`")
        async with contextlib.aclosing(self._poller.stream(names)) as posts:
            async for post in posts:
                yield post
