"""`redigest health` (Docker's HEALTHCHECK): exit 0 while the bot on the database runs well, 1 with
the reason otherwise; and the operator's log as JSON lines without a secret."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import status as status_module
from bot.cli import _chat_bot
from bot.health import GRACE_SECONDS, health, newest_schema
from bot.logs import JsonFormatter
from bot.settings import load_settings
from bot.status import StatusWriter, status_path
from bot.storage import Storage
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.slack_server import FakeSlack

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
CLI = [sys.executable, "-c", "from bot.cli import main; main()"]
SECRET = "fake-reddit-password-b7c1"


def _env(db: Path, **extra: str) -> dict[str, str]:
    prefixes = ("REDIGEST_", "DISCORD_", "SLACK_", "REDDIT_", "ANTHROPIC_", "OPENAI_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    return env | {
        "PYTHONPATH": str(REPO),
        "REDIGEST_DATABASE_PATH": str(db),
        "REDIGEST_SAVED_THREADS": str(EXAMPLES),
        "REDIGEST_REDDIT_MODE": "saved",
        "REDIGEST_CPU_LANE": "thread",
        **extra,
    }


def _health(db: Path, cwd: Path) -> tuple[int, str]:
    done = subprocess.run(
        [*CLI, "health"], capture_output=True, text=True, env=_env(db), cwd=cwd, timeout=60
    )
    assert "Traceback" not in done.stderr
    return done.returncode, done.stdout + done.stderr


async def _database(path: Path) -> None:
    async with Storage(path):
        pass


def test_no_bot_running_is_unhealthy(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    code, out = _health(db, tmp_path)
    assert code == 1
    assert "bot: not running" in out
    assert "unhealthy" in out.splitlines()[-1]
    assert not db.exists()  # health never creates the database


def test_a_settings_mistake_is_one_line_and_exit_1_not_docker_s_reserved_2(
    tmp_path: Path,
) -> None:
    (tmp_path / ".env").write_text("REDIGEST_DATABASE_PATHH=x.sqlite3\n", encoding="utf-8")
    code, out = _health(tmp_path / "bot.sqlite3", tmp_path)
    assert code == 1
    assert out.strip() == (
        "redigest: Unknown setting REDIGEST_DATABASE_PATHH in .env (line 1): did you mean "
        "REDIGEST_DATABASE_PATH?"
    )


def test_a_running_console_bot_is_healthy_then_stopped(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    bot = subprocess.Popen(
        [*CLI, "run"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(db),
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 90
        code, out = _health(db, tmp_path)
        while code != 0 and bot.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
            code, out = _health(db, tmp_path)
        assert code == 0, out
        assert f"ok   database: ok, {db} (schema {newest_schema()})" in out
        assert "ok   chat console: connected since" in out
        assert "ok   reddit: saved" in out
        assert out.splitlines()[-1] == "healthy"
    finally:
        _, err = bot.communicate("", timeout=60)  # stdin closed: the console session ends
    assert bot.returncode == 0, err
    code, out = _health(db, tmp_path)
    assert code == 1
    assert "bot: not running (it stopped at" in out


def _status(db: Path, *, updated: datetime, chats: dict[str, dict[str, str]]) -> None:
    status = {
        "format": 1,
        "pid": os.getpid(),
        "host": "elsewhere",
        "started": updated.isoformat(),
        "updated": updated.isoformat(),
        "interval": 30,
        "stopped": None,
        "reddit": "public",
        "chats": chats,
    }
    status_path(db).write_text(json.dumps(status), encoding="utf-8")


def test_a_stale_status_is_unhealthy(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    asyncio.run(_database(db))
    now = datetime.now(UTC)
    connected = {"discord": {"state": "connected", "since": now.isoformat()}}
    _status(db, updated=now, chats=connected)
    code, out = _health(db, tmp_path)
    assert code == 0, out
    assert "reddit: public" in out
    _status(db, updated=now - timedelta(minutes=10), chats=connected)
    code, out = _health(db, tmp_path)
    assert code == 1
    assert "its status is 10 min old" in out


def test_a_database_of_a_newer_redigest_is_unhealthy(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    asyncio.run(_database(db))
    newer = newest_schema() + 1
    with contextlib.closing(sqlite3.connect(db)) as con, con:
        con.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'x', 'now')",
            (newer,),
        )
    now = datetime.now(UTC)
    _status(db, updated=now, chats={"console": {"state": "connected", "since": now.isoformat()}})
    code, out = _health(db, tmp_path)
    assert code == 1
    assert f"written by a newer redigest (schema {newer} > {newest_schema()})" in out


class _Chat:
    def __init__(self) -> None:
        self.up = True

    async def is_connected(self) -> bool:
        return self.up


async def test_a_chat_down_longer_than_the_grace_period_is_unhealthy(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    await _database(db)
    moment = [datetime.now(UTC).replace(microsecond=0)]
    chat = _Chat()
    writer = StatusWriter(status_path(db), "oauth", {"slack": chat}, clock=lambda: moment[0])
    writer._write(await writer.snapshot())
    assert health(db, now=moment[0])[0]
    chat.up = False
    moment[0] += timedelta(seconds=30)
    down_since = moment[0]
    writer._write(await writer.snapshot())
    ok, lines = health(db, now=moment[0])
    assert ok, lines  # reconnecting, within the grace period
    assert any("ok   chat slack: reconnecting for 0 s" in line for line in lines)
    moment[0] = down_since + timedelta(seconds=GRACE_SECONDS + 30)
    writer._write(await writer.snapshot())
    ok, lines = health(db, now=moment[0])
    assert not ok
    assert any(line.startswith("FAIL chat slack: reconnecting for 2 min") for line in lines)
    chat.up = True
    writer._write(await writer.snapshot())
    assert health(db, now=moment[0])[0]


async def test_discord_and_slack_connections_are_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "bot.sqlite3"
    monkeypatch.setattr(status_module, "STATUS_SECONDS", 0.2)
    async with FakeDiscord() as discord_fake, FakeSlack() as slack_fake:
        discord_fake.patch_discord(monkeypatch)
        env = {
            "REDIGEST_DATABASE_PATH": str(db),
            "REDIGEST_SAVED_THREADS": str(EXAMPLES),
            "REDIGEST_REDDIT_MODE": "saved",
            "REDIGEST_CPU_LANE": "thread",
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
            for _ in range(300):  # until both have logged in (reconnecting: within the grace)
                ok, lines = await asyncio.to_thread(health, db)
                if sum(" connected since" in line for line in lines) == 2:
                    break
                await asyncio.sleep(0.1)
        finally:
            bot.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await bot
    assert ok, lines
    assert any(line.startswith("ok   chat discord: connected since") for line in lines)
    assert any(line.startswith("ok   chat slack: connected since") for line in lines)
    assert not (await asyncio.to_thread(health, db))[0]  # stopped


def test_json_logs_are_one_object_a_line_without_secrets(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    env = _env(
        db,
        REDIGEST_LOG_FORMAT="json",
        REDIGEST_LOG_LEVEL="DEBUG",
        REDDIT_PASSWORD=SECRET,
    )
    done = subprocess.run(
        [*CLI, "console"],
        input=f"/digest {EXAMPLES / 'selfhosted_thread.json'}\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert SECRET not in done.stdout + done.stderr
    records = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    assert records  # DEBUG: the bot logs its start, its jobs
    assert any(r["message"].startswith("Reddit: off") for r in records)  # start-up news too
    for record in records:
        assert {"time", "level", "logger", "message"} <= record.keys()
        datetime.fromisoformat(record["time"])


def test_a_secret_in_a_log_message_or_an_exception_is_masked() -> None:
    formatter = JsonFormatter([SECRET])
    try:
        raise RuntimeError(f"login failed for https://x/?token={SECRET}")
    except RuntimeError:
        record = logging.getLogger("t").makeRecord(
            "t", logging.ERROR, __file__, 1, "token %s refused", (SECRET,), sys.exc_info()
        )
    line = formatter.format(record)
    assert SECRET not in line
    entry = json.loads(line)
    assert entry["message"] == "token *** refused"
    assert "token=***" in entry["exc"]
    assert entry["level"] == "ERROR"
