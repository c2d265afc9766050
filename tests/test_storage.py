"""The database: migrations recorded and applied at start-up, clear errors when it is unusable."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bot.ports import ThreadRef
from bot.storage import MIGRATIONS, Storage, StorageError
from digest.model import Thread
from digest.report import Depth
from tests.support.harness import Harness


async def test_a_new_database_gets_every_migration(tmp_path: Path) -> None:
    async with Storage(tmp_path / "db" / "new.sqlite3") as db:
        assert await db.schema_version() == max(v for v, _, _ in MIGRATIONS)
        async with db.db.execute("PRAGMA journal_mode") as cur:
            row = await cur.fetchone()
        assert row is not None
        assert row[0] == "wal"


async def test_an_older_database_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    con = sqlite3.connect(path)
    con.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at TEXT)"
    )
    version, name, sql = MIGRATIONS[0]
    con.executescript(sql)
    con.execute("INSERT INTO schema_migrations VALUES (?, ?, 'then')", (version, name))
    con.execute(
        "INSERT INTO subscriptions (platform, server_id, channel_id, created_by, kind, spec, created_at)"
        " VALUES ('x', 's', 'c', 'u', 'watch', '{}', 'then')"
    )
    con.commit()
    con.close()
    async with Storage(path) as db:
        assert await db.schema_version() == max(v for v, _, _ in MIGRATIONS) == 9
        [sub] = await db.subscriptions()  # data kept, the new column empty
        assert sub.paused_reason is None
        async with db.db.execute(
            "SELECT name FROM sqlite_master WHERE name = 'subscriptions_due'"
        ) as cur:
            assert await cur.fetchone() is not None


async def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    async with Storage(path):
        pass
    con = sqlite3.connect(path)
    con.execute("INSERT INTO schema_migrations VALUES (99, 'future', 'later')")
    con.commit()
    con.close()
    with pytest.raises(StorageError, match="newer redigest"):
        async with Storage(path):
            pass


async def test_a_corrupt_file_stops_start_up_clearly(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.sqlite3"
    path.write_bytes(b"this is not a database, just text" * 200)
    with pytest.raises(StorageError, match="damaged or not a SQLite file"):
        async with Storage(path):
            pass


async def test_an_unwritable_place_stops_start_up_clearly(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(StorageError, match="REDIGEST_DATABASE_PATH"):
        async with Storage(blocker / "db.sqlite3"):
            pass


async def test_a_failed_unit_of_work_leaves_nothing(db_where: Path | str) -> None:
    async with Storage(db_where) as db:

        async def failing_unit() -> None:
            async with db.transaction() as con:
                await con.execute("INSERT INTO server_settings VALUES ('p', 's', 'k', 'v')")
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            await failing_unit()
        assert await db.get_settings("p", "s") == {}
        assert await db.add_job("k1", "digest", {}) is True
        assert await db.add_job("k1", "digest", {}) is False  # idempotency key


async def test_urgent_writes_go_first(db_where: Path | str) -> None:
    import asyncio

    order: list[str] = []
    async with Storage(db_where) as db:

        async def unit(name: str, urgent: bool) -> None:
            async with db.transaction(urgent=urgent):
                order.append(name)
                await asyncio.sleep(0.01)

        first = asyncio.create_task(unit("holder", False))
        await asyncio.sleep(0)
        tasks = [asyncio.create_task(unit(f"bg{i}", False)) for i in range(3)]
        await asyncio.sleep(0)
        tasks.append(asyncio.create_task(unit("ack", True)))
        cancelled = asyncio.create_task(unit("gone", False))
        await asyncio.sleep(0)
        cancelled.cancel()
        await asyncio.gather(first, *tasks)
        assert order[0] == "holder"
        assert order[1] == "ack"
        assert order[2:] == ["bg0", "bg1", "bg2"]
        async with db.transaction():  # the lock is free again
            pass


async def test_urgent_jobs_are_written_in_groups(db_where: Path | str) -> None:
    import asyncio

    async with Storage(db_where) as db:
        results = await asyncio.gather(
            *(db.add_job(f"k{i % 50}", "digest", {"i": i}, urgent=True) for i in range(100))
        )
        assert results.count(True) == 50  # each key once, whatever the grouping
        assert len(await db.jobs()) == 50


async def test_marking_a_post_renews_the_claim(db_where: Path | str) -> None:
    """The post starts with a whole lease ahead of it: a job taken over while its post is on
    its way would be posted twice (another process finds nothing posted yet)."""
    from datetime import UTC, datetime, timedelta

    from bot.storage import ClaimLost

    now = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    lease = timedelta(seconds=10)
    async with Storage(db_where, clock=lambda: now) as db:
        await db.add_job("k", "digest", {})
        job = await db.claim_job(lease=lease)
        assert job is not None
        now += timedelta(seconds=8)  # the analysis took most of the lease
        await db.mark_posting("k", job.claim_token, lease)  # the claim runs to 9:00:18 now
        now += timedelta(seconds=4)  # past the first lease, within the renewed one
        assert await db.claim_job(lease=lease) is None
        now += timedelta(seconds=7)  # the renewed lease lapsed too: taken over
        again = await db.claim_job(lease=lease)
        assert again is not None
        assert again.claim_token != job.claim_token
        with pytest.raises(ClaimLost):  # the renewal is fenced like the mark
            await db.mark_posting("k", job.claim_token, lease)


async def test_a_digest_posts_with_a_whole_lease_ahead(h: Harness) -> None:
    """The core renews the claim with its configured lease when it marks the post."""
    fetch = h.source.fetch_thread

    async def slow_fetch(ref: ThreadRef, depth: Depth) -> Thread:
        h.clock.advance(seconds=50)  # Reddit was slow: most of the 60 s lease is gone
        return await fetch(ref, depth)

    h.source.fetch_thread = slow_fetch  # type: ignore[method-assign]
    until: list[str] = []

    async def read_lease() -> None:
        async with h.core.storage.db.execute("SELECT claimed_until FROM jobs") as cur:
            until.extend(row[0] for row in await cur.fetchall())

    h.chat.after_post = read_lease
    await h.core.handle_request(h.request("digest", "https://redd.it/aaa111"))
    await h.run_jobs()
    assert len(h.chat.public()) == 1
    assert until == [(h.clock.now + h.core.config.job_lease).isoformat()]


async def test_a_unit_of_work_cancelled_while_it_begins_leaves_no_transaction_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C (a stop with no grace) could cancel a unit of work while its BEGIN was on its way
    to the database's thread: BEGIN still ran, and the next unit failed with "cannot start a
    transaction within a transaction" (seen as a traceback when the leader lease was handed
    over at Ctrl-C)."""
    import asyncio

    async with Storage(tmp_path / "bot.sqlite3") as db:
        conn = db.db
        execute = conn.execute

        def begin_then_cancelled(sql: str, *args: Any) -> object:
            if sql.startswith("BEGIN"):

                async def cancelled() -> None:
                    await execute(sql)  # it reached the database…
                    raise asyncio.CancelledError  # …as the caller was cancelled

                return cancelled()
            return execute(sql, *args)

        monkeypatch.setattr(conn, "execute", begin_then_cancelled)
        with pytest.raises(asyncio.CancelledError):
            async with db.transaction():
                pass
        monkeypatch.undo()
        await db.set_setting("discord", "S1", "timezone", "Europe/Berlin")  # a new unit works
        assert await db.get_settings("discord", "S1") == {"timezone": "Europe/Berlin"}
