"""Scaling out: digests per minute with 1, 2 and 4 worker processes on one PostgreSQL database,
the claim's latency (p50/p99), and one process on SQLite against one on PostgreSQL.

Each process is `redigest run --role worker` (or `--role all` for the one-process comparison),
the real CLI with 4 job workers (REDIGEST_WORKERS), through bench/cluster_child.py, which only
adds a timer around the storage's claim. Everything they talk to is in this process
(tests/support/cluster.py): fake Reddit's public pages (one synthetic thread of 15–40 comments
per digest, so no digest is another's cache hit), the fake Slack, and an Anthropic fake that
answers each model call after a delay drawn uniformly from `--llm` (default 0.8–2.0 s: a real
model's 8–20 s scaled by 1/10, so a run takes seconds, not minutes). PostgreSQL is the embedded
server of tests/support/postgres.py (fsync off), a fresh database per run; SQLite is a file in a
temporary folder.

A run queues `--per-process` digests per process as gateways do (the storage API; on SQLite
before the one process starts, since it owns the file; on PostgreSQL once every process is up),
waits until all are done and stops the processes. Figures:

- digests/min: digests done / (last one done − first job claimed), from the database and the
  claim timer (process start-up is not counted);
- LLM-bound ceiling: job slots × 60 / mean LLM delay, what the slots could do if nothing but the
  model took time; the share of it reached says what the machine (CPU, database) costs;
- claim p50/p99: claims that got a job, measured around `claim_job` (its SELECT … FOR UPDATE
  SKIP LOCKED, UPDATE and commit, and the read of the row); the claims that found nothing are
  counted apart;
- CPU s/digest: user + system time of the redigest processes once started, per digest (the
  fakes' time in this process is not counted; on a 2-core machine it competes with them).

Every digest must be posted exactly once (checked from the fake Slack); a run that is not says so.

Run: `python -m bench cluster` (or `python -m bench.cluster [--per-process 60] [--llm 0.8 2.0]
[--processes 1 2 4]`) from the repository root; about 3–4 minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bench.common import loopback_only, machine, percentile, progress
from tests.support.cluster import Fakes, Processes, queue_digests, until
from tests.support.postgres import PostgresServer, fresh_database

WORKERS = 4  # REDIGEST_WORKERS in each process: the default
LLM_DELAY = (0.8, 2.0)  # seconds: 8–20 s scaled by 1/10
PER_PROCESS = 60
PROCESSES = (1, 2, 4)
CHILD = [sys.executable, "-m", "bench.cluster_child"]


@dataclass
class Run:
    engine: str
    role: str
    processes: int
    digests: int
    done: int
    seconds: float  # first claim → last done
    claims: list[float]  # ms, claims that got a job
    empty: list[float]  # ms, claims that found none
    cpu: float  # user + system seconds of the redigest processes, start-up left out
    twice: int  # digests posted more (or less) than once
    ceiling: float  # digests/min if only the LLM took time

    @property
    def per_minute(self) -> float:
        return self.done / self.seconds * 60 if self.seconds > 0 else float("nan")


def _cpu_seconds(pid: int) -> float:
    """User + system time of a running process (Linux /proc; 0 where unavailable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _read_claims(folder: Path) -> tuple[list[tuple[float, float]], list[float]]:
    """((start, ms) of the claims that got a job, ms of those that found none)."""
    got: list[tuple[float, float]] = []
    empty: list[float] = []
    for path in folder.glob("*.claims"):
        for line in path.read_text().splitlines():
            started, ms, found = line.split()
            if found == "1":
                got.append((float(started), float(ms)))
            else:
                empty.append(float(ms))
    return got, empty


async def _finished_sqlite(path: Path) -> tuple[int, list[str]]:
    """(jobs done or failed, updated_at of the done ones), read beside the running owner."""

    def read() -> tuple[int, list[str]]:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            over = conn.execute(
                "SELECT count(*) FROM jobs WHERE status IN ('done', 'failed')"
            ).fetchone()[0]
            done = [r[0] for r in conn.execute("SELECT updated_at FROM jobs WHERE status = 'done'")]
        finally:
            conn.close()
        return int(over), done

    return await asyncio.to_thread(read)


async def _finished_postgres(url: str) -> tuple[int, list[str]]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        over = await conn.fetchval("SELECT count(*) FROM jobs WHERE status IN ('done', 'failed')")
        done = [r[0] for r in await conn.fetch("SELECT updated_at FROM jobs WHERE status = 'done'")]
    finally:
        await conn.close()
    return int(over), done


async def _one(
    fakes: Fakes, server: PostgresServer, root: Path, engine: str, role: str, processes: int,
    per_process: int,
) -> Run:  # fmt: skip
    tag = f"{engine}-{role}-{processes}"
    folder = root / tag
    folder.mkdir()
    n = per_process * processes
    jobs = fakes.digest_jobs(n, tag=f"{tag}-")
    env = fakes.env() | {"REDIGEST_WORKERS": str(WORKERS), "REDIGEST_LOG_LEVEL": "WARNING"}
    if role == "all":  # it receives too: Socket Mode to the fake
        env["SLACK_APP_TOKEN"] = fakes.slack.app_token
    database: Path | str
    if engine == "postgres":
        database = await fresh_database(server)
        env["REDIGEST_DATABASE_URL"] = database
    else:
        database = folder / "bot.sqlite3"
        env["REDIGEST_DATABASE_PATH"] = str(database)
        await queue_digests(database, jobs)  # before it starts: the one process owns the file

    async def finished() -> tuple[int, list[str]]:
        if isinstance(database, Path):
            return await _finished_sqlite(database)
        return await _finished_postgres(database)

    progress(f"cluster: {tag}: starting {processes} process(es)")
    cpu = 0.0
    async with Processes(folder, env) as ps:
        names = [f"p{i}" for i in range(processes)]
        for name in names:
            ps.start(name, role, [*CHILD, role], BENCH_CLAIMS=str(folder / f"{name}.claims"))
        await ps.until_ready(*names, timeout=300)
        cpu = -sum(_cpu_seconds(c.process.pid) for c in ps.children.values())  # after start-up
        if isinstance(database, str):
            await queue_digests(database, jobs)
        progress(f"cluster: {tag}: {n} digests queued")

        async def all_over() -> bool:
            return (await finished())[0] >= n

        await until(all_over, timeout=60 + n * 10, processes=ps, every=0.5)
        cpu += sum(_cpu_seconds(c.process.pid) for c in ps.children.values())
        await ps.terminate()
    got, empty = _read_claims(folder)
    _, done_at = await finished()
    last = max(datetime.fromisoformat(t).timestamp() for t in done_at) if done_at else 0.0
    first = min((started for started, _ in got), default=last)
    posts = fakes.slack.posts_by_key()
    counts = [posts.get((key, 0), 0) for key, _ in jobs]
    mean_delay = sum(fakes.llm_delay) / 2
    return Run(
        engine=engine, role=role, processes=processes, digests=n, done=len(done_at),
        seconds=last - first, claims=[ms for _, ms in got], empty=empty, cpu=cpu,
        twice=sum(c != 1 for c in counts), ceiling=processes * WORKERS * 60 / mean_delay,
    )  # fmt: skip


def _table(runs: Sequence[Run]) -> list[str]:
    lines = [
        "| engine | role | processes | job slots | digests | digests/min | LLM-bound ceiling "
        "| share | claim p50 | claim p99 | empty claims (p50) | CPU s/digest | posts ≠ 1 |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        empty = f"{len(r.empty)} ({percentile(r.empty, 0.5):.1f} ms)" if r.empty else "0"
        lines.append(
            f"| {r.engine} | {r.role} | {r.processes} | {r.processes * WORKERS} "
            f"| {r.done}/{r.digests} | {r.per_minute:.0f} | {r.ceiling:.0f} "
            f"| {r.per_minute / r.ceiling:.0%} | {percentile(r.claims, 0.5):.1f} ms "
            f"| {percentile(r.claims, 0.99):.1f} ms | {empty} | {r.cpu / max(r.done, 1):.3f} "
            f"| {r.twice} |"
        )
    return lines


async def _run(args: argparse.Namespace, root: Path, server: PostgresServer) -> list[Run]:
    most = args.per_process * max(args.processes)
    async with Fakes(threads=most, llm_delay=(args.llm[0], args.llm[1])) as fakes:
        runs = [
            await _one(fakes, server, root, "postgres", "worker", p, args.per_process)
            for p in args.processes
        ]
        for engine in ("postgres", "sqlite"):
            runs.append(await _one(fakes, server, root, engine, "all", 1, args.per_process))
    return runs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__.split("\n")[0])  # fmt: skip
    parser.add_argument("--per-process", type=int, default=PER_PROCESS, help="digests per process")
    parser.add_argument("--llm", type=float, nargs=2, default=list(LLM_DELAY), metavar=("MIN", "MAX"),
                        help="seconds an LLM call takes, drawn uniformly")  # fmt: skip
    parser.add_argument("--processes", type=int, nargs="+", default=list(PROCESSES))
    parser.add_argument("--keep", action="store_true", help="keep the processes' logs")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="redigest-cluster-bench-"))
    server = PostgresServer()
    started = time.monotonic()
    load = os.getloadavg()[0]
    with loopback_only():
        server.start()
        try:
            runs = asyncio.run(_run(args, root, server))
        finally:
            server.stop()
    print(machine(f"load average {load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"))
    print(
        f"each process: redigest run, {WORKERS} job workers; LLM {args.llm[0]}–{args.llm[1]} s per "
        f"call (8–20 s scaled by 1/10 by default); {args.per_process} digests per process; "
        f"PostgreSQL: the embedded server, fsync off; took {time.monotonic() - started:.0f} s"
    )
    print()
    print("\n".join(_table(runs)))
    if args.keep:
        print(f"\n(logs kept in {root})")
    else:
        shutil.rmtree(root, ignore_errors=True)
    bad = [r for r in runs if r.twice or r.done != r.digests]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
