"""The ThreadSource port on saved thread JSON files: the embedded default when Reddit is not
configured or not reachable. A folder of `<thread>.json` files acts as a small offline Reddit:
threads by id or path, subreddit listings from the files' posts, posts by id."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from pathlib import Path

from adapters.reddit_source.thread_json import thread_from_json_text
from bot.ports import (
    InvalidThreadUrl,
    ListingSort,
    RateQuota,
    ThreadNotFound,
    ThreadRef,
    TopPeriod,
)
from bot.subreddits import validate_subreddits
from bot.thread_ref import ShareLink, parse_thread_text
from digest.errors import ThreadDataError
from digest.model import Post, Thread
from digest.report import Depth

log = logging.getLogger(__name__)


class SavedThreadSource:
    """Threads from files; `folders` are scanned (not recursively) for `*.json` thread files."""

    def __init__(self, folders: Sequence[Path] = ()) -> None:
        self._folders = [Path(f) for f in folders]
        self._threads: dict[str, Thread] = {}
        self._scanned = False

    def _load(self, path: Path) -> Thread:
        thread = thread_from_json_text(path.read_bytes(), source=str(path))
        self._threads[thread.post.id] = thread
        return thread

    def _load_if_file(self, text: str) -> Thread | None:
        path = Path(text).expanduser()
        return self._load(path) if path.is_file() else None

    def _scan(self) -> None:
        if self._scanned:
            return
        self._scanned = True
        for folder in self._folders:
            for path in sorted(folder.glob("*.json")):
                try:
                    self._load(path)
                except (ThreadDataError, OSError) as exc:
                    log.info("skipping %s: %s", path, exc)

    async def resolve(self, text: str) -> ThreadRef:
        thread = await asyncio.to_thread(self._load_if_file, text.strip())
        if thread is not None:
            return ThreadRef(thread.post.id, None, thread.post.subreddit)
        parsed = parse_thread_text(text)
        if isinstance(parsed, ShareLink):
            raise InvalidThreadUrl(
                "Share links need Reddit access (set REDDIT_CLIENT_ID, REDDIT_CLIENT_SECRET and "
                "REDDIT_USER_AGENT); paste the thread's full address or a saved file instead."
            )
        return parsed

    async def fetch_thread(self, ref: ThreadRef, depth: Depth) -> Thread:
        await asyncio.to_thread(self._scan)
        thread = self._threads.get(ref.post_id)
        if thread is None:
            raise ThreadNotFound(
                f"Thread {ref.post_id} is not among the saved threads, and Reddit is not "
                "configured: set REDDIT_CLIENT_ID, REDDIT_CLIENT_SECRET and REDDIT_USER_AGENT, "
                "or pass a saved thread file."
            )
        if ref.comment_id:
            if ref.comment_id not in thread.by_id:
                raise ThreadNotFound(f"Comment {ref.comment_id} is not in the saved thread.")
            keep = {ref.comment_id}
            for c in thread.comments:  # the comment and everything under it
                if c.parent_id in keep:
                    keep.add(c.id)
            thread = replace(
                thread,
                comments=tuple(c for c in thread.comments if c.id in keep),
                focus_comment_id=ref.comment_id,
            )
        return thread

    async def listing(
        self,
        subreddit: str,
        sort: ListingSort,
        *,
        period: TopPeriod = TopPeriod.DAY,
        limit: int = 25,
    ) -> list[Post]:
        names = {n.lower() for n in validate_subreddits(subreddit)}
        await asyncio.to_thread(self._scan)
        posts = [t.post for t in self._threads.values() if t.post.subreddit.lower() in names]
        if sort is ListingSort.NEW:
            posts.sort(key=lambda p: p.created, reverse=True)
        else:  # saved threads have no time window to speak of: top and hot both go by score
            posts.sort(key=lambda p: (p.score, p.created), reverse=True)
        return posts[:limit]

    async def posts(self, post_ids: Sequence[str]) -> list[Post]:
        await asyncio.to_thread(self._scan)
        return [self._threads[i].post for i in post_ids if i in self._threads]

    async def stream(self, subreddits: Sequence[str]) -> AsyncIterator[Post]:
        validate_subreddits(subreddits)
        never: asyncio.Queue[Post] = asyncio.Queue()  # saved files grow no new posts
        while True:
            yield await never.get()

    def quota(self) -> RateQuota:
        return RateQuota(None, None, None)
