"""The ThreadSource port on saved thread JSON files: the embedded default when Reddit is not
configured or not reachable. A folder of `<thread>.json` files acts as a small offline Reddit:
threads by URL or id, subreddit listings from the files' posts, posts by id.

Chat users reach this source, so it reads only the configured folders: `resolve` never takes a
path, a file whose real location is outside its folder (a symlink pointing elsewhere) is skipped,
and a thread that is not there gets the same answer whatever is on disk. The person at the
terminal names files through `local_files.LocalThreadFiles` instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from pathlib import Path

from adapters.reddit_source.local_files import read_regular_file
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
from digest.errors import DigestError
from digest.model import Post, Thread
from digest.report import Depth

log = logging.getLogger(__name__)

NOT_AVAILABLE = (
    "Thread {id} is not available here: only the saved threads can be digested while Reddit is "
    "not configured (set REDDIT_CLIENT_ID, REDDIT_CLIENT_SECRET and REDDIT_USER_AGENT for live "
    "Reddit)."
)


def scan_folders(folders: Sequence[Path]) -> dict[str, Thread]:
    """The threads in each folder's `*.json` files (not recursive), by post id; a later file
    with the same post id wins. Blocking: run it in a worker thread.

    A file is read only when its real path is inside its folder's real path. A file that cannot
    be read or is not a thread (hostile input included) is skipped with a log line, and the
    others still load.
    """
    threads: dict[str, Thread] = {}
    for folder in folders:
        try:
            root = folder.resolve(strict=True)
            paths = sorted(root.glob("*.json"))
        except FileNotFoundError:
            log.info("saved threads: no folder %s", folder)
            continue
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python < 3.13)
            log.warning("saved threads: cannot read the folder %s: %s", folder, exc)
            continue
        for path in paths:
            try:
                real = path.resolve(strict=True)
                if not real.is_relative_to(root):
                    log.warning("saved threads: skipping %s: it points outside %s", path, root)
                    continue
                data = read_regular_file(real, follow_symlinks=False)
                thread = thread_from_json_text(data, source=str(path))
            except Exception as exc:  # one bad file must never hide the others
                expected = isinstance(exc, DigestError | OSError)
                log.warning("saved threads: skipping %s: %s", path, exc, exc_info=not expected)
                continue
            threads[thread.post.id] = thread
    return threads


class SavedThreadSource:
    """Threads from files; `folders` are scanned (not recursively) for `*.json` thread files,
    once, on first use."""

    def __init__(self, folders: Sequence[Path] = ()) -> None:
        self._folders = [Path(f).expanduser() for f in folders]
        self._threads: dict[str, Thread] = {}
        self._scanned = False
        self._scan_lock = asyncio.Lock()

    async def _saved(self) -> dict[str, Thread]:
        """The saved threads; the first callers wait for the one scan (run off the loop)."""
        if not self._scanned:
            async with self._scan_lock:
                if not self._scanned:
                    self._threads = await asyncio.to_thread(scan_folders, self._folders)
                    self._scanned = True
        return self._threads

    async def resolve(self, text: str) -> ThreadRef:
        """A URL, id or t3_ fullname (never a path: this source only knows its folders)."""
        parsed = parse_thread_text(text)
        if isinstance(parsed, ShareLink):
            raise InvalidThreadUrl(
                "Share links need Reddit access (set REDDIT_CLIENT_ID, REDDIT_CLIENT_SECRET and "
                "REDDIT_USER_AGENT); paste the thread's full address instead."
            )
        return parsed

    async def fetch_thread(self, ref: ThreadRef, depth: Depth) -> Thread:
        thread = (await self._saved()).get(ref.post_id)
        if thread is None:
            raise ThreadNotFound(NOT_AVAILABLE.format(id=ref.post_id))
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
        saved = await self._saved()
        posts = [t.post for t in saved.values() if t.post.subreddit.lower() in names]
        if sort is ListingSort.NEW:
            posts.sort(key=lambda p: p.created, reverse=True)
        else:  # saved threads have no time window to speak of: top and hot both go by score
            posts.sort(key=lambda p: (p.score, p.created), reverse=True)
        return posts[:limit]

    async def posts(self, post_ids: Sequence[str]) -> list[Post]:
        saved = await self._saved()
        return [saved[i].post for i in post_ids if i in saved]

    async def stream(self, subreddits: Sequence[str]) -> AsyncIterator[Post]:
        validate_subreddits(subreddits)
        never: asyncio.Queue[Post] = asyncio.Queue()  # saved files grow no new posts
        while True:
            yield await never.get()

    def quota(self) -> RateQuota:
        return RateQuota(None, None, None)
