"""Running jobs: claims with leases (renewed by a heartbeat, lapsed at start-up), attempts
counted and capped, and what a run records as it goes — its report, its intent to post, what the
post created, and its end (done, retry later, or failed). Every write after the claim checks that
the claim is still this run's; a lost claim raises `ClaimLost` where posting is at stake."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from bot.chat import MessageRef
from bot.storage.backend import ALIVE_SQL, JOBS_CHANNEL, notify
from bot.storage.connection import Database
from bot.storage.errors import ClaimLost
from bot.storage.jobs import JobRow, job_row, read_job
from bot.storage.posted import record_posted
from bot.storage.values import iso, refs_text


class JobClaims(Database):
    @property
    def _skip_locked(self) -> str:
        """On PostgreSQL, processes claim at once: each locks the row it picks, and passes over
        rows another has locked (SQLite has one writer: BEGIN IMMEDIATE already serialises)."""
        return " FOR UPDATE SKIP LOCKED" if self.postgres_url else ""

    async def claim_job(
        self,
        *,
        lease: timedelta = timedelta(seconds=60),
        max_attempts: int = 3,
        max_interruptions: int = 6,
        exclude: Sequence[str] = (),
        urgent: Sequence[str] = (),
        only: Sequence[str] | None = None,
    ) -> JobRow | None:
        """Claim the oldest runnable job: pending and due, or left running by a run whose claim
        expired (it died, or its bookkeeping failed). The claim lasts `lease` unless renewed by
        `renew_claims`. Attempts are counted here, so a job that kills the process is not run
        for ever: past `max_attempts` it is failed and returned with `gave_up` set, once.
        `exclude` names jobs this process is still running (their claim may have lapsed while
        the database was locked; they are not taken from under themselves). Jobs of the `urgent`
        kinds (what a person is waiting for) are claimed before the others; `only` limits the
        claim to those kinds (a worker kept free for people)."""
        now = self.now()
        skip = f" AND key NOT IN ({', '.join('?' * len(exclude))})" if exclude else ""
        if only is not None:
            skip += f" AND kind IN ({', '.join('?' * len(only))})" if only else " AND 1 = 0"
        wait = f"kind NOT IN ({', '.join('?' * len(urgent))}), " if urgent else ""
        async with self.transaction() as db:
            async with db.execute(
                "SELECT * FROM jobs WHERE ((status = 'pending' AND not_before <= ?)"
                " OR (status IN ('running', 'posting')"
                "     AND (claimed_until IS NULL OR claimed_until <= ?)))" + skip + ""
                # Interrupted jobs go after the others: one that crashes the process must not
                # hold up the queue behind it, nor its bystanders be interrupted every time.
                " ORDER BY interruptions + CASE WHEN status = 'pending' THEN 0 ELSE 1 END, "
                + wait
                + "not_before, id"
                " LIMIT 1" + self._skip_locked,
                (iso(now), iso(now), *exclude, *(only or ()), *urgent),
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                return None
            # An attempt that ended with the process (its claim lapsed while `running`) may be
            # an innocent bystander of a crash, or the job that crashes it: those are capped
            # apart, more loosely, so a few restarts do not fail the jobs that happened to run.
            interrupted = row["status"] in ("running", "posting")
            interruptions = row["interruptions"] + int(interrupted)
            errors = row["attempts"] - row["interruptions"] - int(interrupted)
            if errors >= max_attempts or interruptions >= max_interruptions:
                why = row["error"] if errors >= max_attempts else "interrupted by restarts"
                error = f"gave up after {row['attempts']} attempts: {why or 'interrupted'}"
                await db.execute(
                    "UPDATE jobs SET status = 'failed', error = ?, claimed_by = NULL,"
                    " claimed_until = NULL, claim_token = NULL, updated_at = ? WHERE id = ?",
                    (error[:500], iso(now), row["id"]),
                )
                job = job_row(row)
                return replace(job, status="failed", error=error, gave_up=True)
            token = uuid.uuid4().hex
            await db.execute(
                "UPDATE jobs SET status = 'running', attempts = attempts + 1, interruptions = ?,"
                " claimed_by = ?, claimed_until = ?, claim_token = ?, updated_at = ? WHERE id = ?",
                (interruptions, self.owner_id, iso(now + lease), token, iso(now), row["id"]),
            )
        return await read_job(self.db, row["key"])

    async def renew_claims(self, keys: Sequence[str], lease: timedelta) -> int:
        """The heartbeat: extend this process's claims on the jobs it is running."""
        if not keys:
            return 0
        now = self.now()
        marks = ", ".join("?" * len(keys))
        async with self.transaction() as db:
            cur = await db.execute(
                "UPDATE jobs SET claimed_until = ? WHERE claimed_by = ? AND key IN (" + marks + ")"
                " AND status IN ('running', 'posting')",
                (iso(now + lease), self.owner_id, *keys),
            )
            return cur.rowcount or 0

    async def recover_jobs(self) -> int:
        """At start-up: claims held by earlier processes lapse now (this process owns the
        database, so their owners are gone); the jobs are reclaimed by the workers, their
        attempts counted and capped. Returns how many there were.

        On PostgreSQL other processes share the database: only the claims of processes that are
        gone lapse (each live one holds its owner lock, backend.ALIVE_SQL); the others' stay."""
        alive = f" AND NOT ({ALIVE_SQL})" if self.postgres_url else ""
        async with self.transaction() as db:
            cur = await db.execute(
                "UPDATE jobs SET claimed_until = ?, updated_at = ? "
                "WHERE status IN ('running', 'posting')"
                " AND (claimed_by IS NULL OR claimed_by != ?)" + alive,
                (iso(self.now()), iso(self.now()), self.owner_id),
            )
            if cur.rowcount:
                await notify(db, JOBS_CHANNEL, "recovered")
            return cur.rowcount or 0

    @staticmethod
    def _claimed(token: str | None) -> tuple[str, tuple[str, ...]]:
        """A WHERE clause fragment: the row is still held by this claim (any, without one)."""
        return (" AND claim_token = ?", (token,)) if token is not None else ("", ())

    async def save_job_report(self, key: str, report: str, token: str | None = None) -> None:
        claimed, args = self._claimed(token)
        async with self.transaction() as db:
            await db.execute(
                "UPDATE jobs SET report = ?, updated_at = ? WHERE key = ?" + claimed,
                (report, iso(self.now()), key, *args),
            )

    async def mark_posting(
        self, key: str, token: str | None = None, lease: timedelta | None = None
    ) -> None:
        """The intent to post, recorded before posting: a later attempt of this job will look
        for the message before posting again. Raises ClaimLost when another run holds the job
        now (it, not this one, may post). `lease` renews the claim in the same write, so the
        post starts with a whole lease ahead of it (another process taking the job over while
        this one posts would find nothing posted yet, and post too)."""
        claimed, args = self._claimed(token)
        now = self.now()
        renew, until = (", claimed_until = ?", (iso(now + lease),)) if lease else ("", ())
        async with self.transaction() as db:
            cur = await db.execute(
                "UPDATE jobs SET status = 'posting', post_attempted = 1, updated_at = ?"
                + renew
                + " WHERE key = ? AND status IN ('running', 'posting')"
                + claimed,
                (iso(now), *until, key, *args),
            )
            if cur.rowcount != 1:
                raise ClaimLost(key)

    async def record_post_result(
        self, key: str, refs: Sequence[MessageRef], token: str | None = None
    ) -> None:
        """What a post created, written the moment it returns (its own small transaction): a
        crash after this never leads to a second post, nor to a lookup."""
        claimed, args = self._claimed(token)
        async with self.transaction() as db:
            await db.execute(
                "UPDATE jobs SET result = ?, updated_at = ? WHERE key = ?" + claimed,
                (refs_text(refs), iso(self.now()), key, *args),
            )

    async def finish_job(
        self,
        key: str,
        refs: Sequence[MessageRef],
        *,
        post_id: str | None,
        focus_comment_id: str | None = None,
        thread_posts: Sequence[str] = (),
        token: str | None = None,
    ) -> None:
        """Record what was posted, in one transaction with the job's completion."""
        now = iso(self.now())
        claimed, args = self._claimed(token)
        async with self.transaction() as db:
            cur = await db.execute(
                "UPDATE jobs SET status = 'done', result = ?, error = NULL, claimed_by = NULL,"
                " claimed_until = NULL, updated_at = ? WHERE key = ?" + claimed,
                (refs_text(refs), now, key, *args),
            )
            if cur.rowcount != 1:
                raise ClaimLost(key)
            await record_posted(
                db, key, refs, post_id=post_id, focus_comment_id=focus_comment_id,
                thread_posts=thread_posts, posted_at=now,
            )  # fmt: skip

    async def fail_job(
        self, key: str, error: str, *, retry_at: datetime | None, token: str | None = None
    ) -> bool:
        """Retry later (`retry_at`) or give up; False when the claim was lost meanwhile."""
        status = "pending" if retry_at is not None else "failed"
        claimed, args = self._claimed(token)
        async with self.transaction() as db:
            cur = await db.execute(
                "UPDATE jobs SET status = ?, error = ?, not_before = COALESCE(?, not_before),"
                " claimed_by = NULL, claimed_until = NULL, updated_at = ? WHERE key = ?" + claimed,
                (status, error[:500], iso(retry_at) if retry_at else None, iso(self.now()), key,
                 *args),
            )  # fmt: skip
            if cur.rowcount == 1 and retry_at is not None and retry_at <= self.now():
                await notify(db, JOBS_CHANNEL, "retry")  # due now: whoever is idle takes it
            return cur.rowcount == 1
