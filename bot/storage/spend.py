"""Model usage and spend (`usage`): tokens and dollars per server and day, for the daily cap."""

from __future__ import annotations

from bot.storage.connection import Database
from bot.storage.values import iso


class SpendTable(Database):
    async def record_usage(
        self, platform: str, server_id: str, model: str | None, input_tokens: int,
        output_tokens: int, cost_usd: float,
    ) -> None:  # fmt: skip
        now = self.now()
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO usage (platform, server_id, day, model, input_tokens, output_tokens,"
                " cost_usd, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    platform,
                    server_id,
                    now.date().isoformat(),
                    model,
                    input_tokens,
                    output_tokens,
                    cost_usd,
                    iso(now),
                ),
            )

    async def spent_today(self, platform: str, server_id: str) -> float:
        async with self.db.execute(
            "SELECT COALESCE(SUM(cost_usd), 0) FROM usage WHERE platform = ? AND server_id = ? "
            "AND day = ?",
            (platform, server_id, self.now().date().isoformat()),
        ) as cur:
            row = await cur.fetchone()
        return float(row[0]) if row else 0.0
