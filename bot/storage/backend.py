"""The seam between the table families and the database engine: the small part of aiosqlite's
connection API they use (`Conn`), and the same API on a PostgreSQL connection (`PgConnection`,
asyncpg), so every module's SQL and code run unchanged on both.

The SQL is written once, with `?` placeholders; for PostgreSQL each statement is translated to
`$1, $2, …` once and cached. What differs between the engines is said here and in
connection.py / migrations.py, nowhere else: how a transaction begins, the column types of the
schema, what start-up checks, and wake-ups across processes (`notify` in a transaction;
listener.py hears them; SQLite has one process: nothing to say across).

asyncpg is imported only when a PostgreSQL URL is used (the `[postgres]` extra): SQLite, the
default, needs nothing more.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import asyncpg

log = logging.getLogger(__name__)

# A row: a sqlite3.Row or an asyncpg.Record, read by column name or by position.
Row: TypeAlias = Any

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(where: object) -> bool:
    return isinstance(where, str) and where.startswith(POSTGRES_SCHEMES)


def safe_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]  # host[:port], as written
    user = f"{parts.username}@" if parts.username else ""
    return f"{parts.scheme}://{user}{host}{parts.path}"


# Which processes are alive on PostgreSQL: each holds, for as long as its connection lives, an
# advisory lock named by its owner id (OWNER_LOCK, taken at open); a process that died lost its
# connection and so its lock. ALIVE_SQL is true when the owner of a row's claim still holds it.
OWNER_LOCKS = 0x7264  # the lock namespace (the first of the two keys)
OWNER_LOCK = "SELECT pg_advisory_lock(?, hashtext(?))"
ALIVE_SQL = (
    "claimed_by IS NOT NULL AND EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'"
    f" AND granted AND classid = {OWNER_LOCKS} AND objid = hashtext(claimed_by)::oid"
    " AND objsubid = 2)"
)


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    @property
    def lastrowid(self) -> int | None: ...

    async def fetchone(self) -> Row | None: ...

    async def fetchall(self) -> Iterable[Row]: ...


class Pending(Protocol):
    """What `execute` returns: awaited for its cursor, or used as `async with … as cur`."""

    def __await__(self) -> Generator[Any, None, Cursor]: ...

    async def __aenter__(self) -> Cursor: ...

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any, /) -> Any: ...


class Conn(Protocol):
    """The connection API the table families use: aiosqlite.Connection has it, and so has
    PgConnection."""

    def execute(self, sql: str, parameters: Iterable[Any] | None = None, /) -> Pending: ...

    def execute_fetchall(
        self, sql: str, parameters: Iterable[Any] | None = None, /
    ) -> Awaitable[Iterable[Row]]: ...


@dataclass(frozen=True, slots=True)
class Translated:
    text: str
    returns_rows: bool


_PLACEHOLDER = re.compile(r"'(?:[^']|'')*'|\?")  # string literals are skipped whole
_RETURNS_ROWS = re.compile(r"^\s*(SELECT|WITH|VALUES|SHOW)\b|\bRETURNING\b", re.IGNORECASE)


@lru_cache(maxsize=1024)
def translate(sql: str) -> Translated:
    """`?` placeholders as PostgreSQL's `$n` (once per distinct statement)."""
    count = 0

    def number(match: re.Match[str]) -> str:
        nonlocal count
        if match.group(0) != "?":
            return match.group(0)
        count += 1
        return f"${count}"

    return Translated(_PLACEHOLDER.sub(number, sql), bool(_RETURNS_ROWS.search(sql)))


class PgCursor:
    """The result of one statement: its rows (if it returns any) and how many rows it touched."""

    __slots__ = ("_rows", "lastrowid", "rowcount")

    def __init__(self, rows: Sequence[Row], rowcount: int) -> None:
        self._rows = list(rows)
        self.rowcount = rowcount
        self.lastrowid: int | None = None  # PostgreSQL has none: write `RETURNING id`

    async def fetchone(self) -> Row | None:
        return self._rows.pop(0) if self._rows else None

    async def fetchall(self) -> list[Row]:
        rows, self._rows = self._rows, []
        return rows


class PgPending:
    __slots__ = ("_coro",)

    def __init__(self, coro: Coroutine[Any, Any, PgCursor]) -> None:
        self._coro = coro

    def __await__(self) -> Generator[Any, None, PgCursor]:
        return self._coro.__await__()

    async def __aenter__(self) -> PgCursor:
        return await self._coro

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any, /) -> None:
        return None


def _rowcount(status: str) -> int:
    """The count at the end of a command tag: 'UPDATE 3', 'INSERT 0 1', 'DELETE 0'."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else -1


class PgConnection:
    """One asyncpg connection behind the `Conn` API. Its statements run one at a time (asyncpg
    refuses overlapping ones; aiosqlite queues them on its thread): a read issued while a
    transaction is open runs in it, as on SQLite's single connection.

    With its `url`, a connection that was lost (the server restarted, the session was ended, the
    network broke) is opened again by the next statement that needs it, and `on_connect` runs on
    the new one first. The transaction that was open on the lost connection is gone: its
    statements fail until its ROLLBACK (which succeeds: there is nothing left to roll back), so
    that unit of work fails once and the next one runs on the new connection. While the server
    cannot be reached, attempts are spaced out (`retry`: the first and longest pause), and each
    statement in between fails at once."""

    def __init__(
        self,
        conn: asyncpg.Connection,
        url: str | None = None,
        *,
        on_connect: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
        retry: tuple[float, float] = (0.2, 15.0),
    ) -> None:
        self.conn = conn
        self.url = url
        self.on_connect = on_connect
        self.retry = retry
        self.reconnects = 0  # how many times the connection was opened again
        self._turn = asyncio.Lock()
        self._in_transaction = False
        self._pause = retry[0]
        self._next_attempt = 0.0  # loop time before which no new attempt is made

    def execute(self, sql: str, parameters: Iterable[Any] | None = None, /) -> PgPending:
        return PgPending(self._run(sql, tuple(parameters or ())))

    async def execute_fetchall(
        self, sql: str, parameters: Iterable[Any] | None = None, /
    ) -> list[Row]:
        return await (await self._run(sql, tuple(parameters or ()))).fetchall()

    async def script(self, sql: str) -> None:
        """Statements without parameters, as one round trip (the schema)."""
        async with self._turn:
            await self.conn.execute(sql)

    async def _run(self, sql: str, args: tuple[Any, ...]) -> PgCursor:
        query = translate(sql)
        control = query.text.strip().upper()
        async with self._turn:
            if self.conn.is_closed():
                ended = control in ("COMMIT", "ROLLBACK")
                if self._in_transaction and not ended:
                    raise ConnectionError(LOST_IN_TRANSACTION)
                if control == "ROLLBACK":  # of a transaction the lost connection took with it
                    self._in_transaction = False
                    return PgCursor([], 0)
                if self._in_transaction:  # its COMMIT: the transaction is lost
                    self._in_transaction = False
                    raise ConnectionError(LOST_IN_TRANSACTION)
                await self._reconnect()
            try:
                if query.returns_rows:
                    rows = await self.conn.fetch(query.text, *args)
                    return PgCursor(rows, len(rows))
                status = await self.conn.execute(query.text, *args)
            except BaseException:
                if self.conn.is_closed() and control in ("COMMIT", "ROLLBACK"):
                    self._in_transaction = False
                    if control == "ROLLBACK":
                        return PgCursor([], 0)
                raise
            if control == "BEGIN":
                self._in_transaction = True
            elif control in ("COMMIT", "ROLLBACK"):
                self._in_transaction = False
        return PgCursor([], _rowcount(status))

    async def _reconnect(self) -> None:
        """Open the lost connection again (the turn is held). Raises when it cannot be, and
        until the next attempt is due."""
        import asyncpg

        if self.url is None:
            raise ConnectionError("the connection to PostgreSQL was lost")
        where = safe_url(self.url)
        loop = asyncio.get_running_loop()
        if loop.time() < self._next_attempt:
            raise ConnectionError(
                f"the PostgreSQL server at {where} cannot be reached; trying again shortly"
            )
        log.warning("the connection to PostgreSQL (%s) was lost; opening it again", where)
        try:
            conn = await asyncpg.connect(self.url, timeout=10)
            try:
                if self.on_connect is not None:
                    await self.on_connect(conn)
            except BaseException:
                await conn.close()
                raise
        except Exception as exc:
            self._next_attempt = loop.time() + self._pause
            log.warning("opening the connection to PostgreSQL (%s) again failed (%s: %s); "
                        "next try in %.1f s", where, type(exc).__name__, exc, self._pause)  # fmt: skip
            self._pause = min(self._pause * 2, self.retry[1])
            raise
        self.conn, self._pause, self._next_attempt = conn, self.retry[0], 0.0
        self._in_transaction = False
        self.reconnects += 1
        log.info("connected to PostgreSQL (%s) again", where)

    async def close(self) -> None:
        await self.conn.close()


ASYNCPG_MISSING = (
    "REDIGEST_DATABASE_URL names a PostgreSQL database, but asyncpg is not installed: "
    "pip install 'redigest[postgres]'."
)


LOST_IN_TRANSACTION = "the connection to PostgreSQL was lost during this transaction"


async def connect_postgres(
    url: str, on_connect: Callable[[asyncpg.Connection], Awaitable[None]] | None = None
) -> PgConnection:
    """A connection to `url`, opened again when it is lost (`on_connect` then runs on the new one
    before anything else)."""
    import asyncpg

    return PgConnection(await asyncpg.connect(url), url, on_connect=on_connect)


def postgres_error(url: str, exc: BaseException) -> str:
    """One line a person can act on, for a PostgreSQL database that cannot be used (the URL is
    shown without its password)."""
    where = safe_url(url)
    name = type(exc).__name__
    if isinstance(exc, OSError | TimeoutError):
        return (
            f"The PostgreSQL server at {where} cannot be reached ({exc}): start it, or check "
            "REDIGEST_DATABASE_URL."
        )
    if name == "InvalidCatalogNameError":
        return f"The database of {where} does not exist: create it (createdb), then start again."
    if name in ("InvalidPasswordError", "InvalidAuthorizationSpecificationError"):
        return f"PostgreSQL refused the login for {where}: check the user and password."
    if name == "InsufficientPrivilegeError":
        return (
            f"The user of {where} may not change the database ({exc}): grant it the rights on "
            "its schema, or use another user."
        )
    return f"The PostgreSQL database {where} cannot be used ({name}: {exc})."


# Wake-ups across processes (PostgreSQL): a job queued, a subscription changed.
JOBS_CHANNEL = "redigest_jobs"
SCHEDULE_CHANNEL = "redigest_schedule"
SETTINGS_CHANNEL = "redigest_settings"  # a server's settings changed: read them again
Notified = Callable[[str, str], None]  # (channel, payload); payload "" after a reconnect


async def notify(db: Conn, channel: str, payload: str) -> None:
    """Inside a transaction: on PostgreSQL, every process listening on `channel` hears `payload`
    when the transaction commits (never for one rolled back; the same payload twice in one
    transaction is heard once). On SQLite nothing: its one process wakes its own loops."""
    if isinstance(db, PgConnection):
        await db.execute("SELECT pg_notify(?, ?)", (channel, payload))
