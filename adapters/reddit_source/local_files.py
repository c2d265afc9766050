"""Thread JSON files named by the person at the terminal, and nobody else.

`LocalThreadFiles.read` opens whatever path it is given: that is what a person running
`redigest digest FILE` or typing `/digest FILE` in the console means, on their own machine. It must
never be reachable from chat, where the person typing is not the one whose files these are: chat
requests go through `SavedThreadSource`, which reads only its configured folders.
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from adapters.reddit_source.thread_json import thread_from_json_text
from bot.ports import (
    ListingSort,
    RateQuota,
    ThreadNotFound,
    ThreadRef,
    ThreadSource,
    TopPeriod,
)
from digest.errors import ThreadDataError
from digest.model import Post, Thread
from digest.report import Depth

# Opening never waits on a FIFO or device (O_NONBLOCK), and, when asked, never follows a symlink
# in the last component (O_NOFOLLOW); both are no-ops where the platform has no such flag.
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class NotARegularFile(OSError):
    """The path is a folder, FIFO, device or socket, not a file."""

    def __init__(self, path: Path, is_dir: bool) -> None:
        super().__init__(f"{path} is {'a folder' if is_dir else 'not a regular file'}")
        self.is_dir = is_dir


def read_regular_file(path: Path, *, follow_symlinks: bool = True) -> bytes:
    """The bytes of a regular file (NotARegularFile otherwise, without blocking)."""
    flags = os.O_RDONLY | _NONBLOCK | (0 if follow_symlinks else _NOFOLLOW)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotARegularFile(path, stat.S_ISDIR(mode))
        f = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with f:
        return f.read()


class LocalThreadFiles:
    """Reads any thread JSON file the person at the terminal names (the core's ThreadFiles port).

    Terminal only: the core calls it for requests typed at the terminal, never for chat.
    Every failure is a ThreadNotFound with one sentence naming the path.
    """

    async def read(self, path: str) -> Thread:
        """The thread in the file at `path` (`~` expanded), read and converted off the loop."""
        return await asyncio.to_thread(self._read, path)

    def _read(self, text: str) -> Thread:
        shown = text.strip()
        if not shown:
            raise ThreadNotFound("Give the path of a saved thread JSON file.")
        path = Path(shown).expanduser()
        try:
            data = read_regular_file(path)
        except NotARegularFile as exc:
            what = "a folder" if exc.is_dir else "not a regular file"
            raise ThreadNotFound(f"{shown} is {what}: give a saved thread JSON file.") from None
        except FileNotFoundError:
            raise ThreadNotFound(f"There is no file at {shown}.") from None
        except PermissionError:
            raise ThreadNotFound(f"{shown} cannot be read: permission denied.") from None
        except NotADirectoryError:
            raise ThreadNotFound(f"There is no file at {shown}: a part of it is a file.") from None
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
            reason = (exc.strerror if isinstance(exc, OSError) else None) or "not a usable path"
            raise ThreadNotFound(f"{shown} cannot be read: {reason.rstrip('.').lower()}.") from None
        try:
            return thread_from_json_text(data, source=shown)
        except ThreadDataError as exc:
            raise ThreadNotFound(exc.user_message) from None


class FilesFirst:
    """The console's thread source: threads read from files the person at the terminal named
    are found again by id (a 🔍 on their digest), before the configured source is asked."""

    def __init__(self, inner: ThreadSource, keep: int = 50) -> None:
        self.inner = inner
        self._keep = keep
        self._threads: dict[str, Thread] = {}

    async def read(self, path: str) -> Thread:  # the ThreadFiles port
        thread = await LocalThreadFiles().read(path)
        self._threads.pop(thread.post.id, None)
        self._threads[thread.post.id] = thread
        while len(self._threads) > self._keep:
            del self._threads[next(iter(self._threads))]
        return thread

    async def fetch_thread(self, ref: ThreadRef, depth: Depth) -> Thread:
        known = self._threads.get(ref.post_id)
        if known is not None and ref.comment_id is None:
            return known
        return await self.inner.fetch_thread(ref, depth)

    async def resolve(self, text: str) -> ThreadRef:
        return await self.inner.resolve(text)

    async def listing(
        self, subreddit: str, sort: ListingSort, *, period: TopPeriod = TopPeriod.DAY,
        limit: int = 25,
    ) -> list[Post]:  # fmt: skip
        return await self.inner.listing(subreddit, sort, period=period, limit=limit)

    async def posts(self, post_ids: Sequence[str]) -> list[Post]:
        return await self.inner.posts(post_ids)

    def stream(self, subreddits: Sequence[str]) -> AsyncIterator[Post]:
        return self.inner.stream(subreddits)

    def quota(self) -> RateQuota:
        return self.inner.quota()
