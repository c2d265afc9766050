"""State in SQLite through aiosqlite: WAL, numbered migrations recorded in a table, parametrised SQL
only, one transaction per unit of work.

Everything that must survive a crash lives here: subscriptions, jobs (with their idempotency keys
and results), what was posted where, reaction flags, cached reports, watch candidates and spend.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import aiosqlite

from bot.chat import MessageRef
from bot.ownership import DatabaseInUse, DatabaseOwner

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


class _WriteTurns:
    """A lock whose urgent waiters (a person waiting for an acknowledgement) go before the
    others (workers' bookkeeping); FIFO within each class."""

    def __init__(self) -> None:
        self._held = False
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = 0

    async def acquire(self, urgent: bool) -> None:
        if not self._held and not self._waiters:
            self._held = True
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._order += 1
        heapq.heappush(self._waiters, (0 if urgent else 1, self._order, future))
        try:
            await future
        except BaseException:
            if future.done() and not future.cancelled():
                self.release()  # handed the turn just as we were cancelled: pass it on
            else:
                self._waiters = [w for w in self._waiters if w[2] is not future]
                heapq.heapify(self._waiters)
            raise

    def release(self) -> None:
        while self._waiters:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(None)  # the turn passes on; the lock stays held
                return
        self._held = False


class StorageError(Exception):
    """The database cannot be used; the message says what to do (start-up stops on it)."""


def _database_error(path: Path, exc: sqlite3.DatabaseError) -> str:
    message = str(exc).lower()
    if "not a database" in message or "malformed" in message:
        return (
            f"The database {path} is damaged or not a SQLite file: move it aside (redigest then "
            "starts a new one) or restore a backup."
        )
    if "locked" in message or "busy" in message:
        return (
            f"The database {path} is locked by another program (an open sqlite3 shell, a backup "
            "tool?): close it and start redigest again."
        )
    if "readonly" in message or "read-only" in message or "unable to open" in message:
        return (
            f"The database {path} cannot be written: give the user running redigest write "
            "access to the file and its folder, or set REDIGEST_DATABASE_PATH elsewhere."
        )
    return (
        f"The database {path} cannot be opened or written ({exc}): check the folder's "
        "permissions and free space, or set REDIGEST_DATABASE_PATH elsewhere."
    )


class ClaimLost(Exception):
    """This run's claim on a job expired and another run took it: this one must stop and must
    not post (the other run does)."""


MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "initial schema",
        """
        CREATE TABLE server_settings (
            platform TEXT NOT NULL, server_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
            PRIMARY KEY (platform, server_id, key)
        );
        CREATE TABLE subscriptions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            platform TEXT NOT NULL, server_id TEXT NOT NULL, channel_id TEXT NOT NULL,
            created_by TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('schedule', 'watch')),
            spec TEXT NOT NULL,
            paused INTEGER NOT NULL DEFAULT 0,
            next_run_at TEXT,
            last_run_at TEXT,
            created_at TEXT NOT NULL
        );
        CREATE TABLE jobs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            key TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            payload TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'running', 'posting', 'done', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            not_before TEXT NOT NULL,
            report TEXT,
            post_attempted INTEGER NOT NULL DEFAULT 0,
            result TEXT,
            error TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX jobs_runnable ON jobs (status, not_before);
        CREATE TABLE posted_messages (
            platform TEXT NOT NULL, channel_id TEXT NOT NULL, message_id TEXT NOT NULL,
            thread_id TEXT,
            post_id TEXT NOT NULL, focus_comment_id TEXT, job_key TEXT NOT NULL,
            posted_at TEXT NOT NULL,
            PRIMARY KEY (platform, channel_id, message_id)
        );
        CREATE TABLE posted_threads (
            platform TEXT NOT NULL, channel_id TEXT NOT NULL, post_id TEXT NOT NULL,
            posted_at TEXT NOT NULL,
            PRIMARY KEY (platform, channel_id, post_id)
        );
        CREATE TABLE flags (
            platform TEXT NOT NULL, channel_id TEXT NOT NULL, message_id TEXT NOT NULL,
            user_id TEXT NOT NULL, created_at TEXT NOT NULL,
            PRIMARY KEY (platform, channel_id, message_id, user_id)
        );
        CREATE TABLE report_cache (
            key TEXT PRIMARY KEY, report TEXT NOT NULL, created_at TEXT NOT NULL
        );
        CREATE TABLE candidates (
            subscription_id INTEGER NOT NULL, post_id TEXT NOT NULL,
            created_at TEXT NOT NULL, last_score INTEGER NOT NULL DEFAULT 0,
            last_comments INTEGER NOT NULL DEFAULT 0, checks INTEGER NOT NULL DEFAULT 0,
            next_check_at TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'waiting' CHECK (state IN ('waiting', 'queued', 'expired')),
            PRIMARY KEY (subscription_id, post_id)
        );
        CREATE TABLE usage (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            platform TEXT NOT NULL, server_id TEXT NOT NULL, day TEXT NOT NULL,
            model TEXT, input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,
            cost_usd REAL NOT NULL, created_at TEXT NOT NULL
        );
        CREATE INDEX usage_by_day ON usage (platform, server_id, day);
        """,
    ),
    (
        2,
        "indexes for the scheduler and the watcher",
        """
        CREATE INDEX subscriptions_due ON subscriptions (paused, next_run_at);
        CREATE INDEX candidates_due ON candidates (state, next_check_at);
        CREATE INDEX posted_threads_recent ON posted_threads (platform, channel_id, posted_at);
        """,
    ),
    (
        3,
        "why a subscription was paused (when the platform refused its posts)",
        """
        ALTER TABLE subscriptions ADD COLUMN paused_reason TEXT;
        """,
    ),
    (
        4,
        "job leases: who runs a job, until when, and which claim may still post",
        """
        ALTER TABLE jobs ADD COLUMN claimed_by TEXT;
        ALTER TABLE jobs ADD COLUMN claimed_until TEXT;
        ALTER TABLE jobs ADD COLUMN claim_token TEXT;
        CREATE INDEX jobs_claims ON jobs (status, claimed_until);
        """,
    ),
    (
        5,
        "why a subscription could not reach Reddit (said once in its channel, cleared on success)",
        """
        ALTER TABLE subscriptions ADD COLUMN source_problem TEXT;
        """,
    ),
    (
        6,
        "attempts that ended with the process (not with an error of their own), counted apart",
        """
        ALTER TABLE jobs ADD COLUMN interruptions INTEGER NOT NULL DEFAULT 0;
        """,
    ),
]


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat()


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


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
    source_problem: str | None = None  # Reddit could not be reached for it (said once)


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


@dataclass(frozen=True, slots=True)
class CandidateRow:
    subscription_id: int
    post_id: str
    created_at: datetime
    last_score: int
    last_comments: int
    checks: int
    next_check_at: datetime
    state: str


def _refs(text: str | None) -> list[MessageRef] | None:
    if text is None:
        return None
    return [MessageRef(**r) for r in json.loads(text)]


def _refs_text(refs: Sequence[MessageRef]) -> str:
    return json.dumps(
        [
            {
                "platform": r.platform,
                "channel_id": r.channel_id,
                "message_id": r.message_id,
                "thread_id": r.thread_id,
            }
            for r in refs
        ]
    )


class Storage:
    """Use as `async with Storage(path) as db`. One connection, shared by the whole process.

    `exclusive` (the default) makes this process the database's only owner while it is open
    (bot/ownership.py): a second bot on the same file is refused at start-up.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        clock: Clock = utcnow,
        exclusive: bool = True,
        busy_timeout_ms: int = 5000,
    ) -> None:
        self.path = Path(path)
        self._clock = clock
        self._busy_timeout_ms = busy_timeout_ms
        self.owner_id = uuid.uuid4().hex[:12]  # names this process's job claims
        in_memory = str(self.path) == ":memory:"
        self._owner = (
            None if in_memory or not exclusive else DatabaseOwner(self.path, self.owner_id)
        )
        self._db: aiosqlite.Connection | None = None
        # One connection is shared by every task: units of work take turns (SQLite has one
        # writer anyway), reads go straight through.
        self._write = _WriteTurns()
        # Urgent jobs (someone waits for the acknowledgement) are written in groups: one
        # transaction for everything queued while the previous one was being written.
        self._queued_jobs: list[
            tuple[str, str, dict[str, Any], datetime, asyncio.Future[bool]]
        ] = []
        self._job_writer: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Storage:
        try:
            await self._open()
        except BaseException:
            await self._close()
            raise
        return self

    async def _open(self) -> None:
        """Open, probe and migrate; every failure a person can fix is one StorageError line."""
        where = self.path
        try:
            if self._owner is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                await asyncio.to_thread(self._owner.acquire)
            self._db = await aiosqlite.connect(self.path, isolation_level=None)
            self._db.row_factory = aiosqlite.Row
            await self._db.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
            await self._db.execute("PRAGMA journal_mode=WAL")
            # With WAL, NORMAL loses nothing when the process dies, only (perhaps) the last
            # commit on a power cut; it halves the cost of each commit.
            await self._db.execute("PRAGMA synchronous=NORMAL")
            await self._db.execute("PRAGMA foreign_keys=ON")
            async with self._db.execute("PRAGMA quick_check") as cur:
                verdict = [row[0] for row in await cur.fetchall()]
            if verdict != ["ok"]:
                raise sqlite3.DatabaseError(f"malformed: {'; '.join(verdict[:3])}")
            await self._migrate()
            await self._probe_write()
        except DatabaseInUse as exc:
            raise StorageError(str(exc)) from None
        except sqlite3.DatabaseError as exc:
            raise StorageError(_database_error(where, exc)) from None
        except OSError as exc:
            raise StorageError(
                f"The database folder {self.path.parent} cannot be used ({exc.strerror or exc}): "
                "give redigest write access to it, or set REDIGEST_DATABASE_PATH to a writable "
                "place."
            ) from None

    async def _probe_write(self) -> None:
        """A read-only file or folder shows only on the first write: find out now, not in the
        middle of someone's digest."""
        async with self.transaction() as db:
            await db.execute("CREATE TABLE IF NOT EXISTS write_probe (x INTEGER)")
            await db.execute("DROP TABLE write_probe")

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._close()

    async def _close(self) -> None:
        if self._job_writer is not None and not self._job_writer.done():
            await asyncio.wait([self._job_writer], timeout=5)
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                await self._db.close()
            self._db = None
        if self._owner is not None:
            await asyncio.to_thread(self._owner.release)

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("Storage used outside `async with`")
        return self._db

    def now(self) -> datetime:
        return self._clock()

    @asynccontextmanager
    async def transaction(self, *, urgent: bool = False) -> AsyncIterator[aiosqlite.Connection]:
        """One unit of work: all of it is written, or none of it. `urgent` units (someone waits
        for the answer) take their turn before background ones."""
        await self._write.acquire(urgent)
        try:
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise
            await self.db.execute("COMMIT")
        finally:
            self._write.release()

    async def _migrate(self) -> None:
        await self.db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        async with self.db.execute("SELECT version FROM schema_migrations") as cur:
            done = {row[0] for row in await cur.fetchall()}
        newest = max(v for v, _, _ in MIGRATIONS)
        if done and max(done) > newest:
            raise StorageError(
                f"The database {self.path} was written by a newer redigest (schema "
                f"{max(done)} > {newest}): upgrade redigest or use another database file."
            )
        for version, name, sql in MIGRATIONS:
            if version in done:
                continue
            async with self.transaction() as db:
                for statement in (s.strip() for s in sql.split(";")):
                    if statement:
                        await db.execute(statement)
                await db.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (version, name, _iso(self.now())),
                )

    async def schema_version(self) -> int:
        async with self.db.execute("SELECT MAX(version) FROM schema_migrations") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    # ------------------------------------------------------------------ server settings

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

    # ------------------------------------------------------------------ subscriptions

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
                " next_run_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    platform,
                    server_id,
                    channel_id,
                    created_by,
                    kind,
                    json.dumps(spec),
                    _iso(next_run_at) if next_run_at else None,
                    _iso(self.now()),
                ),
            )
            return int(cur.lastrowid or 0)

    @staticmethod
    def _subscription(row: aiosqlite.Row) -> SubscriptionRow:
        return SubscriptionRow(
            id=row["id"],
            platform=row["platform"],
            server_id=row["server_id"],
            channel_id=row["channel_id"],
            created_by=row["created_by"],
            kind=row["kind"],
            spec=json.loads(row["spec"]),
            paused=bool(row["paused"]),
            next_run_at=_time(row["next_run_at"]),
            last_run_at=_time(row["last_run_at"]),
            paused_reason=row["paused_reason"],
            source_problem=row["source_problem"],
        )

    async def subscription(self, sub_id: int) -> SubscriptionRow | None:
        async with self.db.execute("SELECT * FROM subscriptions WHERE id = ?", (sub_id,)) as cur:
            row = await cur.fetchone()
        return self._subscription(row) if row else None

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
            return [self._subscription(r) for r in await cur.fetchall()]

    async def delete_subscription(self, sub_id: int) -> None:
        async with self.transaction() as db:
            await db.execute("DELETE FROM candidates WHERE subscription_id = ?", (sub_id,))
            await db.execute("DELETE FROM subscriptions WHERE id = ?", (sub_id,))

    async def set_paused(self, sub_id: int, paused: bool, reason: str | None = None) -> None:
        """Pause or resume; `reason` says why redigest paused it itself (cleared otherwise)."""
        async with self.transaction() as db:
            await db.execute(
                "UPDATE subscriptions SET paused = ?, paused_reason = ? WHERE id = ?",
                (int(paused), reason if paused else None, sub_id),
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
                (
                    _iso(next_run_at) if next_run_at else None,
                    _iso(last_run_at) if last_run_at else None,
                    sub_id,
                ),
            )

    async def schedule_due(
        self, sub_id: int, job_key: str, job_kind: str, payload: dict[str, Any],
        next_run_at: datetime, ran_at: datetime,
    ) -> bool:  # fmt: skip
        """Queue a subscription's run and move its next run, in one transaction (so a crash
        neither loses the run nor queues it twice). False if that run was already queued."""
        async with self.transaction() as db:
            created = await self._insert_job(db, job_key, job_kind, payload, ran_at)
            await db.execute(
                "UPDATE subscriptions SET next_run_at = ?, last_run_at = ? WHERE id = ?",
                (_iso(next_run_at), _iso(ran_at), sub_id),
            )
        return created

    async def earliest_next_run(self) -> datetime | None:
        async with self.db.execute(
            "SELECT MIN(next_run_at) FROM subscriptions "
            "WHERE paused = 0 AND kind = 'schedule' AND next_run_at IS NOT NULL"
        ) as cur:
            row = await cur.fetchone()
        return _time(row[0]) if row else None

    async def due_subscriptions(self, now: datetime) -> list[SubscriptionRow]:
        async with self.db.execute(
            "SELECT * FROM subscriptions WHERE paused = 0 AND kind = 'schedule' "
            "AND next_run_at IS NOT NULL AND next_run_at <= ? ORDER BY next_run_at",
            (_iso(now),),
        ) as cur:
            return [self._subscription(r) for r in await cur.fetchall()]

    # ------------------------------------------------------------------ jobs

    async def _insert_job(
        self,
        db: aiosqlite.Connection,
        key: str,
        kind: str,
        payload: dict[str, Any],
        not_before: datetime,
    ) -> bool:
        now = _iso(self.now())
        cur = await db.execute(
            "INSERT INTO jobs (key, kind, payload, not_before, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
            (key, kind, json.dumps(payload), _iso(not_before), now, now),
        )
        return cur.rowcount == 1

    async def add_job(
        self,
        key: str,
        kind: str,
        payload: dict[str, Any],
        not_before: datetime | None = None,
        *,
        urgent: bool = False,
    ) -> bool:
        """Queue a job; False when a job with this idempotency key exists (it is not redone)."""
        if not urgent:
            async with self.transaction() as db:
                return await self._insert_job(db, key, kind, payload, not_before or self.now())
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queued_jobs.append((key, kind, payload, not_before or self.now(), future))
        if self._job_writer is None or self._job_writer.done():
            self._job_writer = asyncio.create_task(self._write_queued_jobs())
        return await asyncio.shield(future)

    async def _write_queued_jobs(self) -> None:
        while self._queued_jobs:
            batch, self._queued_jobs = self._queued_jobs, []
            try:
                async with self.transaction(urgent=True) as db:
                    created = [
                        await self._insert_job(db, k, kind, p, nb) for k, kind, p, nb, _ in batch
                    ]
            except BaseException as exc:
                for *_, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            for (*_, future), ok in zip(batch, created, strict=True):
                if not future.done():
                    future.set_result(ok)

    @staticmethod
    def _job(row: aiosqlite.Row) -> JobRow:
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
            result=_refs(row["result"]),
            error=row["error"],
            claim_token=row["claim_token"],
        )

    async def job(self, key: str) -> JobRow | None:
        async with self.db.execute("SELECT * FROM jobs WHERE key = ?", (key,)) as cur:
            row = await cur.fetchone()
        return self._job(row) if row else None

    async def jobs(self, status: str | None = None) -> list[JobRow]:
        sql = "SELECT * FROM jobs"
        args: tuple[str, ...] = ()
        if status is not None:
            sql, args = sql + " WHERE status = ?", (status,)
        async with self.db.execute(sql + " ORDER BY id", args) as cur:
            return [self._job(r) for r in await cur.fetchall()]

    async def claim_job(
        self,
        *,
        lease: timedelta = timedelta(seconds=60),
        max_attempts: int = 3,
        max_interruptions: int = 6,
        exclude: Sequence[str] = (),
    ) -> JobRow | None:
        """Claim the oldest runnable job: pending and due, or left running by a run whose claim
        expired (it died, or its bookkeeping failed). The claim lasts `lease` unless renewed by
        `renew_claims`. Attempts are counted here, so a job that kills the process is not run
        for ever: past `max_attempts` it is failed and returned with `gave_up` set, once.
        `exclude` names jobs this process is still running (their claim may have lapsed while
        the database was locked; they are not taken from under themselves)."""
        now = self.now()
        skip = f" AND key NOT IN ({', '.join('?' * len(exclude))})" if exclude else ""
        async with self.transaction() as db:
            async with db.execute(
                "SELECT * FROM jobs WHERE ((status = 'pending' AND not_before <= ?)"
                " OR (status IN ('running', 'posting')"
                "     AND (claimed_until IS NULL OR claimed_until <= ?)))" + skip + ""
                # Interrupted jobs go after the others: one that crashes the process must not
                # hold up the queue behind it, nor its bystanders be interrupted every time.
                " ORDER BY interruptions + (status != 'pending'), not_before, id LIMIT 1",
                (_iso(now), _iso(now), *exclude),
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
                    (error[:500], _iso(now), row["id"]),
                )
                job = self._job(row)
                return replace(job, status="failed", error=error, gave_up=True)
            token = uuid.uuid4().hex
            await db.execute(
                "UPDATE jobs SET status = 'running', attempts = attempts + 1, interruptions = ?,"
                " claimed_by = ?, claimed_until = ?, claim_token = ?, updated_at = ? WHERE id = ?",
                (interruptions, self.owner_id, _iso(now + lease), token, _iso(now), row["id"]),
            )
        return await self.job(row["key"])

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
                (_iso(now + lease), self.owner_id, *keys),
            )
            return cur.rowcount or 0

    async def recover_jobs(self) -> int:
        """At start-up: claims held by earlier processes lapse now (this process owns the
        database, so their owners are gone); the jobs are reclaimed by the workers, their
        attempts counted and capped. Returns how many there were."""
        async with self.transaction() as db:
            cur = await db.execute(
                "UPDATE jobs SET claimed_until = ?, updated_at = ? "
                "WHERE status IN ('running', 'posting')"
                " AND (claimed_by IS NULL OR claimed_by != ?)",
                (_iso(self.now()), _iso(self.now()), self.owner_id),
            )
            return cur.rowcount or 0

    @staticmethod
    def _claimed(token: str | None) -> tuple[str, tuple[str | None, str | None]]:
        """A WHERE clause fragment: the row is still held by this claim (any, without one)."""
        return " AND (? IS NULL OR claim_token = ?)", (token, token)

    async def save_job_report(self, key: str, report: str, token: str | None = None) -> None:
        claimed, args = self._claimed(token)
        async with self.transaction() as db:
            await db.execute(
                "UPDATE jobs SET report = ?, updated_at = ? WHERE key = ?" + claimed,
                (report, _iso(self.now()), key, *args),
            )

    async def mark_posting(self, key: str, token: str | None = None) -> None:
        """The intent to post, recorded before posting: a later attempt of this job will look
        for the message before posting again. Raises ClaimLost when another run holds the job
        now (it, not this one, may post)."""
        claimed, args = self._claimed(token)
        async with self.transaction() as db:
            cur = await db.execute(
                "UPDATE jobs SET status = 'posting', post_attempted = 1, updated_at = ? "
                "WHERE key = ? AND status IN ('running', 'posting')" + claimed,
                (_iso(self.now()), key, *args),
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
                (_refs_text(refs), _iso(self.now()), key, *args),
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
        now = _iso(self.now())
        claimed, args = self._claimed(token)
        async with self.transaction() as db:
            cur = await db.execute(
                "UPDATE jobs SET status = 'done', result = ?, error = NULL, claimed_by = NULL,"
                " claimed_until = NULL, updated_at = ? WHERE key = ?" + claimed,
                (_refs_text(refs), now, key, *args),
            )
            if cur.rowcount != 1:
                raise ClaimLost(key)
            for ref in refs:
                if post_id is None:
                    continue
                await db.execute(
                    "INSERT OR IGNORE INTO posted_messages (platform, channel_id, message_id,"
                    " thread_id, post_id, focus_comment_id, job_key, posted_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        ref.platform,
                        ref.channel_id,
                        ref.message_id,
                        ref.thread_id,
                        post_id,
                        focus_comment_id,
                        key,
                        now,
                    ),
                )
            for pid in thread_posts:
                if refs:
                    await db.execute(
                        "INSERT INTO posted_threads (platform, channel_id, post_id, posted_at) "
                        "VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET posted_at = excluded.posted_at",
                        (refs[0].platform, refs[0].channel_id, pid, now),
                    )

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
                (status, error[:500], _iso(retry_at) if retry_at else None, _iso(self.now()), key,
                 *args),
            )  # fmt: skip
            return cur.rowcount == 1

    # ------------------------------------------------------------------ what was posted

    async def posted_thread_for(self, ref: MessageRef) -> tuple[str, str | None] | None:
        """(post id, focus comment id) of the thread a bot message was about."""
        async with self.db.execute(
            "SELECT post_id, focus_comment_id FROM posted_messages "
            "WHERE platform = ? AND channel_id = ? AND message_id = ?",
            (ref.platform, ref.channel_id, ref.message_id),
        ) as cur:
            row = await cur.fetchone()
        return (row["post_id"], row["focus_comment_id"]) if row else None

    async def recently_posted(self, platform: str, channel_id: str, days: int) -> set[str]:
        since = _iso(self.now() - timedelta(days=days))
        async with self.db.execute(
            "SELECT post_id FROM posted_threads WHERE platform = ? AND channel_id = ? "
            "AND posted_at >= ?",
            (platform, channel_id, since),
        ) as cur:
            return {row["post_id"] for row in await cur.fetchall()}

    # ------------------------------------------------------------------ reaction flags

    async def add_flag(self, ref: MessageRef, user_id: str) -> int:
        """Record one user's flag; returns how many distinct users flagged the message."""
        async with self.transaction() as db:
            await db.execute(
                "INSERT OR IGNORE INTO flags (platform, channel_id, message_id, user_id, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (ref.platform, ref.channel_id, ref.message_id, user_id, _iso(self.now())),
            )
            async with db.execute(
                "SELECT COUNT(*) FROM flags WHERE platform = ? AND channel_id = ? "
                "AND message_id = ?",
                (ref.platform, ref.channel_id, ref.message_id),
            ) as cur:
                row = await cur.fetchone()
        return int(row[0]) if row else 0

    # ------------------------------------------------------------------ report cache

    async def cached_report(self, key: str, max_age: timedelta) -> str | None:
        async with self.db.execute(
            "SELECT report FROM report_cache WHERE key = ? AND created_at >= ?",
            (key, _iso(self.now() - max_age)),
        ) as cur:
            row = await cur.fetchone()
        return row["report"] if row else None

    async def cache_report(self, key: str, report: str) -> None:
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO report_cache (key, report, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET report = excluded.report, "
                "created_at = excluded.created_at",
                (key, report, _iso(self.now())),
            )

    # ------------------------------------------------------------------ usage and spend

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
                    _iso(now),
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

    # ------------------------------------------------------------------ watch candidates

    async def add_candidate(
        self, subscription_id: int, post_id: str, created_at: datetime, next_check_at: datetime
    ) -> bool:
        async with self.transaction() as db:
            cur = await db.execute(
                "INSERT INTO candidates (subscription_id, post_id, created_at, next_check_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (subscription_id, post_id, _iso(created_at), _iso(next_check_at)),
            )
            return cur.rowcount == 1

    async def due_candidates(self, now: datetime, limit: int = 100) -> list[CandidateRow]:
        async with self.db.execute(
            "SELECT * FROM candidates WHERE state = 'waiting' AND next_check_at <= ? "
            "ORDER BY next_check_at LIMIT ?",
            (_iso(now), limit),
        ) as cur:
            rows = await cur.fetchall()
        return [
            CandidateRow(
                subscription_id=r["subscription_id"],
                post_id=r["post_id"],
                created_at=datetime.fromisoformat(r["created_at"]),
                last_score=r["last_score"],
                last_comments=r["last_comments"],
                checks=r["checks"],
                next_check_at=datetime.fromisoformat(r["next_check_at"]),
                state=r["state"],
            )
            for r in rows
        ]

    async def update_candidate(
        self, subscription_id: int, post_id: str, *, score: int, comments: int,
        next_check_at: datetime | None, state: str,
    ) -> None:  # fmt: skip
        async with self.transaction() as db:
            await db.execute(
                "UPDATE candidates SET last_score = ?, last_comments = ?, checks = checks + 1, "
                "next_check_at = COALESCE(?, next_check_at), state = ? "
                "WHERE subscription_id = ? AND post_id = ?",
                (
                    score,
                    comments,
                    _iso(next_check_at) if next_check_at else None,
                    state,
                    subscription_id,
                    post_id,
                ),
            )

    async def earliest_candidate_check(self) -> datetime | None:
        async with self.db.execute(
            "SELECT MIN(next_check_at) FROM candidates WHERE state = 'waiting'"
        ) as cur:
            row = await cur.fetchone()
        return _time(row[0]) if row else None
