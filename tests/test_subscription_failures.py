"""A subscription's failed runs reach its channel (issue 16, scope 1): each problem said once,
with what failed and what happens next; the third failed run in a row pauses the subscription,
said once, its reason shown by /subscriptions; /resume starts afresh; a run that works resets
the count. Watches count a subreddit Reddit refuses (at most once an hour), never an outage.

Here on the core (a fake chat, an in-memory Reddit, a fake clock); through the console, Discord
and Slack in tests/test_subscription_failures_chat.py."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import pytest

from adapters.reddit_source.shaping import subreddit_error
from bot.core import Core
from bot.jobs import WatchJob, job_payload
from bot.ports import RedditUnavailable, ThreadRef
from bot.storage import SubscriptionRow
from digest.model import Post
from tests.support.harness import Harness, make_thread

PRIVATE = "r/foo is private: only its approved members can read it."
DOWN = "Reddit refused anonymous access from this network; try again later."


async def _sub(h: Harness, sub_id: int = 1) -> SubscriptionRow:
    sub = await h.core.storage.subscription(sub_id)
    assert sub is not None
    return sub


async def _scheduled_run(h: Harness, fail: BaseException | None = None) -> None:
    """The subscription's next run, as the scheduler makes it: at its time, queued, run."""
    sub = await _sub(h)
    assert sub.next_run_at is not None
    h.clock.now = sub.next_run_at.replace(minute=1)
    h.source.fail_listing = [fail] if fail is not None else []
    assert await h.core.scheduler_tick() == 1
    await h.run_jobs()


def _said(h: Harness) -> list[str]:
    return [p.text for p in h.chat.public()]


async def _answer(h: Harness, command: str, text: str = "") -> str:
    await h.core.handle_request(h.request(command, text))
    return h.chat.ephemeral()[-1].text


async def test_a_private_subreddit_is_said_once_then_pauses_the_subscription(h: Harness) -> None:
    await h.core.handle_request(h.request("subscribe", "r/foo daily 09:00"))
    await _scheduled_run(h, subreddit_error("private", "foo"))
    [told] = _said(h)
    assert told == (
        f"The scheduled digest of r/foo (#1) could not be made: {PRIVATE} I will try again at "
        "the next run (2026-03-28 08:00 UTC). After 3 failed runs in a row this subscription "
        "pauses itself."
    )
    assert "1 failed run in a row" in await _answer(h, "subscriptions")

    await _scheduled_run(h, subreddit_error("private", "foo"))
    assert len(_said(h)) == 1  # the same problem: not said again
    assert (await _sub(h)).failures == 2

    await _scheduled_run(h, subreddit_error("private", "foo"))
    assert len(_said(h)) == 2
    assert _said(h)[-1] == (
        f"The scheduled digest of r/foo (#1) could not be made: {PRIVATE} That is 3 failed runs "
        "in a row, so #1 paused itself; /resume 1 once it is fixed."
    )
    sub = await _sub(h)
    assert sub.paused
    assert sub.paused_reason == f"3 failed runs in a row; the last: {PRIVATE}"
    listed = await _answer(h, "subscriptions")
    assert listed == (  # no next run while paused
        f"#1 r/foo: daily at 09:00 (Europe/Berlin), top 5 — paused: 3 failed runs in a row; "
        f"the last: {PRIVATE}"
    )
    assert f"#1 r/foo: paused (3 failed runs in a row; the last: {PRIVATE})" in (
        await h.core.describe_next_runs()
    )
    h.clock.advance(days=2)
    assert await h.core.scheduler_tick() == 0  # paused: no more runs
    assert len(_said(h)) == 2

    assert await _answer(h, "resume", "1") == "Resumed #1."
    sub = await _sub(h)
    assert (sub.paused, sub.paused_reason, sub.failures, sub.source_problem) == (
        False, None, 0, None,
    )  # fmt: skip
    assert "paused" not in await _answer(h, "subscriptions")
    await _scheduled_run(h, subreddit_error("private", "foo"))  # still private: said afresh
    assert len(_said(h)) == 3
    assert PRIVATE in _said(h)[-1]


async def test_a_run_that_works_resets_the_count(h: Harness) -> None:
    await h.core.handle_request(h.request("subscribe", "r/foo daily 09:00"))
    for _ in range(2):
        await _scheduled_run(h, subreddit_error("private", "foo"))
    assert (await _sub(h)).failures == 2
    await _scheduled_run(h)  # public again: a (nothing new) digest is posted
    sub = await _sub(h)
    assert (sub.failures, sub.source_problem) == (0, None)
    assert _said(h)[-1].startswith("Top of r/foo")
    for _ in range(2):
        await _scheduled_run(h, subreddit_error("private", "foo"))
    sub = await _sub(h)
    assert (sub.paused, sub.failures) == (False, 2)
    told = [t for t in _said(h) if PRIVATE in t]
    assert len(told) == 2  # once before the good run, once after it


async def test_a_new_problem_is_said_and_the_count_goes_on(h: Harness) -> None:
    await h.core.handle_request(h.request("subscribe", "r/foo daily 09:00"))
    await _scheduled_run(h, subreddit_error("private", "foo"))
    await _scheduled_run(h, subreddit_error("banned", "foo"))
    first, second = _said(h)
    assert PRIVATE in first
    assert "r/foo is banned by Reddit." in second
    assert second.endswith(
        "After 3 failed runs in a row this subscription pauses itself (2 so far)."
    )


async def test_reddit_down_through_a_runs_retries_is_one_failed_run(h: Harness) -> None:
    await h.core.handle_request(h.request("subscribe", "r/foo daily 09:00"))
    await _scheduled_run(h)  # a good run first
    sub = await _sub(h)
    assert sub.next_run_at is not None
    h.clock.now = sub.next_run_at.replace(minute=1)
    h.source.fail_listing = [RedditUnavailable(DOWN)] * 3
    assert await h.core.scheduler_tick() == 1
    for _ in range(3):  # its retries within the run, a minute or two apart
        await h.run_jobs()
        h.clock.advance(minutes=5)
    assert h.source.fail_listing == []
    assert (await _sub(h)).failures == 1
    assert len([t for t in _said(h) if DOWN in t]) == 1


async def test_an_error_of_ours_is_said_as_ours_and_logged_with_the_subscription(
    h: Harness, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    await h.core.handle_request(h.request("subscribe", "r/foo daily 09:00"))

    async def broken(*_: object, **__: object) -> None:
        raise RuntimeError("a bug of ours")

    monkeypatch.setattr(h.source, "listing", broken)
    for _ in range(2):
        sub = await _sub(h)
        assert sub.next_run_at is not None
        h.clock.now = sub.next_run_at.replace(minute=1)
        assert await h.core.scheduler_tick() == 1
        for _ in range(3):  # retried as any job, then failed for good
            await h.run_jobs()
            h.clock.advance(minutes=5)
    [told] = _said(h)
    assert told.startswith(
        "The scheduled digest of r/foo (#1) could not be made: An error on our side stopped it; "
        "it has been logged. I will try again at the next run"
    )
    assert (await _sub(h)).failures == 2
    traced = [
        r for r in caplog.records if r.levelno == logging.ERROR and "subscription #1" in r.message
    ]
    assert traced
    assert traced[0].exc_info is not None
    assert "a bug of ours" in str(traced[0].exc_info[1])


async def test_a_restart_never_repeats_a_notice(h: Harness) -> None:
    await h.core.handle_request(h.request("subscribe", "r/foo daily 09:00"))
    await _scheduled_run(h, subreddit_error("private", "foo"))
    await h.restart()
    await _scheduled_run(h, subreddit_error("private", "foo"))
    assert len(_said(h)) == 1
    assert (await _sub(h)).failures == 2


# ----------------------------------------------------------------------------- watches


async def _stream_fails(
    h: Harness, queue: asyncio.Queue[Post | BaseException], exc: BaseException
) -> None:
    """One poll that fails: the stream raises, the core deals with it and opens it again."""
    opens = h.source.stream_opens
    await queue.put(exc)
    for _ in range(2000):
        if h.source.stream_opens > opens:
            return
        await asyncio.sleep(0.002)
    raise AssertionError("the stream was not opened again")


async def _watching(
    h: Harness,
) -> tuple[Core, asyncio.Queue[Post | BaseException], asyncio.Task[None]]:
    core = h.core
    core.config = replace(core.config, stream_retry_seconds=0.001)
    await core.handle_request(h.request("watch", "r/foo min-score 300 within 12h"))
    queue = h.source.streams.setdefault("foo", asyncio.Queue())
    opens = h.source.stream_opens
    task = asyncio.create_task(core._consume_stream("foo"))
    for _ in range(500):
        if h.source.stream_opens > opens:
            break
        await asyncio.sleep(0.002)
    return core, queue, task


async def test_a_watch_of_a_private_subreddit_says_so_once_and_pauses_after_three_hours(
    h: Harness,
) -> None:
    core, queue, task = await _watching(h)
    try:
        await _stream_fails(h, queue, subreddit_error("private", "foo"))
        [told] = _said(h)
        assert told == (
            f"The watch of r/foo (#1) could not check for new posts: {PRIVATE} I keep checking "
            "(a failed check counts as a failed run at most once an hour). After 3 failed runs "
            "in a row this subscription pauses itself."
        )
        for _ in range(3):  # the stream opened again a minute later: not counted again yet
            h.clock.advance(minutes=1)
            await _stream_fails(h, queue, subreddit_error("private", "foo"))
        assert (await _sub(h)).failures == 1
        h.clock.advance(hours=1)
        await _stream_fails(h, queue, subreddit_error("private", "foo"))
        assert (await _sub(h)).failures == 2
        assert len(_said(h)) == 1
        h.clock.advance(hours=1)
        await _stream_fails(h, queue, subreddit_error("private", "foo"))
        sub = await _sub(h)
        assert sub.paused
        assert sub.paused_reason == f"3 failed runs in a row; the last: {PRIVATE}"
        assert len(_said(h)) == 2
        assert _said(h)[-1].endswith("so #1 paused itself; /resume 1 once it is fixed.")
        assert "#1 watch r/foo: ≥ 300 points within 12 h — paused: 3 failed runs" in (
            await _answer(h, "subscriptions")
        )
        assert await _answer(h, "resume", "1") == "Resumed #1."
        assert (await _sub(h)).failures == 0
    finally:
        task.cancel()
    del core


async def test_an_outage_is_said_once_and_never_pauses_a_watch(h: Harness) -> None:
    _, queue, task = await _watching(h)
    try:
        for _ in range(5):
            await _stream_fails(h, queue, RedditUnavailable(DOWN))
            h.clock.advance(hours=2)
        [told] = _said(h)
        assert told.startswith(f"Watching r/foo is interrupted: {DOWN}")
        sub = await _sub(h)
        assert (sub.paused, sub.failures, sub.source_problem) == (False, 0, DOWN)
        # Reddit answers again: the next new post ends the problem.
        opens = h.source.stream_opens
        await queue.put(make_thread("new777", sub="foo").post)
        for _ in range(500):
            if (await _sub(h)).source_problem is None:
                break
            await asyncio.sleep(0.002)
        assert (await _sub(h)).source_problem is None
        assert h.source.stream_opens == opens
    finally:
        task.cancel()


async def test_a_watched_threads_digest_that_fails_for_good_counts(h: Harness) -> None:
    await h.core.handle_request(h.request("watch", "r/LocalLLaMA min-score 300"))

    async def crossed(post_id: str) -> None:
        job = WatchJob(
            platform="fake", server_id="S1", channel_id="C1", subscription_id=1,
            thread=ThreadRef(post_id), nsfw_ok=False, header="r/LocalLLaMA · crossed 300 points",
        )  # fmt: skip
        assert await h.core.storage.add_job(f"watch:1:{post_id}", job.KIND, job_payload(job))
        await h.run_jobs()

    await crossed("gone999")  # deleted before its digest: Reddit has no such thread
    [told] = _said(h)
    assert told.startswith(
        "The watch of r/LocalLLaMA (#1) could not post a thread that crossed its threshold: "
        "Reddit has no thread with id gone999."
    )
    assert "I keep watching for the next one." in told
    assert (await _sub(h)).failures == 1
    await crossed("aaa111")  # the next one works
    assert (await _sub(h)).failures == 0
