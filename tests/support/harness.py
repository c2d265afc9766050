"""The core on a real SQLite file (or PostgreSQL database) with a fake chat, a fake Reddit, a scripted or offline analyser
and a fake clock; `restart()` is a process that died and came back on the same database."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from adapters.reddit_source.thread_json import thread_from_json
from bot.app import open_core
from bot.chat import Delivery, EphemeralTarget, Reply, Request
from bot.core import Core, CoreConfig, Engines
from digest.llm import LLMAnalyzer
from digest.model import Thread
from digest.pipeline import DigestEngine
from digest.report import Depth
from digest.sentiment import make_scorer
from tests.support.fake_chat import FakeChat
from tests.support.fake_source import FakeSource
from tests.support.scripted_llm import ScriptedLLM, grounded_answer
from tests.support.synthetic import post_data, thread_json

SCORER = make_scorer()
T0 = datetime(2026, 3, 27, 6, 0, tzinfo=UTC)  # a Friday, before the spring DST change in Europe


def make_thread(
    post_id: str, sub: str = "LocalLLaMA", score: int = 500, n: int = 30, **post: Any
) -> Thread:
    # A stable seed: str hashes change with every process (PYTHONHASHSEED), which made the
    # generated comments, and so how an LLM answer about them grounds, differ from run to run.
    raw = thread_json(n, seed=zlib.crc32(post_id.encode()) % 1000, post_id=post_id)
    raw[0]["data"]["children"][0]["data"] = post_data(post_id, n, subreddit=sub) | {
        "score": score,
        "title": f"Thread {post_id} about models",
        "created_utc": T0.timestamp() - 3600,
        **post,
    }
    return thread_from_json(raw)


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class AnsweringCore(Core):
    """The core as an adapter uses it: the immediate answer `handle_request` returns is shown
    to the asker, here as the ephemeral post a platform would make of it (so tests read every
    answer, immediate or late, from the fake chat)."""

    replies: list[Reply]

    def __post_init__(self) -> None:
        super().__post_init__()
        self.replies = []

    async def handle_request(self, request: Request) -> Reply | None:
        reply = await super().handle_request(request)
        if reply is not None:
            self.replies.append(reply)
            target = EphemeralTarget(request.channel_id, request.user_id, request.reply_token)
            await self.chats[request.platform].post(target, Delivery(text=reply.text))
        return reply


@dataclass
class Harness:
    path: Path | str  # the SQLite file, or a PostgreSQL URL (TEST_STORAGE=postgres)
    clock: Clock
    chat: FakeChat
    source: FakeSource
    llm: ScriptedLLM
    core: Core
    stack: AsyncExitStack

    async def restart(self, **engine_kw: Any) -> Core:
        """The process died and comes back: a new Core on the same database and chat."""
        await self.stack.aclose()
        self.stack = AsyncExitStack()
        self.core = await _core(self.stack, self.path, self.clock, self.chat, self.source, self.llm)
        await self.core.storage.recover_jobs()
        return self.core

    async def run_jobs(self) -> int:
        n = 0
        while await self.core.run_one_job() is not None:
            n += 1
        return n

    def request(self, command: str, text: str, **kw: Any) -> Request:
        base: dict[str, Any] = {
            "platform": "fake",
            "server_id": "S1",
            "channel_id": "C1",
            "user_id": "U1",
            "command": command,
            "text": text,
            "can_manage": True,
            "reply_token": f"tok-{len(self.chat.posts)}-{text[:10]}-{kw.get('user_id', 'U1')}",
        }
        return Request(**(base | kw))


async def _core(
    stack: AsyncExitStack,
    path: Path | str,
    clock: Clock,
    chat: FakeChat,
    source: FakeSource,
    llm: ScriptedLLM,
) -> Core:
    offline = DigestEngine(scorer=SCORER)
    scripted = DigestEngine(
        LLMAnalyzer(llm, models=dict.fromkeys(Depth, "claude-haiku-5-5")), scorer=SCORER
    )
    return await open_core(
        stack,
        path,
        kind=AnsweringCore,
        source=source,
        engines=Engines({"offline": offline, "anthropic": scripted}, default="offline"),
        chats={"fake": chat},
        clock=clock,
        config=CoreConfig(default_timezone="Europe/Berlin", workers=1),
    )


async def harness(tmp_path: Path, database: str | None = None) -> AsyncIterator[Harness]:
    """`database`: a PostgreSQL URL instead of a SQLite file in `tmp_path`."""
    where = database or tmp_path / "bot.sqlite3"
    stack = AsyncExitStack()
    clock, chat, source = Clock(), FakeChat(), FakeSource()
    llm = ScriptedLLM(default=grounded_answer, name="anthropic")
    for pid, score in (("aaa111", 900), ("bbb222", 400), ("ccc333", 50)):
        source.add(make_thread(pid, score=score))
    core = await _core(stack, where, clock, chat, source, llm)
    harness = Harness(where, clock, chat, source, llm, core, stack)
    yield harness
    await harness.stack.aclose()
