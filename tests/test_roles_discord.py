"""Discord post-only (a worker or scheduler process, bot/roles.py), with the real discord.py
against the fake Discord: it logs in for the REST API, posts, finds a keyed post again and reads
a message, but never connects to the gateway, never syncs the commands and refuses to receive;
and a gateway whose jobs run elsewhere answers a digest at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.discord_chat import DiscordChat, DiscordConfig
from adapters.discord_chat.config import NO_PRIVATE_ANSWER_HERE
from bot.chat import ChannelTarget, Delivery, EphemeralTarget, Inbox, PostRefused, Reaction, Request
from bot.replies import READING
from tests.fakes.discord_server import FakeDiscord
from tests.test_discord_adapter import URL, running_bot


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


def _config(fake: FakeDiscord, **overrides: object) -> DiscordConfig:
    return DiscordConfig(
        token=fake.token,
        api_base=fake.api_base,
        gateway_url=fake.gateway_url,
        guild_ready_timeout=0.05,
        **overrides,  # type: ignore[arg-type]
    )


async def _ignore(_: Request | Reaction) -> None:
    return None


async def test_a_post_only_discord_chat_posts_without_the_gateway(fake: FakeDiscord) -> None:
    channel = fake.guild.text_channel
    target = ChannelTarget(str(channel.id))
    async with DiscordChat(_config(fake, post_only=True, message_content=True)) as chat:
        assert await chat.is_connected()  # logged in: the REST API is all it uses
        assert chat.shard_states() is None
        assert chat.startup_lines() == [
            "Discord: post-only in this process (REST API, no gateway connection)."
        ]
        (ref,) = await chat.post(target, Delivery(text="hello from a worker"), idempotency_key="k1")
        (message,) = fake.messages_in(channel.id)
        assert message.content.startswith("hello from a worker")
        assert await chat.find_posted(target, "k1") == [ref]
        text = await chat.read_message(ref)
        assert text is not None
        assert "hello from a worker" in str(text)
        with pytest.raises(RuntimeError, match="post-only"):
            await chat.run(Inbox(_ignore, _ignore))
    assert fake.connections == []  # no gateway connection, ever
    assert fake.commands_synced == []  # the gateway process syncs them


async def test_a_receiving_discord_chat_still_syncs_its_commands(fake: FakeDiscord) -> None:
    async with DiscordChat(_config(fake)):
        pass
    assert len(fake.commands_synced) == 1


async def test_a_gateway_whose_jobs_run_elsewhere_answers_a_digest_at_once(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    """The worker that posts the digest cannot reach this process's interaction: "thinking…"
    is replaced at once by the acknowledgement Slack gives, not left until it expires."""
    async with running_bot(fake, tmp_path, late_answers=False) as bot:
        bot.chat._inbox = Inbox(_ignore, _ignore)  # queued for another process: None now
        interaction = await bot.slash("digest", {"url": URL})
        (answer,) = await bot.answers(interaction)
        assert answer == READING
        assert list(bot.chat.interactions.pending.items()) == []  # nothing kept for later


async def test_a_post_only_process_says_why_it_cannot_answer_privately(fake: FakeDiscord) -> None:
    """A /preview run by a worker: the interaction is in the gateway process, so the answer for
    the asker alone is refused (never shown in the channel) with the reason, not "ask again"."""
    channel = fake.guild.text_channel
    target = EphemeralTarget(str(channel.id), "42", reply_token="t1", private=True)
    async with DiscordChat(_config(fake, post_only=True)) as chat:
        with pytest.raises(PostRefused) as refused:
            await chat.post(target, Delivery(text="the preview"))
    assert str(refused.value) == NO_PRIVATE_ANSWER_HERE
    assert fake.messages_in(channel.id) == []
