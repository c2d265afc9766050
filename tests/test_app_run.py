"""No half-running bot: when a chat adapter's loop or one of the core's loops dies, everything
stops, the core is stopped and released, and one sentence names the part and the error (secrets
masked); `redigest run` then exits with status 2."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.app import App, PartStopped, RunnableChat
from bot.chat import Inbox
from bot.cli import app
from bot.settings import load_settings
from bot.storage import Storage
from bot.supervise import mask, supervise, why
from tests.support.fake_chat import FakeChat
from tests.support.harness import Harness

TOKEN = "discord-token-that-must-never-show-0123456789"


@dataclass
class LoopChat(FakeChat):
    """A chat whose receive loop fails with `error` once the bot is up, or runs until cancelled."""

    error: Exception | None = None
    started: bool = False
    cancelled: bool = False

    async def run(self, inbox: Inbox) -> None:
        self.started = True
        try:
            await asyncio.sleep(0.05)
            if self.error is not None:
                raise self.error
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise


def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    db = tmp_path / "bot.sqlite3"
    monkeypatch.setenv("REDIGEST_DATABASE_PATH", str(db))
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    return db


def test_a_chat_loop_that_dies_stops_the_bot_with_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    db = _env(monkeypatch, tmp_path)
    failing = LoopChat(platform="discord", error=ConnectionResetError(f"gateway gone ({TOKEN})"))
    healthy = LoopChat(platform="slack")

    async def open_chats(self: App, stack: AsyncExitStack, say: object) -> list[RunnableChat]:
        return [failing, healthy]

    monkeypatch.setattr(App, "open_chats", open_chats)
    result = CliRunner().invoke(app, ["run"])

    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Discord stopped (ConnectionResetError: gateway gone (***))" in lines[-1]
    assert TOKEN not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    # The rest stopped with it: the other chat's loop was cancelled, the database released.
    assert healthy.started
    assert healthy.cancelled

    async def reopen() -> None:
        async with Storage(db):
            pass

    asyncio.run(reopen())


async def test_a_core_loop_that_dies_stops_the_chats(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Fatal(BaseException):
        """Nothing in the core's loops catches it."""

    async def broken_tick() -> int:
        raise Fatal("the scheduler broke")

    monkeypatch.setattr(h.core, "scheduler_tick", broken_tick)
    chat = LoopChat(platform="slack")
    inbox = Inbox(h.core.handle_request, h.core.handle_reaction)
    with pytest.raises(PartStopped) as stopped:
        await supervise(h.core, {"Slack": lambda: chat.run(inbox)})
    assert stopped.value.part == "the core's scheduler loop"
    assert "Fatal: the scheduler broke" in stopped.value.user_message
    assert chat.cancelled
    assert h.core.loops == ()  # stopped: no loop left running


async def test_a_chat_loop_that_returns_is_a_stop_too(h: Harness) -> None:
    async def gives_up() -> None:
        return None

    with pytest.raises(PartStopped, match="Discord stopped") as stopped:
        await supervise(h.core, {"Discord": gives_up})
    assert "ended by itself" in stopped.value.user_message
    assert h.core.loops == ()


async def test_the_main_part_ends_the_run_cleanly(h: Harness) -> None:
    chat = LoopChat(platform="slack")
    inbox = Inbox(h.core.handle_request, h.core.handle_reaction)

    async def session() -> None:
        await asyncio.sleep(0.1)

    await supervise(h.core, {"Slack": lambda: chat.run(inbox)}, main=session)
    assert chat.cancelled
    assert h.core.loops == ()


async def test_cancelling_the_run_stops_every_part(h: Harness) -> None:
    chat = LoopChat(platform="slack")
    inbox = Inbox(h.core.handle_request, h.core.handle_reaction)
    run = asyncio.create_task(supervise(h.core, {"Slack": lambda: chat.run(inbox)}))
    await asyncio.sleep(0.1)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert chat.cancelled
    assert h.core.loops == ()


def test_the_sentence_masks_every_secret_and_stays_on_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1234-secret")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret")
    secrets = load_settings(env_file=None).secret_values()
    assert set(secrets) == {"xoxb-1234-secret", "sk-ant-secret"}
    text = why(RuntimeError("bad\nauth xoxb-1234-secret and sk-ant-secret " + "x" * 500), secrets)
    assert "secret" not in text
    assert "\n" not in text
    assert text.startswith("RuntimeError: bad auth *** and ***")
    assert len(text) <= 300
    assert mask("abc", ["abc"]) == "abc"  # too short to be a secret: left alone
