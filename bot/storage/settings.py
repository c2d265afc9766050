"""Per-server settings (`server_settings`): a key/value map per platform and server.

Every command reads its server's settings before it is acknowledged, so they are kept in memory
once read: this process owns the database (bot/ownership.py) and writes them only through
`set_setting`, which forgets what it changed. Concurrent first reads of a server share one query.
"""

from __future__ import annotations

import asyncio

from bot.storage.connection import Database

_Server = tuple[str, str]  # platform, server id


class SettingsTable(Database):
    # Made on first use (the table families share Database's __init__).
    _settings_known: dict[_Server, dict[str, str]] | None = None
    _settings_reading: dict[_Server, asyncio.Future[dict[str, str]]] | None = None
    _settings_writes = 0  # a read that saw a write start or end before it finished is not kept

    async def get_settings(self, platform: str, server_id: str) -> dict[str, str]:
        if self._settings_known is None or self._settings_reading is None:
            self._settings_known, self._settings_reading = {}, {}
        server = (platform, server_id)
        known = self._settings_known.get(server)
        if known is not None:
            return dict(known)
        reading = self._settings_reading.get(server)
        if reading is not None:
            return dict(await asyncio.shield(reading))
        future: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()
        self._settings_reading[server] = future
        writes = self._settings_writes
        try:
            async with self.db.execute(
                "SELECT key, value FROM server_settings WHERE platform = ? AND server_id = ?",
                (platform, server_id),
            ) as cur:
                stored = {row["key"]: row["value"] for row in await cur.fetchall()}
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # waiters re-raise it; nobody else must
            raise
        finally:
            if self._settings_reading.get(server) is future:
                del self._settings_reading[server]
        future.set_result(stored)
        if writes == self._settings_writes:
            self._settings_known[server] = stored
        return dict(stored)

    async def set_setting(self, platform: str, server_id: str, key: str, value: str) -> None:
        self._forget_settings(platform, server_id)
        try:
            async with self.transaction() as db:
                await db.execute(
                    "INSERT INTO server_settings (platform, server_id, key, value) "
                    "VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (platform, server_id, key) DO UPDATE SET value = excluded.value",
                    (platform, server_id, key, value),
                )
        finally:
            self._forget_settings(platform, server_id)

    def _forget_settings(self, platform: str, server_id: str) -> None:
        self._settings_writes += 1
        for kept in (self._settings_known, self._settings_reading):
            if kept is not None:
                kept.pop((platform, server_id), None)  # a read under way is not joined either
