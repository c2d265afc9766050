"""A PostgreSQL connection lost while the bot runs (the server restarted, the session was ended,
the network broke) is opened again by the next statement (bot/storage/backend.py): the process
takes its "alive" lock again, the transaction that was open fails once, and the bot goes on.
Each test ends the storage's session with pg_terminate_backend, as an administrator would."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from bot.storage import Storage
from bot.storage.backend import OWNER_LOCKS, PgConnection
from tests.support.harness import harness

URL = "https://www.reddit.com/r/LocalLLaMA/comments/aaa111/t/"


def _pg(db: Storage) -> PgConnection:
    conn = db.db
    assert isinstance(conn, PgConnection)
    return conn


async def _terminate(url: str, db: Storage) -> None:
    """End `db`'s session from another connection, and wait until its client has noticed."""
    [row] = await db.db.execute_fetchall("SELECT pg_backend_pid()")
    admin = await asyncpg.connect(url)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", row[0])
    finally:
        await admin.close()
    for _ in range(500):  # a deadline, not a timing
        if _pg(db).conn.is_closed():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the client never noticed its session ended")


async def _alive_locks(url: str, owner: str) -> int:
    admin = await asyncpg.connect(url)
    try:
        return int(
            await admin.fetchval(
                "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND classid = $1 AND objid = hashtext($2)::oid AND objsubid = 2",
                OWNER_LOCKS,
                owner,
            )
        )
    finally:
        await admin.close()


async def test_a_lost_connection_is_opened_again_with_the_processs_alive_lock(
    postgres_url: str,
) -> None:
    async with Storage(postgres_url) as db:
        await db.add_job("k1", "digest", {"n": 1})
        assert await _alive_locks(postgres_url, db.owner_id) == 1
        await _terminate(postgres_url, db)
        assert await _alive_locks(postgres_url, db.owner_id) == 0  # it looks dead meanwhile
        assert await db.add_job("k2", "digest", {"n": 2})  # a write: the connection comes back
        assert [j.key for j in await db.jobs()] == ["k1", "k2"]
        assert _pg(db).reconnects == 1
        assert await _alive_locks(postgres_url, db.owner_id) == 1  # and says it is alive again


async def test_the_transaction_open_when_it_was_lost_fails_once(postgres_url: str) -> None:
    async with Storage(postgres_url) as db:

        async def unit_of_work() -> None:
            async with db.transaction() as tx:
                await tx.execute(
                    "INSERT INTO server_settings (platform, server_id, key, value)"
                    " VALUES ('fake', 'S1', 'timezone', 'UTC')"
                )
                await _terminate(postgres_url, db)
                await tx.execute("SELECT 1")

        with pytest.raises(ConnectionError, match="lost during this transaction"):
            await unit_of_work()
        assert await db.get_settings("fake", "S1") == {}  # nothing of it was written

        async def lost_before_its_commit() -> None:
            async with db.transaction() as tx:
                await tx.execute("DELETE FROM server_settings")
                await _terminate(postgres_url, db)

        with pytest.raises(ConnectionError, match="lost during this transaction"):
            await lost_before_its_commit()
        await db.set_setting("fake", "S1", "timezone", "Europe/Berlin")
        assert await db.get_settings("fake", "S1") == {"timezone": "Europe/Berlin"}


async def test_a_server_that_cannot_be_reached_is_tried_again_later(postgres_url: str) -> None:
    async with Storage(postgres_url) as db:
        pg = _pg(db)
        url, pg.url = pg.url, "postgresql://nobody@127.0.0.1:1/none"  # the server is gone
        await _terminate(postgres_url, db)
        with pytest.raises(ConnectionRefusedError):
            await db.jobs()
        with pytest.raises(ConnectionError, match="trying again shortly"):
            await db.jobs()  # no new attempt before the pause is over
        pg.url, pg._next_attempt = url, 0.0  # the server is back (and the pause over)
        assert await db.jobs() == []


async def test_a_digest_still_works_after_the_bots_connection_was_ended(
    tmp_path: Path, postgres_url: str
) -> None:
    """Before, every statement after the loss failed ("connection is closed") until a restart."""
    async for h in harness(tmp_path, postgres_url):
        await _terminate(postgres_url, h.core.storage)
        await h.core.handle_request(h.request("digest", URL))
        assert await h.run_jobs() == 1
        [posted] = [p for p in h.chat.posts if not p.ephemeral]
        report = posted.delivery.report
        assert report is not None
        assert report.thread.id == "aaa111"
        assert _pg(h.core.storage).reconnects == 1
