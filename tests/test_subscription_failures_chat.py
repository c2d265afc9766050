"""A subscription to a subreddit that went private, seen where people see it (issue 16, scope 1):
the console, Discord and Slack, each with the real Reddit source reading the fake Reddit (which
answers 403 "private"). The first failed run says so once in the channel, the second says
nothing, the third pauses the subscription and says that once; /subscriptions shows why and
/resume clears it. And a watch of it, through the real poller: said once, paused after three
failures counted an hour apart."""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.discord_chat.chat import DiscordChat
from adapters.reddit_source.public import PublicConfig, PublicRedditSource
from bot.chat import Inbox, Request
from bot.cli import _console
from bot.core import Core, CoreConfig, Engines
from bot.settings import load_settings
from bot.storage import Storage, SubscriptionRow
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.reddit_server import FakeReddit
from tests.support.fake_chat import FakeChat
from tests.support.harness import Clock
from tests.test_discord_adapter import ENGINE, Bot, config_for
from tests.test_slack_adapter import MetaSlack, running

PRIVATE = "r/foo is private: only its approved members can read it."
FAILED = f"The scheduled digest of r/foo (#1) could not be made: {PRIVATE} I will try again"
PAUSED = "That is 3 failed runs in a row, so #1 paused itself; /resume 1 once it is fixed."
REASON = f"paused: 3 failed runs in a row; the last: {PRIVATE}"


@pytest.fixture
async def reddit() -> AsyncIterator[FakeReddit]:
    async with FakeReddit() as server:
        server.set_subreddit_state("foo", "private")
        yield server


@contextlib.asynccontextmanager
async def public_source(reddit: FakeReddit) -> AsyncIterator[PublicRedditSource]:
    config = PublicConfig(base_url=reddit.base_url, requests_per_minute=600)
    async with PublicRedditSource(config) as source:
        yield source


# ----------------------------------------------------------------------------- console


async def _lines(*lines: str) -> AsyncIterator[str]:
    for line in lines:
        yield line + "\n"


async def test_the_console_hears_once_then_the_subscription_pauses_itself(
    reddit: FakeReddit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIGEST_DATABASE_PATH", str(tmp_path / "console.sqlite3"))
    monkeypatch.setenv("REDIGEST_REDDIT_MODE", "auto")  # no credentials: public
    monkeypatch.setenv("REDIGEST_REDDIT_PUBLIC_URL", reddit.base_url)

    async def session(*lines: str) -> str:
        """One console session (each a restart: what was said is kept in the database)."""
        out = io.StringIO()
        await _console(load_settings(env_file=None), _lines(*lines), out)
        return out.getvalue()

    def channel_posts(text: str) -> list[str]:
        return re.findall(r"── \[m\d+\] #general ──\n(.*)", text)

    first = await session("/subscribe r/foo daily 09:00", ":run 1")
    [told] = channel_posts(first)
    assert told.startswith(FAILED), told
    assert told.endswith("After 3 failed runs in a row this subscription pauses itself.")
    assert channel_posts(await session(":run 1")) == []  # the same problem: said already
    [paused] = channel_posts(await session(":run 1"))
    assert paused.endswith(PAUSED), paused
    last = await session("/subscriptions", ":run 1", "/resume 1", "/subscriptions", ":next")
    assert REASON in last
    assert "#1 is paused: /resume 1 first, then run it." in last
    assert "Resumed #1." in last
    after = last.split("Resumed #1.", 1)[1]
    assert "paused" not in after
    assert "#1 r/foo: daily at 09:00 (UTC) — next run" in after
    assert channel_posts(last) == []
    listings = [r for r in reddit.requests if re.search(r"/r/foo/top\.json$", r.path)]
    assert len(listings) == 3  # a refusal is not retried within its run


# ----------------------------------------------------------------------------- Discord


@contextlib.asynccontextmanager
async def discord_bot(
    fake: FakeDiscord, reddit: FakeReddit, tmp_path: Path, clock: Clock
) -> AsyncIterator[Bot]:
    async with AsyncExitStack() as stack:
        source = await stack.enter_async_context(public_source(reddit))
        storage = await stack.enter_async_context(Storage(tmp_path / "bot.sqlite3"))
        chat = await stack.enter_async_context(DiscordChat(config_for(fake)))
        core = Core(
            storage=storage,
            source=source,
            engines=Engines({"offline": ENGINE}),
            chats={"discord": chat},
            clock=clock,
            config=CoreConfig(workers=2),
        )
        await core.start()
        stack.push_async_callback(core.stop, 2.0)
        inbox = Inbox(core.handle_request, core.handle_reaction, core.subscription_choices)
        task = asyncio.create_task(chat.run(inbox))

        async def cancel() -> None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        stack.push_async_callback(cancel)
        await asyncio.wait_for(chat.wait_until_ready(), 5)
        yield Bot(fake, chat, core, None)  # type: ignore[arg-type]  # no in-memory Reddit here


async def _scheduled_run(core: Core, clock: Clock) -> None:
    """The subscription's next run, when it is due: queued by the scheduler, run by a worker."""
    sub = await core.storage.subscription(1)
    assert sub is not None
    assert sub.next_run_at is not None
    clock.now = sub.next_run_at + timedelta(minutes=1)
    assert await core.scheduler_tick() == 1
    assert await core.drain(10)


async def test_discord_hears_once_then_the_subscription_pauses_itself(
    reddit: FakeReddit, tmp_path: Path
) -> None:
    clock = Clock()
    async with FakeDiscord() as fake, discord_bot(fake, reddit, tmp_path, clock) as bot:
        channel = fake.guild.text_channel.id

        async def slash(name: str, options: dict[str, object] | None = None) -> str:
            interaction = await bot.slash(name, options, user=fake.admin)
            return (await bot.answers(interaction))[-1]

        def said() -> list[str]:
            return [m.content for m in bot.channel_posts(channel)]

        answer = await slash("subscribe", {"subreddits": "r/foo", "schedule": "daily 09:00"})
        assert answer.startswith("Subscribed #1: r/foo")
        await _scheduled_run(bot.core, clock)
        [told] = said()
        assert told.startswith(FAILED), told
        await _scheduled_run(bot.core, clock)
        assert len(said()) == 1
        await _scheduled_run(bot.core, clock)
        assert len(said()) == 2
        assert said()[-1].endswith(PAUSED)
        assert REASON in await slash("subscriptions")
        assert await slash("resume", {"id": 1}) == "Resumed #1."
        assert "paused" not in await slash("subscriptions")
        sub = await bot.core.storage.subscription(1)
        assert sub is not None
        assert (sub.paused, sub.failures, sub.paused_reason) == (False, 0, None)


# ----------------------------------------------------------------------------- Slack


async def test_slack_hears_once_then_the_subscription_pauses_itself(
    reddit: FakeReddit, tmp_path: Path
) -> None:
    clock = Clock()
    async with (
        MetaSlack() as fake,
        public_source(reddit) as source,
        running(fake, tmp_path, source=source) as bot,
    ):
        bot.core.clock = clock  # scheduled runs at the times the scheduler picks

        async def command(text: str) -> str:
            seen = len(fake.ephemerals)
            await bot.slash("/redigest", text, user_id="U0OWNER01")
            await fake.wait_until(lambda: len(fake.ephemerals) > seen)
            return fake.ephemerals[-1].text

        def said() -> list[str]:
            return [m.text for m in fake.posted if m.channel == "C0GENERAL"]

        assert (await command("subscribe r/foo daily 09:00")).startswith("Subscribed #1: r/foo")
        await _scheduled_run(bot.core, clock)
        [told] = said()
        assert told.startswith(FAILED), told
        await _scheduled_run(bot.core, clock)
        assert len(said()) == 1
        await _scheduled_run(bot.core, clock)
        assert len(said()) == 2
        # Slack's commands live under /redigest: the notice says what to type there.
        assert said()[-1].endswith(PAUSED.replace("/resume 1", "/redigest resume 1"))
        assert REASON in await command("subscriptions")
        assert await command("resume #1") == "Resumed #1."
        assert "paused" not in await command("subscriptions")


# ----------------------------------------------------------------------------- a watch, polled


async def test_a_polled_watch_of_a_private_subreddit_says_so_once_and_pauses(
    reddit: FakeReddit, tmp_path: Path
) -> None:
    """The real poller finds r/foo private: the stream ends with that, is opened again every
    few milliseconds here (a minute in production), and only one failure an hour is counted."""
    clock, chat = Clock(), FakeChat()
    config = PublicConfig(
        base_url=reddit.base_url, requests_per_minute=600, poll_floor_seconds=0.02
    )
    async with PublicRedditSource(config) as source, Storage(tmp_path / "w.sqlite3") as db:
        core = Core(
            storage=db,
            source=source,
            engines=Engines({"offline": ENGINE}),
            chats={"fake": chat},
            clock=clock,
            config=CoreConfig(workers=1, stream_retry_seconds=0.01),
        )
        await core.handle_request(
            Request("fake", "S1", "C1", "U1", "watch", "r/foo min-score 100", True)
        )
        await core.start()

        async def failures(n: int) -> SubscriptionRow:
            for _ in range(500):
                sub = await db.subscription(1)
                assert sub is not None
                if sub.failures >= n:
                    return sub
                await asyncio.sleep(0.01)
            raise AssertionError(f"not {n} failures")

        try:
            await failures(1)
            await asyncio.sleep(0.2)  # the stream is opened again and again: not counted
            assert (await failures(1)).failures == 1
            clock.advance(hours=1)
            await failures(2)
            assert len(chat.public()) == 1
            clock.advance(hours=1)
            sub = await failures(3)
            assert sub.paused
            for _ in range(200):  # a paused watch's stream is stopped
                if "foo" not in core.watching.streams:
                    break
                await asyncio.sleep(0.01)
            assert "foo" not in core.watching.streams
        finally:
            await core.stop()
    first, paused = (p.text for p in chat.public())
    assert first.startswith(f"The watch of r/foo (#1) could not check for new posts: {PRIVATE}")
    assert paused.endswith(PAUSED)
