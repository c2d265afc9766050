"""`redigest migrate-db` on a big database: rows per second copying SQLite into PostgreSQL.

A SQLite database made by the storage API (the schema), then filled in bulk with N jobs (default
100,000: a JSON payload of ~150 bytes each, a third done with a ~4 KB report and a result, the
rest pending), N/10 usage rows and 1,000 subscriptions; copied with `migrate_db` into a fresh
database on a PostgreSQL server started for the run (tests/support/postgres.py: the embedded
wheel, fsync off, on this machine). Prints rows, seconds and rows/s, best of `--runs`.

Run: `python -m bench.migrate_db [--jobs 100000] [--runs 3]` from the repository root.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bot.migrate_db import migrate_db
from bot.storage import Storage
from tests.support.postgres import PostgresServer, fresh_database

REPORT = json.dumps({"title": "x" * 200, "sections": ["y" * 400] * 9})  # ~4 KB


def fill(path: Path, jobs: int) -> int:
    asyncio.run(_schema(path))
    now = "2026-12-07T12:00:00+00:00"
    with sqlite3.connect(path) as con:
        con.executemany(
            "INSERT INTO jobs (key, kind, payload, status, not_before, report, result,"
            " created_at, updated_at) VALUES (?, 'digest', ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    f"discord:c{n % 500}:m{n}",
                    json.dumps({"thread": f"t{n}", "channel": f"c{n % 500}", "depth": "brief"}),
                    "done" if n % 3 == 0 else "pending",
                    now,
                    REPORT if n % 3 == 0 else None,
                    '[["discord","c1","m1",null]]' if n % 3 == 0 else None,
                    now,
                    now,
                )
                for n in range(jobs)
            ),
        )
        con.executemany(
            "INSERT INTO usage (platform, server_id, day, model, input_tokens, output_tokens,"
            " cost_usd, created_at) VALUES ('discord', ?, '2026-12-07', 'm', 1000, 200, 0.01, ?)",
            ((f"g{n % 50}", now) for n in range(jobs // 10)),
        )
        con.executemany(
            "INSERT INTO subscriptions (platform, server_id, channel_id, created_by, kind, spec,"
            " created_at) VALUES ('discord', 'g1', ?, 'u', 'schedule', '{}', ?)",
            ((f"c{n}", now) for n in range(1000)),
        )
    con.close()
    return jobs + jobs // 10 + 1000


async def _schema(path: Path) -> None:
    async with Storage(path):
        pass


async def _copy(server: PostgresServer, source: Path) -> float:
    target = await fresh_database(server)
    started = time.perf_counter()
    await migrate_db(f"sqlite:///{source}", target)
    return time.perf_counter() - started


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.migrate_db")
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "big.sqlite3"
        rows = fill(source, args.jobs)
        size = source.stat().st_size / 1e6
        server = PostgresServer()
        server.start()
        try:
            times = [asyncio.run(_copy(server, source)) for _ in range(args.runs)]
        finally:
            server.stop()
    best = min(times)
    print(
        f"migrate-db: {args.jobs} jobs, {rows} rows, {size:.0f} MB of SQLite: best "
        f"{best:.2f} s of {args.runs} ({', '.join(f'{t:.2f}' for t in times)}) → "
        f"{rows / best:,.0f} rows/s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
