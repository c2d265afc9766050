"""Which job a worker claims next: what a person waits for before background runs, and a worker
kept free for people claims nothing else."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

from bot.storage import Storage
from digest.model import Post
from tests.support.harness import Harness


async def test_asked_for_jobs_are_claimed_before_older_background_runs(
    db_where: Path | str,
) -> None:
    async with Storage(db_where) as db:
        for i in range(3):
            await db.add_job(f"sched:{i}", "scheduled", {"n": i})
        await db.add_job("digest:late", "digest", {"n": 9})
        first = await db.claim_job(urgent=("digest", "flag"))
        assert first is not None
        assert first.key == "digest:late"
        second = await db.claim_job(urgent=("digest", "flag"))
        assert second is not None
        assert second.key == "sched:0"
        plain = await db.claim_job()
        assert plain is not None
        assert plain.key == "sched:1"


async def test_a_worker_kept_for_people_claims_only_their_jobs(db_where: Path | str) -> None:
    async with Storage(db_where) as db:
        await db.add_job("sched:1", "scheduled", {})
        await db.add_job("watch:1", "watch", {})
        assert await db.claim_job(only=("digest", "flag")) is None
        assert await db.claim_job(only=()) is None
        await db.add_job("flag:1", "flag", {})
        got = await db.claim_job(only=("digest", "flag"))
        assert got is not None
        assert got.key == "flag:1"
        rest = await db.claim_job()
        assert rest is not None
        assert rest.key == "sched:1"


async def test_a_burst_of_scheduled_runs_leaves_a_worker_for_people(h: Harness) -> None:
    """Two workers: while one makes a scheduled digest, the other takes an asked-for digest and
    not the next scheduled run (which waits for the first to end)."""
    h.core = replace(h.core, config=replace(h.core.config, workers=2))
    for sub in ("r/LocalLLaMA daily 09:00 top 1", "r/LocalLLaMA daily 10:00 top 1"):
        await h.core.handle_request(h.request("subscribe", sub))
    assert await h.core.run_subscription_now(1)
    assert await h.core.run_subscription_now(2)
    listed, release = asyncio.Event(), asyncio.Event()
    plain_listing = h.source.listing

    async def held_listing(*args: Any, **kw: Any) -> list[Post]:
        if not listed.is_set():  # only the first run is held
            listed.set()
            await release.wait()
        return await plain_listing(*args, **kw)

    h.source.listing = held_listing  # type: ignore[method-assign]
    first = asyncio.create_task(h.core.run_one_job())
    await listed.wait()  # a scheduled run holds the first worker
    await h.core.handle_request(h.request("digest", "https://redd.it/bbb222"))
    asked = await h.core.run_one_job()
    assert asked is not None
    assert asked.kind == "digest"
    assert await h.core.run_one_job() is None  # the second scheduled run waits
    release.set()
    done = await first
    assert done is not None
    assert done.kind == "scheduled"
    assert await h.run_jobs() == 1  # now the other scheduled run goes
    assert [j.status for j in await h.core.storage.jobs()] == ["done"] * 3
