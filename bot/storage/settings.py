"""Per-server settings (`server_settings`): a key/value map per platform and server."""

from __future__ import annotations

from bot.storage.connection import Database


class SettingsTable(Database):
    async def get_settings(self, platform: str, server_id: str) -> dict[str, str]:
        async with self.db.execute(
            "SELECT key, value FROM server_settings WHERE platform = ? AND server_id = ?",
            (platform, server_id),
        ) as cur:
            return {row["key"]: row["value"] for row in await cur.fetchall()}

    async def set_setting(self, platform: str, server_id: str, key: str, value: str) -> None:
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO server_settings (platform, server_id, key, value) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (platform, server_id, key) DO UPDATE SET value = excluded.value",
                (platform, server_id, key, value),
            )
