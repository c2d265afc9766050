"""`redigest migrate-db SOURCE TARGET`: copy a SQLite database into an empty PostgreSQL one.

SOURCE is `sqlite:///abs/path` or `sqlite:relative/path`, TARGET `postgresql://…`. The source is
only read: it must be at this redigest's schema (an older one: start this redigest on it once,
which migrates it), and no bot may own it while it is copied (its owner lock, bot/ownership.py,
is held for the copy). The target is migrated to the same schema, then every table is copied
with its ids (subscription numbers and job keys stay), the identity sequences are moved past
the copied ids (and past any id SQLite handed out and then deleted), and the row counts are
checked, all in one transaction: on any error the target is left as it was.

Jobs are copied with their claims cleared: a job the stopped bot was running is taken by the
first worker, counted as an interruption, as after any restart (a job caught mid-post keeps its
intent to post, so it is looked up before it is posted again).

Every failure a person can fix is one line (`MigrationError`); the CLI exits 2 with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import aiosqlite

from bot.ownership import DatabaseInUse, DatabaseOwner
from bot.storage.backend import (
    OWNER_LOCKS,
    Conn,
    PgConnection,
    is_postgres_url,
    postgres_error,
    safe_url,
)
from bot.storage.errors import StorageError
from bot.storage.migrations import MIGRATION_LOCK, MIGRATIONS, migrate

if TYPE_CHECKING:
    import asyncpg

BATCH_ROWS = 5_000  # rows read from SQLite and sent with one COPY


class MigrationError(Exception):
    """The copy cannot be made; the message says why and what to do, in one line."""


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    identity: bool = False  # an `id` the database hands out (a sequence on PostgreSQL)
    cleared: tuple[str, ...] = ()  # columns copied as NULL


# Every table of the schema (bot/storage/migrations.py) but schema_migrations, which the target
# writes itself (tests/test_migrate_db.py checks the list is complete). No foreign keys: any
# order will do.
TABLES: tuple[Table, ...] = (
    Table("server_settings"),
    Table("subscriptions", identity=True),
    Table("jobs", identity=True, cleared=("claimed_by", "claimed_until", "claim_token")),
    Table("posted_messages"),
    Table("posted_threads"),
    Table("flags"),
    Table("report_cache"),
    Table("candidates"),
    Table("usage", identity=True),
    # The leader lease of the stopped SQLite process: lapsed (handed over on a clean stop), or
    # lapsing within its lease (bot/core/leader.py).
    Table("leaders"),
    # Rate-limit hits and Reddit's holds: those still in their windows keep counting.
    Table("rate_hits", identity=True),
    Table("quota_holds"),
)

URL_HINT = "write sqlite:///absolute/path or sqlite:relative/path, and postgresql://user@host/db"


def sqlite_path(url: str) -> Path:
    """The file of `sqlite:///abs/path` or `sqlite:relative/path`."""
    if url.startswith("sqlite:///"):
        return Path("/" + url.removeprefix("sqlite:///").lstrip("/"))
    if url.startswith("sqlite:") and not url.startswith("sqlite://"):
        rest = url.removeprefix("sqlite:")
        if rest:
            return Path(rest)
    raise MigrationError(f"SOURCE {url!r} is not a SQLite database URL: {URL_HINT}.")


def check_target(url: str) -> str:
    if is_postgres_url(url):
        return url
    if url.startswith("sqlite:"):
        raise MigrationError(
            "TARGET must be a PostgreSQL database: migrate-db copies SQLite into PostgreSQL "
            "(the other way round is not built)."
        )
    shown = safe_url(url) if "@" in url else url
    raise MigrationError(f"TARGET {shown!r} is not a PostgreSQL database URL: {URL_HINT}.")


def newest_schema() -> int:
    return max(version for version, _, _ in MIGRATIONS)


@dataclass(frozen=True, slots=True)
class Copied:
    table: str
    rows: int


@dataclass(frozen=True, slots=True)
class Result:
    source: Path
    target: str  # without its password
    schema: int
    tables: tuple[Copied, ...]
    seconds: float

    def lines(self) -> list[str]:
        total = sum(t.rows for t in self.tables)
        width = max(len(t.table) for t in self.tables)
        return [
            f"Copied {self.source} (schema {self.schema}) into {self.target}: "
            f"{total} rows in {self.seconds:.1f} s.",
            *(f"  {t.table:<{width}}  {t.rows:>9}" for t in self.tables),
        ]


async def migrate_db(source_url: str, target_url: str) -> Result:
    """Copy SOURCE into TARGET, or raise MigrationError with the reason."""
    started = time.monotonic()
    source = sqlite_path(source_url)
    target = check_target(target_url)
    file = await asyncio.to_thread(_existing, source)
    owner = DatabaseOwner(source, "migrate-db")
    try:
        await asyncio.to_thread(owner.acquire)
    except DatabaseInUse:
        raise MigrationError(
            f"The database {source} is in use by a running redigest ({owner._describe_owner()}): "
            "stop it first (its jobs stay in the file), then copy."
        ) from None
    except OSError as exc:
        raise MigrationError(
            f"The database {source} cannot be locked ({exc.strerror or exc}): run migrate-db as "
            "a user who may write in its folder."
        ) from None
    try:
        async with _read_only(source, file) as reader:
            schema = await _source_schema(reader, source)
            counts = await _copy(reader, target)
    finally:
        await asyncio.to_thread(owner.release)
    return Result(source, safe_url(target), schema, counts, time.monotonic() - started)


def _existing(path: Path) -> str:
    """The read-only URI of the SQLite file at `path`."""
    if not path.is_file():
        raise MigrationError(f"There is no SQLite database at {path}: check SOURCE.")
    return f"file:{quote(str(path.resolve()))}?mode=ro"


@contextlib.asynccontextmanager
async def _read_only(path: Path, uri: str) -> AsyncIterator[aiosqlite.Connection]:
    try:
        db = await aiosqlite.connect(uri, uri=True)
    except aiosqlite.Error as exc:
        raise MigrationError(f"The database {path} cannot be read ({exc}).") from None
    try:
        yield db
    except aiosqlite.Error as exc:
        raise MigrationError(f"The database {path} cannot be read ({exc}).") from None
    finally:
        await db.close()


async def _source_schema(db: aiosqlite.Connection, path: Path) -> int:
    try:
        async with db.execute("SELECT MAX(version) FROM schema_migrations") as cur:
            row = await cur.fetchone()
    except aiosqlite.DatabaseError as exc:
        raise MigrationError(f"{path} is not a redigest database ({exc}).") from None
    version = int(row[0]) if row and row[0] is not None else 0
    newest = newest_schema()
    if version > newest:
        raise MigrationError(
            f"The database {path} was written by a newer redigest (schema {version} > {newest}): "
            "run migrate-db of that version."
        )
    if version < newest:
        raise MigrationError(
            f"The database {path} has schema {version}, this redigest copies schema {newest}: "
            "upgrade it first by starting this redigest on it once (then stop it), and copy again."
        )
    return version


async def _copy(reader: aiosqlite.Connection, url: str) -> tuple[Copied, ...]:
    try:
        import asyncpg
    except ImportError:
        raise MigrationError(
            "migrate-db needs asyncpg to write PostgreSQL: pip install 'redigest[postgres]'."
        ) from None
    failures = (TimeoutError, OSError, ValueError, asyncpg.PostgresError, asyncpg.InterfaceError)
    try:
        conn = await asyncpg.connect(url, timeout=15)
    except failures as exc:
        raise MigrationError(postgres_error(url, exc)) from None
    try:
        async with conn.transaction():
            return await _copy_in_transaction(reader, conn, url)
    except StorageError as exc:
        raise MigrationError(str(exc)) from None
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise MigrationError(postgres_error(url, exc)) from None
    finally:
        await conn.close()


async def _copy_in_transaction(
    reader: aiosqlite.Connection, conn: asyncpg.Connection, url: str
) -> tuple[Copied, ...]:
    where = safe_url(url)
    # A redigest starting on the target meanwhile waits here, then finds it migrated.
    await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
    await _refuse_busy_target(conn, where)
    pg = PgConnection(conn)

    @contextlib.asynccontextmanager
    async def within() -> AsyncIterator[Conn]:
        yield pg  # each migration in this one transaction

    await migrate(pg, within, lambda: datetime.now(UTC), where, postgres=True)
    sequences = await _sqlite_sequences(reader)
    copied = []
    for table in TABLES:
        rows = await _copy_table(reader, conn, table)
        on_target = await conn.fetchval(f"SELECT COUNT(*) FROM {table.name}")
        if on_target != rows:
            raise MigrationError(
                f"{table.name}: {rows} rows read but {on_target} written: nothing was copied."
            )
        if table.identity:
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'),"
                f" GREATEST(COALESCE(MAX(id), 0), $1) + 1, false) FROM {table.name}",
                sequences.get(table.name, 0),
            )
        copied.append(Copied(table.name, rows))
    return tuple(copied)


async def _refuse_busy_target(conn: asyncpg.Connection, where: str) -> None:
    """No redigest runs on the target, and its redigest tables (if any) hold no row."""
    running = await conn.fetchval(
        "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = $1"
        " AND objsubid = 2"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        OWNER_LOCKS,
    )
    if running:
        raise MigrationError(
            f"{running} redigest process(es) use {where}: stop them, then copy into it."
        )
    held = []
    for table in TABLES:
        if await conn.fetchval(
            "SELECT to_regclass($1) IS NOT NULL", table.name
        ) and await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {table.name})"):
            held.append(table.name)
    if held:
        names = ", ".join(t.name for t in TABLES)
        raise MigrationError(
            f"The database {where} already holds redigest data (in {', '.join(held)}) and "
            f"migrate-db copies only into an empty one: empty it (TRUNCATE {names};) or create "
            "a new database, then copy again."
        )


async def _sqlite_sequences(reader: aiosqlite.Connection) -> dict[str, int]:
    """The highest id SQLite handed out per table (deleted rows included: ids are not reused)."""
    try:
        rows = await reader.execute_fetchall("SELECT name, seq FROM sqlite_sequence")
    except aiosqlite.OperationalError:  # no AUTOINCREMENT row written yet
        return {}
    return {str(name): int(seq) for name, seq in rows}


def _converter(data_type: str) -> tuple[type, Callable[[Any], Any]]:
    if data_type in ("integer", "bigint", "smallint"):
        return int, int
    if data_type in ("double precision", "real", "numeric"):
        return float, float
    return str, str


async def _copy_table(reader: aiosqlite.Connection, conn: asyncpg.Connection, table: Table) -> int:
    async with reader.execute(f"PRAGMA table_info({table.name})") as cur:
        columns = [str(row[1]) for row in await cur.fetchall()]
    types = {
        str(r["column_name"]): str(r["data_type"])
        for r in await conn.fetch(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = $1",
            table.name,
        )
    }
    if set(columns) != set(types):
        raise MigrationError(
            f"The table {table.name} has other columns in the source ({', '.join(columns)}) than "
            f"in the target ({', '.join(types)}): nothing was copied."
        )
    kinds = [_converter(types[c]) for c in columns]
    selected = ", ".join(f"NULL AS {c}" if c in table.cleared else c for c in columns)
    copied = 0
    async with reader.execute(f"SELECT {selected} FROM {table.name} ORDER BY rowid") as cur:
        batch = list(await cur.fetchmany(BATCH_ROWS))
        while batch:
            # The next batch is read from SQLite (its thread) while this one is sent.
            reading = asyncio.ensure_future(_fetch(cur))
            try:
                await _send(conn, table.name, columns, kinds, batch)
            except BaseException:
                reading.cancel()
                with contextlib.suppress(BaseException):
                    await reading
                raise
            copied += len(batch)
            batch = await reading
    return copied


async def _fetch(cur: aiosqlite.Cursor) -> list[Any]:
    return list(await cur.fetchmany(BATCH_ROWS))


async def _send(
    conn: asyncpg.Connection,
    table: str,
    columns: list[str],
    kinds: list[tuple[type, Callable[[Any], Any]]],
    batch: Sequence[Sequence[Any]],
) -> None:
    """One COPY of `batch` as SQLite gave it; if a value is not of its column's type (SQLite's
    types are per value), that batch again with each value converted to it."""
    import asyncpg

    try:
        async with conn.transaction():  # a savepoint: a failed COPY is undone alone
            await conn.copy_records_to_table(table, records=batch, columns=columns)
    except (asyncpg.DataError, TypeError, ValueError):
        records = [_record(row, kinds, table) for row in batch]
        await conn.copy_records_to_table(table, records=records, columns=columns)


def _record(
    row: Sequence[Any],
    kinds: list[tuple[type, Callable[[Any], Any]]],
    table: str,
) -> tuple[Any, ...]:
    """A SQLite row as PostgreSQL's column types want it (SQLite's types are per value)."""
    try:
        return tuple(
            None if value is None else value if type(value) is kind else convert(value)
            for value, (kind, convert) in zip(row, kinds, strict=True)
        )
    except (TypeError, ValueError) as exc:
        raise MigrationError(
            f"A row of {table} holds a value PostgreSQL's column cannot take ({exc}): nothing "
            "was copied."
        ) from None
