"""Reaction flags (`flags`): who flagged which bot message, each user once."""

from __future__ import annotations

from bot.chat import MessageRef
from bot.storage.connection import Database
from bot.storage.values import iso


class FlagsTable(Database):
    async def add_flag(self, ref: MessageRef, user_id: str) -> int:
        """Record one user's flag; returns how many distinct users flagged the message."""
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO flags (platform, channel_id, message_id, user_id, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (ref.platform, ref.channel_id, ref.message_id, user_id, iso(self.now())),
            )
            async with db.execute(
                "SELECT COUNT(*) FROM flags WHERE platform = ? AND channel_id = ? "
                "AND message_id = ?",
                (ref.platform, ref.channel_id, ref.message_id),
            ) as cur:
                row = await cur.fetchone()
        return int(row[0]) if row else 0
