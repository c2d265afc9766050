"""The ThreadSource port on asyncpraw: threads within a request budget, listings, the new-post
stream, Reddit's errors mapped to ours (live_http.py).

asyncpraw does authentication, retries of 5xx and pacing by Reddit's X-Ratelimit-* headers; raw
JSON comes back through `Reddit.request` and goes through the same converter as saved files. What
is asked and how answers are read is shared with the public source (shaping.py, expand.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

import asyncpraw
import asyncprawcore

from adapters.reddit_source import shaping
from adapters.reddit_source.expand import expand
from adapters.reddit_source.live_http import Pacer as _Pacer
from adapters.reddit_source.live_http import TimedRequestor, mapped
from adapters.reddit_source.shaping import FetchPlan, thread_of
from adapters.reddit_source.thread_json import post_from_data
from bot import progress
from bot.ports import (
    ListingSort,
    RateQuota,
    RedditUnavailable,
    ThreadNotFound,
    ThreadRef,
    TopPeriod,
)
from bot.ratelimit import SharedQuota
from bot.subreddits import validate_subreddits
from bot.thread_ref import ShareLink
from digest import cpu
from digest.model import Post, Thread
from digest.report import Depth

__all__ = [
    "DEFAULT_PLANS",
    "FetchPlan",
    "RedditConfig",
    "RedditSource",
    "_Pacer",
    "post_from_submission",
    "thread_of",
]

DEFAULT_PLANS = {
    Depth.BRIEF: FetchPlan(requests=2, limit=200, max_depth=6),
    Depth.DEEP: FetchPlan(requests=12, limit=500, max_depth=10),
}


@dataclass(frozen=True, slots=True)
class RedditConfig:
    client_id: str
    client_secret: str
    user_agent: str
    username: str | None = None
    password: str | None = None
    oauth_url: str | None = None  # override for tests and proxies
    auth_url: str | None = None
    timeout_seconds: float = 16.0
    requests_per_minute: int = 100
    plans: dict[Depth, FetchPlan] | None = None

    def __repr__(self) -> str:  # secrets never show
        return f"RedditConfig(client_id={self.client_id!r}, user_agent={self.user_agent!r})"


class RedditSource:
    """One asyncpraw client for the process; use as `async with RedditSource(config) as source`."""

    def __init__(
        self, config: RedditConfig, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._config = config
        self._plans = config.plans or DEFAULT_PLANS
        self._reddit: asyncpraw.Reddit | None = None
        self._pacer = _Pacer(config.requests_per_minute, clock)
        # Never more than one morechildren request in flight for this client.
        self._more_lock = asyncio.Lock()
        self.requests_made = 0

    async def __aenter__(self) -> RedditSource:
        c = self._config
        kwargs: dict[str, Any] = {
            "client_id": c.client_id,
            "client_secret": c.client_secret,
            "user_agent": c.user_agent,
            "check_for_updates": False,
            "requestor_class": TimedRequestor,
            "requestor_kwargs": {"timeout": c.timeout_seconds},
        }
        if c.username and c.password:
            kwargs |= {"username": c.username, "password": c.password}
        if c.oauth_url:
            kwargs["oauth_url"] = c.oauth_url
        if c.auth_url:
            kwargs |= {"reddit_url": c.auth_url, "short_url": c.auth_url}
        self._reddit = asyncpraw.Reddit(**kwargs)
        self._reddit.read_only = not (c.username and c.password)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._reddit is not None:
            await self._reddit.close()
            self._reddit = None

    @property
    def _client(self) -> asyncpraw.Reddit:
        if self._reddit is None:
            raise RuntimeError("RedditSource used outside `async with`")
        return self._reddit

    def _core(self) -> Any:
        """asyncpraw's authenticated session (for the token check and share links)."""
        core: Any = getattr(self._client, "_core", None)
        if core is None:
            raise RuntimeError("asyncpraw has no session")
        return core

    def share_budget(self, quota: SharedQuota) -> None:
        """Count the requests in the budget the processes sharing a database share (one per
        OAuth app: Reddit counts per client id)."""
        self._pacer.share(quota, f"reddit:oauth:{self._config.client_id}")

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        await self._pacer.wait()
        self.requests_made += 1
        return await self._client.request(method=method, path=path, **kwargs)

    async def check_credentials(self) -> None:
        """Fetch a token now, so bad credentials stop start-up with one clear line."""
        with mapped("token"):
            await self._core()._authorizer.refresh()

    def quota(self) -> RateQuota:
        core = getattr(self._reddit, "_core", None)
        limiter = getattr(core, "_rate_limiter", None)
        remaining = getattr(limiter, "remaining", None)
        used = getattr(limiter, "used", None)
        next_ns = getattr(limiter, "next_request_timestamp_ns", None)
        reset = None
        if isinstance(next_ns, int):
            reset = datetime.now(UTC) + timedelta(
                seconds=max(next_ns - time.monotonic_ns(), 0) / 1e9
            )
        return RateQuota(remaining, used, reset)

    async def resolve(self, text: str) -> ThreadRef:
        return await shaping.resolve(text, self._resolve_share)

    async def _resolve_share(self, share: ShareLink) -> ThreadRef:
        """A share link answers with a redirect to the thread; follow it once."""
        base = (self._config.auth_url or "https://www.reddit.com").rstrip("/")
        path = share.url.split("reddit.com", 1)[1]
        requestor = self._core().requestor  # the client's own HTTP session
        try:
            async with requestor.request("GET", base + path, allow_redirects=False) as response:
                location = response.headers.get("Location", "")
        except asyncprawcore.RequestException:
            raise RedditUnavailable(shaping.NO_ANSWER) from None
        return shaping.ref_from_location(location, share)

    async def fetch_thread(self, ref: ThreadRef, depth: Depth) -> Thread:
        plan = self._plans[depth]
        first = shaping.thread_request(ref, plan)
        what = first.what
        progress.current().step(f"Fetching {what} from Reddit…")
        with mapped(what, ref.subreddit):
            raw = await self._request("GET", f"{first.path}/", params=first.params)
        if not (isinstance(raw, list) and raw):
            raise ThreadNotFound(f"Reddit has no {what}.")
        with mapped(what, ref.subreddit):
            thread = await self._expand(ref, raw, plan.requests - 1, plan.sort)
        return shaping.focused(thread, ref, what)

    async def _expand(self, ref: ThreadRef, raw: list[Any], budget: int, sort: str) -> Thread:
        """Spend the remaining request budget on the most valuable `more` stubs."""

        async def more(ids: list[str]) -> list[dict[str, Any]]:
            async with self._more_lock:
                answer = await self._request(
                    "POST", "api/morechildren/", data=shaping.more_params(ref.post_id, ids, sort)
                )
            return shaping.more_things(answer)

        async def continue_thread(comment_id: str) -> list[dict[str, Any]]:
            path = shaping.comments_path(ref.post_id, comment_id)
            raw = await self._request("GET", f"{path}/", params=shaping.continue_params(sort))
            return shaping.continued(raw, comment_id)

        flat = await expand(
            ref.post_id,
            shaping.first_page(raw),
            budget,
            more=more,
            continue_thread=continue_thread,
            gone=asyncprawcore.NotFound,
            failed=asyncprawcore.AsyncPrawcoreException,
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

        async def page(params: dict[str, str]) -> Any:
            return await self._request("GET", f"r/{names}/{sort.value}", params=params)

        with mapped(f"subreddit r/{names}", names):
            return await shaping.paginate(page, sort, period, limit)

    async def posts(self, post_ids: Sequence[str]) -> list[Post]:
        out: list[Post] = []
        with mapped("posts"):
            for batch in shaping.fullname_batches(post_ids):
                raw = await self._request("GET", "api/info", params={"id": batch, "raw_json": "1"})
                out += [post_from_data(d) for d in shaping.t3_data(raw)]
        return out

    async def stream(self, subreddits: Sequence[str]) -> AsyncIterator[Post]:
        """New posts as they arrive, from asyncpraw's stream (skips what already existed)."""
        names = "+".join(validate_subreddits(subreddits))
        with mapped(f"subreddit r/{names}", names):
            subreddit = await self._client.subreddit(names)
            async for submission in subreddit.stream.submissions(skip_existing=True):
                yield post_from_submission(submission)


def post_from_submission(submission: Any) -> Post:
    """An asyncpraw Submission → our Post (its attributes are Reddit's t3 fields)."""
    data = {k: v for k, v in vars(submission).items() if not k.startswith("_")}
    author = data.get("author")
    data["author"] = str(author) if author is not None else "[deleted]"
    data["subreddit"] = str(data.get("subreddit") or "")
    data["id"] = str(data.get("id") or "")
    return post_from_data(data)
