"""What counting rate limits in the database costs (bot/storage/ratelimits.py), on SQLite and on
PostgreSQL.

- one reservation at a time: a digest's (user + channel windows, one transaction) and a Reddit
  request's (one window and its hold), p50 and p99;
- 200 reservations at once from one process (a burst of commands), total and per reservation;
- PostgreSQL only: 4 connections (4 processes) reserving in one bucket at once (each waits for
  the bucket's advisory lock), reservations per second;
- 200 concurrent /digest commands through the core (from 200 users, limits high enough for all):
  time until every one is answered (the core counts in the database on PostgreSQL only; on
  SQLite, one process, in memory). This part runs on a tree without the database limits too
  (in memory on both), for the comparison.

The PostgreSQL server is the test suite's (tests/support/postgres.py: the embedded wheel on
127.0.0.1, fsync and synchronous_commit off), so a commit costs less than on a durable server.

Run: `python -m bench.ratelimit_db [--n 2000]` from the repository root.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from bot.app import open_core
from bot.chat import Request
from bot.core import CoreConfig, Engines
from bot.storage import Storage
from digest.pipeline import DigestEngine
from tests.support.fake_chat import FakeChat
from tests.support.fake_source import FakeSource
from tests.support.postgres import PostgresServer, fresh_database

URL = "https://www.reddit.com/r/LocalLLaMA/comments/aaa111/t/"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


async def _timed(calls: int, call: Callable[[int], Awaitable[Any]]) -> list[float]:
    times = []
    for i in range(calls):
        start = time.perf_counter()
        await call(i)
        times.append(time.perf_counter() - start)
    return times


def _p(times: list[float], q: float) -> float:
    return sorted(times)[min(int(len(times) * q), len(times) - 1)]


async def _storage_figures(where: Path | str, n: int, postgres: bool) -> list[str]:
    from bot.ratelimit import StoredQuota, Window

    lines = []
    async with Storage(where, exclusive=False) as db:
        # Limits as configured (5 per user, 20 per channel; Reddit's 10 a minute), each
        # reservation counted: a user and a channel no fuller than their limit.
        digest = await _timed(
            n,
            lambda i: db.reserve_hits(
                (Window(f"user:b:U{i}", 5, 600.0), Window(f"channel:b:C{i % 100}", 20, 3600.0))
            ),
        )
        quota = StoredQuota(db)
        reddit = await _timed(
            n, lambda i: quota.reserve(f"reddit:{i % 200}", 10, 60.0, urgent=True)
        )
        start = time.perf_counter()
        await asyncio.gather(
            *(db.reserve_hits((Window(f"user:b:V{i}", 5, 600.0),)) for i in range(200))
        )
        burst = time.perf_counter() - start
    lines.append(
        f"  a digest's reservation (2 windows): p50 {_ms(statistics.median(digest))}, "
        f"p99 {_ms(_p(digest, 0.99))}"
    )
    lines.append(
        f"  a Reddit request's reservation (1 window + its hold): p50 "
        f"{_ms(statistics.median(reddit))}, p99 {_ms(_p(reddit, 0.99))}"
    )
    lines.append(f"  200 at once from one process: {_ms(burst)} ({_ms(burst / 200)} each)")
    if postgres:
        async with AsyncExitStack() as stack:
            dbs = [
                await stack.enter_async_context(Storage(where, exclusive=False)) for _ in range(4)
            ]
            per = n // 4
            start = time.perf_counter()

            def hot(db: Storage) -> Callable[[int], Awaitable[Any]]:
                return lambda _: db.reserve_hits((Window("hot", 10**6, 0.01),))

            await asyncio.gather(*(_timed(per, hot(db)) for db in dbs))
            took = time.perf_counter() - start
        lines.append(f"  4 processes, one bucket, {4 * per} reservations: {4 * per / took:,.0f}/s")
    return lines


async def _burst_through_core(where: Path | str) -> float:
    """200 concurrent /digest commands from 200 users: seconds until all are answered."""
    async with AsyncExitStack() as stack:
        core = await open_core(
            stack, where, source=FakeSource(), engines=Engines({"offline": DigestEngine()}),
            chats={"fake": FakeChat()},
            config=CoreConfig(workers=0, user_limit=(10**6, 600.0), channel_limit=(10**6, 3600)),
        )  # fmt: skip
        requests = [
            Request("fake", "S1", "C1", f"U{i}", "digest", URL, True, reply_token=f"r{i}")
            for i in range(200)
        ]
        start = time.perf_counter()
        await asyncio.gather(*(core.handle_request(r) for r in requests))
        return time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ratelimit_db")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--bursts", type=int, default=5)
    args = parser.parse_args(argv)
    has_db_limits = hasattr(Storage, "reserve_hits")
    server = PostgresServer()
    server.start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            for engine in ("sqlite", "postgres"):
                print(f"{engine}:")

                def where(name: str, engine: str = engine) -> Path | str:
                    if engine == "sqlite":
                        return Path(folder) / f"{name}.sqlite3"
                    return asyncio.run(fresh_database(server))

                if has_db_limits:
                    for line in asyncio.run(
                        _storage_figures(where("limits"), args.n, engine == "postgres")
                    ):
                        print(line)
                bursts = [
                    asyncio.run(_burst_through_core(where(f"burst{i}"))) for i in range(args.bursts)
                ]
                shared = has_db_limits and engine == "postgres"  # SQLite: one process
                limiter = "in the database" if shared else "in memory"
                print(
                    f"  200 concurrent /digest through the core (limits {limiter}): median "
                    f"{_ms(statistics.median(bursts))} of {args.bursts} "
                    f"({', '.join(_ms(b) for b in bursts)})"
                )
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
