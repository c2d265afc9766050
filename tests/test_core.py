"""The bot core end to end: a fake chat, a fake Reddit, a scripted or offline analyser, a fake
clock and a real SQLite file. Crashes are simulated at every step of a job, then the core is
restarted on the same database: exactly one post each time."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.chat import ChannelTarget, Delivery, MessageRef, Reaction, ThreadTarget
from bot.core import CoreConfig
from digest.report import Depth
from tests.support.fake_chat import SimulatedCrash
from tests.support.harness import T0, Harness, make_thread

# ----------------------------------------------------------------------------- digests


async def test_digest_request_posts_one_report(h: Harness) -> None:
    request = h.request("digest", "https://redd.it/aaa111")
    await h.core.handle_request(request)
    assert h.chat.posts == []  # answered by the job, not by the request handler
    assert await h.run_jobs() == 1
    [post] = h.chat.public()
    assert post.delivery.report is not None
    assert post.delivery.report.thread.id == "aaa111"
    # The post names the request it answers, so the platform can tell the asker where it went.
    assert post.target == ChannelTarget("C1", request.reply_token)
    assert request.reply_token
    assert await h.core.storage.posted_thread_for(post.ref) == ("aaa111", None)


async def test_bad_input_gets_one_clear_sentence(h: Harness) -> None:
    await h.core.handle_request(h.request("digest", "https://www.reddit.com/r/foo/wiki"))
    await h.core.handle_request(h.request("frobnicate", ""))
    await h.core.handle_request(h.request("digest", "https://redd.it/zzz999"))
    await h.run_jobs()
    texts = [p.text for p in h.chat.ephemeral()]
    assert "is not a Reddit thread link" in texts[0]
    assert "https://www.reddit.com/r/" in texts[0]
    assert "frobnicate" in texts[1]
    assert "no thread" in texts[2]
    assert h.chat.public() == []


async def test_permission_is_rechecked_by_the_core(h: Harness) -> None:
    for command, text in (
        ("subscribe", "r/LocalLLaMA daily 09:00"),
        ("watch", "r/LocalLLaMA min-score 100"),
        ("settings", "spend-cap 5"),
        ("unsubscribe", "1"),
    ):
        await h.core.handle_request(h.request(command, text, can_manage=False))
    texts = [p.text for p in h.chat.ephemeral()]
    assert len(texts) == 4
    assert all(t.startswith("Only people who can manage this server") for t in texts)
    assert await h.core.storage.subscriptions() == []


async def test_rate_limits_per_user_and_channel(h: Harness) -> None:
    for i in range(6):
        await h.core.handle_request(
            h.request("digest", "https://redd.it/aaa111", reply_token=f"r{i}")
        )
    refusals = [p.text for p in h.chat.ephemeral()]
    assert len(refusals) == 1
    assert "try again in" in refusals[0]
    h.clock.advance(minutes=11)
    await h.core.handle_request(h.request("digest", "https://redd.it/aaa111", reply_token="later"))
    assert len(h.chat.ephemeral()) == 1


async def test_spend_cap_switches_to_offline(h: Harness) -> None:
    await h.core.handle_request(h.request("settings", "analyzer anthropic"))
    h.llm.usage = (300_000, 20_000, 0, 0)  # ≈ $0.40 per call on Haiku prices
    await h.core.handle_request(h.request("settings", "spend-cap 0.50"))
    for i, pid in enumerate(("aaa111", "bbb222", "ccc333")):
        await h.core.handle_request(
            h.request("digest", f"https://redd.it/{pid}", reply_token=f"s{i}")
        )
        await h.run_jobs()
    analyzers = [p.delivery.report.analyzer for p in h.chat.public() if p.delivery.report]
    assert analyzers == ["anthropic", "anthropic", "offline"]
    last = h.chat.public()[-1].delivery.report
    assert last is not None
    assert any("LLM budget" in n for n in last.notes)
    assert await h.core.storage.spent_today("fake", "S1") > 0.5


async def test_one_analysis_serves_many_channels(h: Harness) -> None:
    await h.core.handle_request(h.request("settings", "analyzer anthropic"))
    for channel in ("C1", "C2", "C3"):
        await h.core.handle_request(
            h.request("digest", "https://redd.it/aaa111", channel_id=channel, reply_token=channel)
        )
    await h.run_jobs()
    assert len(h.chat.public()) == 3
    assert len(h.llm.requests) == 1


async def test_nsfw_threads_only_in_nsfw_channels(h: Harness) -> None:
    h.source.add(make_thread("nsf001", over_18=True))
    await h.core.handle_request(h.request("digest", "https://redd.it/nsf001"))
    await h.run_jobs()
    assert h.chat.public() == []
    assert "NSFW" in h.chat.ephemeral()[0].text
    await h.core.handle_request(
        h.request("digest", "https://redd.it/nsf001", channel_nsfw=True, reply_token="x")
    )
    await h.run_jobs()
    assert len(h.chat.public()) == 1


async def test_platform_outage_is_retried_not_lost(h: Harness) -> None:
    h.chat.fail_posts = 1
    await h.core.handle_request(h.request("digest", "https://redd.it/aaa111"))
    await h.run_jobs()
    assert h.chat.public() == []
    [job] = await h.core.storage.jobs()
    assert job.status == "pending"
    h.clock.advance(minutes=1)
    await h.run_jobs()
    assert len(h.chat.public()) == 1
    assert (await h.core.storage.jobs())[0].status == "done"


# ----------------------------------------------------------------------------- crashes


@pytest.mark.parametrize("step", ["after fetch", "after analysis", "after posting"])
async def test_a_crash_at_any_step_posts_exactly_once(h: Harness, step: str) -> None:
    await h.core.handle_request(h.request("settings", "analyzer anthropic"))
    await h.core.handle_request(h.request("digest", "https://redd.it/aaa111"))
    core = h.core
    if step == "after fetch":
        original = core.engines.by_name["anthropic"].digest

        async def crash(*a: Any, **k: Any) -> Any:
            raise SimulatedCrash

        core.engines.by_name["anthropic"].digest = crash  # type: ignore[method-assign]
    elif step == "after analysis":

        async def crash_marking(*args: Any) -> None:
            raise SimulatedCrash

        core.storage.mark_posting = crash_marking  # type: ignore[method-assign,assignment]
    else:
        h.chat.crash_after_post = True
    with pytest.raises(SimulatedCrash):
        await core.run_one_job()
    if step == "after fetch":
        core.engines.by_name["anthropic"].digest = original  # type: ignore[method-assign]
    calls_before = len(h.llm.requests)
    await h.restart()
    await h.run_jobs()
    assert len(h.chat.public()) == 1
    [job] = await h.core.storage.jobs()
    assert job.status == "done"
    # After the analysis was saved, a restart does not pay for it again.
    if step != "after fetch":
        assert len(h.llm.requests) == calls_before


# ----------------------------------------------------------------------------- scheduling


async def test_subscribe_shows_next_run_and_posts_one_bundle(h: Harness) -> None:
    await h.core.handle_request(
        h.request("subscribe", "r/LocalLLaMA daily 09:00 Europe/Berlin top 2")
    )
    answer = h.chat.ephemeral()[0].text
    assert answer.startswith("Subscribed #1")
    assert "2026-03-27 08:00 UTC" in answer  # 09:00 in Berlin, UTC+1 before the change
    assert await h.core.scheduler_tick() == 0
    h.clock.advance(hours=2, minutes=1)
    assert await h.core.scheduler_tick() == 1
    await h.run_jobs()
    [post] = h.chat.public()
    bundle = post.delivery.bundle
    assert bundle is not None
    assert [r.thread.id for r in bundle.reports] == ["aaa111", "bbb222"]
    # The next day skips what this channel already got.
    h.clock.advance(days=1)
    await h.core.scheduler_tick()
    await h.run_jobs()
    second = h.chat.public()[-1].delivery.bundle
    assert second is not None
    assert [r.thread.id for r in second.reports] == ["ccc333"]


async def test_filters(h: Harness) -> None:
    h.source.add(make_thread("flr001", score=2000, link_flair_text="Meme"))
    h.source.add(make_thread("kw0001", score=30, title="Qwen release notes"))
    await h.core.handle_request(
        h.request("subscribe", "r/LocalLLaMA daily 09:00 top 5 min-score 100 exclude-flair Meme")
    )
    await h.core.handle_request(
        h.request("subscribe", "r/LocalLLaMA daily 09:00 top 5 keywords qwen", channel_id="C2")
    )
    h.clock.advance(hours=3)
    await h.core.scheduler_tick()
    await h.run_jobs()
    by_channel = {p.target.channel_id: p.delivery.bundle for p in h.chat.public()}  # type: ignore[union-attr]
    assert [r.thread.id for r in by_channel["C1"].reports] == ["aaa111", "bbb222"]  # type: ignore[union-attr]
    assert [r.thread.id for r in by_channel["C2"].reports] == ["kw0001"]  # type: ignore[union-attr]


async def test_a_run_missed_while_down_runs_once_and_says_late(h: Harness) -> None:
    await h.core.handle_request(h.request("subscribe", "r/LocalLLaMA hourly"))
    await h.restart()
    h.clock.advance(hours=5, minutes=20)  # five runs were missed while the bot was down
    assert await h.core.scheduler_tick() == 1
    assert await h.core.scheduler_tick() == 0
    await h.run_jobs()
    [post] = h.chat.public()
    assert post.delivery.bundle is not None
    assert post.delivery.bundle.note is not None
    assert post.delivery.bundle.note.startswith("Late:")
    sub = (await h.core.storage.subscriptions())[0]
    assert sub.next_run_at == datetime(2026, 3, 27, 12, 0, tzinfo=UTC)


async def test_too_old_missed_runs_are_skipped(h: Harness) -> None:
    await h.core.handle_request(h.request("subscribe", "r/LocalLLaMA weekly mon 09:00"))
    h.clock.advance(days=3, hours=10)  # Monday 09:00 passed 7 hours ago…
    h.clock.advance(hours=1)  # … past the 6-hour grace window
    assert await h.core.scheduler_tick() == 0
    # Not made, but said once in its channel (issue 16: it used to vanish with a log line).
    [notice] = h.chat.public()
    assert notice.delivery.text is not None
    assert notice.delivery.text.startswith(
        "The scheduled digest of r/LocalLLaMA due at 2026-03-30 07:00 UTC was skipped"
    ), notice.delivery.text
    assert "The next run is 2026-04-06" in notice.delivery.text, notice.delivery.text
    assert await h.core.scheduler_tick() == 0
    assert len(h.chat.public()) == 1


async def test_schedule_across_the_dst_change(h: Harness) -> None:
    await h.core.handle_request(h.request("subscribe", "r/LocalLLaMA daily 09:00 Europe/Berlin"))
    runs = []
    for _ in range(4):
        sub = (await h.core.storage.subscriptions())[0]
        assert sub.next_run_at is not None
        runs.append(sub.next_run_at)
        h.clock.now = sub.next_run_at + timedelta(seconds=1)
        await h.core.scheduler_tick()
    assert [r.hour for r in runs] == [8, 8, 7, 7]  # 09:00 CET, then 09:00 CEST from 29 March
    assert len({r.date() for r in runs}) == 4


async def test_quiet_period(h: Harness) -> None:
    await h.core.handle_request(h.request("subscribe", "r/EmptySub daily 09:00"))
    h.clock.advance(hours=3)
    await h.core.scheduler_tick()
    await h.run_jobs()
    [post] = h.chat.public()
    assert post.delivery.bundle is not None
    assert post.delivery.bundle.reports == ()
    assert "Nothing new" in (post.delivery.bundle.empty_text or "")
    await h.core.handle_request(h.request("settings", "quiet silent"))
    h.clock.advance(days=1)
    await h.core.scheduler_tick()
    await h.run_jobs()
    assert len(h.chat.public()) == 1


async def test_pause_resume_unsubscribe_and_list(h: Harness) -> None:
    await h.core.handle_request(h.request("subscribe", "r/LocalLLaMA daily 09:00"))
    await h.core.handle_request(h.request("pause", "#1"))
    h.clock.advance(hours=3)
    assert await h.core.scheduler_tick() == 0
    await h.core.handle_request(h.request("subscriptions", ""))
    assert "paused" in h.chat.ephemeral()[-1].text
    await h.core.handle_request(h.request("resume", "1"))
    await h.core.handle_request(h.request("unsubscribe", "1", server_id="OTHER"))
    assert "no subscription #1 here" in h.chat.ephemeral()[-1].text
    await h.core.handle_request(h.request("unsubscribe", "1"))
    assert await h.core.storage.subscriptions() == []


async def test_a_subscription_whose_posts_are_refused_is_paused_not_rerun(h: Harness) -> None:
    await h.core.handle_request(h.request("subscribe", "r/LocalLLaMA daily 09:00 top 2"))
    h.chat.refused_channels.add("C1")  # say the bot lost its permission in the channel
    h.clock.advance(hours=3)
    assert await h.core.scheduler_tick() == 1
    await h.run_jobs()
    assert h.chat.public() == []
    [sub] = await h.core.storage.subscriptions()
    assert sub.paused  # tomorrow's run would be refused too, after paying for its digests
    h.clock.advance(days=1)
    assert await h.core.scheduler_tick() == 0
    await h.core.handle_request(h.request("subscriptions", ""))
    assert "paused: I can't post in this channel" in h.chat.ephemeral()[-1].text
    # Fixed, resumed: it posts again. An on-demand digest there is only told why, never paused.
    h.chat.refused_channels.clear()
    await h.core.handle_request(h.request("resume", "1"))
    [sub] = await h.core.storage.subscriptions()
    assert not sub.paused
    assert sub.paused_reason is None
    h.chat.refused_channels.add("C1")
    await h.core.handle_request(h.request("digest", "https://redd.it/aaa111"))
    await h.run_jobs()
    assert h.chat.ephemeral()[-1].text.startswith("I can't post in this channel")
    [sub] = await h.core.storage.subscriptions()
    assert not sub.paused


# ----------------------------------------------------------------------------- watch mode


async def test_watch_posts_a_thread_once_it_crosses_the_threshold(h: Harness) -> None:
    await h.core.handle_request(h.request("watch", "r/LocalLLaMA min-score 300 within 12h"))
    fresh = h.source.add(make_thread("new001", score=20, created_utc=T0.timestamp()))
    assert await h.core.add_candidate(fresh.post) == 1
    h.clock.advance(minutes=11)
    assert await h.core.watch_tick() == 0  # not there yet: checked again later
    h.source.set_score("new001", 350)
    h.clock.advance(minutes=25)
    assert await h.core.watch_tick() == 1
    await h.run_jobs()
    [post] = h.chat.public()
    assert post.delivery.header is not None
    assert "crossed 300" in post.delivery.header
    h.clock.advance(hours=1)
    assert await h.core.watch_tick() == 0
    assert await h.core.add_candidate(fresh.post) == 0  # already known: never twice


async def test_watch_answers_say_one_point_and_one_hour_in_the_singular(h: Harness) -> None:
    await h.core.handle_request(h.request("watch", "r/LocalLLaMA min-score 1 within 1h"))
    answer = h.chat.ephemeral()[-1].text
    assert "once they reach 1 point within 1 hour." in answer, answer
    await h.core.handle_request(h.request("subscriptions", ""))
    listing = h.chat.ephemeral()[-1].text
    assert "≥ 1 point within" in listing, listing


async def test_a_watch_whose_posts_are_refused_is_paused(h: Harness) -> None:
    await h.core.handle_request(h.request("watch", "r/LocalLLaMA min-score 300 within 12h"))
    h.chat.refused_channels.add("C1")
    fresh = h.source.add(make_thread("new001", score=350, created_utc=T0.timestamp()))
    await h.core.add_candidate(fresh.post)
    h.clock.advance(minutes=11)
    assert await h.core.watch_tick() == 1
    await h.run_jobs()
    assert h.chat.public() == []
    [sub] = await h.core.storage.subscriptions()
    assert sub.paused


async def test_watch_waits_for_comments_and_ages_out(h: Harness) -> None:
    await h.core.handle_request(h.request("watch", "r/LocalLLaMA min-score 10 within 2 hours"))
    quiet = h.source.add(make_thread("qq0001", score=50, n=0, created_utc=T0.timestamp()))
    await h.core.add_candidate(quiet.post)
    h.clock.advance(minutes=11)
    assert await h.core.watch_tick() == 0  # no comments yet: matures first
    h.clock.advance(hours=3)
    assert await h.core.watch_tick() == 0
    assert await h.core.storage.due_candidates(h.clock() + timedelta(days=1)) == []


# ----------------------------------------------------------------------------- flags


async def _bot_digest(h: Harness) -> MessageRef:
    await h.core.handle_request(h.request("digest", "https://redd.it/aaa111 brief"))
    await h.run_jobs()
    return h.chat.public()[-1].ref


async def test_flag_on_a_digest_posts_the_deep_report_in_its_thread_once(h: Harness) -> None:
    ref = await _bot_digest(h)
    for user in ("U2", "U3", "U2"):
        await h.core.handle_reaction(Reaction(ref, "🔍", user, "S1"))
    await h.core.handle_reaction(Reaction(ref, "🔍", "BOT", "S1", by_bot=True))
    await h.restart()
    await h.core.handle_reaction(Reaction(ref, "🔍", "U4", "S1"))
    await h.run_jobs()
    deep = [p for p in h.chat.public() if isinstance(p.target, ThreadTarget)]
    assert len(deep) == 1
    assert deep[0].target == ThreadTarget(ref)
    assert deep[0].delivery.report is not None
    assert deep[0].delivery.report.depth is Depth.DEEP


async def test_flag_on_a_users_message_with_a_link(h: Harness) -> None:
    ref = MessageRef("fake", "C1", "user-msg-1")
    text = "look at this https://www.reddit.com/r/LocalLLaMA/comments/bbb222/x/ wow"
    await h.core.handle_reaction(
        Reaction(ref, "mag", "U2", "S1", message_text=text)
    )  # Slack's name
    await h.core.handle_reaction(Reaction(ref, "👍", "U3", "S1", message_text=text))
    await h.core.handle_reaction(
        Reaction(MessageRef("fake", "C1", "plain"), "🔍", "U3", "S1", message_text="hello")
    )
    await h.run_jobs()
    [deep] = h.chat.public()
    assert deep.delivery.report is not None
    assert deep.delivery.report.thread.id == "bbb222"


async def test_flag_threshold(h: Harness) -> None:
    await h.core.handle_request(h.request("settings", "flag-threshold 2"))
    ref = await _bot_digest(h)
    await h.core.handle_reaction(Reaction(ref, "🔍", "U2", "S1"))
    await h.run_jobs()
    assert len(h.chat.public()) == 1
    await h.core.handle_reaction(Reaction(ref, "🔍", "U3", "S1"))
    await h.run_jobs()
    assert len(h.chat.public()) == 2


# ----------------------------------------------------------------------------- loops


async def test_the_loops_run_and_stop_gracefully(h: Harness) -> None:
    await h.core.start()
    await h.core.handle_request(h.request("digest", "https://redd.it/aaa111"))
    assert await h.core.drain(10)
    await h.core.stop()
    assert len(h.chat.public()) == 1


async def test_unexpected_errors_never_kill_the_bot(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h.source.fail_fetch = RuntimeError("boom")
    await h.core.handle_request(h.request("digest", "https://redd.it/aaa111"))
    await h.run_jobs()
    assert "job digest:" in caplog.text
    h.clock.advance(minutes=5)
    await h.run_jobs()
    assert len(h.chat.public()) == 1


def test_delivery_type_is_exported() -> None:
    assert Delivery(text="x").text == "x"
    assert replace(CoreConfig(), workers=2).workers == 2


async def test_many_workers_share_one_database(h: Harness) -> None:
    h.core = replace(
        h.core,
        config=replace(h.core.config, workers=4, user_limit=(100, 60), channel_limit=(100, 60)),
    )
    await h.core.start()
    for i in range(12):
        await h.core.handle_request(
            h.request(
                "digest",
                f"https://redd.it/{('aaa111', 'bbb222', 'ccc333')[i % 3]}",
                reply_token=f"p{i}",
            )
        )
    assert await h.core.drain(20)
    await h.core.stop()
    assert len(h.chat.public()) == 12
    assert {j.status for j in await h.core.storage.jobs()} == {"done"}
