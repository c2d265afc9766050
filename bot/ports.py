"""The ports the core owns: what an outside system must provide, in the core's own terms.

Adapters implement these Protocols; the core and its tests depend only on them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from digest.errors import DigestError
from digest.model import Post, Thread
from digest.report import Depth


@dataclass(frozen=True, slots=True)
class ThreadRef:
    """Which thread (and, for a comment permalink, which comment in it) a person asked for."""

    post_id: str
    comment_id: str | None = None
    subreddit: str | None = None  # as written in the URL, when it named one

    @property
    def key(self) -> str:
        return f"{self.post_id}/{self.comment_id or ''}"


class TopPeriod(StrEnum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"
    ALL = "all"


class ListingSort(StrEnum):
    TOP = "top"
    HOT = "hot"
    NEW = "new"


@dataclass(frozen=True, slots=True)
class RateQuota:
    """What is left of the Reddit API budget, so schedulers can pace themselves."""

    remaining: int | None  # None until Reddit has said
    used: int | None
    reset_at: datetime | None


class ThreadSource(Protocol):
    """Reddit, as the core sees it.

    Contract: every method raises only SourceError subclasses for anything a user or Reddit can
    cause (never an SDK exception); returned objects are the digest model's frozen dataclasses.
    """

    async def fetch_thread(self, ref: ThreadRef, depth: Depth) -> Thread:
        """One thread, fetched within the request budget of `depth`."""
        ...

    async def resolve(self, text: str) -> ThreadRef:
        """A ThreadRef from anything a person pastes (URL, share link, id)."""
        ...

    async def listing(
        self,
        subreddit: str,
        sort: ListingSort,
        *,
        period: TopPeriod = TopPeriod.DAY,
        limit: int = 25,
    ) -> list[Post]:
        """A subreddit's posts (subreddit names may be joined with `+`)."""
        ...

    async def posts(self, post_ids: Sequence[str]) -> list[Post]:
        """The current state (score, comment count) of these posts; missing ones are left out."""
        ...

    def stream(self, subreddits: Sequence[str]) -> AsyncIterator[Post]:
        """New posts of the subreddits as they arrive (runs until cancelled)."""
        ...

    def quota(self) -> RateQuota: ...


class ThreadFiles(Protocol):
    """Saved thread files named by the person at the bot's own terminal (the console, the CLI).

    Contract: reads any path it is given, so the core hands it only requests typed at the
    terminal, never a chat's; raises SourceError with one sentence naming the path."""

    async def read(self, path: str) -> Thread: ...


class SourceError(DigestError):
    """Reddit could not give us what was asked; the message says why and what to do."""


class InvalidThreadUrl(SourceError):
    pass


class InvalidSubreddit(SourceError):
    pass


class ThreadNotFound(SourceError):
    pass


class SubredditUnavailable(SourceError):
    """Private, quarantined, gated or banned."""

    def __init__(self, user_message: str, reason: str) -> None:
        super().__init__(user_message)
        self.reason = reason


class RateLimited(SourceError):
    def __init__(self, user_message: str, reset_at: datetime | None) -> None:
        super().__init__(user_message)
        self.reset_at = reset_at


class RedditUnavailable(SourceError):
    pass


class BadCredentials(SourceError):
    pass
