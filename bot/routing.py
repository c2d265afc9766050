"""One ThreadSource for the core that sends each request to the source it names: Hacker News
references (`hn:N`), HN lists (`hn`, `hn:top` … as a subscription's "subreddit") and HN post
ids to the HN source; everything else to Reddit (or the saved threads)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from bot.ports import (
    InvalidSubreddit,
    ListingSort,
    RateQuota,
    ThreadRef,
    ThreadSource,
    TopPeriod,
)
from bot.thread_cache import CachingThreadSource
from bot.thread_ref import hn_ref, is_hn_ref
from digest.model import Post, Thread
from digest.report import Depth

HN_LISTS = ("top", "best", "new", "ask", "show")
HN_NAMES = {"top": "Hacker News", "best": "Hacker News (best)", "new": "Hacker News (new)",
            "ask": "Ask HN", "show": "Show HN"}  # fmt: skip


def is_hn_name(name: str) -> bool:
    """`hn` or `hn:LIST`: a Hacker News list where a subreddit is expected."""
    low = name.strip().lower()
    return low == "hn" or low.startswith("hn:")


def hn_list(name: str) -> str:
    """`hn` → `hn:top`, `HN:Best` → `hn:best`; InvalidSubreddit (one sentence) for another."""
    kind = name.strip().lower().removeprefix("hn").removeprefix(":") or "top"
    if kind not in HN_LISTS:
        raise InvalidSubreddit(
            f"“{name.strip()[:40]}” is not a Hacker News list: use hn (its front page), "
            "hn:best, hn:new, hn:ask or hn:show."
        )
    return f"hn:{kind}"


def place_name(name: str) -> str:
    """A subscription's source as people read it: `r/selfhosted`, `Hacker News`, `Show HN`."""
    if is_hn_name(name):
        return HN_NAMES.get(name.strip().lower().removeprefix("hn").removeprefix(":") or "top",
                            "Hacker News")  # fmt: skip
    return f"r/{name}"


class RoutedSource:
    """Reddit (as given: cached already) and Hacker News, behind the one cache HN gets here."""

    def __init__(
        self, reddit: ThreadSource, hn: ThreadSource, *, cache_seconds: float = 0.0
    ) -> None:
        self.reddit = reddit
        self.hn: ThreadSource = hn
        if cache_seconds > 0:
            ttl = dict.fromkeys(Depth, cache_seconds)
            self.hn = CachingThreadSource(hn, ttl_seconds=ttl)

    async def resolve(self, text: str) -> ThreadRef:
        return hn_ref(text) or await self.reddit.resolve(text)

    async def fetch_thread(self, ref: ThreadRef, depth: Depth) -> Thread:
        source = self.hn if is_hn_ref(ref) else self.reddit
        return await source.fetch_thread(ref, depth)

    async def listing(
        self,
        subreddit: str,
        sort: ListingSort,
        *,
        period: TopPeriod = TopPeriod.DAY,
        limit: int = 25,
    ) -> list[Post]:
        source = self.hn if is_hn_name(subreddit) else self.reddit
        return await source.listing(subreddit, sort, period=period, limit=limit)

    async def posts(self, post_ids: Sequence[str]) -> list[Post]:
        hn_ids = [p for p in post_ids if p.startswith("hn:")]
        others = [p for p in post_ids if not p.startswith("hn:")]
        out = await self.reddit.posts(others) if others else []
        return out + (await self.hn.posts(hn_ids) if hn_ids else [])

    def stream(self, subreddits: Sequence[str]) -> AsyncIterator[Post]:
        if subreddits and all(is_hn_name(s) for s in subreddits):
            return self.hn.stream(subreddits)
        return self.reddit.stream(subreddits)

    def quota(self) -> RateQuota:
        return self.reddit.quota()
