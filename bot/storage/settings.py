"""Per-server settings (`server_settings`): a key/value map per platform and server.

Every command reads its server's settings before it is acknowledged, so every server's are read
in one query the first time any are asked for, and kept: on SQLite this process owns the database
(bot/ownership.py) and writes them only through `set_setting`, which updates what is kept once
its write is committed; on PostgreSQL another process may write them too, and its commit notifies
SETTINGS_CHANNEL, on which every process forgets what it kept (`forget_settings`). A command then never waits for the database to read them; a server with
no row has the defaults (`{}`). Concurrent first reads share the one query.
"""

from __future__ import annotations

import asyncio

from bot.storage.backend import SETTINGS_CHANNEL, notify
from bot.storage.connection import Database

_Server = tuple[str, str]  # platform, server id
_Every = dict[_Server, dict[str, str]]


class SettingsTable(Database):
    # Made on first use (the table families share Database's __init__).
    _settings_known: _Every | None = None  # every server's settings, once read
    _settings_reading: asyncio.Future[_Every] | None = None
    _settings_writes = 0  # a read that saw a write start before it finished is not kept

    async def get_settings(self, platform: str, server_id: str) -> dict[str, str]:
        known = self._settings_known
        if known is None:
            known = await self._read_settings()
        return dict(known.get((platform, server_id), ()))

    async def _read_settings(self) -> _Every:
        reading = self._settings_reading
        if reading is not None:
            return await asyncio.shield(reading)
        future: asyncio.Future[_Every] = asyncio.get_running_loop().create_future()
        self._settings_reading = future
        writes = self._settings_writes
        try:
            async with self.db.execute(
                "SELECT platform, server_id, key, value FROM server_settings"
            ) as cur:
                rows = await cur.fetchall()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # waiters re-raise it; nobody else must
            raise
        finally:
            if self._settings_reading is future:
                self._settings_reading = None
        every: _Every = {}
        for platform, server_id, key, value in rows:
            every.setdefault((platform, server_id), {})[key] = value
        future.set_result(every)
        if writes == self._settings_writes:
            self._settings_known = every
        return every

    async def set_setting(self, platform: str, server_id: str, key: str, value: str) -> None:
        self._settings_changing()
        try:
            async with self.transaction() as db:
                await db.execute(
                    "INSERT INTO server_settings (platform, server_id, key, value) "
                    "VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (platform, server_id, key) DO UPDATE SET value = excluded.value",
                    (platform, server_id, key, value),
                )
                await notify(db, SETTINGS_CHANNEL, platform)
        except BaseException:
            self._settings_known = None  # written or not: read again
            raise
        finally:
            self._settings_changing()
        known = self._settings_known
        if known is not None:  # committed: kept as written (a new map: callers hold copies)
            server = (platform, server_id)
            known[server] = {**known.get(server, {}), key: value}

    def forget_settings(self) -> None:
        """Another process changed settings (or may have: a lost listener): read them again."""
        self._settings_changing()
        self._settings_known = None

    def _settings_changing(self) -> None:
        """A read under way overlaps a change: it is not kept, nor joined by later reads."""
        self._settings_writes += 1
        self._settings_reading = None
