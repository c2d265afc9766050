"""Every table family's queries on both engines (`db_where`: a SQLite file, then a fresh database
on the suite's own PostgreSQL server): the same code, the same answers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.chat import MessageRef
from bot.storage import MIGRATIONS, ClaimLost, Storage

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


async def test_the_schema_is_migrated(db_where: Path | str) -> None:
    async with Storage(db_where) as db:
        assert await db.schema_version() == max(v for v, _, _ in MIGRATIONS)
    async with Storage(db_where) as db:  # opened again: nothing left to apply
        assert await db.schema_version() == max(v for v, _, _ in MIGRATIONS)


async def test_subscriptions_round_trip(db_where: Path | str) -> None:
    async with Storage(db_where, clock=Clock()) as db:
        first = await db.add_subscription(
            platform="discord", server_id="s", channel_id="c", created_by="u", kind="schedule",
            spec={"sub": "python"}, next_run_at=T0 + timedelta(hours=1),
        )  # fmt: skip
        second = await db.add_subscription(
            platform="discord", server_id="s", channel_id="d", created_by="u", kind="watch",
            spec={"sub": "rust"}, next_run_at=None,
        )  # fmt: skip
        assert (first, second) == (1, 2)
        sub = await db.subscription(first)
        assert sub is not None
        assert sub.spec == {"sub": "python"}
        assert [s.id for s in await db.subscriptions(channel_id="d")] == [second]
        assert await db.earliest_next_run() == T0 + timedelta(hours=1)
        assert [s.id for s in await db.due_subscriptions(T0 + timedelta(hours=2))] == [first]
        failed = await db.note_run_failed(first, "down", pause_after=2, reason="too many")
        assert failed is not None
        assert (failed.failures, failed.say, failed.paused) == (1, True, False)
        failed = await db.note_run_failed(first, "down", pause_after=2, reason="too many")
        assert failed is not None
        assert failed.paused
        paused = await db.subscription(first)
        assert paused is not None
        assert paused.paused_reason == "too many"
        await db.set_paused(first, False)
        assert await db.note_source_problem(second, "gone") is True
        assert await db.note_source_problem(second, "gone") is False
        created = await db.schedule_due(
            first, "sched:1", "scheduled", {"n": 1}, T0 + timedelta(days=1), T0
        )
        assert created is True
        assert not await db.schedule_due(
            first, "sched:1", "scheduled", {"n": 1}, T0 + timedelta(days=1), T0
        )
        await db.update_spec(second, {"sub": "go"}, next_run_at=None)
        await db.delete_subscription(second)
        assert [s.id for s in await db.subscriptions()] == [first]


async def test_a_job_is_claimed_posted_and_finished(db_where: Path | str) -> None:
    clock = Clock()
    async with Storage(db_where, clock=clock) as db:
        payload = {"platform": "discord", "channel_id": "c"}
        assert await db.add_job("k1", "digest", payload) is True
        assert await db.add_job("k1", "digest", {}) is False
        job = await db.claim_job(lease=timedelta(seconds=30))
        assert job is not None
        assert (job.key, job.status, job.attempts) == ("k1", "running", 1)
        assert job.payload == payload
        assert await db.claim_job() is None  # held
        assert await db.renew_claims(["k1"], timedelta(seconds=60)) == 1
        await db.save_job_report("k1", "report", job.claim_token)
        await db.mark_posting("k1", job.claim_token)
        with pytest.raises(ClaimLost):
            await db.mark_posting("k1", "not-my-claim")
        ref = MessageRef("discord", "c", "m1")
        await db.record_post_result("k1", [ref], job.claim_token)
        await db.finish_job(
            "k1", [ref], post_id="p1", focus_comment_id=None, thread_posts=["p1"],
            token=job.claim_token,
        )  # fmt: skip
        done = await db.job("k1")
        assert done is not None
        assert (done.status, done.result) == ("done", [ref])
        assert await db.posted_thread_for(ref) == ("p1", None)
        assert await db.job_report_for(ref, "digest") == "report"
        assert await db.recently_posted("discord", "c", days=1) == {"p1"}
        await db.add_job("k2", "digest", {})
        again = await db.claim_job()
        assert again is not None
        assert await db.fail_job("k2", "boom", retry_at=T0 + timedelta(minutes=1)) is True
        assert await db.claim_job() is None  # not yet due
        clock.now = T0 + timedelta(minutes=2)
        assert await db.claim_job(only=()) is None
        retried = await db.claim_job(urgent=("digest",))
        assert retried is not None
        assert retried.attempts == 2
        assert [j.key for j in await db.jobs("running")] == ["k2"]


async def test_a_lapsed_claim_is_taken_over(db_where: Path | str) -> None:
    clock = Clock()
    async with Storage(db_where, clock=clock) as db:
        await db.add_job("k", "digest", {})
        first = await db.claim_job(lease=timedelta(seconds=10))
        assert first is not None
        clock.now = T0 + timedelta(seconds=11)
        second = await db.claim_job(lease=timedelta(seconds=10))
        assert second is not None
        assert second.claim_token != first.claim_token
        assert await db.fail_job("k", "late", retry_at=None, token=first.claim_token) is False


async def test_flags_settings_cache_spend_and_candidates(db_where: Path | str) -> None:
    async with Storage(db_where, clock=Clock()) as db:
        ref = MessageRef("slack", "c", "m")
        assert await db.add_flag(ref, "u1") == 1
        assert await db.add_flag(ref, "u1") == 1
        assert await db.add_flag(ref, "u2") == 2
        await db.set_setting("slack", "s", "depth", "deep")
        await db.set_setting("slack", "s", "depth", "brief")
        assert await db.get_settings("slack", "s") == {"depth": "brief"}
        await db.cache_report("r", "one")
        await db.cache_report("r", "two")
        assert await db.cached_report("r", timedelta(hours=1)) == "two"
        await db.record_usage("slack", "s", "m", 10, 20, 0.125, channel_id="c")
        await db.record_usage("slack", "s", "m", 1, 2, 0.25, channel_id="c")
        assert await db.spent_today("slack", "s") == pytest.approx(0.375)
        [usage] = await db.usage_since("slack", "s", date(2026, 3, 1))
        assert (usage.analyses, usage.input_tokens, usage.cost_usd) == (2, 11, 0.375)
        assert await db.add_candidate(1, "p", T0, T0) is True
        assert await db.add_candidate(1, "p", T0, T0) is False
        [cand] = await db.due_candidates(T0)
        assert cand.post_id == "p"
        await db.update_candidate(1, "p", score=5, comments=2, next_check_at=None, state="queued")
        assert await db.earliest_candidate_check() is None
