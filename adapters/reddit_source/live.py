"""The ThreadSource port on asyncpraw: threads within a request budget, listings, the new-post
stream, Reddit's errors mapped to ours.

asyncpraw does authentication, retries of 5xx and pacing by Reddit's X-Ratelimit-* headers; raw
JSON comes back through `Reddit.request` and goes through the same converter as saved files.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, TypeVar

import aiohttp
import asyncpraw
import asyncprawcore
from asyncprawcore import Requestor

from adapters.reddit_source.expand import Stub, next_batch, rank
from adapters.reddit_source.thread_json import (
    flatten,
    nest,
    post_from_data,
    thread_from_json,
)
from bot.ports import (
    BadCredentials,
    InvalidSubreddit,
    InvalidThreadUrl,
    ListingSort,
    RateLimited,
    RateQuota,
    RedditUnavailable,
    SourceError,
    SubredditUnavailable,
    ThreadNotFound,
    ThreadRef,
    TopPeriod,
)
from bot.subreddits import validate_subreddits
from bot.thread_ref import EXAMPLE, ShareLink, parse_thread_text
from digest import cpu
from digest.errors import ThreadDataError
from digest.model import Post, Thread
from digest.report import Depth

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FetchPlan:
    """How a depth fetches: the first request's shape and the requests allowed after it."""

    requests: int  # API requests after the token, the first GET included
    limit: int  # comments asked for in the first request (Reddit caps at 500)
    max_depth: int  # reply depth asked for in the first request
    sort: str = "top"


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


class _Requestor(Requestor):
    """asyncprawcore's requestor, with two changes: our timeout is the one used, and error
    bodies are read before the response is released (so 403/404 reasons can be told apart)."""

    @asynccontextmanager
    async def request(
        self,
        *args: Any,
        timeout: float | None = None,  # noqa: ASYNC109 - asyncprawcore's signature; ignored
        **kwargs: Any,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        async with super().request(*args, timeout=self.timeout, **kwargs) as response:
            if response.status >= 400:
                with contextlib.suppress(Exception):
                    await response.read()
            yield response


class _Pacer:
    """At most `per_minute` requests in any 60 s, whatever Reddit's headers say (or don't)."""

    def __init__(
        self,
        per_minute: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._per_minute = max(per_minute, 1)
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                while self._sent and now - self._sent[0] >= 60:
                    self._sent.popleft()
                if len(self._sent) < self._per_minute:
                    self._sent.append(now)
                    return
                await self._sleep(60 - (now - self._sent[0]))


def thread_of(post_listing: Any, flat: list[dict[str, Any]]) -> Thread:
    """The thread of a post listing and its comments (flat, in order), nested as Reddit does:
    CPU work that grows with the comments, for `digest.cpu.run`."""
    return thread_from_json(
        [post_listing, {"kind": "Listing", "data": {"children": nest(flat)}}], source="reddit"
    )


def _body(exc: asyncprawcore.ResponseException) -> dict[str, Any]:
    body = getattr(exc.response, "_body", None)
    if not body:
        return {}
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _reset_at(headers: Any) -> datetime | None:
    for key in ("x-ratelimit-reset", "retry-after"):
        value = headers.get(key) if headers is not None else None
        if value is None:
            continue
        try:
            seconds = float(value)
        except ValueError:
            continue
        return datetime.now(UTC) + timedelta(seconds=max(seconds, 0))
    return None


_REASONS = {
    "private": "r/{sub} is private: only its approved members can read it.",
    "quarantined": "r/{sub} is quarantined: Reddit hides it from API clients that have not opted in.",
    "gated": "r/{sub} is gated behind a content warning that API clients cannot accept.",
    "gold_only": "r/{sub} is only open to Reddit Premium members.",
    "banned": "r/{sub} is banned by Reddit.",
}


def _subreddit_error(reason: str, sub: str | None) -> SubredditUnavailable:
    name = sub or "This subreddit"
    text = _REASONS.get(reason, "r/{sub} cannot be read (Reddit said: " + reason + ").")
    message = text.format(sub=name) if sub else text.replace("r/{sub}", name)
    return SubredditUnavailable(message, reason)


@contextlib.contextmanager
def _mapped(what: str, subreddit: str | None = None) -> Iterator[None]:
    """Reddit's and asyncpraw's exceptions → ours, each with one sentence for a person."""
    try:
        yield
    except SourceError:
        raise
    except asyncprawcore.TooManyRequests as exc:
        reset = _reset_at(exc.response.headers)
        when = f" after {reset:%H:%M:%S} UTC" if reset else " in a minute"
        raise RateLimited(f"Reddit is rate-limiting us; try again{when}.", reset) from None
    except asyncprawcore.NotFound as exc:
        body = _body(exc)
        if body.get("reason") == "banned":
            raise _subreddit_error("banned", subreddit) from None
        raise ThreadNotFound(
            f"Reddit has no {what}: it may have been deleted, or the link is mistyped."
        ) from None
    except (asyncprawcore.Forbidden, asyncprawcore.UnavailableForLegalReasons) as exc:
        reason = str(_body(exc).get("reason") or "private")
        raise _subreddit_error(reason, subreddit) from None
    except asyncprawcore.Redirect as exc:
        # Reddit redirects unknown subreddits to its search page.
        if "/subreddits/search" in exc.path:
            raise InvalidSubreddit(f"There is no subreddit r/{subreddit}.") from None
        raise ThreadNotFound(f"Reddit has no {what}.") from None
    except asyncprawcore.OAuthException:
        raise BadCredentials(
            "Reddit rejected the login: check REDDIT_USERNAME and REDDIT_PASSWORD "
            "(and REDDIT_CLIENT_ID, REDDIT_CLIENT_SECRET)."
        ) from None
    except (asyncprawcore.InvalidToken, asyncprawcore.InsufficientScope):
        raise BadCredentials(
            "Reddit rejected the app's credentials: check REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET."
        ) from None
    except asyncprawcore.ServerError:
        raise RedditUnavailable(
            "Reddit is having trouble right now (it answered with a server error); "
            "try again in a few minutes."
        ) from None
    except asyncprawcore.ResponseException as exc:
        if exc.response.status == 401:
            raise BadCredentials(
                "Reddit rejected the app's credentials: check REDDIT_CLIENT_ID and "
                "REDDIT_CLIENT_SECRET."
            ) from None
        raise RedditUnavailable(
            f"Reddit answered with an unexpected error ({exc.response.status}); try again later."
        ) from None
    except asyncprawcore.RequestException as exc:
        log.info("reddit request failed: %r", exc.original_exception)
        raise RedditUnavailable("Reddit did not answer in time; try again in a minute.") from None
    except ThreadDataError:
        raise RedditUnavailable(
            "Reddit sent something that is not a thread; try again later."
        ) from None


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
            "requestor_class": _Requestor,
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

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        await self._pacer.wait()
        self.requests_made += 1
        return await self._client.request(method=method, path=path, **kwargs)

    async def check_credentials(self) -> None:
        """Fetch a token now, so bad credentials stop start-up with one clear line."""
        with _mapped("token"):
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
        parsed = parse_thread_text(text)
        if isinstance(parsed, ThreadRef):
            return parsed
        return await self._resolve_share(parsed)

    async def _resolve_share(self, share: ShareLink) -> ThreadRef:
        """A share link answers with a redirect to the thread; follow it once."""
        base = (self._config.auth_url or "https://www.reddit.com").rstrip("/")
        path = share.url.split("reddit.com", 1)[1]
        requestor = self._core().requestor  # the client's own HTTP session
        failure = InvalidThreadUrl(
            f"The share link {share.url} did not lead to a thread; open it in a browser and "
            f"paste the address it shows, like {EXAMPLE}"
        )
        try:
            async with requestor.request("GET", base + path, allow_redirects=False) as response:
                location = response.headers.get("Location", "")
        except asyncprawcore.RequestException:
            raise RedditUnavailable(
                "Reddit did not answer in time; try again in a minute."
            ) from None
        if not location:
            raise failure
        try:
            parsed = parse_thread_text(location)
        except InvalidThreadUrl:
            raise failure from None
        if not isinstance(parsed, ThreadRef):
            raise failure
        return parsed

    async def fetch_thread(self, ref: ThreadRef, depth: Depth) -> Thread:
        plan = self._plans[depth]
        what = f"thread with id {ref.post_id}"
        params: dict[str, str | int] = {
            "limit": min(plan.limit, 500),
            "depth": plan.max_depth,
            "sort": plan.sort,
            "raw_json": 1,
        }
        path = f"comments/{ref.post_id}/"
        if ref.comment_id:
            path = f"comments/{ref.post_id}/_/{ref.comment_id}/"
            params["context"] = 2
            what = f"comment {ref.comment_id} in thread {ref.post_id}"
        with _mapped(what, ref.subreddit):
            raw = await self._request("GET", path, params=params)
        if not (isinstance(raw, list) and raw):
            raise ThreadNotFound(f"Reddit has no {what}.")
        with _mapped(what, ref.subreddit):
            thread = await self._expand(ref, raw, plan.requests - 1, plan.sort)
        if ref.comment_id and ref.comment_id not in thread.by_id:
            raise ThreadNotFound(f"Reddit has no {what}: it may have been deleted.")
        return thread

    async def _expand(self, ref: ThreadRef, raw: list[Any], budget: int, sort: str) -> Thread:
        """Spend the remaining request budget on the most valuable `more` stubs."""
        post_listing = raw[0]
        things = flatten(raw[1]["data"]["children"]) if len(raw) > 1 else []
        comments: dict[str, dict[str, Any]] = {
            t["data"]["id"]: t["data"] for t in things if t["kind"] == "t1"
        }
        order: list[str] = [t["data"]["id"] for t in things if t["kind"] == "t1"]
        stubs = [Stub.of(t["data"]) for t in things if t["kind"] == "more"]
        link_id = f"t3_{ref.post_id}"
        while budget > 0 and stubs:
            ranked = rank(stubs, comments)
            best = ranked[0]
            if best.is_continue_thread:
                stubs.remove(best)
                budget -= 1
                if best.parent.startswith("t1_"):
                    try:
                        new = await self._continue_thread(ref.post_id, best.parent[3:], sort)
                    except asyncprawcore.NotFound:
                        log.info("continue-thread under %s is gone; skipped", best.parent)
                        continue
                    except asyncprawcore.AsyncPrawcoreException as exc:
                        log.warning("expanding %s stopped early: %r", ref.post_id, exc)
                        break
                    self._merge(new, comments, order, stubs)
                continue
            ids, taken, remainders = next_batch(ranked)
            if not ids:
                break
            for stub in taken:
                stubs.remove(stub)
            stubs.extend(remainders)
            budget -= 1
            try:
                async with self._more_lock:
                    answer = await self._request(
                        "POST",
                        "api/morechildren/",
                        data={
                            "api_type": "json",
                            "children": ",".join(ids),
                            "link_id": link_id,
                            "sort": sort,
                            "raw_json": "1",
                        },
                    )
            except asyncprawcore.AsyncPrawcoreException as exc:
                # What the first page and earlier expansions brought is still a thread: keep it
                # (its coverage line says how much was read) rather than failing the digest.
                log.warning("expanding %s stopped early: %r", ref.post_id, exc)
                stubs.extend(taken)
                break
            got = (
                answer.get("json", {}).get("data", {}).get("things", [])
                if isinstance(answer, dict)
                else []
            )
            self._merge(flatten(got), comments, order, stubs)
        flat = [{"kind": "t1", "data": comments[i]} for i in order]
        flat += [s.as_thing() for s in stubs]
        thread = await cpu.run(thread_of, post_listing, flat)  # thousands of comments: off the loop
        if ref.comment_id:
            thread = replace(thread, focus_comment_id=ref.comment_id)
        return thread

    @staticmethod
    def _merge(
        things: list[dict[str, Any]],
        comments: dict[str, dict[str, Any]],
        order: list[str],
        stubs: list[Stub],
    ) -> None:
        for thing in things:
            data = thing["data"]
            if thing["kind"] == "t1" and isinstance(data.get("id"), str):
                if data["id"] not in comments:
                    order.append(data["id"])
                comments[data["id"]] = data
            elif thing["kind"] == "more":
                stub = Stub.of(data)
                fresh = tuple(c for c in stub.children if c not in comments)
                if fresh or stub.is_continue_thread:
                    stubs.append(Stub(stub.id, stub.parent, stub.count, fresh, stub.depth))

    async def _continue_thread(
        self, post_id: str, comment_id: str, sort: str
    ) -> list[dict[str, Any]]:
        raw = await self._request(
            "GET",
            f"comments/{post_id}/_/{comment_id}/",
            params={"limit": 500, "sort": sort, "raw_json": 1},
        )
        if not (isinstance(raw, list) and len(raw) > 1):
            return []
        things = flatten(raw[1]["data"]["children"])
        # The answer repeats the comment the stub hung under: the caller already has it.
        return [t for t in things if t["data"].get("id") != comment_id]

    async def listing(
        self,
        subreddit: str,
        sort: ListingSort,
        *,
        period: TopPeriod = TopPeriod.DAY,
        limit: int = 25,
    ) -> list[Post]:
        names = "+".join(validate_subreddits(subreddit))
        limit = max(1, min(limit, 1000))
        posts: list[Post] = []
        after: str | None = None
        with _mapped(f"subreddit r/{names}", names):
            while len(posts) < limit:
                params: dict[str, str | int] = {
                    "limit": min(100, limit - len(posts)),
                    "raw_json": 1,
                }
                if sort is ListingSort.TOP:
                    params["t"] = period.value
                if after:
                    params["after"] = after
                raw = await self._request("GET", f"r/{names}/{sort.value}", params=params)
                children = raw.get("data", {}).get("children", []) if isinstance(raw, dict) else []
                for child in children:
                    if isinstance(child, dict) and child.get("kind") == "t3":
                        posts.append(post_from_data(child["data"]))
                after = raw.get("data", {}).get("after") if isinstance(raw, dict) else None
                if not after or not children:
                    break
        return posts[:limit]

    async def posts(self, post_ids: Sequence[str]) -> list[Post]:
        out: list[Post] = []
        ids = list(dict.fromkeys(post_ids))
        with _mapped("posts"):
            for start in range(0, len(ids), 100):
                batch = ",".join(f"t3_{i}" for i in ids[start : start + 100])
                raw = await self._request("GET", "api/info", params={"id": batch, "raw_json": 1})
                children = raw.get("data", {}).get("children", []) if isinstance(raw, dict) else []
                out += [
                    post_from_data(c["data"])
                    for c in children
                    if isinstance(c, dict) and c.get("kind") == "t3"
                ]
        return out

    async def stream(self, subreddits: Sequence[str]) -> AsyncIterator[Post]:
        """New posts as they arrive, from asyncpraw's stream (skips what already existed)."""
        names = "+".join(validate_subreddits(subreddits))
        with _mapped(f"subreddit r/{names}", names):
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
