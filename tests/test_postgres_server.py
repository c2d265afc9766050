"""The tests' own PostgreSQL server (tests/support/postgres.py): it starts on 127.0.0.1, takes
asyncpg connections, gives each test a fresh database, and stops leaving no process behind."""

from __future__ import annotations

import os
from pathlib import Path

import asyncpg

from tests.support.postgres import PostgresServer, fresh_database


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_a_server_starts_takes_asyncpg_and_stops_without_leftovers() -> None:
    server = PostgresServer()
    server.start()
    try:
        assert server.process is not None
        url = await fresh_database(server)
        assert url.startswith("postgresql://postgres@127.0.0.1:")
        conn = await asyncpg.connect(url)
        try:
            assert await conn.fetchval("SELECT 1 + 1") == 2
            assert (await conn.fetchval("SHOW listen_addresses")) == "127.0.0.1"
            version = int(await conn.fetchval("SHOW server_version_num"))
            assert version >= 150000
        finally:
            await conn.close()
        postmaster = server.process.pid
        workers = _children(postmaster)
        assert workers  # the checkpointer, the WAL writer, …
    finally:
        server.stop()
    assert not _alive(postmaster)
    assert not any(_alive(pid) for pid in workers)
    assert not server.root.exists()


async def test_each_test_gets_a_fresh_database(postgres_server: PostgresServer) -> None:
    first = await fresh_database(postgres_server)
    second = await fresh_database(postgres_server)
    assert first != second
    conn = await asyncpg.connect(first)
    try:
        await conn.execute("CREATE TABLE t (x INTEGER)")
    finally:
        await conn.close()
    conn = await asyncpg.connect(second)
    try:
        assert await conn.fetchval("SELECT to_regclass('t')") is None
    finally:
        await conn.close()
