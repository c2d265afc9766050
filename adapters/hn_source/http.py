"""HN's two JSON APIs over one aiohttp session: every request counted, at most `in_flight` at
once, and every failure a SourceError with one sentence.

    a JSON `null` (Firebase's answer for an unknown item) or a 404   → None (the caller decides)
    5xx, 429, timeouts, lost connections, an answer that is not JSON → HNUnavailable
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp

from bot.ports import RedditUnavailable

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024 * 1024  # bytes: Algolia's tree of a 5,000-comment story is a few MB
NO_ANSWER = "Hacker News did not answer just now; try again in a minute."


class HNUnavailable(RedditUnavailable):
    """HN's API (or Algolia's) failed: transient, as Reddit being down is for the scheduler."""


class HnHttp:
    def __init__(self, *, user_agent: str, timeout_seconds: float, in_flight: int) -> None:
        self._user_agent = user_agent
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._gate = asyncio.Semaphore(max(in_flight, 1))
        self._session: aiohttp.ClientSession | None = None
        self.requests_made = 0
        self.peak_in_flight = 0
        self._in_flight = 0

    def open(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers={"User-Agent": self._user_agent, "Accept": "application/json"},
                timeout=self._timeout,
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get(self, url: str) -> Any:
        """The JSON at `url`; None for a 404 or a JSON null; HNUnavailable for the rest."""
        if self._session is None:
            raise RuntimeError("HnHttp used before open()")
        async with self._gate:
            self.requests_made += 1
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
            try:
                async with self._session.get(url) as response:
                    if response.status == 404:
                        return None
                    if response.status >= 400:
                        log.warning("HN API: %s answered HTTP %s", url, response.status)
                        raise HNUnavailable(NO_ANSWER)
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in response.content.iter_chunked(1 << 16):
                        size += len(chunk)
                        if size > MAX_BODY:
                            log.warning("HN API: %s answered more than %d bytes", url, MAX_BODY)
                            raise HNUnavailable(NO_ANSWER)
                        chunks.append(chunk)
                    body = b"".join(chunks)
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.warning("HN API: %s failed: %s", url, type(exc).__name__)
                raise HNUnavailable(NO_ANSWER) from None
            finally:
                self._in_flight -= 1
        try:
            return json.loads(body)
        except ValueError:
            log.warning("HN API: %s answered something that is not JSON", url)
            raise HNUnavailable(NO_ANSWER) from None
