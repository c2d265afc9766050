"""Test-wide guards and fixtures.

Tests never touch the internet: every socket may connect only to loopback, and name lookups of
anything but localhost fail. Real third-party data is read from ../shared/data when it exists.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.harness import Harness, harness
from tests.support.postgres import PostgresServer, fresh_database

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
REDDIT_DATA = SHARED_DATA / "reddit"
NO_DATA_REASON = f"real third-party data not found at {SHARED_DATA} (it lives beside the repo)"


class NetworkBlocked(RuntimeError):
    pass


def _is_loopback(address: Any) -> bool:
    if isinstance(address, str | bytes):  # AF_UNIX path
        return True
    host = address[0] if isinstance(address, tuple) else address
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _guarded_connect(self: socket.socket, address: Any) -> None:
    if not _is_loopback(address):
        raise NetworkBlocked(f"tests may not connect to {address!r}: only loopback is allowed")
    _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    if not _is_loopback(address):
        raise NetworkBlocked(f"tests may not connect to {address!r}: only loopback is allowed")
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if host is not None and not _is_loopback((host.decode() if isinstance(host, bytes) else host,)):
        raise NetworkBlocked(f"tests may not resolve {host!r}: only loopback is allowed")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True, scope="session")
def _block_network() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", _guarded_connect)
        mp.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
        mp.setattr(socket, "getaddrinfo", _guarded_getaddrinfo)
        yield


def real_thread_files() -> list[Path]:
    """Every real thread file (not the morechildren lists, not the cassettes)."""
    if not REDDIT_DATA.is_dir():
        return []
    return sorted(
        p
        for p in REDDIT_DATA.glob("*/*.json")
        if "morechildren" not in p.name and p.parent.name != "cassettes"
    )


def thread_params() -> list[Any]:
    files = real_thread_files()
    if not files:
        return [pytest.param(None, marks=pytest.mark.skip(reason=NO_DATA_REASON), id="no-data")]
    return [pytest.param(p, id=f"{p.parent.name}/{p.stem}") for p in files]


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Settings come from the environment and .env: keep the developer's out of tests."""
    for key in (
        "REDDIT_CLIENT_ID",
        "REDDIT_CLIENT_SECRET",
        "REDDIT_USER_AGENT",
        "REDIGEST_BRIEF_BUDGET",
        "REDIGEST_DEEP_BUDGET",
        "REDIGEST_ANALYZER",
        "REDIGEST_LOG_LEVEL",
    ):
        monkeypatch.delenv(key, raising=False)
    # Tests never reach the internet: without a fake to point at, Reddit is off (saved threads);
    # tests of the live sources set the mode and a base URL on 127.0.0.1.
    monkeypatch.setenv("REDIGEST_REDDIT_MODE", "saved")
    monkeypatch.chdir(tmp_path)


@pytest.fixture
async def h(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    """The core on a real database with fakes around it (tests/support/harness.py): a SQLite
    file, or with TEST_STORAGE=postgres a fresh database on the suite's PostgreSQL server."""
    database = None
    if os.environ.get("TEST_STORAGE") == "postgres":
        database = await fresh_database(request.getfixturevalue("postgres_server"))
    async for harness_ in harness(tmp_path, database):
        yield harness_


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the whole session (tests/support/postgres.py)."""
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database of this test's own on the session's server."""
    return await fresh_database(postgres_server)


@pytest.fixture(params=["sqlite", "postgres"])
async def db_where(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where a storage test's database is: a SQLite file, then a fresh PostgreSQL database (each
    test that takes it runs on both engines)."""
    if request.param == "sqlite":
        return tmp_path / "t.sqlite3"
    return await fresh_database(request.getfixturevalue("postgres_server"))
