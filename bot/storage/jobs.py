"""The job queue (`jobs`): each job once per idempotency key, with its payload, status, attempts
and results. Claims, leases and what a run records as it goes are in claims.py."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.chat import MessageRef
from bot.storage.backend import JOBS_CHANNEL, Conn, Row, notify
from bot.storage.connection import Database
from bot.storage.values import iso, refs_from_text


@dataclass(frozen=True, slots=True)
class JobRow:
    id: int
    key: str
    kind: str
    payload: dict[str, Any]
    status: str
    attempts: int
    not_before: datetime
    report: str | None
    post_attempted: bool
    result: list[MessageRef] | None
    error: str | None
    claim_token: str | None = None  # this run's claim: bookkeeping checks it is still ours
    gave_up: bool = False  # claimed past its attempt cap: failed now, the asker is to be told


def job_row(row: Row) -> JobRow:
    return JobRow(
        id=row["id"],
        key=row["key"],
        kind=row["kind"],
        payload=json.loads(row["payload"]),
        status=row["status"],
        attempts=row["attempts"],
        not_before=datetime.fromisoformat(row["not_before"]),
        report=row["report"],
        post_attempted=bool(row["post_attempted"]),
        result=refs_from_text(row["result"]),
        error=row["error"],
        claim_token=row["claim_token"],
    )


async def insert_job(
    db: Conn,
    key: str,
    kind: str,
    payload: dict[str, Any],
    not_before: datetime,
    now: datetime,
) -> bool:
    """Inside a transaction: queue a job unless its key exists. True when it was queued (then,
    on PostgreSQL, idle workers of every process are woken when the transaction commits)."""
    cur = await db.execute(
        "INSERT INTO jobs (key, kind, payload, not_before, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
        (key, kind, json.dumps(payload), iso(not_before), iso(now), iso(now)),
    )
    if cur.rowcount != 1:
        return False
    await notify(db, JOBS_CHANNEL, kind)
    return True


# Rows per INSERT of a batch: 6 values each stays under SQLite's oldest variable limit (999).
ROWS_PER_STATEMENT = 100

QueuedJob = tuple[str, str, dict[str, Any], datetime]  # key, kind, payload, not_before


async def insert_jobs(db: Conn, jobs: list[QueuedJob], now: datetime) -> list[bool]:
    """Inside a transaction: `insert_job` for each of `jobs`, in a few statements whatever their
    number. True for each that was queued; a key that exists, or that an earlier one of `jobs`
    has, is not queued again."""
    queued: list[bool] = []
    at = iso(now)
    for start in range(0, len(jobs), ROWS_PER_STATEMENT):
        chunk = jobs[start : start + ROWS_PER_STATEMENT]
        keys = list(dict.fromkeys(key for key, *_ in chunk))
        found = await db.execute_fetchall(  # one trip to the database thread, not three
            f"SELECT key FROM jobs WHERE key IN ({', '.join('?' * len(keys))})", keys
        )
        taken = {row[0] for row in found}
        rows: list[str] = []
        new: list[tuple[int, str]] = []  # where in `queued`, which key
        for key, kind, payload, not_before in chunk:
            queued.append(key not in taken)
            if key not in taken:
                taken.add(key)
                new.append((len(queued) - 1, key))
                rows += (key, kind, json.dumps(payload), iso(not_before), at, at)
        if rows:
            # Another process may queue one of these keys meanwhile (on PostgreSQL): it is
            # skipped, and not counted as queued here.
            inserted = await db.execute_fetchall(
                "INSERT INTO jobs (key, kind, payload, not_before, created_at, updated_at) VALUES "
                + ", ".join(["(?, ?, ?, ?, ?, ?)"] * (len(rows) // 6))
                + " ON CONFLICT (key) DO NOTHING RETURNING key",
                rows,
            )
            written = {row[0] for row in inserted}
            for where, key in new:
                queued[where] = key in written
            for kind in sorted({kind for key, kind, *_ in chunk if key in written}):
                # One wake-up per kind, however many rows.
                await notify(db, JOBS_CHANNEL, kind)
    return queued


async def read_job(db: Conn, key: str) -> JobRow | None:
    async with db.execute("SELECT * FROM jobs WHERE key = ?", (key,)) as cur:
        row = await cur.fetchone()
    return job_row(row) if row else None


class JobsTable(Database):
    async def add_job(
        self,
        key: str,
        kind: str,
        payload: dict[str, Any],
        not_before: datetime | None = None,
        *,
        urgent: bool = False,
    ) -> bool:
        """Queue a job; False when a job with this idempotency key exists (it is not redone).
        `urgent` jobs (someone waits for the acknowledgement) are written in groups, each group's
        in a few statements."""
        if not urgent:
            async with self.transaction() as db:
                return await insert_job(
                    db, key, kind, payload, not_before or self.now(), self.now()
                )
        job: QueuedJob = (key, kind, payload, not_before or self.now())
        return await self.write_batched(self._insert_urgent_jobs, job)

    async def _insert_urgent_jobs(self, db: Conn, jobs: list[QueuedJob]) -> list[bool]:
        return await insert_jobs(db, jobs, self.now())

    async def job(self, key: str) -> JobRow | None:
        return await read_job(self.db, key)

    async def jobs(self, status: str | None = None) -> list[JobRow]:
        sql = "SELECT * FROM jobs"
        args: tuple[str, ...] = ()
        if status is not None:
            sql, args = sql + " WHERE status = ?", (status,)
        async with self.db.execute(sql + " ORDER BY id", args) as cur:
            return [job_row(r) for r in await cur.fetchall()]
