"""Discord sharding (REDIGEST_DISCORD_SHARDS): the real discord.py AutoShardedClient against the
fake Discord, which routes each guild's events to the shard that owns it ((id >> 22) % count).
Several processes split the shards; each answers the guilds of its own shards only."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.discord_chat import DiscordChat, DiscordConfig
from adapters.discord_chat import client as client_module
from bot.chat import Inbox
from bot.cli import _chat_bot
from bot.core import Core, CoreConfig, Engines
from bot.health import GRACE_SECONDS, health
from bot.settings import load_settings
from bot.shards import ShardSpec, ShardStates
from bot.status import StatusWriter, status_path
from bot.storage import Storage
from digest.pipeline import DigestEngine
from tests.fakes.discord_server import FakeDiscord, FakeGuild, shard_of
from tests.support.fake_source import FakeSource
from tests.test_discord_adapter import URL, make_thread

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
ENGINE = DigestEngine()
SAVED_URL = "https://www.reddit.com/r/selfhosted/comments/rdg001/x/"  # examples/, offline


def four_shard_fake() -> FakeDiscord:
    """A fake Discord recommending 4 shards, with one guild on each (the default guild too)."""
    fake = FakeDiscord(shard_count=4, guild_names=())
    for shard in range(4):
        fake.add_guild(f"Guild of shard {shard}", shard=(shard, 4))
    return fake


def guild_on(fake: FakeDiscord, shard: int) -> FakeGuild:
    return next(g for g in fake.guilds if shard_of(g.id, 4) == shard)


def config_for(fake: FakeDiscord, shards: str | None) -> DiscordConfig:
    return DiscordConfig(
        token=fake.token,
        api_base=fake.api_base,
        gateway_url=fake.gateway_url,
        guild_ready_timeout=0.05,
        shards=ShardSpec.parse(shards) if shards else None,
        identify_interval=0.0,  # Discord's 5 s between IDENTIFYs: not in tests
    )


@dataclass
class ShardBot:
    chat: DiscordChat
    core: Core


@contextlib.asynccontextmanager
async def shard_bot(fake: FakeDiscord, db: Path, shards: str | None) -> AsyncIterator[ShardBot]:
    """One bot process's Discord side and core, on its own database."""
    source = FakeSource()
    source.add(make_thread())
    async with AsyncExitStack() as stack:
        storage = await stack.enter_async_context(Storage(db))
        chat = await stack.enter_async_context(DiscordChat(config_for(fake, shards)))
        core = Core(
            storage=storage,
            source=source,
            engines=Engines({"offline": ENGINE}),
            chats={"discord": chat},
            config=CoreConfig(workers=2),
        )
        await core.start()
        inbox = Inbox(core.handle_request, core.handle_reaction, core.subscription_choices)
        task = asyncio.create_task(chat.run(inbox))
        ready = asyncio.create_task(chat.wait_until_ready())
        await asyncio.wait({task, ready}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            ready.cancel()
            await task  # re-raises why it never became ready
        try:
            yield ShardBot(chat, core)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await core.stop(grace=2.0)


async def digest_in(fake: FakeDiscord, guild: FakeGuild, url: str = URL) -> None:
    interaction = fake.slash_command("digest", {"url": url}, guild=guild)
    await fake.dispatch("INTERACTION_CREATE", interaction.payload)


def digests_in(fake: FakeDiscord, guild: FakeGuild) -> list[int]:
    channel = guild.text_channel.id
    return [m.id for m in fake.messages_in(channel) if m.embeds and m.source == "channel"]


async def digested_channels(core: Core) -> set[int]:
    """Where this bot's own jobs posted (its database, not another process's)."""
    jobs = await core.storage.jobs()
    return {int(job.payload["channel_id"]) for job in jobs}


# ----------------------------------------------------------------------------- the setting


@pytest.mark.parametrize(
    ("text", "ids", "count"),
    [("0-3/8", (0, 1, 2, 3), 8), ("2/8", (2,), 8), ("0,2,5/8", (0, 2, 5), 8),
     (" 0-1, 4 / 6 ", (0, 1, 4), 6), ("0/1", (0,), 1)],
)  # fmt: skip
def test_the_setting_names_shards_of_a_count(text: str, ids: tuple[int, ...], count: int) -> None:
    assert ShardSpec.parse(text) == ShardSpec(ids, count)


@pytest.mark.parametrize(
    ("text", "why"),
    [("0-3", "write ids/count"), ("4/4", "from 0 to 3"), ("3-1/8", "runs backwards"),
     ("1,1/4", "listed twice"), ("0/0", "between 1 and"), ("a/4", "write ids/count"),
     ("0-1/x", "write ids/count"), ("/4", "write ids/count")],
)  # fmt: skip
def test_a_malformed_setting_says_how_to_write_it(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        ShardSpec.parse(text)


def test_a_malformed_setting_stops_the_cli_with_one_line_and_exit_2(tmp_path: Path) -> None:
    ours = ("REDIGEST_", "DISCORD_", "SLACK_", "REDDIT_", "ANTHROPIC_", "OPENAI_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    env |= {
        "PYTHONPATH": str(REPO),
        "REDIGEST_DATABASE_PATH": str(tmp_path / "bot.sqlite3"),
        "DISCORD_TOKEN": "not.a.token",
        "REDIGEST_DISCORD_SHARDS": "0-4/4",
    }
    done = subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()", "run"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == [
        "redigest: Setting REDIGEST_DISCORD_SHARDS is invalid (shard ids run from 0 to 3 when "
        "there are 4): fix it in .env or the environment (every setting is described in "
        ".env.example)."
    ]
    assert not (tmp_path / "bot.sqlite3").exists()


def test_the_setting_is_read_from_env(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("REDIGEST_DISCORD_SHARDS=0-3/8\n", encoding="utf-8")
    assert load_settings(tmp_path / ".env").discord_shards == ShardSpec((0, 1, 2, 3), 8)
    assert load_settings(env_file=None).discord_shards is None


# ----------------------------------------------------------------------------- one process


async def test_two_of_four_shards_open_two_connections_and_answer_their_guilds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through the composition root, from settings alone: `REDIGEST_DISCORD_SHARDS=0-1/4`."""
    monkeypatch.setattr(client_module, "IDENTIFY_INTERVAL", 0.0)  # Discord's 5 s: not in tests
    async with four_shard_fake() as fake:
        fake.patch_discord(monkeypatch)
        env = {
            "REDIGEST_DATABASE_PATH": str(tmp_path / "bot.sqlite3"),
            "REDIGEST_SAVED_THREADS": str(EXAMPLES),
            "REDIGEST_REDDIT_MODE": "saved",
            "REDIGEST_CPU_LANE": "thread",
            "DISCORD_TOKEN": fake.token,
            "REDIGEST_DISCORD_API_BASE": fake.api_base,
            "REDIGEST_DISCORD_GATEWAY_URL": fake.gateway_url,
            "REDIGEST_DISCORD_SHARDS": "0-1/4",
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        bot = asyncio.create_task(_chat_bot(load_settings(env_file=None)))
        try:
            connections = await fake.wait_shards([0, 1])
            await fake.wait_until(lambda: all(c.ready.is_set() for c in connections.values()))
            await digest_in(fake, guild_on(fake, 1), SAVED_URL)
            await fake.wait_until(lambda: bool(digests_in(fake, guild_on(fake, 1))), timeout=10)
        finally:
            bot.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await bot
    assert len(fake.connections) == 2
    assert sorted(c.identify["shard"] for c in fake.connections if c.identify) == [[0, 4], [1, 4]]
    # Each connection was sent its own shard's guild, and only that one.
    for shard, conn in connections.items():
        creates = [f["d"]["id"] for f in conn.sent if f.get("t") == "GUILD_CREATE"]
        assert creates == [str(guild_on(fake, shard).id)]
    assert "Discord: shards 0–1 of 4 in this process." in capsys.readouterr().err
    title = "What do you use to bring Reddit discussions"
    assert any(title in str(fake.message(m).embeds) for m in digests_in(fake, guild_on(fake, 1)))


async def test_a_reaction_in_a_guild_of_shard_1_reaches_the_core(tmp_path: Path) -> None:
    async with four_shard_fake() as fake, shard_bot(fake, tmp_path / "a.sqlite3", "1/4") as bot:
        assert await bot.chat.is_connected()
        guild = guild_on(fake, 1)
        await digest_in(fake, guild)
        await fake.wait_until(lambda: bool(digests_in(fake, guild)), timeout=10)
        (digest,) = digests_in(fake, guild)
        channel = guild.text_channel.id
        await fake.dispatch(
            "MESSAGE_REACTION_ADD", fake.reaction_add(channel, digest, fake.admin.id, "🔍")
        )
        await fake.wait_until(lambda: digest in fake.channels, timeout=10)  # the deep thread
        assert fake.channels[digest].name.startswith("Deep analysis: ")
    assert [c.identify["shard"] for c in fake.connections if c.identify] == [[1, 4]]


# ----------------------------------------------------------------------------- two processes


async def test_two_processes_cover_every_shard_and_answer_only_their_guilds(
    tmp_path: Path,
) -> None:
    async with (
        four_shard_fake() as fake,
        shard_bot(fake, tmp_path / "a.sqlite3", "0-1/4") as first,
        shard_bot(fake, tmp_path / "b.sqlite3", "2-3/4") as second,
    ):
        await fake.wait_shards([0, 1, 2, 3])
        for shard in range(4):
            await digest_in(fake, guild_on(fake, shard))
        await fake.wait_until(lambda: all(digests_in(fake, g) for g in fake.guilds), timeout=15)
        channels = {shard: guild_on(fake, shard).text_channel.id for shard in range(4)}
        assert await digested_channels(first.core) == {channels[0], channels[1]}
        assert await digested_channels(second.core) == {channels[2], channels[3]}
        assert first.chat.shard_states() == ShardStates(4, (0, 1))
        assert second.chat.shard_states() == ShardStates(4, (2, 3))
    identified = sorted(tuple(c.identify["shard"]) for c in fake.connections if c.identify)
    assert identified == [(0, 4), (1, 4), (2, 4), (3, 4)]
    assert all(len(digests_in(fake, g)) == 1 for g in fake.guilds)  # each answered once


async def test_unset_runs_every_shard_discord_recommends(tmp_path: Path) -> None:
    async with four_shard_fake() as fake, shard_bot(fake, tmp_path / "a.sqlite3", None) as bot:
        await fake.wait_shards([0, 1, 2, 3])
        await fake.wait_until(lambda: bot.chat.shard_states() == ShardStates(4, (0, 1, 2, 3)))
        assert await bot.chat.is_connected()
        assert bot.chat.startup_lines()[-1] == (
            "Discord: every shard in this process, as many as Discord recommends."
        )
        await digest_in(fake, guild_on(fake, 3))
        await fake.wait_until(lambda: bool(digests_in(fake, guild_on(fake, 3))), timeout=10)
    assert any(r.path == "/gateway/bot" for r in fake.requests)


async def test_the_shard_count_is_asked_again_while_discord_cannot_say_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with four_shard_fake() as fake:
        fake.fail_next(r"/gateway/bot$", 404, message="404: Not Found", method="GET")
        async with shard_bot(fake, tmp_path / "a.sqlite3", None) as bot:
            await fake.wait_until(lambda: bot.chat.shard_states() == ShardStates(4, (0, 1, 2, 3)))
    assert [r.status for r in fake.requests if r.path == "/gateway/bot"] == [404, 200]
    assert "Discord did not say how many shards to run (GatewayNotFound)" in caplog.text


# ----------------------------------------------------------------------------- health


async def test_health_names_the_shard_that_is_down(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    moment = [datetime.now(UTC).replace(microsecond=0)]
    async with four_shard_fake() as fake, shard_bot(fake, db, "0-1/4") as bot:
        writer = StatusWriter(
            status_path(db), "saved", {"discord": bot.chat}, clock=lambda: moment[0]
        )
        await fake.wait_until(lambda: bot.chat.shard_states() == ShardStates(4, (0, 1)))
        writer._write(await writer.snapshot())
        ok, lines = health(db, now=moment[0])
        assert ok, lines
        assert any(
            line.startswith("ok   chat discord: connected since") and "(shards 0–1 of 4)" in line
            for line in lines
        ), lines

        fake.held_shards.add(1)  # shard 1 drops and cannot come back
        await fake.close_shard(1)
        await fake.wait_until(lambda: bot.chat.shard_states() == ShardStates(4, (0, 1), (1,)))
        assert not await bot.chat.is_connected()
        moment[0] += timedelta(seconds=30)
        writer._write(await writer.snapshot())
        ok, lines = health(db, now=moment[0])
        assert ok, lines  # reconnecting, within the grace period
        assert any(
            line.startswith("ok   chat discord: reconnecting for 0 s")
            and "shard 1 of 4 down" in line
            for line in lines
        ), lines
        moment[0] += timedelta(seconds=GRACE_SECONDS + 30)
        writer._write(await writer.snapshot())
        ok, lines = health(db, now=moment[0])
        assert not ok
        assert any(
            line.startswith("FAIL chat discord: reconnecting for 2 min")
            and line.endswith(": shard 1 of 4 down")
            for line in lines
        ), lines

        fake.held_shards.clear()  # back: discord.py resumes (or identifies again) by itself
        await fake.close_shard(1)
        await fake.wait_until(lambda: bot.chat.shard_states() == ShardStates(4, (0, 1)), timeout=15)
        assert await bot.chat.is_connected()
