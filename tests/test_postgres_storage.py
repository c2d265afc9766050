"""Storage on PostgreSQL, where several processes share one database: migrations run once under
a lock, claims never hand one job to two processes, a claim of another process is not taken at
start-up, and a server that cannot be used is said in one line without the password."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from bot.settings import SettingsError, load_settings
from bot.storage import MIGRATIONS, Storage, StorageError
from bot.storage.backend import safe_url, translate
from bot.storage.migrations import for_postgres


async def test_two_processes_opening_a_new_database_at_once_migrate_it_once(
    postgres_url: str,
) -> None:
    async with AsyncExitStack() as stack:
        first, second = await asyncio.gather(
            stack.enter_async_context(Storage(postgres_url)),
            stack.enter_async_context(Storage(postgres_url)),
        )
        newest = max(v for v, _, _ in MIGRATIONS)
        assert await first.schema_version() == await second.schema_version() == newest
    conn = await asyncpg.connect(postgres_url)
    try:
        versions = [r[0] for r in await conn.fetch("SELECT version FROM schema_migrations")]
    finally:
        await conn.close()
    assert sorted(versions) == [v for v, _, _ in MIGRATIONS]


async def test_four_processes_opening_at_the_same_moment_all_start(postgres_url: str) -> None:
    async def open_one() -> int:
        async with Storage(postgres_url) as db:
            return await db.schema_version()

    versions = await asyncio.gather(*(open_one() for _ in range(4)))
    assert set(versions) == {max(v for v, _, _ in MIGRATIONS)}


async def test_processes_claiming_at_once_never_get_the_same_job(postgres_url: str) -> None:
    async with (
        Storage(postgres_url) as a,
        Storage(postgres_url) as b,
        Storage(postgres_url) as c,
    ):
        for i in range(30):
            await a.add_job(f"k{i:02}", "digest", {})
        claimed: list[str] = []
        for _ in range(12):
            got = await asyncio.gather(*(db.claim_job() for db in (a, b, c)))
            claimed += [job.key for job in got if job is not None]
        assert sorted(claimed) == [f"k{i:02}" for i in range(30)]  # each once, none lost
        owners = {j.key: j for j in await a.jobs("running")}
        assert len(owners) == 30


async def test_processes_queueing_the_same_keys_at_once_queue_each_once(postgres_url: str) -> None:
    async with Storage(postgres_url) as a, Storage(postgres_url) as b:
        keys = [f"k{i}" for i in range(60)]
        results = await asyncio.gather(
            *(db.add_job(key, "digest", {}, urgent=True) for key in keys for db in (a, b))
        )
        assert results.count(True) == len(keys)  # each key queued by one of them, no error
        assert sorted(j.key for j in await a.jobs()) == sorted(keys)


async def test_start_up_leaves_other_processes_claims_alone(postgres_url: str) -> None:
    async with Storage(postgres_url) as running:
        await running.add_job("k", "digest", {})
        job = await running.claim_job(lease=timedelta(minutes=5))
        assert job is not None
        async with Storage(postgres_url) as starting:
            assert await starting.recover_jobs() == 0
            assert await starting.claim_job() is None  # still held by the running process
        await running.mark_posting("k", job.claim_token)


async def test_the_claims_of_a_process_that_is_gone_lapse_at_start_up(postgres_url: str) -> None:
    async with Storage(postgres_url) as alive, Storage(postgres_url) as dying:
        await alive.add_job("mine", "digest", {})
        await alive.add_job("theirs", "digest", {})
        mine = await alive.claim_job(lease=timedelta(minutes=5))
        theirs = await dying.claim_job(lease=timedelta(minutes=5))
        assert mine is not None
        assert theirs is not None
        assert (mine.key, theirs.key) == ("mine", "theirs")
    # Both connections ended (the processes died); one comes back, another starts beside it.
    async with Storage(postgres_url) as back, Storage(postgres_url) as starting:
        held = await back.claim_job(lease=timedelta(minutes=5))  # nothing: both leases run
        assert held is None
        assert await starting.recover_jobs() == 2
        again = await back.claim_job(lease=timedelta(minutes=5))
        assert again is not None
        await starting.recover_jobs()  # `back` is alive: its new claim stays
        other = await starting.claim_job()
        assert other is not None
        assert {again.key, other.key} == {"mine", "theirs"}
        await back.recover_jobs()
        assert await back.claim_job() is None  # and `starting`'s stays too
        await back.mark_posting(again.key, again.claim_token)


async def test_an_unreachable_server_is_one_line_without_the_password() -> None:
    url = "postgresql://bot:s3cret@127.0.0.1:1/redigest"
    with pytest.raises(StorageError) as caught:
        async with Storage(url):
            pass
    message = str(caught.value)
    assert "s3cret" not in message
    assert "postgresql://bot@127.0.0.1:1/redigest" in message
    assert "\n" not in message


async def test_a_missing_database_is_said(postgres_server_url_missing: str) -> None:
    with pytest.raises(StorageError, match="does not exist"):
        async with Storage(postgres_server_url_missing):
            pass


@pytest.fixture
def postgres_server_url_missing(postgres_server: object) -> str:
    from tests.support.postgres import PostgresServer

    assert isinstance(postgres_server, PostgresServer)
    return postgres_server.url("no_such_database")


def test_placeholders_become_numbered_outside_string_literals() -> None:
    sql = "SELECT * FROM t WHERE a = ? AND b LIKE '?%' AND c IN (?, ?)"
    assert translate(sql).text == "SELECT * FROM t WHERE a = $1 AND b LIKE '?%' AND c IN ($2, $3)"
    assert translate(sql).returns_rows
    assert translate("UPDATE t SET a = ? WHERE b = ? RETURNING id").returns_rows
    assert not translate("UPDATE t SET a = ?").returns_rows


def test_the_schema_says_postgres_types() -> None:
    for _, _, sql in MIGRATIONS:
        translated = for_postgres(sql)
        assert "AUTOINCREMENT" not in translated
        assert " REAL " not in translated


async def test_a_database_of_a_newer_redigest_is_refused(postgres_url: str) -> None:
    async with Storage(postgres_url) as db:
        await db.db.execute("INSERT INTO schema_migrations VALUES (99, 'future', 'later')")
    with pytest.raises(StorageError, match="newer redigest"):
        async with Storage(postgres_url):
            pass


def test_urls_are_shown_without_passwords() -> None:
    assert safe_url("postgresql://u:pw@db:5433/x") == "postgresql://u@db:5433/x"


def test_the_url_setting_selects_postgres_and_stays_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REDIGEST_DATABASE_URL", raising=False)
    env = tmp_path / ".env"
    env.write_text("REDIGEST_DATABASE_PATH=state.sqlite3\n")
    assert load_settings(env_file=env).database() == Path("state.sqlite3")  # the default engine
    env.write_text("REDIGEST_DATABASE_URL=postgresql://bot:pw@db:5432/redigest\n")
    settings = load_settings(env_file=env)
    assert settings.database() == "postgresql://bot:pw@db:5432/redigest"
    assert "pw" not in repr(settings.database_url)
    env.write_text("REDIGEST_DATABASE_URL=mysql://db/redigest\n")
    with pytest.raises(SettingsError, match="REDIGEST_DATABASE_URL"):
        load_settings(env_file=env)


async def test_a_malformed_url_is_one_line() -> None:
    with pytest.raises(StorageError, match="cannot be used"):
        async with Storage("postgresql://bot:pw@127.0.0.1:notaport/x"):
            pass
