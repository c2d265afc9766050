"""Model usage and spend (`usage`): tokens and dollars per server and day, for the daily cap, and
per channel and subscription, for `/usage`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.storage.connection import Database
from bot.storage.values import iso


@dataclass(frozen=True, slots=True)
class UsageRow:
    """The analyses of one day, channel, subscription and model, summed."""

    day: date
    channel_id: str | None  # None: recorded before usage had channels
    subscription_id: int | None  # None: asked for by a person (a digest, a flag)
    model: str | None
    analyses: int
    input_tokens: int
    output_tokens: int
    cost_usd: float


class SpendTable(Database):
    async def record_usage(
        self, platform: str, server_id: str, model: str | None, input_tokens: int,
        output_tokens: int, cost_usd: float, *, channel_id: str | None = None,
        subscription_id: int | None = None,
    ) -> None:  # fmt: skip
        now = self.now()
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO usage (platform, server_id, day, model, input_tokens, output_tokens,"
                " cost_usd, created_at, channel_id, subscription_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    platform,
                    server_id,
                    now.date().isoformat(),
                    model,
                    input_tokens,
                    output_tokens,
                    cost_usd,
                    iso(now),
                    channel_id,
                    subscription_id,
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

    async def usage_since(self, platform: str, server_id: str, first_day: date) -> list[UsageRow]:
        """A server's usage from `first_day` (UTC) on, by day, channel, subscription and model."""
        async with self.db.execute(
            "SELECT day, channel_id, subscription_id, model, COUNT(*), SUM(input_tokens),"
            " SUM(output_tokens), SUM(cost_usd) FROM usage"
            " WHERE platform = ? AND server_id = ? AND day >= ?"
            " GROUP BY day, channel_id, subscription_id, model",
            (platform, server_id, first_day.isoformat()),
        ) as cur:
            rows = await cur.fetchall()
        return [
            UsageRow(
                day=date.fromisoformat(r[0]),
                channel_id=r[1],
                subscription_id=None if r[2] is None else int(r[2]),
                model=r[3],
                analyses=int(r[4]),
                input_tokens=int(r[5] or 0),
                output_tokens=int(r[6] or 0),
                cost_usd=float(r[7] or 0.0),
            )
            for r in rows
        ]
