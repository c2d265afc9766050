"""`redigest run`: the composition root starts Discord and Slack on one core, from settings alone,
against the fake servers (real discord.py and slack-bolt), and stops cleanly."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from bot.cli import _chat_bot
from bot.settings import load_settings
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.slack_server import FakeSlack

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


async def test_run_serves_discord_and_slack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with FakeDiscord() as discord_fake, FakeSlack() as slack_fake:
        discord_fake.patch_discord(monkeypatch)
        env = {
            "REDIGEST_DATABASE_PATH": str(tmp_path / "bot.sqlite3"),
            "REDIGEST_SAVED_THREADS": str(EXAMPLES),
            "DISCORD_TOKEN": discord_fake.token,
            "REDIGEST_DISCORD_API_BASE": discord_fake.api_base,
            "REDIGEST_DISCORD_GATEWAY_URL": discord_fake.gateway_url,
            "SLACK_BOT_TOKEN": slack_fake.bot_token,
            "SLACK_APP_TOKEN": slack_fake.app_token,
            "REDIGEST_SLACK_API_URL": slack_fake.api_url,
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        bot = asyncio.create_task(_chat_bot(load_settings(env_file=None)))
        try:
            await discord_fake.wait_ready()
            url = "https://www.reddit.com/r/selfhosted/comments/rdg001/x/"
            interaction = discord_fake.slash_command("digest", {"url": url})
            await discord_fake.dispatch("INTERACTION_CREATE", interaction.payload)
            await discord_fake.wait_until(
                lambda: any(m.embeds for m in discord_fake.messages), timeout=10
            )
            envelope = slack_fake.envelope(
                "slash_commands", slack_fake.slash_command_payload("/digest", url)
            )
            await slack_fake.socket_send(envelope, timeout=10)
            await slack_fake.wait_until(
                lambda: any(m.blocks for m in slack_fake.posted), timeout=10
            )
        finally:
            bot.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await bot
        title = "What do you use to bring Reddit discussions"
        assert any(title in str(m.embeds) for m in discord_fake.messages)
        assert any(title in str(m.blocks) for m in slack_fake.posted)
