"""HTTP for the OAuth source (live.py): asyncprawcore's requestor with our timeout, our own
per-minute ceiling, and Reddit's and asyncpraw's exceptions turned into SourceErrors.

    429                                        → RateLimited, reset_at from the rate-limit headers
    404 (a banned subreddit: its reason)       → SubredditUnavailable, else ThreadNotFound
    403/451 with a reason (private, …)         → SubredditUnavailable
    redirect to /subreddits/search             → InvalidSubreddit
    a refused login, token or scope, any 401   → BadCredentials, naming the settings to check
    5xx, timeouts, lost connections            → RedditUnavailable
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncprawcore
from asyncprawcore import Requestor

from adapters.reddit_source.shaping import GARBLED, NO_ANSWER, TROUBLE, subreddit_error
from bot.ports import (
    BadCredentials,
    InvalidSubreddit,
    RateLimited,
    RedditUnavailable,
    SourceError,
    ThreadNotFound,
)
from bot.ratelimit import SharedQuota
from digest.errors import ThreadDataError

log = logging.getLogger(__name__)

BAD_APP = "Reddit rejected the app's credentials: check REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET."


class TimedRequestor(Requestor):
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


class Pacer:
    """At most `per_minute` requests in any 60 s, whatever Reddit's headers say (or don't); with
    `share`, in every process sharing the budget together (the core's SharedQuota)."""

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
        self._shared: SharedQuota | None = None
        self._bucket = ""

    def share(self, quota: SharedQuota, bucket: str) -> None:
        self._shared, self._bucket = quota, bucket

    async def wait(self) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                while self._sent and now - self._sent[0] >= 60:
                    self._sent.popleft()
                if len(self._sent) >= self._per_minute:
                    await self._sleep(60 - (now - self._sent[0]))
                    continue
                shared = await self._reserve_shared()
                if shared > 0:
                    await self._sleep(shared)
                    continue
                self._sent.append(now)
                return

    async def _reserve_shared(self) -> float:
        if self._shared is None:
            return 0.0
        try:
            got = await self._shared.reserve(self._bucket, self._per_minute, 60.0, urgent=True)
        except Exception:
            log.warning("the shared Reddit budget cannot be read; pacing this process alone",
                        exc_info=True)  # fmt: skip
            return 0.0
        return max(got.wait, got.held)


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


@contextlib.contextmanager
def mapped(what: str, subreddit: str | None = None) -> Iterator[None]:
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
            raise subreddit_error("banned", subreddit) from None
        raise ThreadNotFound(
            f"Reddit has no {what}: it may have been deleted, or the link is mistyped."
        ) from None
    except (asyncprawcore.Forbidden, asyncprawcore.UnavailableForLegalReasons) as exc:
        reason = str(_body(exc).get("reason") or "private")
        raise subreddit_error(reason, subreddit) from None
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
        raise BadCredentials(BAD_APP) from None
    except asyncprawcore.ServerError:
        raise RedditUnavailable(TROUBLE) from None
    except asyncprawcore.ResponseException as exc:
        if exc.response.status == 401:
            raise BadCredentials(BAD_APP) from None
        raise RedditUnavailable(
            f"Reddit answered with an unexpected error ({exc.response.status}); try again later."
        ) from None
    except asyncprawcore.RequestException as exc:
        log.info("reddit request failed: %r", exc.original_exception)
        raise RedditUnavailable(NO_ANSWER) from None
    except ThreadDataError:
        raise RedditUnavailable(GARBLED) from None
