"""HTTP for the public Reddit source: one aiohttp session, every request paced, and every
refusal turned into a SourceError with one sentence (and a log line for the operator that says
what to do).

    403 + HTML block page ("blocked by network security")  → AnonymousBlocked (RedditUnavailable)
    429                                                    → RateLimited, reset_at from Retry-After
    5xx, timeouts, lost connections (after one retry)      → RedditUnavailable
    404                                                    → ThreadNotFound (listings: InvalidSubreddit)
    403/404 JSON with a reason (private, banned, …)        → SubredditUnavailable, as the OAuth source
    redirect to /subreddits/search                         → InvalidSubreddit

No credentials and no cookies are ever sent: only the User-Agent.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp

from adapters.reddit_source.deep_json import loads_iterative
from adapters.reddit_source.pacing import (
    Clock,
    HeldTooLong,
    Priority,
    PriorityPacer,
    Sleep,
    SlidingWindow,
)
from adapters.reddit_source.shaping import NO_ANSWER, TROUBLE, subreddit_error
from bot.ports import (
    InvalidSubreddit,
    RateLimited,
    RateQuota,
    RedditUnavailable,
    SourceError,
    SubredditUnavailable,
    ThreadNotFound,
)

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024 * 1024  # bytes: a 6,000-comment thread is a few MB
WARN_EVERY = 300.0  # seconds between two operator warnings of the same kind
REDIRECTS = frozenset({301, 302, 303, 307, 308})
_BLOCK_MARKERS = (b"blocked by network security", b"whoa there, pardner")

BLOCKED = (
    "Reddit refused anonymous access from this network (its “blocked by network security” "
    "page), so try again later, set up OAuth with REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET of "
    "an approved app, or reach Reddit through a proxy set in REDIGEST_REDDIT_PUBLIC_URL."
)


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes
    content_type: str

    def looks_html(self) -> bool:
        if self.content_type:
            return "html" in self.content_type
        return self.body.lstrip()[:1] == b"<"

    def is_block_page(self) -> bool:
        text = self.body[:20_000].lower()
        return self.looks_html() and any(m in text for m in _BLOCK_MARKERS)


def _seconds(value: str | None) -> float | None:
    """A header's seconds: a number, or (Retry-After) an HTTP date."""
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


class AnonymousBlocked(RedditUnavailable):
    """Reddit's HTML block page: it refuses anonymous access from this network."""


class AnonymousHttp:
    """GETs on Reddit's public pages, paced for the whole source: `requests_per_minute` in any
    60 s, on-demand before background, Reddit's holds obeyed; requests made for polling also
    pass `poll_share` (at most `poll_share_per_minute` of them a minute)."""

    def __init__(
        self,
        *,
        base_url: str,
        user_agent: str,
        timeout_seconds: float,
        requests_per_minute: int,
        poll_share_per_minute: int,
        retry_backoff_seconds: float,
        max_hold_seconds: float,
        clock: Clock,
        sleep: Sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._user_agent = user_agent
        self._timeout = timeout_seconds
        self._backoff = retry_backoff_seconds
        self._max_hold = max_hold_seconds
        self._clock = clock
        self._sleep = sleep
        self.pacer = PriorityPacer(requests_per_minute, clock, sleep)
        self.poll_share = SlidingWindow(poll_share_per_minute, clock, sleep)
        self.quota = RateQuota(None, None, None)
        self.requests_made = 0
        self._warned: dict[str, float] = {}
        self._session: aiohttp.ClientSession | None = None

    def open(self) -> None:
        self._session = aiohttp.ClientSession(
            headers={"User-Agent": self._user_agent},
            timeout=aiohttp.ClientTimeout(total=self._timeout),
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    @property
    def is_open(self) -> bool:
        return self._session is not None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(
        self, path: str, params: Mapping[str, str], *, priority: Priority, polling: bool
    ) -> Response:
        """One paced GET, never following redirects."""
        if self._session is None:
            raise RuntimeError("AnonymousHttp used before open()")
        if polling:
            await self.poll_share.acquire()
        max_hold = self._max_hold if priority is Priority.ON_DEMAND else None
        try:
            await self.pacer.acquire(priority, max_hold=max_hold)
        except HeldTooLong as exc:
            raise self.rate_limited(exc.seconds) from None
        self.requests_made += 1
        async with self._session.get(
            self.base_url + path, params=params, allow_redirects=False
        ) as response:
            body = bytearray()
            async for chunk in response.content.iter_chunked(1 << 16):
                body += chunk
                if len(body) > MAX_BODY:
                    raise RedditUnavailable(
                        "Reddit sent more than 64 MiB for one page; try again later."
                    )
            answer = Response(
                response.status, dict(response.headers), bytes(body), response.content_type or ""
            )
        self._note(answer)
        await self.pacer.share_hold()  # none but after x-ratelimit-remaining: 0
        return answer

    async def exchange(
        self, path: str, params: Mapping[str, str], *, priority: Priority, polling: bool = False
    ) -> Response:
        """`_send`, tried once more (after a short backoff, within the budget) on a 5xx, a
        timeout or a lost connection; a second failure is RedditUnavailable."""
        for attempt in (1, 2):
            try:
                response = await self.send(path, params, priority=priority, polling=polling)
            except (aiohttp.ClientError, TimeoutError) as exc:
                if attempt == 1:
                    log.info("GET %s failed (%r); trying once more", path, exc)
                    await self._sleep(self._backoff)
                    continue
                timed_out = isinstance(exc, TimeoutError)
                self.warn(
                    "unreachable",
                    "Reddit %s for %s twice: check this machine's network, or "
                    "REDIGEST_REDDIT_PUBLIC_URL (%s)",
                    "did not answer in time" if timed_out else f"could not be reached ({exc})",
                    path,
                    self.base_url,
                )
                if timed_out:
                    raise RedditUnavailable(NO_ANSWER) from None
                raise RedditUnavailable(
                    "Reddit could not be reached; try again in a minute."
                ) from None
            if response.status >= 500 and attempt == 1:
                log.info("GET %s answered %d; trying once more", path, response.status)
                await self._sleep(self._backoff)
                continue
            if response.status >= 500:
                self.warn(
                    "5xx",
                    "Reddit answered %d to %s twice: it is having trouble; nothing to do "
                    "here but wait (digests and polls go on when it recovers)",
                    response.status,
                    path,
                )
                raise RedditUnavailable(TROUBLE)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    async def fetch(
        self,
        path: str,
        params: Mapping[str, str],
        *,
        priority: Priority,
        what: str,
        subreddit: str | None = None,
        listing: bool = False,
        polling: bool = False,
    ) -> Response:
        """A 200 answer for `path`, following up to two redirects on our own base URL; every
        refusal is raised as a SourceError."""
        for _hop in range(3):
            response = await self.exchange(path, params, priority=priority, polling=polling)
            if response.status == 200:
                if response.is_block_page():
                    raise self.blocked(path)
                return response
            if response.status not in REDIRECTS:
                raise await self.refused(response, path, what, subreddit, listing=listing)
            location = urlsplit(response.headers.get("Location", ""))
            if "/subreddits/search" in location.path:
                raise InvalidSubreddit(f"There is no subreddit r/{subreddit}.")
            if location.path.rstrip("/").endswith("/over18"):
                raise SubredditUnavailable(
                    f"r/{subreddit or 'this subreddit'} is marked 18+, and Reddit shows it only "
                    "to logged-in accounts.",
                    "over18",
                )
            if "/login" in location.path or not location.path:
                raise RedditUnavailable(
                    f"Reddit asks for a login to read the {what}; set up OAuth "
                    "(REDDIT_CLIENT_ID, REDDIT_CLIENT_SECRET) to read it."
                )
            path = location.path
            params = dict(parse_qsl(location.query)) or params
        raise RedditUnavailable(f"Reddit kept redirecting the {what}; try again later.")

    def json(self, response: Response, what: str) -> Any:
        try:
            try:
                return json.loads(response.body)
            except RecursionError:  # deeper than json.loads nests: same values, no recursion
                return loads_iterative(response.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            if response.looks_html():
                raise RedditUnavailable(
                    f"Reddit answered with a web page instead of the {what}; if "
                    "REDIGEST_REDDIT_PUBLIC_URL points at a proxy, check it, else try again later."
                ) from None
            raise RedditUnavailable(
                f"Reddit sent something that is not JSON for the {what}; try again later."
            ) from None

    def _note(self, response: Response) -> None:
        """Remember Reddit's x-ratelimit-* headers; hold everything when none are left."""
        h = {k.lower(): v for k, v in response.headers.items()}
        remaining = _seconds(h.get("x-ratelimit-remaining"))
        used = _seconds(h.get("x-ratelimit-used"))
        reset = _seconds(h.get("x-ratelimit-reset"))
        if remaining is None and used is None:
            return
        reset_at = datetime.now(UTC) + timedelta(seconds=reset) if reset is not None else None
        self.quota = RateQuota(
            int(remaining) if remaining is not None else None,
            int(used) if used is not None else None,
            reset_at,
        )
        if remaining is not None and remaining < 1 and reset:
            self.pacer.hold(reset)

    def warn(self, kind: str, message: str, *args: Any) -> None:
        """An operator warning, at most one of each kind every WARN_EVERY seconds."""
        now = self._clock()
        last = self._warned.get(kind)
        if last is None or now - last >= WARN_EVERY:
            self._warned[kind] = now
            log.warning(message, *args)

    def blocked(self, path: str) -> AnonymousBlocked:
        self.warn(
            "blocked",
            "Reddit answered %s with its block page (403, “blocked by network security”): it "
            "refuses anonymous requests from this network. Retry later, set REDDIT_CLIENT_ID and "
            "REDDIT_CLIENT_SECRET of an approved app (REDIGEST_REDDIT_MODE=oauth), or route "
            "anonymous requests through a proxy with REDIGEST_REDDIT_PUBLIC_URL",
            path,
        )
        return AnonymousBlocked(BLOCKED)

    def rate_limited(self, seconds: float | None) -> RateLimited:
        reset = datetime.now(UTC) + timedelta(seconds=seconds) if seconds is not None else None
        when = f" after {reset:%H:%M:%S} UTC" if reset else " in a minute"
        return RateLimited(
            f"Reddit is limiting anonymous requests from this network; try again{when}.", reset
        )

    async def refused(
        self, response: Response, path: str, what: str, subreddit: str | None, *, listing: bool
    ) -> SourceError:
        """`refusal`, with Reddit's hold (a 429's) told to the processes sharing the budget."""
        error = self.refusal(response, path, what, subreddit, listing=listing)
        await self.pacer.share_hold()
        return error

    def refusal(
        self, response: Response, path: str, what: str, subreddit: str | None, *, listing: bool
    ) -> SourceError:
        status = response.status
        body: Any = None
        if not response.looks_html():
            with contextlib.suppress(ValueError, UnicodeDecodeError):
                body = json.loads(response.body)
        reason = str(body.get("reason") or "") if isinstance(body, dict) else ""
        if status == 429:
            h = {k.lower(): v for k, v in response.headers.items()}
            seconds = _seconds(h.get("retry-after"))
            if seconds is None:
                seconds = _seconds(h.get("x-ratelimit-reset"))
            self.pacer.hold(seconds if seconds is not None else 60.0)
            self.warn(
                "429",
                "Reddit answered 429 (too many anonymous requests) to %s; waiting %s s. If this "
                "repeats, lower REDIGEST_REDDIT_PUBLIC_RPM or set up OAuth for a higher limit",
                path,
                f"{seconds:.0f}" if seconds is not None else "60",
            )
            return self.rate_limited(seconds)
        if status == 403 and not reason and (response.looks_html() or body is None):
            return self.blocked(path)
        if status in (403, 451):
            return subreddit_error(reason or "private", subreddit)
        if status == 404 and reason == "banned":
            return subreddit_error("banned", subreddit)
        if status == 404 and listing:
            return InvalidSubreddit(f"There is no subreddit r/{subreddit}.")
        if status == 404:
            return ThreadNotFound(
                f"Reddit has no {what}: it may have been deleted, or the link is mistyped."
            )
        if status == 401:
            return RedditUnavailable(
                f"Reddit asks for a login to read the {what}; set up OAuth "
                "(REDDIT_CLIENT_ID, REDDIT_CLIENT_SECRET) to read it."
            )
        return RedditUnavailable(
            f"Reddit answered with an unexpected error ({status}); try again later."
        )
