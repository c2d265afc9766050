"""bench/memory_soak.py's scenario: its sizes, the runs, RSS, and the fakes around the core (a
source that parses a thread's JSON text on every fetch, a chat that keeps only its last posts)."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field, replace
from typing import Any

from adapters.reddit_source.thread_json import thread_from_json_text
from bench.common import shared_data_dir
from bot.chat import (
    ChannelTarget,
    Delivery,
    EphemeralTarget,
    MessageRef,
    Target,
    ThreadTarget,
)
from bot.ports import ListingSort, RateQuota, ThreadNotFound, ThreadRef, TopPeriod
from bot.thread_ref import ShareLink, parse_thread_text
from digest.model import Post, Thread
from digest.report import Depth
from tests.support.synthetic import thread_json

PLATFORM = "fake"
DIGESTS = 1_000
USERS = 300  # per 1,000 digests (more digests, proportionally more users and channels, so
CHANNELS = 100  # the per-user and per-channel limits refuse none)
SERVERS = 10
VARIANTS = 250  # distinct thread ids; each is digested ~DIGESTS / VARIANTS times
FILES = 8  # the largest real thread files
FLAG_EVERY = 3  # a flag on every third digest posted
IN_FLIGHT = 8
SAMPLE_EVERY = 50  # finished jobs (digests + flags) between RSS samples
TRACE_FROM = 300
TRACE_TO = 1_000
TRACE_FRAMES = 1  # each frame more costs a lot: 1 frame is ~5x slower, 12 frames ~30x
JOB_TIMEOUT_S = 120.0
CHILD_TIMEOUT_S = 1_800.0
RUNS: dict[str, tuple[str, dict[str, str]]] = {
    "plain": ("default malloc", {}),
    "arena2": ("MALLOC_ARENA_MAX=2", {"MALLOC_ARENA_MAX": "2"}),
    "trace": ("tracemalloc, quiet job 300 → 1000", {}),
    "cache": ("+ CachingThreadSource as bot/app.py wires it", {}),
}
PARALLEL = 2  # runs at a time (each is about one core busy)

DATA = shared_data_dir() / "reddit"


def rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# ============================================================================ fakes


class FreshSource:
    """Threads served from their JSON text, parsed on every fetch (off the loop), under
    `VARIANTS` distinct ids."""

    def __init__(self, texts: Sequence[bytes]) -> None:
        self.texts = list(texts)
        self.fetches = 0

    @staticmethod
    def variant_id(n: int) -> str:
        return f"mem{n:04d}x"

    def _parse(self, post_id: str) -> Thread:
        try:
            n = int(post_id[3:7])
        except ValueError:
            raise ThreadNotFound(f"no thread {post_id}") from None
        thread = thread_from_json_text(self.texts[n % len(self.texts)], source="memsoak")
        return replace(thread, post=replace(thread.post, id=post_id))

    async def resolve(self, text: str) -> ThreadRef:
        parsed = parse_thread_text(text)
        assert not isinstance(parsed, ShareLink)
        return parsed

    async def fetch_thread(self, ref: ThreadRef, depth: Depth) -> Thread:
        self.fetches += 1
        return await asyncio.to_thread(self._parse, ref.post_id)

    async def listing(
        self, subreddit: str, sort: ListingSort, *, period: TopPeriod = TopPeriod.DAY,
        limit: int = 25,
    ) -> list[Post]:  # fmt: skip
        return []

    async def posts(self, post_ids: Sequence[str]) -> list[Post]:
        return []

    async def stream(self, subreddits: Sequence[str]) -> Any:
        await asyncio.Event().wait()
        yield  # pragma: no cover

    def quota(self) -> RateQuota:
        return RateQuota(None, None, None)


@dataclass
class BoundedChat:
    """A chat platform that remembers only its last few posts: it cannot be what grows."""

    platform: str = PLATFORM
    recent: deque[tuple[str | None, MessageRef]] = field(default_factory=lambda: deque(maxlen=8))
    public: int = 0
    threaded: int = 0
    ephemeral: int = 0
    last_ephemeral: str = ""
    _n: int = 0

    async def post(
        self, target: Target, delivery: Delivery, *, idempotency_key: str | None = None
    ) -> list[MessageRef]:
        self._n += 1
        mid = f"m{self._n}"
        if isinstance(target, ThreadTarget):
            ref = MessageRef(PLATFORM, target.parent.channel_id, mid, target.parent.message_id)
            self.threaded += 1
        elif isinstance(target, EphemeralTarget):
            ref = MessageRef(PLATFORM, target.channel_id, mid)
            self.ephemeral += 1
            self.last_ephemeral = (delivery.text or "")[:200]
        else:
            assert isinstance(target, ChannelTarget)
            ref = MessageRef(PLATFORM, target.channel_id, mid)
            self.public += 1
        self.recent.append((idempotency_key, ref))
        return [ref]

    async def find_posted(self, target: Target, idempotency_key: str) -> list[MessageRef] | None:
        found = [ref for key, ref in self.recent if key == idempotency_key]
        return found or None

    async def read_message(self, ref: MessageRef) -> None:
        return None  # people's messages are not simulated: flags land on the bot's digests

    def command_text(self, words: str) -> str:
        return f"/{words}"

    def working(self, target: Target) -> AbstractAsyncContextManager[None]:
        return nullcontext()  # nothing to show here


def _texts() -> tuple[list[bytes], str]:
    files = sorted(
        (
            p
            for p in DATA.glob("*/*.json")
            if "morechildren" not in p.name and p.parent.name != "cassettes"
        ),
        key=lambda p: -p.stat().st_size,
    )[:FILES]
    if files:
        names = ", ".join(f"{p.parent.name}/{p.name}" for p in files)
        return [p.read_bytes() for p in files], f"{len(files)} real thread files ({names})"
    sizes = (1_000, 2_000, 3_000, 5_000)
    texts = [json.dumps(thread_json(n, seed=n)).encode() for n in sizes]
    return texts, f"synthetic threads of {', '.join(f'{n:,}' for n in sizes)} comments"
