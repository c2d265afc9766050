"""The ThreadSource port on Hacker News: a story and its comments, the story lists, new stories.

What it asks (no credentials, no cookies; both bases overridable for tests and proxies):

    a thread, fast path   GET {search}/items/{id}            Algolia: the whole tree, 1 request,
                          + GET {api}/item/{id}.json          with the story item beside it
    a thread, fallback    GET {api}/item/{id}.json            Firebase: 1 request per item,
                                                               `in_flight` at once, within the
                                                               depth's request budget
    a story list          GET {api}/{top,best,new,ask,show}stories.json, then its first items
    a period's top        GET {search}/search?tags=story&numericFilters=created_at_i>T, then
                          each story's item (fallback: the list, kept to the period)
    posts by id           GET {api}/item/{id}.json            (watch re-checks)
    new stories           GET {api}/newstories.json every `poll_seconds`

Why Algolia first: one request carries every comment, so a 2,000-comment story digests with
all of it read; the official API needs one request per comment and its budget leaves most of a
big thread unfetched. The official story item is asked beside it (in parallel: 2 requests a
thread) for what only HN itself knows: its comment count, current points, and the ranked order
of the top-level comments (Algolia's tree is not in HN's rank order). Algolia is a third party's index, though
(it may lag a new story, or fail): when it does not answer, or answers without the item, the
official API is asked, breadth-first in HN's own rank order, and the coverage line says how
much of the thread was fetched.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from adapters.hn_source import items as hn
from adapters.hn_source.firebase_tree import fetch_tree
from adapters.hn_source.http import HnHttp, HNUnavailable
from bot import progress
from bot.ports import (
    InvalidThreadUrl,
    ListingSort,
    RateQuota,
    ThreadNotFound,
    ThreadRef,
    TopPeriod,
)
from bot.routing import hn_list
from bot.thread_ref import HN_EXAMPLE, is_hn_ref, parse_thread_text
from digest import cpu
from digest.model import Post, Thread
from digest.report import Depth
from digest.source import HACKER_NEWS

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)

USER_AGENT = "redigest (self-hosted discussion digest bot)"

# How far back "top" and "best" look for each period ("all": HN's own list).
PERIOD_SECONDS = {
    TopPeriod.HOUR: 3_600,
    TopPeriod.DAY: 86_400,
    TopPeriod.WEEK: 7 * 86_400,
    TopPeriod.MONTH: 30 * 86_400,
    TopPeriod.YEAR: 365 * 86_400,
}


@dataclass(frozen=True, slots=True)
class HnConfig:
    api_url: str = "https://hacker-news.firebaseio.com/v0"  # REDIGEST_HN_API_URL
    search_url: str | None = "https://hn.algolia.com/api/v1"  # REDIGEST_HN_SEARCH_URL; None: off
    brief_requests: int = 100  # Firebase requests a brief digest may spend (Algolia costs 1)
    deep_requests: int = 400
    in_flight: int = 8
    timeout_seconds: float = 16.0
    listing_items: int = 30  # a list's first items fetched (one request each): a front page
    poll_seconds: float = 60.0  # new-story polls for watches

    @classmethod
    def from_settings(cls, s: Settings) -> HnConfig:
        return cls(
            api_url=s.hn_api_url,
            search_url=s.hn_search_url or None,
            brief_requests=s.hn_brief_requests,
            deep_requests=s.hn_deep_requests,
        )

    def budget(self, depth: Depth) -> int:
        return self.brief_requests if depth is Depth.BRIEF else self.deep_requests


@dataclass(frozen=True, slots=True)
class _Answer:
    asked: bool  # the official API answered (an item, or null for an unknown id)
    item: Mapping[str, Any] | None


def list_of(name: str) -> str:
    """`hn` → top; `hn:best` → best; InvalidSubreddit for anything else."""
    return hn_list(name).removeprefix("hn:")


class HnSource:
    """Hacker News; use as `async with HnSource(config) as source`."""

    def __init__(
        self,
        config: HnConfig | None = None,
        *,
        sleep: Callable[[float], Any] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = c = config or HnConfig()
        self._api = c.api_url.rstrip("/")
        self._search = c.search_url.rstrip("/") if c.search_url else None
        self._http = HnHttp(
            user_agent=USER_AGENT, timeout_seconds=c.timeout_seconds, in_flight=c.in_flight
        )
        self._sleep = sleep
        self._clock = clock

    @property
    def requests_made(self) -> int:
        return self._http.requests_made

    @property
    def peak_in_flight(self) -> int:
        return self._http.peak_in_flight

    async def __aenter__(self) -> HnSource:
        self._http.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._http.close()

    def quota(self) -> RateQuota:
        return RateQuota(None, None, None)  # HN states no quota

    async def resolve(self, text: str) -> ThreadRef:
        ref = parse_thread_text(text)
        if not isinstance(ref, ThreadRef) or not is_hn_ref(ref):
            raise InvalidThreadUrl(f"That is not a Hacker News item: use {HN_EXAMPLE}")
        return ref

    async def item(self, number: int) -> Mapping[str, Any] | None:
        answer = await self._http.get(f"{self._api}/item/{number}.json")
        return answer if isinstance(answer, Mapping) else None

    async def fetch_thread(self, ref: ThreadRef, depth: Depth) -> Thread:
        number = hn.item_number(ref.post_id)
        progress.current().step("Fetching the discussion from Hacker News…")
        thread: Thread | None = None
        first = _Answer(asked=False, item=None)  # the official API's item `number`
        if self._search is not None:
            thread, first = await self._from_algolia(number)
        if thread is None:
            thread = await self._from_firebase(number, self.config.budget(depth), first)
        if ref.comment_id and ref.comment_id not in thread.by_id:
            raise ThreadNotFound("Hacker News has no such comment: it may have been deleted.")
        if ref.comment_id:
            thread = replace(thread, focus_comment_id=ref.comment_id)
        return thread

    async def _algolia(self, number: int) -> Mapping[str, Any] | None:
        try:
            tree = await self._http.get(f"{self._search}/items/{number}")
        except HNUnavailable:
            log.info("HN: Algolia failed for item %s; asking the official API", number)
            return None
        return tree if isinstance(tree, Mapping) and "id" in tree else None

    async def _quiet_item(self, number: int) -> _Answer:
        """The official API's item, or not asked when it fails (Algolia's tree is enough)."""
        try:
            return _Answer(asked=True, item=await self.item(number))
        except HNUnavailable:
            return _Answer(asked=False, item=None)

    async def _from_algolia(self, number: int) -> tuple[Thread | None, _Answer]:
        """Algolia's whole tree and, in parallel, the official API's story item (HN's own
        comment count, current points and the ranked order of the top-level comments): 2
        requests (4 when `number` is a comment). (None, item) when Algolia has no tree."""
        tree, first = await asyncio.gather(self._algolia(number), self._quiet_item(number))
        story, focus = first.item, None
        if tree is not None and tree.get("type") == "comment" and tree.get("story_id"):
            focus = str(number)
            story_id = int(tree["story_id"])
            tree, answer = await asyncio.gather(self._algolia(story_id), self._quiet_item(story_id))
            story = answer.item
        if tree is None or tree.get("type") == "comment":
            return None, first
        official = story if story is not None and story.get("id") == tree["id"] else None

        def build() -> Thread:
            assert tree is not None
            ranked = list(official.get("kids") or ()) if official else []
            if official is not None:
                post = hn.post_from_item(official)
            else:
                total = hn.count_algolia(tree)
                post = hn.post_from_item(hn.firebase_item_of_algolia(tree), descendants=total)
            comments = hn.comments_of_algolia(tree, int(tree["id"]), post.author, ranked)
            extra = {"fetched_via": "algolia", "requests": "2" if focus is None else "4"}
            return Thread(post, tuple(comments), (), focus, "hn", extra, origin=HACKER_NEWS)

        return await cpu.run(build), first  # thousands of comments: off the loop

    async def _from_firebase(self, number: int, budget: int, first: _Answer) -> Thread:
        item = first.item if first.asked else await self.item(number)
        spent, focus = 1, None
        while item is not None and item.get("type") == "comment" and spent < budget:
            focus = focus or str(number)
            parent = item.get("parent")
            item = await self.item(int(parent)) if parent else None
            spent += 1
        if item is None or item.get("type") == "comment":
            raise ThreadNotFound(f"Hacker News has no item {number}: check the link or id.")
        tree = await fetch_tree(self.item, item, max(budget - spent, 0))
        post = hn.post_from_item(item)
        extra = {"fetched_via": "firebase", "requests": str(spent + tree.requests)}
        more = tuple(tree.more)
        return Thread(post, tuple(tree.comments), more, focus, "hn", extra, origin=HACKER_NEWS)

    async def listing(
        self,
        subreddit: str,
        sort: ListingSort,
        *,
        period: TopPeriod = TopPeriod.DAY,
        limit: int = 25,
    ) -> list[Post]:
        """A story list's first stories. `hn:top` and `hn:best` with a period shorter than
        "all" are the period's stories with the most points ("top 5 weekly" is the week's
        best, not today's front page): through Algolia's search when it is on, else the
        official list's first `listing_items` stories posted within the period. `new`, `ask`
        and `show` are HN's own order, whatever the period."""
        kind = list_of(subreddit)
        count = max(1, min(limit, self.config.listing_items))
        window = PERIOD_SECONDS.get(period) if kind in ("top", "best") else None
        if window is not None and self._search:
            since = int(self._clock() - window)
            found = await self._period_top(since, count)
            if found is not None:
                return found
        ids = await self._http.get(f"{self._api}/{kind}stories.json")
        if window is None:
            return await self._posts([int(i) for i in (ids or [])[:count]])
        since = int(self._clock() - window)
        listed = await self._posts([int(i) for i in (ids or [])[: self.config.listing_items]])
        recent = [p for p in listed if p.created.timestamp() >= since]
        return sorted(recent, key=lambda p: -p.score)[:count]

    async def _period_top(self, since: int, count: int) -> list[Post] | None:
        """The most-pointed stories since `since` (Algolia's search, then each story's item
        from HN itself for its current points and comment count); None when Algolia fails."""
        query = urlencode(
            {"tags": "story", "numericFilters": f"created_at_i>{since}", "hitsPerPage": count}
        )
        try:
            found = await self._http.get(f"{self._search}/search?{query}")
        except HNUnavailable as e:
            log.info("Algolia search unavailable (%s); the official story list is used", e)
            return None
        hits = found.get("hits") if isinstance(found, Mapping) else None
        if not isinstance(hits, list):
            return None
        numbers = [int(h["objectID"]) for h in hits if str(h.get("objectID", "")).isdigit()]
        posts = await self._posts(numbers[:count])
        return sorted(posts, key=lambda p: -p.score)

    async def _posts(self, numbers: Sequence[int]) -> list[Post]:
        found = await asyncio.gather(*(self.item(n) for n in numbers))
        return [
            hn.post_from_item(item)
            for item in found
            if item and item.get("type") in ("story", "job", "poll") and not item.get("deleted")
        ]

    async def posts(self, post_ids: Sequence[str]) -> list[Post]:
        numbers = [hn.item_number(p) for p in post_ids if p.startswith(hn.PREFIX)]
        return await self._posts(numbers)

    async def stream(self, subreddits: Sequence[str]) -> AsyncIterator[Post]:
        """New stories as they appear in newstories.json (what existed at the start skipped)."""
        seen: set[int] | None = None
        while True:
            ids = [int(i) for i in (await self._http.get(f"{self._api}/newstories.json") or [])]
            if seen is None:
                seen = set(ids)
            else:
                fresh = [i for i in ids if i not in seen]
                seen.update(fresh)
                for post in await self._posts(list(reversed(fresh))):
                    yield post
            await self._sleep(self.config.poll_seconds)
