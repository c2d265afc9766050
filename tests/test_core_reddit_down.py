"""When Reddit cannot be reached: a scheduled run is over until its next slot and its channel
hears why once (not every run); a watch says once that it is interrupted; a saved-only bot says
what a subscription will see."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from bot.core import Core
from bot.ports import RedditUnavailable
from tests.support.harness import Harness, make_thread

DOWN = "Reddit refused anonymous access from this network; try again later."


async def test_a_scheduled_run_without_reddit_says_why_once_and_runs_at_the_next_slot(
    h: Harness,
) -> None:
    await h.core.handle_request(h.request("subscribe", "r/LocalLLaMA daily 09:00 top 2"))
    for day in range(2):  # two daily runs while Reddit refuses us (a third pauses it)
        h.source.fail_listing = [RedditUnavailable(DOWN)] * 3
        assert await h.core.run_subscription_now(1)
        for _ in range(3):  # its quick retries, then the run is over
            await h.run_jobs()
            h.clock.advance(minutes=5)
        h.clock.advance(hours=24)
        assert h.source.fail_listing == [], day
    told = [p for p in h.chat.public() if DOWN in p.text]
    assert len(told) == 1
    assert "next run" in told[0].text
    await h.core.handle_request(h.request("subscriptions", ""))
    assert "2 failed runs in a row" in h.chat.ephemeral()[-1].text
    assert DOWN in h.chat.ephemeral()[-1].text
    # Reddit is back: the next run posts the digest, and the problem is forgotten.
    assert await h.core.run_subscription_now(1)
    await h.run_jobs()
    assert any("Top of r/LocalLLaMA" in p.text for p in h.chat.public())
    sub = await h.core.storage.subscription(1)
    assert sub is not None
    assert sub.source_problem is None
    assert sub.failures == 0
    # ...so a later outage is said again, once.
    h.clock.advance(hours=24)
    h.source.fail_listing = [RedditUnavailable(DOWN)] * 3
    assert await h.core.run_subscription_now(1)
    for _ in range(3):
        await h.run_jobs()
        h.clock.advance(minutes=5)
    assert len([p for p in h.chat.public() if DOWN in p.text]) == 2


async def test_a_watch_that_cannot_reach_reddit_says_so_once(h: Harness) -> None:
    core: Core = h.core
    core.config = replace(core.config, stream_retry_seconds=0.001)
    await core.handle_request(h.request("watch", "r/LocalLLaMA min-score 300 within 12h"))
    h.source.fail_stream = [RedditUnavailable(DOWN) for _ in range(5)]
    task = asyncio.create_task(core._consume_stream("localllama"))
    try:
        for _ in range(400):
            if not h.source.fail_stream:
                break
            await asyncio.sleep(0.005)
        assert h.source.fail_stream == []
        told = [p for p in h.chat.public() if DOWN in p.text]
        assert len(told) == 1
        assert "Watching r/localllama is interrupted" in told[0].text
        # Reddit answers again: the next new post clears the problem.
        queue = h.source.streams.setdefault("localllama", asyncio.Queue())
        await queue.put(make_thread("new777").post)
        for _ in range(400):
            sub = await core.storage.subscription(1)
            if sub is not None and sub.source_problem is None:
                break
            await asyncio.sleep(0.005)
        assert sub is not None
        assert sub.source_problem is None
    finally:
        task.cancel()


async def test_a_saved_only_bot_says_what_a_subscription_will_see(h: Harness) -> None:
    h.core.config = replace(h.core.config, saved_only=True)
    await h.core.handle_request(h.request("subscribe", "r/LocalLLaMA daily 09:00"))
    await h.core.handle_request(h.request("watch", "r/LocalLLaMA min-score 10"))
    answers = [p.text for p in h.chat.ephemeral()]
    assert len(answers) == 2
    assert all("only its saved threads" in a for a in answers)
