"""While a deep analysis is made, the platform shows that the bot is on it: Discord's typing
indicator where the report will go, ⏳ on the flagged Slack message (removed when done). The core
decides when (a deep analysis); the indicator never fails the digest. Real discord.py and
slack-sdk against the fakes, driving the real core."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.discord_server import FakeDiscord
from tests.test_discord_adapter import URL, _pages, make_thread, running_bot
from tests.test_slack_adapter import GOOD_URL, MetaSlack, replies_settled, running

HOURGLASS = "hourglass_flowing_sand"


@pytest.fixture
async def discord_fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


@pytest.fixture
async def slack_fake() -> AsyncIterator[MetaSlack]:
    async with MetaSlack() as server:
        yield server


async def test_discord_types_in_the_channel_while_the_deep_analysis_is_made(
    discord_fake: FakeDiscord, tmp_path: Path
) -> None:
    fake = discord_fake
    async with running_bot(fake, tmp_path, make_thread(n=120)) as bot:
        channel = fake.guild.text_channel
        message = fake.message_create(channel, f"worth a read {URL}", author=fake.plain)
        target = int(message["id"])
        await bot.slash("digest", {"url": URL})  # a brief digest: no indicator
        await bot.digest_message()
        assert not [r for r in fake.requests if r.path.endswith("/typing")]

        menu = fake.message_command("Deep analysis", target, user=fake.plain)
        await fake.dispatch("INTERACTION_CREATE", menu.payload)
        await fake.wait_until(lambda: target in fake.channels)
        assert await _pages(fake, target)
        paths = [(r.method, r.path) for r in fake.requests]
        typing = ("POST", f"/channels/{channel.id}/typing")
        opened = ("POST", f"/channels/{channel.id}/messages/{target}/threads")
        assert typing in paths
        # Shown while the report was made, before the thread it went to was opened.
        assert paths.index(typing) < paths.index(opened)


async def test_a_typing_indicator_discord_refuses_does_not_stop_the_report(
    discord_fake: FakeDiscord, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake = discord_fake
    async with running_bot(fake, tmp_path, make_thread()):
        channel = fake.guild.text_channel
        message = fake.message_create(channel, f"worth a read {URL}", author=fake.plain)
        target = int(message["id"])
        fake.fail_next(r"/typing$", 403, code=50013, message="Missing Permissions", method="POST")
        with caplog.at_level(logging.WARNING, logger="bot.chat"):
            menu = fake.message_command("Deep analysis", target, user=fake.plain)
            await fake.dispatch("INTERACTION_CREATE", menu.payload)
            await fake.wait_until(lambda: target in fake.channels)
            assert await _pages(fake, target)
        assert "cannot show on discord" in caplog.text


async def test_slack_marks_the_flagged_message_while_its_deep_analysis_is_made(
    slack_fake: MetaSlack, tmp_path: Path
) -> None:
    fake = slack_fake
    async with running(fake, tmp_path) as bot:
        await bot.slash("/digest", GOOD_URL)  # a brief digest: no indicator
        await fake.wait_for_call("chat.postMessage", timeout=10.0)
        await bot.settle()
        assert fake.calls_to("reactions.add") == []

        ts = fake.add_message("C0GENERAL", f"have you seen {GOOD_URL} ?", user="U0OWNER01")
        await bot.event(fake.reaction_added_event("U0ALICE01", "mag", "C0GENERAL", ts))
        replies = await replies_settled(bot, ts)
        assert replies
        (added,) = fake.calls_to("reactions.add")
        (removed,) = fake.calls_to("reactions.remove")
        for call in (added, removed):
            assert (call.args["channel"], call.args["timestamp"]) == ("C0GENERAL", ts)
            assert call.args["name"] == HOURGLASS
        order = [c.method for c in fake.calls]
        first_reply = next(
            i
            for i, c in enumerate(fake.calls)
            if c.method == "chat.postMessage" and c.args.get("thread_ts") == ts
        )
        assert order.index("reactions.add") < order.index("reactions.remove") < first_reply
        message = fake.find_message("C0GENERAL", ts)
        assert message is not None
        assert HOURGLASS not in message.reactions  # gone once the report is made


async def test_slack_without_reactions_write_still_posts_and_says_so_once(
    slack_fake: MetaSlack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake = slack_fake
    fake.reactions_scope = False
    async with running(fake, tmp_path) as bot:
        with caplog.at_level(logging.WARNING):
            for text in ("first", "second"):
                ts = fake.add_message("C0GENERAL", f"{text} {GOOD_URL}", user="U0OWNER01")
                await bot.event(fake.reaction_added_event("U0ALICE01", "mag", "C0GENERAL", ts))
                assert await replies_settled(bot, ts)
        assert len(fake.calls_to("reactions.add")) == 1  # asked once, then not again
        assert caplog.text.count("reactions:write") == 1
