"""Which job a worker claims next: what a person waits for before background runs, and a worker
kept free for people claims nothing else."""

from __future__ import annotations

from pathlib import Path

from bot.storage import Storage


async def test_asked_for_jobs_are_claimed_before_older_background_runs(tmp_path: Path) -> None:
    async with Storage(tmp_path / "q.sqlite3") as db:
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


async def test_a_worker_kept_for_people_claims_only_their_jobs(tmp_path: Path) -> None:
    async with Storage(tmp_path / "q.sqlite3") as db:
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
