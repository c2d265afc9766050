"""Issue 17's acceptance, with real processes: `redigest run --role worker|scheduler` subprocesses
(the real CLI) on one PostgreSQL database of the suite's own server, killed with SIGKILL.

1. Three workers and a scheduler; 200 digests queued as gateways queue them (fake Reddit, an LLM
   answering after 0.2–1.5 s, the fake Slack). One worker is killed while it holds jobs, one of
   them in `posting` with its message already in the channel (the fake holds its answer). Every
   digest is posted exactly once, none is lost or failed, and the killed worker's jobs were
   finished by the others: the held one through `find_posted`, not posted again.
2. Two schedulers and a worker; the leader is killed. A subscription's run that comes due is
   queued once by the other scheduler, which took the lease over with the next term, and posted
   once. The only time check is on the database's own timestamps: the run was queued after the
   killed leader's lease ran out, and within a lease, a renewal and a tick of the kill.

Short leases (REDIGEST_JOB_LEASE_SECONDS, REDIGEST_LEADER_LEASE_SECONDS) keep it quick; every wait
has a generous deadline and no other timing is asserted. tests/support/cluster.py has the fakes
and the processes; every process is killed at the end, whatever happened.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot.commands import SubscribeCmd, parse_command
from bot.storage import Storage
from tests.support.cluster import (
    SUBREDDIT,
    TEAM,
    Fakes,
    Processes,
    process_of,
    queue_digests,
    until,
)

DIGESTS = 200
HELD = 70  # the digest whose post the fake Slack holds: about a third of the way through
JOB_LEASE = 4.0  # seconds; renewed every quarter of it
LEADER_LEASE = 4.0
LEADER_RETRY = LEADER_LEASE / 4  # a standby asks for the lease this often
TICK = 2.0  # the new leader's first tick, and the processes' scheduling on a busy machine
DEADLINE = 240.0  # for whole phases: generous, a loaded 2-core machine must not fail them


def _env(url: str, fakes: Fakes) -> dict[str, str]:
    return fakes.env() | {
        "REDIGEST_DATABASE_URL": url,
        "REDIGEST_JOB_LEASE_SECONDS": str(JOB_LEASE),
        "REDIGEST_LEADER_LEASE_SECONDS": str(LEADER_LEASE),
        "REDIGEST_WORKERS": "4",
        "REDIGEST_LOG_LEVEL": "INFO",
    }


@pytest.fixture
async def conn(postgres_url: str) -> AsyncIterator[Any]:
    connection = await asyncpg.connect(postgres_url)
    try:
        yield connection
    finally:
        await connection.close()


async def test_each_digest_is_posted_once_through_a_worker_killed_while_posting(
    postgres_url: str, conn: Any, tmp_path: Path
) -> None:
    async with (
        Fakes(threads=DIGESTS) as fakes,
        Processes(tmp_path, _env(postgres_url, fakes)) as ps,
    ):
        jobs = fakes.digest_jobs(DIGESTS)
        keys = [key for key, _ in jobs]
        held = keys[HELD]
        fakes.slack.hold(held)
        workers = ["w1", "w2", "w3"]
        for name in workers:
            ps.start(name, "worker")
        ps.start("s1", "scheduler")
        await ps.until_ready(*workers, "s1")
        assert await queue_digests(postgres_url, jobs) == DIGESTS

        # The held digest's message is in its channel; its poster has not heard back.
        await until(_flag(fakes.slack.held.is_set), timeout=DEADLINE, processes=ps)
        row = await conn.fetchrow("SELECT status, claimed_by FROM jobs WHERE key = $1", held)
        assert row["status"] == "posting"
        victim = await process_of(conn, row["claimed_by"], ps)
        assert victim in workers
        holding = {
            r["key"]: r["status"]
            for r in await conn.fetch(
                "SELECT key, status FROM jobs WHERE claimed_by = $1"
                " AND status IN ('running', 'posting')",
                row["claimed_by"],
            )
        }
        assert holding[held] == "posting"
        assert len(holding) >= 2  # it was working on others too (4 slots, a long queue)
        done_before = await _count(conn, "done")
        ps.kill9(victim)
        fakes.slack.release()  # the answer now goes to a dead socket

        async def finished() -> bool:
            return await _count(conn, "done", "failed") == DIGESTS

        await until(finished, timeout=DEADLINE, processes=ps)

        assert 0 < done_before < DIGESTS - len(holding)  # killed midway
        assert await _count(conn, "done") == DIGESTS
        assert await _count(conn, "failed") == 0
        # Exactly one post per digest, none lost, nobody told of a failure.
        posts = fakes.slack.posts_by_key()
        assert {key for key, _ in posts} == set(keys)
        assert set(posts.values()) == {1}
        assert fakes.slack.ephemerals == []
        # The killed worker's jobs were taken over: an attempt more, an interruption counted.
        taken = await conn.fetch(
            "SELECT key, status, attempts, interruptions, result FROM jobs WHERE key = ANY($1)",
            list(holding),
        )
        assert {r["key"] for r in taken} == set(holding)
        assert all(r["status"] == "done" for r in taken)
        assert all(r["attempts"] >= 2 and r["interruptions"] >= 1 for r in taken)
        # The held one was found in its channel, not posted again: its one message is the result.
        [ts] = fakes.slack.ts_of(held)
        result = next(r["result"] for r in taken if r["key"] == held)
        assert [ref["message_id"] for ref in json.loads(result)] == [ts]
        line = f"job {held} had posted before a restart; not posting again"
        assert sum(line in ps.children[w].output() for w in workers if w != victim) == 1


async def test_the_schedule_fails_over_to_the_other_scheduler_within_the_lease(
    postgres_url: str, conn: Any, tmp_path: Path
) -> None:
    async with Fakes(threads=3) as fakes, Processes(tmp_path, _env(postgres_url, fakes)) as ps:
        ps.start("s1", "scheduler")
        await ps.until_ready("s1")

        async def led() -> bool:
            return bool(await conn.fetchval("SELECT count(*) FROM leaders") == 1)

        await until(led, timeout=DEADLINE, processes=ps)
        ps.start("s2", "scheduler")
        ps.start("w1", "worker")
        await ps.until_ready("s2", "w1")
        [first] = await conn.fetch("SELECT * FROM leaders")
        assert first["role"] == "scheduler"
        assert await process_of(conn, first["owner"], ps) == "s1"

        ps.kill9("s1")
        killed_at = datetime.now(UTC)
        [last] = await conn.fetch("SELECT * FROM leaders")  # S1's last renewal
        assert last["owner"] == first["owner"]
        sub = await _subscribe_due(postgres_url, fakes.channel(0))

        async def posted() -> bool:
            status = await conn.fetchval(
                "SELECT status FROM jobs WHERE key LIKE $1", f"sched:{sub}:%"
            )
            return bool(status == "done")

        await until(posted, timeout=DEADLINE, processes=ps)

        [run] = await conn.fetch("SELECT key, created_at FROM jobs WHERE key LIKE 'sched:%'")
        posts = fakes.slack.posts_by_key()
        assert {key for key, _ in posts} == {run["key"]}  # posted once, by the worker
        assert set(posts.values()) == {1}
        [now] = await conn.fetch("SELECT * FROM leaders")
        assert await process_of(conn, now["owner"], ps) == "s2"
        assert now["term"] == last["term"] + 1
        # Database timestamps: queued once S1's lease had run out, within a lease of the kill.
        queued = datetime.fromisoformat(run["created_at"])
        assert queued >= datetime.fromisoformat(last["until"])
        assert queued - killed_at <= timedelta(seconds=LEADER_LEASE + LEADER_RETRY + TICK)


def _flag(check: Any) -> Any:
    async def ask() -> bool:
        return bool(check())

    return ask


async def _count(conn: Any, *statuses: str) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM jobs WHERE status = ANY($1)", statuses))


async def _subscribe_due(url: str, channel: str) -> int:
    """A daily subscription of the fake subreddit whose run came due a minute ago."""
    slot = (datetime.now(UTC) - timedelta(minutes=1)).replace(second=0, microsecond=0)
    cmd = parse_command("subscribe", f"r/{SUBREDDIT} daily {slot:%H:%M} top 1", default_tz="UTC")
    assert isinstance(cmd, SubscribeCmd)
    async with Storage(url) as storage:
        return await storage.add_subscription(
            platform="slack", server_id=TEAM, channel_id=channel, created_by="U0OWNER01",
            kind="schedule",
            spec={"subreddits": [SUBREDDIT], "schedule": cmd.schedule.to_text(), "top": 1,
                  "min_score": None, "flairs": [], "exclude_flairs": [], "keywords": [],
                  "nsfw": False},
            next_run_at=slot,
        )  # fmt: skip
