"""`redigest health`: is the bot on this database running and well? (Docker's HEALTHCHECK too.)

It reads, never writes: the database opened read-only (without the owner's lock of
bot/ownership.py, so a running bot is not disturbed) for its schema version, and the status file
the running bot refreshes (bot/status.py) for its chat connections and Reddit mode. Healthy when
the schema is the one this redigest writes, the status is fresh, and no chat has been
disconnected for longer than a grace period.
"""

from __future__ import annotations

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


def check_database(path: Path) -> Check:
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
    version, newest = (row[0] if row and row[0] is not None else 0), newest_schema()
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


def check_bot(database: Path, now: datetime, *, grace: float = GRACE_SECONDS) -> list[Check]:
    path = status_path(database)
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


def health(database: Path, now: datetime | None = None) -> tuple[bool, list[str]]:
    """Whether the bot on `database` is healthy, and one line per check."""
    checks = [check_database(database), *check_bot(database, now or datetime.now(UTC))]
    ok = all(check.ok for check in checks)
    lines = [f"{'ok  ' if check.ok else 'FAIL'} {check.line}" for check in checks]
    return ok, [*lines, "healthy" if ok else "unhealthy"]
