"""bench/core_load.py's scenario: its sizes, the fakes around the core (an LLM that answers after
2 s, a chat that says when every report is out), the engines, and the requests and threads of a
run."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, replace

from adapters.reddit_source.thread_json import thread_from_json
from bot.chat import Delivery, EphemeralTarget, MessageRef, Request, Target
from bot.core import Engines
from digest.llm import LLMAnalyzer, StructuredRequest, StructuredResponse
from digest.model import Thread
from digest.pipeline import DigestEngine
from digest.report import Depth
from digest.sentiment import PolarityScorer
from tests.support.fake_chat import FakeChat
from tests.support.fake_source import FakeSource
from tests.support.scripted_llm import grounded_answer
from tests.support.synthetic import thread_json

ACK_TARGET_MS = 100.0
LLM_DELAY_S = 2.0
LLM_MODEL = "claude-haiku-5-5"
PLATFORM = "fake"
BURST = 200
BURST_THREADS = 20
BIG_COMMENTS = 5_000
BIG_DIGESTS = 20
TICK_S = 0.010
RUN_TIMEOUT_S = 90.0
DIST = "ms p50/p99/max"


# ----------------------------------------------------------------------------- fakes


@dataclass
class SlowLLM:
    """An LLM provider that answers after `delay` seconds with a grounded answer."""

    delay: float = LLM_DELAY_S
    name: str = "slowllm"
    calls: int = 0
    repairs: int = 0  # calls asking to repair an answer that did not match the thread

    async def structured(
        self, request: StructuredRequest, *, time_limit: float
    ) -> StructuredResponse:
        self.calls += 1
        self.repairs += request.repair is not None
        await asyncio.sleep(min(self.delay, time_limit))
        # The answer is the fake's own work (a provider does it elsewhere): off the loop.
        data = await asyncio.to_thread(grounded_answer, request)
        return StructuredResponse(data, 1000, 200, 0, 0, request.model)


class CountingChat:
    """A FakeChat that says when `expected` reports (public posts) are out."""

    platform: str = PLATFORM

    def __init__(self, expected: int) -> None:
        self.inner = FakeChat(platform=PLATFORM)
        self.expected = expected
        self.public = 0
        self.ephemeral: list[str] = []
        self.all_posted = asyncio.Event()

    async def post(
        self, target: Target, delivery: Delivery, *, idempotency_key: str | None = None
    ) -> list[MessageRef]:
        refs = await self.inner.post(target, delivery, idempotency_key=idempotency_key)
        if isinstance(target, EphemeralTarget):
            self.ephemeral.append(delivery.text or "")
        else:
            self.public += 1
            if self.public >= self.expected:
                self.all_posted.set()
        return refs

    async def find_posted(self, target: Target, idempotency_key: str) -> list[MessageRef] | None:
        return await self.inner.find_posted(target, idempotency_key)

    async def read_message(self, ref: MessageRef) -> None:
        return None  # people's messages are not simulated: flags land on the bot's digests

    def command_text(self, words: str) -> str:
        return f"/{words}"

    def working(self, target: Target) -> AbstractAsyncContextManager[None]:
        return nullcontext()  # nothing to show here


# ----------------------------------------------------------------------------- workloads


def _engines(scorer: PolarityScorer, llm: SlowLLM | None) -> Engines:
    offline = DigestEngine(scorer=scorer)
    if llm is None:
        return Engines({"offline": offline}, default="offline")
    engine = DigestEngine(LLMAnalyzer(llm, models=dict.fromkeys(Depth, LLM_MODEL)), scorer=scorer)
    return Engines({"offline": offline, llm.name: engine}, default=llm.name)


def _requests(threads: Sequence[Thread], n: int, tag: str) -> list[Request]:
    return [
        Request(
            platform=PLATFORM,
            server_id=f"S{i % 10}",
            channel_id=f"C{i}",
            user_id=f"U{i}",
            command="digest",
            text=f"https://redd.it/{threads[i % len(threads)].post.id}",
            reply_token=f"{tag}-{i}",
        )
        for i in range(n)
    ]


def _source(threads: Sequence[Thread]) -> FakeSource:
    """The threads in memory, as the core's source."""
    source = FakeSource()
    for thread in threads:
        source.add(thread)
    return source


def _small_threads(count: int, prefix: str) -> list[Thread]:
    return [
        thread_from_json(thread_json(40, seed=i, post_id=f"{prefix}{i:04d}")) for i in range(count)
    ]


def _copies(thread: Thread, count: int, prefix: str) -> list[Thread]:
    """The same comments under distinct post ids: distinct cache keys, same CPU work."""
    return [replace(thread, post=replace(thread.post, id=f"{prefix}{i:03d}")) for i in range(count)]
