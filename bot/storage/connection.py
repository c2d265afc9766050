"""The one connection and its write turns: opening (WAL, start-up probes, migrations), units of
work that take turns (urgent ones first), urgent writes grouped into one transaction, closing.

Every table family (the other modules here) builds on `Database`: reads go straight through
`db`, writes go through `transaction()` (or `write_grouped()` / `write_batched()` when someone
waits for them).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

import aiosqlite

from bot.ownership import DatabaseInUse, DatabaseOwner
from bot.storage.backend import (
    ASYNCPG_MISSING,
    OWNER_LOCK,
    OWNER_LOCKS,
    Conn,
    Notified,
    PgConnection,
    connect_postgres,
    is_postgres_url,
    postgres_error,
    safe_url,
    translate,
)
from bot.storage.errors import StorageError, database_error
from bot.storage.listener import PgListener
from bot.storage.migrations import migrate, migrate_postgres, schema_version

if TYPE_CHECKING:
    import asyncpg

Clock = Callable[[], datetime]
T = TypeVar("T")
A = TypeVar("A")
WriteMany = Callable[[Conn, list[Any]], Awaitable[list[Any]]]


@dataclass(frozen=True, slots=True, eq=False)
class BatchedItem:
    """One item of a batched write: every item of a group with the same `write_many` is written
    by one call to it."""

    write_many: WriteMany
    item: Any


# A unit of work (or a batched item) written with others in one transaction, and the future its
# caller awaits.
GroupedWrite = tuple[Callable[[Conn], Awaitable[Any]] | BatchedItem, "asyncio.Future[Any]"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class WriteTurns:
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


class Database:
    """Use as `async with Storage(path) as db`. One connection, shared by the whole process.

    `path` is a SQLite file (the default engine), or a `postgresql://…` URL (backend.py).

    On SQLite, `exclusive` (the default) makes this process the database's only owner while it
    is open (bot/ownership.py): a second bot on the same file is refused at start-up. On
    PostgreSQL there is no such owner: several processes share the database (job claims are
    leases taken with row locks, so no job is run twice), and `exclusive` does not apply.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        clock: Clock = utcnow,
        exclusive: bool = True,
        busy_timeout_ms: int = 5000,
    ) -> None:
        self.postgres_url = str(path) if is_postgres_url(path) else None
        # SQLite's file; on PostgreSQL only a name (the URL may hold a password: kept apart).
        self.path = Path(safe_url(str(path)).replace("/", "_")) if self.postgres_url else Path(path)
        self._clock = clock
        self._busy_timeout_ms = busy_timeout_ms
        self.owner_id = uuid.uuid4().hex[:12]  # names this process's job claims
        in_memory = str(self.path) == ":memory:"
        self._owner = (
            None
            if in_memory or not exclusive or self.postgres_url
            else DatabaseOwner(self.path, self.owner_id)
        )
        self._db: aiosqlite.Connection | PgConnection | None = None
        self._begin = "BEGIN" if self.postgres_url else "BEGIN IMMEDIATE"
        # One connection is shared by every task: units of work take turns (SQLite has one
        # writer anyway), reads go straight through.
        self._write = WriteTurns()
        # Urgent writes (someone waits for the acknowledgement) are written in groups: one
        # transaction for everything queued while the previous one was being written.
        self._queued_writes: list[GroupedWrite] = []
        self._group_writer: asyncio.Task[None] | None = None
        self._listeners: list[PgListener] = []

    async def __aenter__(self) -> Self:
        try:
            await self._open()
        except BaseException:
            await self._close()
            raise
        return self

    async def _open(self) -> None:
        """Open, probe and migrate; every failure a person can fix is one StorageError line."""
        if self.postgres_url:
            await self._open_postgres(self.postgres_url)
            return
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
            await migrate(self._db, self.transaction, self.now, self.path)
            await self._probe_write()
        except DatabaseInUse as exc:
            raise StorageError(str(exc)) from None
        except sqlite3.DatabaseError as exc:
            raise StorageError(database_error(where, exc)) from None
        except OSError as exc:
            raise StorageError(
                f"The database folder {self.path.parent} cannot be used ({exc.strerror or exc}): "
                "give redigest write access to it, or set REDIGEST_DATABASE_PATH to a writable "
                "place."
            ) from None

    async def _open_postgres(self, url: str) -> None:
        """Connect and migrate (under an advisory lock: processes starting together migrate
        one after the other). No start-up probe: the server checks its own files."""
        try:
            import asyncpg
        except ImportError:
            raise StorageError(ASYNCPG_MISSING) from None
        failures = (
            TimeoutError,
            OSError,
            ValueError,
            asyncpg.PostgresError,
            asyncpg.InterfaceError,
        )
        try:
            pg = await connect_postgres(url, on_connect=self._alive_again)
            self._db = pg
            await migrate_postgres(pg, self.transaction, self.now, safe_url(url))
            await pg.execute(OWNER_LOCK, (OWNER_LOCKS, self.owner_id))  # this process is alive
        except failures as exc:  # ValueError: a malformed URL
            raise StorageError(postgres_error(url, exc)) from None

    async def _alive_again(self, conn: asyncpg.Connection) -> None:
        """The connection was opened again after it was lost: this process's lock that says it
        is alive went with the old one (backend.py), so it is taken again first."""
        await conn.execute(translate(OWNER_LOCK).text, OWNER_LOCKS, self.owner_id)

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

    async def listen(self, channels: Sequence[str], callback: Notified) -> PgListener | None:
        """Hear what other processes `notify` on `channels` (backend.py): `callback(channel,
        payload)` on the event loop, for as long as this Storage is open (or until the
        listener's `close`). A connection of its own, opened again when lost. SQLite: None,
        nothing to hear (one process; its loops wake each other)."""
        if self.postgres_url is None:
            return None
        listener = PgListener(self.postgres_url, channels, callback)
        await listener.start()
        self._listeners.append(listener)
        return listener

    async def _close(self) -> None:
        for listener in self._listeners:
            await listener.close()
        self._listeners = []
        if self._group_writer is not None and not self._group_writer.done():
            await asyncio.wait([self._group_writer], timeout=5)
        if isinstance(self._db, PgConnection):
            with contextlib.suppress(Exception):
                await self._db.close()
        elif self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                await self._db.close()
        self._db = None
        if self._owner is not None:
            await asyncio.to_thread(self._owner.release)

    @property
    def db(self) -> Conn:
        if self._db is None:
            raise RuntimeError("Storage used outside `async with`")
        return self._db

    def now(self) -> datetime:
        return self._clock()

    async def schema_version(self) -> int:
        return await schema_version(self.db)

    @asynccontextmanager
    async def transaction(self, *, urgent: bool = False) -> AsyncIterator[Conn]:
        """One unit of work: all of it is written, or none of it. `urgent` units (someone waits
        for the answer) take their turn before background ones."""
        await self._write.acquire(urgent)
        try:
            try:
                await self.db.execute(self._begin)
            except BaseException:
                # Cancelled (Ctrl-C, a stop) while BEGIN was on its way: it may still run in the
                # database's thread after this, leaving the one connection inside a transaction
                # that the next unit of work cannot begin ("cannot start a transaction within
                # a transaction"). A ROLLBACK queued behind it ends it; none to end is fine.
                with contextlib.suppress(Exception):
                    await asyncio.shield(self.db.execute("ROLLBACK"))
                raise
            try:
                yield self.db
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise
            await self.db.execute("COMMIT")
        finally:
            self._write.release()

    async def write_grouped(self, work: Callable[[Conn], Awaitable[T]]) -> T:
        """An urgent unit of work, written in one transaction with every other one queued while
        the previous group was being written. If one of a group fails, the group is not written
        and each of its callers gets that error."""
        return cast(T, await self._queue_write(work))

    async def write_batched(
        self,
        write_many: Callable[[Conn, list[A]], Awaitable[list[T]]],
        item: A,
    ) -> T:
        """`write_grouped` for one item of many alike (a row to insert): the items of a group
        queued for the same `write_many` are written by one call to it, which returns each one's
        result in order. A group of 200 acknowledgements is then a few statements, not 200 round
        trips to the database thread, each waiting for the event loop's turn."""
        return cast(T, await self._queue_write(BatchedItem(write_many, item)))

    async def _queue_write(self, work: Callable[[Conn], Awaitable[Any]] | BatchedItem) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queued_writes.append((work, future))
        if self._group_writer is None or self._group_writer.done():
            self._group_writer = asyncio.create_task(self._write_groups())
        return await future  # cancelled, the caller's future is skipped; its group is written

    async def _write_groups(self) -> None:
        while self._queued_writes:
            batch, self._queued_writes = self._queued_writes, []
            try:
                async with self.transaction(urgent=True) as db:
                    results = await _write_group(db, [work for work, _ in batch])
            except BaseException as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)


async def _write_group(
    db: Conn,
    works: list[Callable[[Conn], Awaitable[Any]] | BatchedItem],
) -> list[Any]:
    """Each work's result, in order. Batched items are written together, where the first of
    their kind was queued."""
    many: dict[WriteMany, tuple[list[int], list[Any]]] = {}
    for i, work in enumerate(works):
        if isinstance(work, BatchedItem):
            where, items = many.setdefault(work.write_many, ([], []))
            where.append(i)
            items.append(work.item)
    results: list[Any] = [None] * len(works)
    for i, work in enumerate(works):
        if not isinstance(work, BatchedItem):
            results[i] = await work(db)
            continue
        where, items = many[work.write_many]
        if where[0] == i:
            for j, result in zip(where, await work.write_many(db, items), strict=True):
                results[j] = result
    return results
