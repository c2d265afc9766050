"""The schema, as numbered migrations recorded in `schema_migrations`: each is applied once, in
its own transaction, in order. A recorded migration is never edited: a change is a new one.

One list for both engines: the SQL is written once, in SQLite's words; for PostgreSQL the few
column types that differ are said in `POSTGRES_TYPES` (applied to every migration). On
PostgreSQL the migrations run under an advisory lock: processes starting together migrate one
after the other, and each migration is applied once.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from pathlib import Path

from bot.storage.backend import Conn, PgConnection
from bot.storage.errors import StorageError
from bot.storage.values import iso

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
    (
        7,
        "a subscription's failed runs in a row (it pauses itself after a few); usage per channel "
        "and subscription",
        """
        ALTER TABLE subscriptions ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE usage ADD COLUMN channel_id TEXT;
        ALTER TABLE usage ADD COLUMN subscription_id INTEGER;
        """,
    ),
    (
        8,
        "leader leases: which process runs the scheduler and the watcher (one across processes)",
        """
        CREATE TABLE leaders (
            role TEXT PRIMARY KEY, owner TEXT NOT NULL, term INTEGER NOT NULL, until TEXT NOT NULL
        );
        """,
    ),
    (
        9,
        "rate limits shared by the processes: sliding-window hits per bucket, Reddit's holds, "
        "and spend reserved by the analyses under way",
        """
        CREATE TABLE rate_hits (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            bucket TEXT NOT NULL, at REAL NOT NULL, expires REAL NOT NULL
        );
        CREATE INDEX rate_hits_bucket ON rate_hits (bucket, at);
        CREATE INDEX rate_hits_expires ON rate_hits (expires);
        CREATE TABLE quota_holds (name TEXT PRIMARY KEY, until REAL NOT NULL);
        ALTER TABLE usage ADD COLUMN reserved INTEGER NOT NULL DEFAULT 0;
        """,
    ),
]


# SQLite's words → PostgreSQL's, where they differ. Identities are BY DEFAULT (not ALWAYS) so a
# copied database keeps its ids; REAL is a double in SQLite, a single in PostgreSQL.
POSTGRES_TYPES = {
    "INTEGER PRIMARY KEY AUTOINCREMENT": "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    " REAL ": " DOUBLE PRECISION ",
}

# Who migrates a PostgreSQL database: one process at a time (any constant of ours will do).
MIGRATION_LOCK = 0x7265646967  # "redig"


def for_postgres(sql: str) -> str:
    for sqlite_words, postgres_words in POSTGRES_TYPES.items():
        sql = sql.replace(sqlite_words, postgres_words)
    return sql


async def migrate_postgres(
    db: PgConnection,
    transaction: Callable[[], AbstractAsyncContextManager[Conn]],
    now: Callable[[], datetime],
    where: str,
) -> None:
    """`migrate` under the migration lock (held by this session until it is unlocked, or the
    connection ends)."""
    await db.execute("SELECT pg_advisory_lock(?)", (MIGRATION_LOCK,))
    try:
        await migrate(db, transaction, now, where, postgres=True)
    finally:
        await db.execute("SELECT pg_advisory_unlock(?)", (MIGRATION_LOCK,))


async def migrate(
    db: Conn,
    transaction: Callable[[], AbstractAsyncContextManager[Conn]],
    now: Callable[[], datetime],
    path: Path | str,
    *,
    postgres: bool = False,
) -> None:
    """Apply the migrations this database has not recorded yet; refuse one written by a newer
    redigest."""
    await db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    async with db.execute("SELECT version FROM schema_migrations") as cur:
        done = {row[0] for row in await cur.fetchall()}
    newest = max(v for v, _, _ in MIGRATIONS)
    if done and max(done) > newest:
        raise StorageError(
            f"The database {path} was written by a newer redigest (schema "
            f"{max(done)} > {newest}): upgrade redigest or use another database file."
        )
    for version, name, sql in MIGRATIONS:
        if version in done:
            continue
        async with transaction() as tx:
            for statement in (
                s.strip() for s in (for_postgres(sql) if postgres else sql).split(";")
            ):
                if statement:
                    await tx.execute(statement)
            await tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (version, name, iso(now())),
            )


async def schema_version(db: Conn) -> int:
    async with db.execute("SELECT MAX(version) FROM schema_migrations") as cur:
        row = await cur.fetchone()
    return int(row[0]) if row and row[0] is not None else 0
