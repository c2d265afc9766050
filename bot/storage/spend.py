"""Model usage and spend (`usage`): tokens and dollars per server and day, for the daily cap, and
per channel and subscription, for `/usage`.

An LLM analysis first reserves what one call of it may cost at most (`reserve_spend`: a row marked
`reserved`, counted by the cap like any other), checked against the cap in one transaction
that takes turns per server (BEGIN IMMEDIATE on SQLite, an advisory lock on PostgreSQL), so
analyses starting at once in several processes see each other; the actual figures replace it
when the analysis returns (`settle_spend`), or it is dropped (`release_spend`). A reservation of
a process that died is swept after an hour (ratelimits.py), or at once on a SQLite file when
the next process starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.storage.backend import PgConnection
from bot.storage.connection import Database
from bot.storage.ratelimits import BUCKET_LOCK
from bot.storage.values import iso

SPENT = (
    "SELECT COALESCE(SUM(cost_usd), 0) FROM usage WHERE platform = ? AND server_id = ? AND day = ?"
)


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
        """Today's spend, the analyses under way counted at what they reserved."""
        async with self.db.execute(
            SPENT, (platform, server_id, self.now().date().isoformat())
        ) as cur:
            row = await cur.fetchone()
        return float(row[0]) if row else 0.0

    async def reserve_spend(
        self, platform: str, server_id: str, cap: float, estimate: float, *,
        channel_id: str | None = None, subscription_id: int | None = None,
    ) -> int | None:  # fmt: skip
        """While today's spend (reservations included) is under `cap`: `estimate` reserved for
        an analysis about to start, and its row's id; otherwise None (the cap is reached)."""
        now = self.now()
        day = now.date().isoformat()
        async with self.transaction() as db:
            if isinstance(db, PgConnection):
                await db.execute(BUCKET_LOCK, (f"spend:{platform}:{server_id}",))
            async with db.execute(SPENT, (platform, server_id, day)) as cur:
                row = await cur.fetchone()
            if float(row[0] if row else 0.0) >= cap:
                return None
            rows = await db.execute_fetchall(
                "INSERT INTO usage (platform, server_id, day, model, input_tokens, output_tokens,"
                " cost_usd, created_at, channel_id, subscription_id, reserved)"
                " VALUES (?, ?, ?, NULL, 0, 0, ?, ?, ?, ?, 1) RETURNING id",
                (platform, server_id, day, estimate, iso(now), channel_id, subscription_id),
            )
            return int(next(iter(rows))[0])

    async def settle_spend(
        self, reservation: int, model: str | None, input_tokens: int, output_tokens: int,
        cost_usd: float,
    ) -> None:  # fmt: skip
        """The analysis returned: its actual figures replace what it reserved."""
        async with self.transaction() as db:
            await db.execute(
                "UPDATE usage SET model = ?, input_tokens = ?, output_tokens = ?, cost_usd = ?,"
                " reserved = 0 WHERE id = ?",
                (model, input_tokens, output_tokens, cost_usd, reservation),
            )

    async def release_spend_left(self) -> int:
        """At start-up on a SQLite file (this process owns it): the spend reserved by the
        process before it, which stopped mid-analysis, is given back; how many. On PostgreSQL
        the reservations of live processes are not told apart: the sweep takes a dead one's."""
        if self.postgres_url is not None:
            return 0
        async with self.transaction() as db:
            cur = await db.execute("DELETE FROM usage WHERE reserved = 1")
            return max(cur.rowcount, 0)

    async def release_spend(self, reservation: int) -> None:
        """No analysis was paid for after all (a cached report, another's analysis, an error)."""
        async with self.transaction() as db:
            await db.execute("DELETE FROM usage WHERE id = ? AND reserved = 1", (reservation,))

    async def usage_since(self, platform: str, server_id: str, first_day: date) -> list[UsageRow]:
        """A server's usage from `first_day` (UTC) on, by day, channel, subscription and model."""
        async with self.db.execute(
            "SELECT day, channel_id, subscription_id, model, COUNT(*), SUM(input_tokens),"
            " SUM(output_tokens), SUM(cost_usd) FROM usage"
            " WHERE platform = ? AND server_id = ? AND day >= ? AND reserved = 0"
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
