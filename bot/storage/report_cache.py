"""Encoded reports kept a while (`report_cache`) under the caller's key: one fresh enough is
reused instead of analysing the thread again."""

from __future__ import annotations

from datetime import timedelta

from bot.storage.connection import Database
from bot.storage.values import iso


class ReportCache(Database):
    async def cached_report(self, key: str, max_age: timedelta) -> str | None:
        async with self.db.execute(
            "SELECT report FROM report_cache WHERE key = ? AND created_at >= ?",
            (key, iso(self.now() - max_age)),
        ) as cur:
            row = await cur.fetchone()
        return row["report"] if row else None

    async def cache_report(self, key: str, report: str) -> None:
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO report_cache (key, report, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET report = excluded.report, "
                "created_at = excluded.created_at",
                (key, report, iso(self.now())),
            )
