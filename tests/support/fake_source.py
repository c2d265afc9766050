"""An in-memory ThreadSource: threads by id, listings, posts whose score tests can change, and a
stream tests push new posts into."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace

from bot.ports import ListingSort, RateQuota, ThreadNotFound, ThreadRef, TopPeriod
from bot.thread_ref import ShareLink, parse_thread_text
from digest.model import Post, Thread
from digest.report import Depth


@dataclass
class FakeSource:
    threads: dict[str, Thread] = field(default_factory=dict)
    fetches: list[tuple[str, Depth]] = field(default_factory=list)
    # What a stream yields next; an exception put in it is raised (a poll that failed).
    streams: dict[str, asyncio.Queue[Post | BaseException]] = field(default_factory=dict)
    fail_fetch: BaseException | None = None
    fail_listing: list[BaseException] = field(default_factory=list)  # raised by the next listings
    fail_stream: list[BaseException] = field(default_factory=list)  # raised by the next streams
    stream_opens: int = 0  # streams opened so far (a stream that failed is opened again)

    def add(self, thread: Thread) -> Thread:
        self.threads[thread.post.id] = thread
        return thread

    def set_score(self, post_id: str, score: int, num_comments: int | None = None) -> None:
        t = self.threads[post_id]
        post = replace(
            t.post,
            score=score,
            num_comments=t.post.num_comments if num_comments is None else num_comments,
        )
        self.threads[post_id] = replace(t, post=post)

    async def resolve(self, text: str) -> ThreadRef:
        parsed = parse_thread_text(text)
        assert not isinstance(parsed, ShareLink)
        return parsed

    async def fetch_thread(self, ref: ThreadRef, depth: Depth) -> Thread:
        self.fetches.append((ref.post_id, depth))
        if self.fail_fetch is not None:
            exc, self.fail_fetch = self.fail_fetch, None
            raise exc
        thread = self.threads.get(ref.post_id)
        if thread is None:
            raise ThreadNotFound(f"Reddit has no thread with id {ref.post_id}.")
        return thread

    async def listing(
        self,
        subreddit: str,
        sort: ListingSort,
        *,
        period: TopPeriod = TopPeriod.DAY,
        limit: int = 25,
    ) -> list[Post]:
        if self.fail_listing:
            raise self.fail_listing.pop(0)
        names = {n.lower() for n in subreddit.split("+")}
        posts = [t.post for t in self.threads.values() if t.post.subreddit.lower() in names]
        return sorted(posts, key=lambda p: -p.score)[:limit]

    async def posts(self, post_ids: Sequence[str]) -> list[Post]:
        return [self.threads[i].post for i in post_ids if i in self.threads]

    async def stream(self, subreddits: Sequence[str]) -> AsyncIterator[Post]:
        self.stream_opens += 1
        if self.fail_stream:
            raise self.fail_stream.pop(0)
        queue = self.streams.setdefault(subreddits[0].lower(), asyncio.Queue())
        while True:
            item = await queue.get()
            if isinstance(item, BaseException):
                raise item
            yield item

    def quota(self) -> RateQuota:
        return RateQuota(None, None, None)
