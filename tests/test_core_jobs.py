"""Typed jobs and subscription specs: each kind survives a trip through JSON exactly, the specs
keep the keys redigest always stored, and jobs and subscriptions an older redigest wrote (their
payloads naming the thread as text) still load and run after an upgrade."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from bot.chat import ChannelTarget, EphemeralTarget, MessageRef, ThreadTarget
from bot.commands import SubscribeCmd, parse_command
from bot.jobs import (
    DigestJob,
    FlagJob,
    Job,
    SavedFile,
    ScheduledJob,
    UnreadableJob,
    WatchJob,
    job_payload,
    read_job,
)
from bot.ports import ThreadRef
from bot.specs import ScheduleSpec, WatchSpec, spec_of, spec_payload
from bot.storage import SubscriptionRow
from bot.thread_ref import ShareLink
from digest.report import Depth
from tests.support.harness import T0, Harness, make_thread

SHARE = ShareLink("https://www.reddit.com/r/LocalLLaMA/s/AbC123", "LocalLLaMA", "AbC123")
JOBS: list[Job] = [
    DigestJob("discord", "S1", "C1", "U1", ThreadRef("aaa111"), Depth.BRIEF, False, "tok"),
    DigestJob("slack", "T1", "C1", "U1", ThreadRef("aaa111", "c0ffee", "x"), Depth.DEEP, True),
    DigestJob("console", "console", "C", "U", SHARE, Depth.BRIEF, True),
    DigestJob("console", "console", "C", "U", SavedFile("/tmp/thread.json"), Depth.DEEP, True),
    FlagJob(MessageRef("slack", "C1", "1.2", "1.0"), "T1", "U2", ThreadRef("bbb222", "ff1"), True),
    FlagJob(MessageRef("discord", "C1", "99"), "S1", "U2", SHARE, False),
    WatchJob("discord", "S1", "C1", 7, ThreadRef("ccc333"), False, "r/x · crossed 300 points"),
    ScheduledJob("slack", "T1", "C1", 3, "Late: this digest was due at …"),
    ScheduledJob("slack", "T1", "C1", 3),
]


@pytest.mark.parametrize("job", JOBS, ids=lambda j: type(j).__name__)
def test_every_job_kind_round_trips_through_json(job: Job) -> None:
    stored = json.loads(json.dumps(job_payload(job)))
    assert read_job(job.KIND, stored) == job
    assert job_payload(read_job(job.KIND, stored)) == stored


def test_unknown_kinds_and_unreadable_payloads_are_said() -> None:
    with pytest.raises(UnreadableJob, match="unknown job kind mystery"):
        read_job("mystery", {})
    with pytest.raises(UnreadableJob, match="digest job"):
        read_job("digest", {"platform": "x"})
    with pytest.raises(UnreadableJob, match="scheduled job"):
        read_job("scheduled", {"subscription_id": "not a number"})


def _row(kind: str, spec: dict[str, Any]) -> SubscriptionRow:
    return SubscriptionRow(1, "fake", "S1", "C1", "U1", kind, spec, False, None, None)


def test_specs_keep_the_keys_redigest_always_stored() -> None:
    cmd = parse_command(
        "subscribe", "r/abc+def daily 09:00 top 3 flair X keywords q", default_tz="UTC"
    )
    assert isinstance(cmd, SubscribeCmd)
    # What the core wrote for this command before specs were typed (issue 15).
    old = {
        "subreddits": ["abc", "def"],
        "schedule": cmd.schedule.to_text(),
        "top": 3,
        "min_score": None,
        "flairs": ["X"],
        "exclude_flairs": [],
        "keywords": ["q"],
        "nsfw": False,
        "channel_nsfw": True,
    }
    spec = ScheduleSpec(
        ("abc", "def"), cmd.schedule.to_text(), 3, None, ("X",), (), ("q",), False, True
    )
    assert spec_payload(spec) == old
    assert spec_of(_row("schedule", old)) == spec
    watch = {
        "subreddits": ["LocalLLaMA"],
        "min_score": 300,
        "within_hours": 12,
        "channel_nsfw": False,
    }
    assert spec_payload(WatchSpec(("LocalLLaMA",), 300, 12)) == watch
    assert spec_of(_row("watch", watch)) == WatchSpec(("LocalLLaMA",), 300, 12)
    # Older still: no channel_nsfw, no filters.
    assert spec_of(_row("watch", {"subreddits": ["x"], "min_score": 5, "within_hours": 2})) == (
        WatchSpec(("x",), 5, 2)
    )


# ----------------------------------------------------------------------------- after an upgrade


async def test_jobs_and_subscriptions_written_before_the_upgrade_still_run(h: Harness) -> None:
    """Rows as the previous core wrote them (its literal payloads), in the bot's database; the
    process restarts on the new code and runs them all."""
    storage = h.core.storage
    focus_url = "https://www.reddit.com/comments/bbb222/_/c1/"
    queued = [
        ("digest:fake:C1:old-1", "digest", {"platform": "fake", "server_id": "S1", "channel_id": "C1",
         "user_id": "U1", "reply_token": "old-1", "target": "https://redd.it/aaa111",
         "depth": "brief", "nsfw_ok": False}),
        ("flag:fake:C1:m1:deep", "flag", {"platform": "fake", "server_id": "S1", "channel_id": "C1",
         "message_id": "m1", "thread_id": "t1", "user_id": "U2", "target": focus_url,
         "depth": "deep", "nsfw_ok": False}),
    ]  # fmt: skip
    for key, kind, payload in queued:
        assert await storage.add_job(key, kind, payload)
    cmd = parse_command("subscribe", "r/LocalLLaMA daily 09:00 top 1", default_tz="UTC")
    assert isinstance(cmd, SubscribeCmd)
    sched = await storage.add_subscription(
        platform="fake", server_id="S1", channel_id="C2", created_by="U1", kind="schedule",
        spec={"subreddits": ["LocalLLaMA"], "schedule": cmd.schedule.to_text(), "top": 1,
              "min_score": None, "flairs": [], "exclude_flairs": [], "keywords": [],
              "nsfw": False},
        next_run_at=T0 + timedelta(hours=3),
    )  # fmt: skip
    watch = await storage.add_subscription(
        platform="fake", server_id="S1", channel_id="C3", created_by="U1", kind="watch",
        spec={"subreddits": ["LocalLLaMA"], "min_score": 300, "within_hours": 12,
              "channel_nsfw": False},
        next_run_at=None,
    )  # fmt: skip
    await storage.add_job(
        f"watch:{watch}:ccc333", "watch",
        {"platform": "fake", "server_id": "S1", "subscription_id": watch, "channel_id": "C3",
         "target": "t3_ccc333", "depth": "brief", "nsfw_ok": False,
         "header": "r/LocalLLaMA · crossed 300 points"},
    )  # fmt: skip
    await storage.add_job(
        f"sched:{sched}:manual:old", "scheduled",
        {"platform": "fake", "subscription_id": sched, "late_note": "Late: old run.",
         "channel_id": "C2", "server_id": "S1"},
    )  # fmt: skip

    await h.restart()
    assert await h.run_jobs() == 4
    assert all(j.status == "done" for j in await h.core.storage.jobs())
    by_target = {p.target: p.delivery for p in h.chat.public()}
    digest = by_target[ChannelTarget("C1", "old-1")]
    assert digest.report is not None
    assert digest.report.thread.id == "aaa111"
    assert digest.offer_emoji == "🔍"
    deep = by_target[ThreadTarget(MessageRef("fake", "C1", "m1", "t1"))]
    assert deep.report is not None
    assert (deep.report.thread.id, deep.report.depth) == ("bbb222", Depth.DEEP)
    assert deep.offer_emoji is None
    watched = by_target[ChannelTarget("C3")]
    assert watched.report is not None
    assert watched.report.thread.id == "ccc333"
    assert watched.header == "r/LocalLLaMA · crossed 300 points"
    bundle = by_target[ChannelTarget("C2")].bundle
    assert bundle is not None
    assert bundle.note == "Late: old run."
    assert len(bundle.reports) == 1

    # The old subscriptions are listed, scheduled and watched like new ones.
    await h.core.handle_request(h.request("subscriptions", ""))
    listing = h.chat.ephemeral()[-1].text
    assert f"#{sched} r/LocalLLaMA: daily" in listing
    assert f"#{watch} watch r/LocalLLaMA: ≥ 300 points within 12 h" in listing
    h.clock.advance(hours=3, minutes=1)
    assert await h.core.scheduler_tick() == 1
    fresh = h.source.add(make_thread("new001", score=500, created_utc=T0.timestamp()))
    assert await h.core.add_candidate(fresh.post) == 1


async def test_a_request_replayed_across_the_upgrade_is_done_once(h: Harness) -> None:
    await h.core.storage.add_job(
        "digest:fake:C1:same", "digest",
        {"platform": "fake", "server_id": "S1", "channel_id": "C1", "user_id": "U1",
         "reply_token": "same", "target": "https://redd.it/aaa111", "depth": "brief",
         "nsfw_ok": False},
    )  # fmt: skip
    await h.restart()
    await h.core.handle_request(
        h.request("digest", "https://redd.it/aaa111 brief", reply_token="same")
    )
    await h.core.handle_request(h.request("digest", "https://redd.it/bbb222", reply_token="same"))
    assert len(await h.core.storage.jobs()) == 1
    [told] = h.chat.ephemeral()  # only the different request is answered
    assert "already used" in told.text


async def test_an_unreadable_job_fails_quietly_and_the_queue_goes_on(h: Harness) -> None:
    await h.core.storage.add_job("odd-1", "mystery", {"x": 1})
    await h.core.storage.add_job("odd-2", "digest", {"platform": "fake", "channel_id": "C1"})
    await h.core.handle_request(h.request("digest", "https://redd.it/aaa111"))
    assert await h.run_jobs() == 3
    jobs = {j.key: j for j in await h.core.storage.jobs()}
    assert jobs["odd-1"].status == jobs["odd-2"].status == "failed"
    assert jobs["odd-1"].error == "unknown job kind mystery"
    assert len(h.chat.public()) == 1
    assert not [p for p in h.chat.posts if isinstance(p.target, EphemeralTarget)]
