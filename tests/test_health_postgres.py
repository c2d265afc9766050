"""`redigest health` with REDIGEST_DATABASE_URL: the database checked over asyncpg (reachable, at
this redigest's schema) on a real PostgreSQL server (tests/support/postgres.py), and the status
file of this process's bot read from the state folder (or REDIGEST_STATUS_PATH)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.health import health, newest_schema
from bot.settings import load_settings
from bot.status import StatusWriter
from bot.storage import Storage
from bot.storage.backend import safe_url
from tests.support.postgres import free_port

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "from bot.cli import main; main()"]


def _env(url: str, state: Path, **extra: str) -> dict[str, str]:
    prefixes = ("REDIGEST_", "DISCORD_", "SLACK_", "REDDIT_", "ANTHROPIC_", "OPENAI_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    return env | {
        "PYTHONPATH": str(REPO),
        "REDIGEST_DATABASE_URL": url,
        "REDIGEST_DATABASE_PATH": str(state / "redigest.sqlite3"),  # its folder: the state
        "REDIGEST_SAVED_THREADS": str(REPO / "examples"),
        "REDIGEST_REDDIT_MODE": "saved",
        "REDIGEST_CPU_LANE": "thread",
        **extra,
    }


def _health(env: dict[str, str], cwd: Path) -> tuple[int, str]:
    done = subprocess.run(
        [*CLI, "health"], capture_output=True, text=True, env=env, cwd=cwd, timeout=60
    )
    assert "Traceback" not in done.stderr
    return done.returncode, done.stdout + done.stderr


def test_a_console_bot_on_postgresql_is_healthy_then_stopped(
    postgres_url: str, tmp_path: Path
) -> None:
    env = _env(postgres_url, tmp_path)
    bot = subprocess.Popen(
        [*CLI, "run"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 90
        code, out = _health(env, tmp_path)
        while code != 0 and bot.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
            code, out = _health(env, tmp_path)
        assert code == 0, out
        assert f"ok   database: ok, {safe_url(postgres_url)} (schema {newest_schema()})" in out
        assert "ok   chat console: connected since" in out
        assert out.splitlines()[-1] == "healthy"
        assert (tmp_path / "redigest.status.json").is_file()  # in the state folder
        assert not (tmp_path / "redigest.sqlite3").exists()  # no SQLite file was made
    finally:
        _, err = bot.communicate("", timeout=60)
    assert bot.returncode == 0, err
    code, out = _health(env, tmp_path)
    assert code == 1
    assert "bot: not running (it stopped at" in out


def test_an_unreachable_server_is_unhealthy_with_the_url_without_its_password(
    tmp_path: Path,
) -> None:
    url = f"postgresql://redigest:s3cret-pw@127.0.0.1:{free_port()}/redigest"
    code, out = _health(_env(url, tmp_path), tmp_path)
    assert code == 1
    first = out.splitlines()[0]
    assert first.startswith("FAIL database: The PostgreSQL server at ")
    assert f"postgresql://redigest@127.0.0.1:{url.rsplit(':', 1)[1]}" in first
    assert "cannot be reached" in first
    assert "s3cret-pw" not in out
    assert out.splitlines()[-1] == "unhealthy"


def test_a_database_without_redigest_tables_is_unhealthy(postgres_url: str, tmp_path: Path) -> None:
    code, out = _health(_env(postgres_url, tmp_path), tmp_path)
    assert code == 1
    assert "has no redigest tables (the bot creates them at its start)" in out


async def test_the_status_file_named_by_redigest_status_path(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with Storage(postgres_url):
        pass
    status = tmp_path / "run" / "worker-1.status.json"
    status.parent.mkdir()
    monkeypatch.setenv("REDIGEST_DATABASE_URL", postgres_url)
    monkeypatch.setenv("REDIGEST_STATUS_PATH", str(status))
    settings = load_settings(env_file=None)
    assert settings.status_file() == status
    moment = datetime.now(UTC).replace(microsecond=0)
    writer = StatusWriter(status, "saved", {"console": object()}, clock=lambda: moment)
    writer._write(await writer.snapshot())
    ok, lines = await asyncio.to_thread(
        health, settings.database(), moment, status=settings.status_file()
    )
    assert ok, lines
    assert lines[0] == f"ok   database: ok, {safe_url(postgres_url)} (schema {newest_schema()})"


def test_where_the_status_file_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIGEST_DATABASE_PATH", str(tmp_path / "state" / "bot.sqlite3"))
    monkeypatch.setenv("REDIGEST_STATUS_PATH", "")  # as .env.example leaves it: the default
    assert load_settings(env_file=None).status_file() == tmp_path / "state/bot.sqlite3.status.json"
    monkeypatch.setenv("REDIGEST_DATABASE_URL", "postgresql://u@h/db")
    assert load_settings(env_file=None).status_file() == tmp_path / "state/redigest.status.json"
    monkeypatch.setenv("REDIGEST_STATUS_PATH", "/run/redigest/worker-2.json")
    assert load_settings(env_file=None).status_file() == Path("/run/redigest/worker-2.json")
