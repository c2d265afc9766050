"""Subscriptions (`subscriptions`): scheduled digests and watches of a channel, when each runs
next, and why redigest paused one or could not reach Reddit for it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.storage.backend import SCHEDULE_CHANNEL, Row, notify
from bot.storage.connection import Database
from bot.storage.jobs import insert_job
from bot.storage.values import iso, iso_or_none, time_or_none


@dataclass(frozen=True, slots=True)
class SubscriptionRow:
    id: int
    platform: str
    server_id: str
    channel_id: str
    created_by: str
    kind: str
    spec: dict[str, Any]
    paused: bool
    next_run_at: datetime | None
    last_run_at: datetime | None
    paused_reason: str | None = None  # set when redigest paused it itself
    source_problem: str | None = None  # why its last run failed, as said in its channel (once)
    failures: int = 0  # failed runs in a row (3 pause it: see note_run_failed)


@dataclass(frozen=True, slots=True)
class RunFailure:
    """A failed run, counted: how many in a row now, and what the channel is to hear of it."""

    failures: int
    say: bool  # a problem its channel has not heard of yet
    paused: bool  # this failure paused the subscription


def subscription_row(row: Row) -> SubscriptionRow:
    return SubscriptionRow(
        id=row["id"],
        platform=row["platform"],
        server_id=row["server_id"],
        channel_id=row["channel_id"],
        created_by=row["created_by"],
        kind=row["kind"],
        spec=json.loads(row["spec"]),
        paused=bool(row["paused"]),
        next_run_at=time_or_none(row["next_run_at"]),
        last_run_at=time_or_none(row["last_run_at"]),
        paused_reason=row["paused_reason"],
        source_problem=row["source_problem"],
        failures=row["failures"],
    )


class SubscriptionsTable(Database):
    async def add_subscription(
        self,
        *,
        platform: str,
        server_id: str,
        channel_id: str,
        created_by: str,
        kind: str,
        spec: dict[str, Any],
        next_run_at: datetime | None,
    ) -> int:
        async with self.transaction() as db:
            cur = await db.execute(
                "INSERT INTO subscriptions (platform, server_id, channel_id, created_by, kind, spec,"
                " next_run_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    platform,
                    server_id,
                    channel_id,
                    created_by,
                    kind,
                    json.dumps(spec),
                    iso_or_none(next_run_at),
                    iso(self.now()),
                ),
            )
            row = await cur.fetchone()
            sub_id = int(row[0]) if row else 0
            await notify(db, SCHEDULE_CHANNEL, str(sub_id))  # the leader's scheduler or watcher
            return sub_id

    async def subscription(self, sub_id: int) -> SubscriptionRow | None:
        async with self.db.execute("SELECT * FROM subscriptions WHERE id = ?", (sub_id,)) as cur:
            row = await cur.fetchone()
        return subscription_row(row) if row else None

    async def subscriptions(
        self, *, platform: str | None = None, channel_id: str | None = None, kind: str | None = None
    ) -> list[SubscriptionRow]:
        sql = "SELECT * FROM subscriptions WHERE 1 = 1"
        args: list[Any] = []
        for column, value in (("platform", platform), ("channel_id", channel_id), ("kind", kind)):
            if value is not None:
                sql += f" AND {column} = ?"  # column names are ours, values are parameters
                args.append(value)
        async with self.db.execute(sql + " ORDER BY id", args) as cur:
            return [subscription_row(r) for r in await cur.fetchall()]

    async def delete_subscription(self, sub_id: int) -> None:
        """The subscription and its watch candidates, together."""
        async with self.transaction() as db:
            await db.execute("DELETE FROM candidates WHERE subscription_id = ?", (sub_id,))
            await db.execute("DELETE FROM subscriptions WHERE id = ?", (sub_id,))
            await notify(db, SCHEDULE_CHANNEL, str(sub_id))

    async def set_paused(self, sub_id: int, paused: bool, reason: str | None = None) -> None:
        """Pause or resume; `reason` says why redigest paused it itself. Resuming starts afresh:
        no failed runs counted, no reason, no problem said."""
        if paused:
            sql = "UPDATE subscriptions SET paused = 1, paused_reason = ? WHERE id = ?"
            args: tuple[Any, ...] = (reason, sub_id)
        else:
            sql = (
                "UPDATE subscriptions SET paused = 0, paused_reason = NULL, failures = 0,"
                " source_problem = NULL WHERE id = ?"
            )
            args = (sub_id,)
        async with self.transaction() as db:
            await db.execute(sql, args)
            await notify(db, SCHEDULE_CHANNEL, str(sub_id))

    async def note_run_failed(
        self, sub_id: int, problem: str, *, pause_after: int, reason: str
    ) -> RunFailure | None:
        """Count a failed run, in one transaction with what its channel is told: `problem` is
        to be said if it is not what was said last, and the `pause_after`th failure in a row
        pauses the subscription (with `reason`). None for a subscription gone or paused (its
        failures are no longer counted, nor said)."""
        async with self.transaction() as db:
            async with db.execute(
                "SELECT failures, source_problem FROM subscriptions WHERE id = ? AND paused = 0",
                (sub_id,),
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                return None
            failures = int(row[0]) + 1
            paused = failures >= pause_after
            say = paused or row[1] != problem
            await db.execute(
                "UPDATE subscriptions SET failures = ?, source_problem = ?, paused = ?,"
                " paused_reason = CASE WHEN ? = 1 THEN ? ELSE paused_reason END WHERE id = ?",
                (failures, problem, int(paused), int(paused), reason, sub_id),
            )
            if paused:
                await notify(db, SCHEDULE_CHANNEL, str(sub_id))
        return RunFailure(failures, say, paused)

    async def note_run_ok(self, sub_id: int) -> None:
        """A run worked: its failures in a row start again from none, its problem is over."""
        async with self.transaction() as db:
            await db.execute(
                "UPDATE subscriptions SET failures = 0, source_problem = NULL"
                " WHERE id = ? AND (failures > 0 OR source_problem IS NOT NULL)",
                (sub_id,),
            )

    async def note_source_problem(self, sub_id: int, problem: str | None) -> bool:
        """Record why Reddit could not be reached for a subscription (None: it can be again).
        True only when the state changed: a problem is said in the channel once, however many
        runs it lasts, and its end is noticed once."""
        if problem is None:
            sql = "UPDATE subscriptions SET source_problem = NULL WHERE id = ? AND source_problem IS NOT NULL"
            args: tuple[Any, ...] = (sub_id,)
        else:
            sql = "UPDATE subscriptions SET source_problem = ? WHERE id = ? AND source_problem IS NULL"
            args = (problem, sub_id)
        async with self.transaction() as db:
            cur = await db.execute(sql, args)
            return cur.rowcount == 1

    async def set_next_run(
        self, sub_id: int, next_run_at: datetime | None, last_run_at: datetime | None = None
    ) -> None:
        async with self.transaction() as db:
            await db.execute(
                "UPDATE subscriptions SET next_run_at = ?, last_run_at = COALESCE(?, last_run_at)"
                " WHERE id = ?",
                (iso_or_none(next_run_at), iso_or_none(last_run_at), sub_id),
            )

    async def schedule_due(
        self, sub_id: int, job_key: str, job_kind: str, payload: dict[str, Any],
        next_run_at: datetime, ran_at: datetime,
    ) -> bool:  # fmt: skip
        """Queue a subscription's run and move its next run, in one transaction (so a crash
        neither loses the run nor queues it twice). False if that run was already queued."""
        async with self.transaction() as db:
            created = await insert_job(db, job_key, job_kind, payload, ran_at, self.now())
            await db.execute(
                "UPDATE subscriptions SET next_run_at = ?, last_run_at = ? WHERE id = ?",
                (iso(next_run_at), iso(ran_at), sub_id),
            )
        return created

    async def earliest_next_run(self) -> datetime | None:
        async with self.db.execute(
            "SELECT MIN(next_run_at) FROM subscriptions "
            "WHERE paused = 0 AND kind = 'schedule' AND next_run_at IS NOT NULL"
        ) as cur:
            row = await cur.fetchone()
        return time_or_none(row[0]) if row else None

    async def due_subscriptions(self, now: datetime) -> list[SubscriptionRow]:
        async with self.db.execute(
            "SELECT * FROM subscriptions WHERE paused = 0 AND kind = 'schedule' "
            "AND next_run_at IS NOT NULL AND next_run_at <= ? ORDER BY next_run_at",
            (iso(now),),
        ) as cur:
            return [subscription_row(r) for r in await cur.fetchall()]

    async def update_spec(
        self, sub_id: int, spec: dict[str, Any], *, next_run_at: datetime | None
    ) -> None:
        """An edited subscription: its spec, and when it runs next (None: as it was), together
        (its id, channel, state and what it posted stay)."""
        async with self.transaction() as db:
            await db.execute(
                "UPDATE subscriptions SET spec = ?, next_run_at = COALESCE(?, next_run_at)"
                " WHERE id = ?",
                (json.dumps(spec), iso_or_none(next_run_at), sub_id),
            )
            await notify(db, SCHEDULE_CHANNEL, str(sub_id))
