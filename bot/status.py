"""The running bot's status file: what `redigest health` reads.

Every STATUS_SECONDS the bot writes its status file (`Settings.status_file()`: REDIGEST_STATUS_PATH,
else `<database>.status.json` beside the SQLite file, or on PostgreSQL `redigest.status.json` in
the state folder, REDIGEST_DATABASE_PATH's): its process, how it reads Reddit,
and each chat connection's state (connected, or reconnecting since when). On a clean stop it
writes when it stopped. A chat adapter reports its connection with `async is_connected()`; one
without it (the console, in this process) counts as connected while the bot runs. One with
`shard_states()` (Discord's shards) adds which shards it runs here and which of them are down.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.shards import ShardStates

log = logging.getLogger(__name__)

STATUS_SECONDS = 30.0
FORMAT = 1


def status_path(database: Path) -> Path:
    """The status file beside a SQLite database (the default there)."""
    return database.with_name(database.name + ".status.json")


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


async def _connected(chat: object) -> bool:
    probe = getattr(chat, "is_connected", None)
    if probe is None:
        return True
    try:
        return bool(await probe())
    except Exception:
        log.debug("could not ask %r whether it is connected", chat, exc_info=True)
        return False


def _shards(chat: object) -> dict[str, Any] | None:
    probe = getattr(chat, "shard_states", None)
    try:
        states = probe() if probe is not None else None
    except Exception:
        log.debug("could not ask %r for its shards", chat, exc_info=True)
        return None
    if not isinstance(states, ShardStates):
        return None
    return {"count": states.count, "ids": list(states.ids), "down": list(states.down)}


class StatusWriter:
    """Writes the status file until cancelled (never raises: a full disk costs only the file)."""

    def __init__(
        self,
        path: Path,
        reddit_mode: str,
        chats: Mapping[str, object],
        *,
        interval: float = STATUS_SECONDS,
        clock: Callable[[], datetime] = _now,
        role: str = "all",
    ) -> None:
        self.path = path
        self.role = role  # what this process does (bot/roles.py)
        self.reddit_mode = reddit_mode
        self.chats = chats  # the bot's own dict: a chat added after start-up is seen too
        self.interval = interval
        self.clock = clock
        self.started = clock()
        self._since: dict[str, tuple[bool, datetime]] = {}

    async def snapshot(self) -> dict[str, Any]:
        now = self.clock()
        chats: dict[str, dict[str, Any]] = {}
        for name, chat in list(self.chats.items()):
            up = await _connected(chat)
            was = self._since.get(name)
            if was is None or was[0] != up:
                self._since[name] = (up, now)
            chats[name] = {
                "state": "connected" if up else "reconnecting",
                "since": _iso(self._since[name][1]),
            }
            shards = _shards(chat)
            if shards is not None:
                chats[name]["shards"] = shards
        return {
            "format": FORMAT,
            "pid": os.getpid(),
            "role": self.role,
            "host": socket.gethostname(),
            "started": _iso(self.started),
            "updated": _iso(now),
            "interval": self.interval,
            "stopped": None,
            "reddit": self.reddit_mode,
            "chats": chats,
        }

    def _write(self, status: Mapping[str, Any]) -> None:
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(status), encoding="utf-8")
        os.replace(temporary, self.path)  # a reader never sees half a file

    async def _save(self, status: Mapping[str, Any]) -> None:
        try:
            await asyncio.to_thread(self._write, status)
        except OSError as exc:
            log.warning("could not write the status file %s: %s", self.path, exc)

    async def run(self) -> None:
        status: dict[str, Any] = {}
        try:
            while True:
                try:
                    status = await self.snapshot()
                except Exception:
                    log.exception("could not take the bot's status")
                else:
                    await self._save(status)
                await asyncio.sleep(self.interval)
        finally:
            if status:
                status = {**status, "stopped": _iso(self.clock()), "updated": _iso(self.clock())}
                with contextlib.suppress(Exception):
                    self._write(status)  # the loop is stopping: one small write, then exit


def status_loops(
    path: Path, reddit_mode: str, chats: Mapping[str, object], role: str = "all"
) -> dict[str, Callable[[], Awaitable[None]]]:
    """The loop of the status file at `path`, to run beside the bot's other parts
    (bot/supervise.py); `role`: what this process does (bot/roles.py)."""
    writer = StatusWriter(path, reddit_mode, chats, interval=STATUS_SECONDS, role=role)
    return {"the status file": writer.run}
