"""`redigest health`: is the bot on this database running and well? (Docker's HEALTHCHECK too.)

It reads, never writes: the database's schema version (a SQLite file opened read-only, without
the owner's lock of bot/ownership.py, so a running bot is not disturbed; a PostgreSQL database
over one short asyncpg connection: reachable, and at this redigest's schema), and the status file
this process's bot refreshes (bot/status.py) for its chat connections and Reddit mode. Healthy
when the schema is the one this redigest writes, the status is fresh, and no chat has been
disconnected for longer than a grace period.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bot.shards import ShardStates
from bot.status import status_path

STALE_SECONDS = 150.0  # five missed writes of the status file
GRACE_SECONDS = 120.0  # a chat reconnecting for longer than this is down
REDDIT_MODES = {
    "oauth": "the API, with an app (OAuth)",
    "public": "public pages, without an app",
    "saved": "saved thread files only (no network)",
}


@dataclass(frozen=True)
class Check:
    ok: bool
    line: str


def newest_schema() -> int:
    from bot.storage.migrations import MIGRATIONS

    return max(version for version, _, _ in MIGRATIONS)


def check_database(path: Path | str) -> Check:
    if isinstance(path, str):
        return check_postgres(path)
    if not path.exists():
        return Check(False, f"database: none at {path} (the bot creates it at its first start)")
    try:
        con = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True, timeout=5)
        try:
            row = con.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        finally:
            con.close()
    except sqlite3.Error as exc:
        return Check(False, f"database: {path} cannot be read ({exc})")
    version = row[0] if row and row[0] is not None else 0
    return _schema_check(path, version)


def _schema_check(where: Path | str, version: int) -> Check:
    path, newest = where, newest_schema()
    if version > newest:
        return Check(
            False,
            f"database: {path} was written by a newer redigest (schema {version} > {newest}): "
            "upgrade this redigest",
        )
    if version < newest:
        return Check(
            False,
            f"database: {path} has schema {version}, this redigest writes {newest}: restart the "
            "bot with this version",
        )
    return Check(True, f"database: ok, {path} (schema {version})")


def check_postgres(url: str) -> Check:
    """Reachable, and at this redigest's schema (one connection, one read)."""
    from bot.storage.backend import ASYNCPG_MISSING, postgres_error, safe_url

    try:
        import asyncpg
    except ImportError:
        return Check(False, f"database: {ASYNCPG_MISSING}")
    where = safe_url(url)
    failures = (TimeoutError, OSError, ValueError, asyncpg.PostgresError, asyncpg.InterfaceError)
    try:
        version = asyncio.run(_postgres_schema(url))
    except failures as exc:
        return Check(False, f"database: {postgres_error(url, exc)}")
    if version is None:
        return Check(
            False, f"database: {where} has no redigest tables (the bot creates them at its start)"
        )
    return _schema_check(where, version)


async def _postgres_schema(url: str) -> int | None:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=10)
    try:
        if await conn.fetchval("SELECT to_regclass('schema_migrations')") is None:
            return None
        return int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))
    finally:
        await conn.close()


def _ago(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds} s" if seconds < 120 else f"{seconds // 60} min"


def _alive(status: dict[str, Any]) -> bool:
    """False only when the bot's process is known to be gone (same host, no such pid)."""
    if status.get("host") != socket.gethostname() or not isinstance(status.get("pid"), int):
        return True
    try:
        os.kill(status["pid"], 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive
        return True
    return True


def _shards_note(chat: dict[str, Any]) -> str:
    """` (shards 0–1 of 4)`, or `: shard 1 of 4 down`; empty for a chat without shards."""
    shards = chat.get("shards")
    if not isinstance(shards, dict):
        return ""
    try:
        states = ShardStates(
            count=int(shards["count"]),
            ids=tuple(int(i) for i in shards["ids"]),
            down=tuple(int(i) for i in shards["down"]),
        )
    except (TypeError, KeyError, ValueError):
        return ""
    return f": {states.describe()}" if states.down else f" ({states.describe()})"


def check_bot(path: Path, now: datetime, *, grace: float = GRACE_SECONDS) -> list[Check]:
    """What the status file at `path` says of the bot."""
    try:
        status = json.loads(path.read_text(encoding="utf-8"))
        updated = datetime.fromisoformat(status["updated"])
    except FileNotFoundError:
        return [Check(False, f"bot: not running (no status file {path}): start it, `redigest run`")]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [Check(False, f"bot: its status file {path} cannot be read ({exc})")]
    age = (now - updated).total_seconds()
    if status.get("stopped"):
        return [Check(False, f"bot: not running (it stopped at {status['stopped']})")]
    if not _alive(status):
        return [Check(False, f"bot: not running (its process {status['pid']} is gone)")]
    if age > STALE_SECONDS:
        return [
            Check(
                False,
                f"bot: not running or stuck: its status is {_ago(age)} old (it is refreshed "
                f"every {status.get('interval', 30):.0f} s)",
            )
        ]
    checks = [Check(True, f"bot: running (process {status.get('pid')}, since {status['started']})")]
    for name, chat in sorted((status.get("chats") or {}).items()):
        state, since = chat.get("state"), datetime.fromisoformat(chat["since"])
        note = _shards_note(chat)
        if state == "connected":
            checks.append(Check(True, f"chat {name}: connected since {chat['since']}{note}"))
            continue
        down = (now - since).total_seconds()
        line = f"chat {name}: {state} for {_ago(down)} (since {chat['since']}){note}"
        checks.append(Check(down <= grace, line))
    if not status.get("chats"):
        checks.append(Check(False, "chat: none connected"))
    mode = str(status.get("reddit"))
    checks.append(Check(True, f"reddit: {mode}, {REDDIT_MODES.get(mode, 'unknown mode')}"))
    return checks


def health(
    database: Path | str, now: datetime | None = None, *, status: Path | None = None
) -> tuple[bool, list[str]]:
    """Whether the bot on `database` (a SQLite file, or a PostgreSQL URL) is healthy, and one
    line per check. `status` is its status file (beside a SQLite file unless said)."""
    if status is None:
        if isinstance(database, str):
            raise ValueError("on PostgreSQL, say where the status file is")
        status = status_path(database)
    checks = [check_database(database), *check_bot(status, now or datetime.now(UTC))]
    ok = all(check.ok for check in checks)
    lines = [f"{'ok  ' if check.ok else 'FAIL'} {check.line}" for check in checks]
    return ok, [*lines, "healthy" if ok else "unhealthy"]
