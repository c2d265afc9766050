"""`redigest migrate-db SOURCE TARGET`: a SQLite database copied into an empty PostgreSQL one (a
real server, tests/support/postgres.py), read back through the storage API."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from bot.chat import MessageRef
from bot.migrate_db import TABLES, MigrationError, migrate_db, sqlite_path
from bot.ownership import DatabaseOwner
from bot.storage import Storage
from bot.storage.migrations import MIGRATIONS, for_postgres

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "from bot.cli import main; main()"]
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _clock() -> datetime:
    return NOW


async def _fill(path: Path) -> dict[str, int]:
    """A bot's database, written through the storage API; the ids it handed out."""
    async with Storage(path, clock=_clock) as db:
        ids = {}
        for n in range(3):
            ids[f"sub{n}"] = await db.add_subscription(
                platform="discord", server_id="g1", channel_id=f"c{n}", created_by="u1",
                kind="schedule" if n else "watch", spec={"subreddit": f"r{n}", "n": n},
                next_run_at=NOW + timedelta(hours=n),
            )  # fmt: skip
        await db.delete_subscription(ids["sub2"])  # its id is never handed out again
        await db.set_paused(ids["sub1"], True, "the channel refused our posts")
        await db.set_setting("discord", "g1", "timezone", "Europe/Berlin")
        for n in range(5):
            await db.add_job(f"job-{n}", "digest", {"thread": f"t{n}", "deep": n % 2 == 0})
        claimed = await db.claim_job()
        assert claimed is not None
        await db.mark_posting(claimed.key, claimed.claim_token)  # caught mid-post
        done = await db.claim_job()
        assert done is not None
        ref = MessageRef("discord", "c0", "m1", thread_id="th1")
        await db.finish_job(
            done.key, [ref], post_id="p1", thread_posts=["p1"], token=done.claim_token
        )
        await db.claim_job()  # left running, its claim held by a bot now gone
        await db.add_flag(ref, "u2")
        await db.cache_report("rc1", '{"r": 1}')
        await db.add_candidate(ids["sub0"], "p9", NOW, NOW + timedelta(minutes=5))
        await db.record_usage("discord", "g1", "claude", 1000, 200, 0.0125, channel_id="c0")
        await db.record_usage("discord", "g1", None, 10, 2, 0, subscription_id=ids["sub1"])
        return ids


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "bot.sqlite3"
    asyncio.run(_fill(path))
    return path


def test_the_copy_lists_every_table_of_the_schema() -> None:
    schema = "".join(sql for _, _, sql in MIGRATIONS)
    created = set(re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)", schema))
    assert {t.name for t in TABLES} == created


async def test_a_database_is_copied_and_read_back_on_postgresql(
    source: Path, postgres_url: str
) -> None:
    async with Storage(source, clock=_clock) as before:
        subs, jobs = await before.subscriptions(), await before.jobs()
        usage = await before.usage_since("discord", "g1", date(2026, 12, 1))
        spent = await before.spent_today("discord", "g1")
    assert any(j.claim_token for j in jobs)

    result = await migrate_db(f"sqlite:///{source}", postgres_url)

    counts = {t.table: t.rows for t in result.tables}
    assert counts == {
        "server_settings": 1, "subscriptions": 2, "jobs": 5, "posted_messages": 1,
        "posted_threads": 1, "flags": 1, "report_cache": 1, "candidates": 1, "usage": 2,
        "leaders": 0, "rate_hits": 0, "quota_holds": 0,
    }  # fmt: skip
    lines = result.lines()
    assert lines[0].startswith(f"Copied {source} (schema {max(v for v, _, _ in MIGRATIONS)})")
    assert " s." in lines[0]
    async with Storage(postgres_url, clock=_clock) as after:
        assert await after.subscriptions() == subs
        copied = await after.jobs()
        assert [(j.id, j.key, j.status, j.post_attempted, j.result) for j in copied] == [
            (j.id, j.key, j.status, j.post_attempted, j.result) for j in jobs
        ]
        assert all(j.claim_token is None for j in copied)  # claims cleared
        after_usage = await after.usage_since("discord", "g1", date(2026, 12, 1))
        assert sorted(after_usage, key=repr) == sorted(usage, key=repr)  # no order is promised
        assert await after.spent_today("discord", "g1") == pytest.approx(spent)
        assert await after.get_settings("discord", "g1") == {"timezone": "Europe/Berlin"}
        assert await after.posted_thread_for(MessageRef("discord", "c0", "m1")) == ("p1", None)
        assert await after.cached_report("rc1", timedelta(days=1)) == '{"r": 1}'
        # The interrupted jobs are claimed at once, not when their copied lease ends (the
        # clock stands still here): the mid-post one keeps its intent to post, so it is looked
        # up before it is posted again.
        claimed = []
        while (job := await after.claim_job()) is not None:
            claimed.append(job)
        assert {j.key for j in claimed} == {j.key for j in jobs if j.status != "done"}
        assert [j.key for j in claimed if j.post_attempted] == [
            j.key for j in jobs if j.status == "posting"
        ]
        # The sequences were moved on: past the deleted #3 too, as SQLite would.
        new = await after.add_subscription(
            platform="slack", server_id="T1", channel_id="C1", created_by="U1", kind="watch",
            spec={}, next_run_at=None,
        )  # fmt: skip
        assert new == 4
        assert await after.add_job("job-new", "digest", {})
        assert (await after.job("job-new")).id == 6  # type: ignore[union-attr]


async def test_a_target_that_holds_data_is_refused_and_left_as_it_was(
    source: Path, postgres_url: str
) -> None:
    async with Storage(postgres_url) as other:
        await other.set_setting("slack", "T9", "timezone", "UTC")
    with pytest.raises(MigrationError) as refused:
        await migrate_db(f"sqlite:///{source}", postgres_url)
    message = str(refused.value)
    assert "already holds redigest data (in server_settings)" in message
    assert "TRUNCATE server_settings, subscriptions, jobs" in message
    assert "\n" not in message
    async with Storage(postgres_url) as other:
        assert await other.subscriptions() == []


async def test_a_migrated_but_empty_target_is_accepted(source: Path, postgres_url: str) -> None:
    async with Storage(postgres_url):
        pass  # a redigest started on it once: the schema, no rows
    result = await migrate_db(f"sqlite:///{source}", postgres_url)
    assert sum(t.rows for t in result.tables) == 15


async def test_a_target_a_running_redigest_uses_is_refused(source: Path, postgres_url: str) -> None:
    async with Storage(postgres_url):  # a bot started on the target, still running
        with pytest.raises(MigrationError, match=r"1 redigest process\(es\) use .*: stop them"):
            await migrate_db(f"sqlite:///{source}", postgres_url)
    result = await migrate_db(f"sqlite:///{source}", postgres_url)  # stopped: it may be copied
    assert sum(t.rows for t in result.tables) == 15


async def test_a_source_a_bot_owns_is_refused(source: Path, postgres_url: str) -> None:
    owner = DatabaseOwner(source, "bot")
    owner.acquire()
    try:
        with pytest.raises(MigrationError, match=r"is in use by a running redigest \(process"):
            await migrate_db(f"sqlite:///{source}", postgres_url)
    finally:
        owner.release()
    conn = await asyncpg.connect(postgres_url)
    try:  # nothing was written
        assert await conn.fetchval("SELECT to_regclass('jobs')") is None
    finally:
        await conn.close()


async def test_a_source_of_an_older_schema_is_refused(tmp_path: Path, postgres_url: str) -> None:
    old = tmp_path / "old.sqlite3"
    with sqlite3.connect(old) as con:
        con.execute("CREATE TABLE schema_migrations (version INTEGER, name TEXT, applied_at TEXT)")
        con.execute("INSERT INTO schema_migrations VALUES (6, 'x', 'now')")
    con.close()
    with pytest.raises(MigrationError, match="upgrade it first by starting this redigest on it"):
        await migrate_db(f"sqlite:{old}", postgres_url)


def test_a_failure_midway_leaves_the_target_as_it_was(source: Path, postgres_url: str) -> None:
    with sqlite3.connect(source) as con:
        con.execute("UPDATE usage SET input_tokens = 'many' WHERE id = 1")
    con.close()
    with pytest.raises(MigrationError, match="A row of usage holds a value"):
        asyncio.run(migrate_db(f"sqlite:///{source}", postgres_url))

    async def tables() -> object:
        conn = await asyncpg.connect(postgres_url)
        try:
            return await conn.fetchval("SELECT to_regclass('jobs')")
        finally:
            await conn.close()

    assert asyncio.run(tables()) is None  # not even the schema


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///var/lib/r.sqlite3", "/var/lib/r.sqlite3"),
        ("sqlite:data/r.sqlite3", "data/r.sqlite3"),
    ],
)
def test_sqlite_urls(url: str, path: str) -> None:
    assert sqlite_path(url) == Path(path)


@pytest.mark.parametrize("url", ["redigest.sqlite3", "sqlite://host/x", "sqlite:", "mysql://x"])
def test_a_bad_source_url_is_refused(url: str) -> None:
    with pytest.raises(MigrationError, match="is not a SQLite database URL"):
        sqlite_path(url)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    prefixes = ("REDIGEST_", "DISCORD_", "SLACK_", "REDDIT_", "ANTHROPIC_", "OPENAI_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    return subprocess.run(
        [*CLI, "migrate-db", *args],
        capture_output=True,
        text=True,
        env=env | {"PYTHONPATH": str(REPO)},
        cwd=cwd,
        timeout=120,
    )


def test_the_cli_copies_then_refuses_to_copy_again(
    source: Path, postgres_url: str, tmp_path: Path
) -> None:
    done = _cli(f"sqlite:{source.name}", postgres_url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Copied bot.sqlite3 (schema ")
    assert "15 rows in" in lines[0]
    assert re.fullmatch(r"  jobs +5", next(line for line in lines if "jobs" in line))
    assert len(lines) == 1 + len(TABLES)
    again = _cli(f"sqlite:{source.name}", postgres_url, cwd=tmp_path)
    assert again.returncode == 2
    assert len(again.stderr.strip().splitlines()) == 1
    assert "already holds redigest data" in again.stderr
    assert "Traceback" not in again.stderr


@pytest.mark.parametrize(
    ("source_url", "target", "said"),
    [
        ("bot.sqlite3", "postgresql://u@127.0.0.1:1/x", "is not a SQLite database URL"),
        ("sqlite:bot.sqlite3", "mysql://u:pw@h/x", "is not a PostgreSQL database URL"),
        ("sqlite:bot.sqlite3", "sqlite:other.sqlite3", "TARGET must be a PostgreSQL database"),
        ("sqlite:missing.sqlite3", "postgresql://u@127.0.0.1:1/x", "no SQLite database at"),
    ],
)
def test_the_cli_says_what_is_wrong_in_one_line(
    source: Path, tmp_path: Path, source_url: str, target: str, said: str
) -> None:
    done = _cli(source_url, target, cwd=tmp_path)
    assert done.returncode == 2
    assert said in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "pw" not in done.stderr


def test_an_unreachable_target_is_one_line_without_the_password(
    source: Path, tmp_path: Path
) -> None:
    from tests.support.postgres import free_port

    url = f"postgresql://redigest:s3cret@127.0.0.1:{free_port()}/redigest"
    done = _cli(f"sqlite:{source.name}", url, cwd=tmp_path)
    assert done.returncode == 2
    assert "cannot be reached" in done.stderr
    assert "redigest@127.0.0.1" in done.stderr
    assert "s3cret" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_for_postgres_keeps_ids_writable() -> None:
    # The copy writes ids: PostgreSQL's identities must be BY DEFAULT, not ALWAYS.
    assert "GENERATED BY DEFAULT AS IDENTITY" in for_postgres(MIGRATIONS[0][2])
