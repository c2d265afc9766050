"""Rate limits shared by every process on the database: sliding windows of hits per bucket
(`rate_hits`) and the holds Reddit asks for (`quota_holds`), the same semantics as the in-memory
`RateLimiter` (bot/ratelimit.py).

A reservation checks every window and counts one hit in each in one transaction, or counts
nothing and says how long to wait (until the oldest of a full window's last `limit` hits leaves
it). Two processes must not both count 4 of 5 and both insert: on SQLite `BEGIN IMMEDIATE`
makes reservations take turns; on PostgreSQL (READ COMMITTED) each bucket's reservations take
turns behind a transaction-scoped advisory lock, taken in the order of the buckets' names so
that two reservations of the same buckets never wait on each other, and let go at commit (a
process that dies holds nothing). Times are seconds since the epoch on the storage's clock.

Each hit carries when it leaves its window (`expires`): `sweep_rate_hits` (the leader, once a
minute) deletes those gone, the holds that ended, and spend reserved (spend.py) by a process
that died mid-analysis.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from bot.ratelimit import Reserved, Window
from bot.storage.backend import Conn, PgConnection
from bot.storage.connection import Database
from bot.storage.values import iso

STALE_RESERVATION = timedelta(hours=1)  # an analysis takes minutes at most
BUCKET_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(?, 0))"
RECENT = (
    "SELECT COUNT(*), MIN(at) FROM (SELECT at FROM rate_hits WHERE bucket = ? AND at > ?"
    " ORDER BY at DESC LIMIT ?) recent"
)
HELD = "SELECT until FROM quota_holds WHERE name = ? AND until > ?"
HOLD = (
    "INSERT INTO quota_holds (name, until) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET until ="
    " CASE WHEN excluded.until > quota_holds.until THEN excluded.until ELSE quota_holds.until END"
)


async def reserve_in(db: Conn, windows: Sequence[Window], now: float, hold: str | None) -> Reserved:
    """`RateLimitsTable.reserve_hits` inside a transaction already begun."""
    if isinstance(db, PgConnection):
        for bucket in sorted({w.bucket for w in windows}):
            await db.execute(BUCKET_LOCK, (bucket,))
    if hold is not None:
        async with db.execute(HELD, (hold, now)) as cur:
            row = await cur.fetchone()
        if row is not None:
            return Reserved(held=float(row[0]) - now)
    wait = 0.0
    for w in windows:
        limit = max(w.limit, 1)
        async with db.execute(RECENT, (w.bucket, now - w.seconds, limit)) as cur:
            row = await cur.fetchone()
        if row is not None and int(row[0]) >= limit:
            # The oldest of the last `limit` hits: when it leaves the window, a hit is allowed.
            wait = max(wait, w.seconds - (now - float(row[1])), 1e-6)
    if wait > 0:
        return Reserved(wait=wait)
    hits: list[int] = []
    for w in windows:
        rows = await db.execute_fetchall(
            "INSERT INTO rate_hits (bucket, at, expires) VALUES (?, ?, ?) RETURNING id",
            (w.bucket, now, now + w.seconds),
        )
        hits.extend(int(r[0]) for r in rows)
    return Reserved(hits=tuple(hits))


class RateLimitsTable(Database):
    async def reserve_hits(
        self, windows: Sequence[Window], *, urgent: bool = True, hold: str | None = None
    ) -> Reserved:
        """Every window has room (and `hold`, if named, is not held): one hit counted in each,
        all in one transaction (`urgent`: someone waits for it); otherwise none counted, and
        the seconds until there is room (`wait`) or until the hold ends (`held`)."""
        now = self.now().timestamp()
        async with self.transaction(urgent=urgent) as db:
            return await reserve_in(db, windows, now, hold)

    async def release_hits(self, hits: Sequence[int]) -> None:
        """Give back reserved hits whose work was not created after all."""
        if not hits:
            return
        marks = ", ".join("?" * len(hits))
        async with self.transaction(urgent=True) as db:
            await db.execute(f"DELETE FROM rate_hits WHERE id IN ({marks})", tuple(hits))

    async def hold_quota(self, name: str, seconds: float) -> None:
        """No reservation held by `name` counts for `seconds` from now (a longer hold already
        there stays)."""
        until = self.now().timestamp() + max(seconds, 0.0)
        async with self.transaction(urgent=True) as db:
            await db.execute(HOLD, (name, until))

    async def quota_held(self, name: str) -> float:
        """Seconds left of the hold on `name` (0 when there is none)."""
        now = self.now().timestamp()
        async with self.db.execute(HELD, (name, now)) as cur:
            row = await cur.fetchone()
        return float(row[0]) - now if row is not None else 0.0

    async def sweep_rate_hits(self) -> int:
        """Delete the hits that left their windows, the holds that ended, and the spend
        reserved more than an hour ago (by a process that died mid-analysis); how many."""
        now = self.now()
        seconds = now.timestamp()
        async with self.transaction() as db:
            hits = await db.execute("DELETE FROM rate_hits WHERE expires <= ?", (seconds,))
            holds = await db.execute("DELETE FROM quota_holds WHERE until <= ?", (seconds,))
            spend = await db.execute(
                "DELETE FROM usage WHERE reserved = 1 AND created_at < ?",
                (iso(now - STALE_RESERVATION),),
            )
            return sum(max(c.rowcount, 0) for c in (hits, holds, spend))

    async def rate_hits(self, bucket: str) -> int:
        """How many hits `bucket` has in the table (swept or not)."""
        async with self.db.execute(
            "SELECT COUNT(*) FROM rate_hits WHERE bucket = ?", (bucket,)
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0
