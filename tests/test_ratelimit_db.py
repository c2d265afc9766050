"""Rate limits kept in the database (bot/storage/ratelimits.py), so they hold across the
processes sharing it (issue 17, scope 3).

On both engines: a window counts up to its limit and says how long to wait, a reservation of
several windows is all or nothing, a release gives back, a sweep deletes what left its window.
On one PostgreSQL database, processes (each a Storage or a Core of its own, with its own
connection): 20 reservers at once count exactly the limit; a user's digests, a channel's digests
and a user's flags are limited across two cores; two Reddit sources share one per-minute budget
with people before background work; a Retry-After hold seen by one makes the other wait."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.reddit_source.pacing import Priority, PriorityPacer
from adapters.reddit_source.public import PublicConfig, PublicRedditSource
from bot.app import App, open_core
from bot.chat import MessageRef, Reaction, Request
from bot.core import Core, CoreConfig, Engines
from bot.ports import RateLimited, ThreadRef
from bot.ratelimit import MemoryHits, StoredQuota, Window
from bot.settings import load_settings
from bot.storage import Storage
from digest.llm import LLMAnalyzer, StructuredRequest, StructuredResponse
from digest.pipeline import DigestEngine
from digest.report import Depth
from tests.fakes.reddit_server import FakeReddit, generate_comment_tree, make_post
from tests.support.fake_chat import FakeChat
from tests.support.fake_source import FakeSource
from tests.support.harness import SCORER, T0, Clock, make_thread
from tests.support.postgres import fresh_database
from tests.support.scripted_llm import ScriptedLLM, grounded_answer
from tests.test_public_source import ManualTime, settle

URL = "https://www.reddit.com/r/LocalLLaMA/comments/aaa111/t/"


def _shared(where: Path | str) -> dict[str, Any]:
    """Two Storages on one SQLite file stand for two processes (on PostgreSQL they are)."""
    return {"exclusive": False} if isinstance(where, Path) else {}


async def _until(check: Callable[[], bool | Awaitable[bool]], what: str) -> None:
    for _ in range(1000):  # a deadline, not a timing: each turn is a few milliseconds
        result = check()
        if result if isinstance(result, bool) else await result:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never: {what}")


# ----------------------------------------------------------------------------- the table


async def test_a_window_counts_to_its_limit_then_says_how_long_to_wait(
    db_where: Path | str,
) -> None:
    clock = Clock()
    async with Storage(db_where, clock=clock) as db:
        five = Window("user:fake:U1", 5, 600.0)
        for _i in range(5):
            got = await db.reserve_hits([five])
            assert got.counted
            assert len(got.hits) == 1
            clock.advance(seconds=10)  # hits at 0, 10, 20, 30, 40 s
        refused = await db.reserve_hits([five])
        assert not refused.counted
        assert refused.hits == ()
        assert refused.wait == pytest.approx(600 - 50)  # when the first hit leaves the window
        clock.advance(seconds=550)  # 600 s after the first: it left
        assert (await db.reserve_hits([five])).counted
        assert not (await db.reserve_hits([five])).counted  # the one at 10 s is still in


async def test_several_windows_are_all_or_nothing_and_a_release_gives_back(
    db_where: Path | str,
) -> None:
    clock = Clock()
    async with Storage(db_where, clock=clock) as db:
        user = Window("user:fake:U1", 5, 600.0)
        channel = Window("channel:fake:C1", 2, 3600.0)
        first = await db.reserve_hits([user, channel])
        await db.reserve_hits([Window("user:fake:U2", 5, 600.0), channel])
        refused = await db.reserve_hits([user, channel])  # the channel is full
        assert not refused.counted
        assert refused.wait == pytest.approx(3600)
        assert await db.rate_hits("user:fake:U1") == 1  # its user's hit was not counted either
        await db.release_hits(first.hits)  # that digest was not queued after all
        assert await db.rate_hits("user:fake:U1") == 0
        assert (await db.reserve_hits([user, channel])).counted


async def test_a_sweep_deletes_the_hits_that_left_their_windows_and_ended_holds(
    db_where: Path | str,
) -> None:
    clock = Clock()
    async with Storage(db_where, clock=clock) as db:
        await db.reserve_hits([Window("reddit:public", 10, 60.0)])
        await db.reserve_hits([Window("user:fake:U1", 5, 600.0)])
        await db.hold_quota("reddit:public", 30)
        assert await db.sweep_rate_hits() == 0  # all still in their windows
        clock.advance(seconds=61)
        assert await db.sweep_rate_hits() == 2  # Reddit's minute and the hold are over
        assert await db.rate_hits("reddit:public") == 0
        assert await db.rate_hits("user:fake:U1") == 1
        clock.advance(seconds=540)
        assert await db.sweep_rate_hits() == 1
        assert await db.rate_hits("user:fake:U1") == 0


async def test_a_hold_is_shared_and_a_longer_one_stays(db_where: Path | str) -> None:
    clock = Clock()
    shared = _shared(db_where)
    async with Storage(db_where, clock=clock, **shared) as a, Storage(db_where, clock=clock, **shared) as b:  # fmt: skip
        await a.hold_quota("reddit:public", 42)
        await b.hold_quota("reddit:public", 5)  # shorter: the 42 s stay
        got = await StoredQuota(b).reserve("reddit:public", 10, 60.0, urgent=True)
        assert not got.counted
        assert got.held == pytest.approx(42)
        assert await b.rate_hits("reddit:public") == 0  # a held reservation counts nothing
        clock.advance(seconds=42)
        assert await a.quota_held("reddit:public") == 0
        assert (await StoredQuota(b).reserve("reddit:public", 10, 60.0, urgent=True)).counted


async def test_in_memory_the_same_answers_for_a_process_alone() -> None:
    """A SQLite file has one process: the core counts in memory (MemoryHits), the same way."""
    time = ManualTime()
    hits = MemoryHits(time.clock)
    user, channel = Window("user:fake:U1", 2, 600.0), Window("channel:fake:C1", 3, 3600.0)
    first = await hits.reserve_hits([user, channel])
    time.now = 10
    assert (await hits.reserve_hits([user, channel])).counted
    refused = await hits.reserve_hits([user, channel])  # the user's 2 are used
    assert refused.wait == pytest.approx(590)
    assert (await hits.reserve_hits([Window("user:fake:U2", 2, 600.0), channel])).counted
    assert (await hits.reserve_hits([Window("user:fake:U3", 2, 600.0), channel])).wait > 0
    await hits.release_hits(first.hits)  # both of its windows get their hit back
    assert (await hits.reserve_hits([user, channel])).counted
    await hits.hold_quota("reddit:public", 42)
    await hits.hold_quota("reddit:public", 5)
    held = await hits.reserve_hits([Window("reddit:public", 10, 60.0)], hold="reddit:public")
    assert held.held == pytest.approx(42)
    time.now = 52
    assert (
        await hits.reserve_hits([Window("reddit:public", 10, 60.0)], hold="reddit:public")
    ).counted


async def test_twenty_processes_reserving_at_once_count_exactly_the_limit(
    postgres_url: str,
) -> None:
    async with AsyncExitStack() as stack:
        dbs = [await stack.enter_async_context(Storage(postgres_url)) for _ in range(20)]
        window = [Window("user:fake:U1", 5, 600.0)]
        got = await asyncio.gather(*(db.reserve_hits(window) for db in dbs))
        assert sum(g.counted for g in got) == 5
        assert await dbs[0].rate_hits("user:fake:U1") == 5
        # Two buckets at once, in either order, from many processes: none waits on another for
        # ever (the locks are taken in the buckets' order), and each bucket holds its limit.
        pairs = [
            [Window("user:fake:U2", 3, 600.0), Window("channel:fake:C1", 4, 3600.0)][
                :: 1 - 2 * (i % 2)
            ]
            for i in range(20)
        ]
        got = await asyncio.gather(*(db.reserve_hits(p) for db, p in zip(dbs, pairs, strict=True)))
        assert sum(g.counted for g in got) == 3
        assert await dbs[0].rate_hits("channel:fake:C1") == 3


# ----------------------------------------------------------------------------- two cores


async def _core(stack: AsyncExitStack, where: Path | str, clock: Clock, **config: Any) -> Core:
    source = FakeSource()
    source.add(make_thread("aaa111"))
    return await open_core(
        stack, where, source=source, engines=Engines({"offline": DigestEngine(scorer=SCORER)}),
        chats={"fake": FakeChat()}, clock=clock, config=CoreConfig(workers=0, **config),
    )  # fmt: skip


@pytest.fixture
async def two_cores(postgres_url: str) -> AsyncIterator[tuple[Clock, Core, Core]]:
    """Two processes on one database, each with the defaults but 3 digests a channel an hour."""
    clock = Clock()
    async with AsyncExitStack() as a_stack, AsyncExitStack() as b_stack:
        a = await _core(a_stack, postgres_url, clock, channel_limit=(3, 3600.0))
        b = await _core(b_stack, postgres_url, clock, channel_limit=(3, 3600.0))
        yield clock, a, b


def _digest(user: str, token: str, channel: str = "C1") -> Request:
    return Request("fake", "S1", channel, user, "digest", URL, True, reply_token=token)


async def test_a_users_digests_are_limited_across_two_processes(
    two_cores: tuple[Clock, Core, Core],
) -> None:
    """Each process used to count alone: 12 requests split between two made 10 digests."""
    clock, a, b = two_cores
    replies = await asyncio.gather(
        *(
            (a, b)[i % 2].handle_request(_digest("U1", f"t{i}", channel=f"C{i}"))
            for i in range(12)
        )
    )  # fmt: skip
    assert len(await a.storage.jobs()) == 5  # 5 per user per 10 minutes
    refused = [r.text for r in replies if r is not None]
    assert len(refused) == 7
    assert all(
        text.startswith("That is a lot of digests at once; try again in") for text in refused
    )
    clock.advance(minutes=10)  # the window moved on, in both processes
    assert await b.handle_request(_digest("U1", "later", channel="C99")) is None
    assert len(await b.storage.jobs()) == 6


async def test_a_channels_digests_are_limited_across_two_processes(
    two_cores: tuple[Clock, Core, Core],
) -> None:
    _, a, b = two_cores
    replies = await asyncio.gather(
        *((a, b)[i % 2].handle_request(_digest(f"P{i}", f"p{i}")) for i in range(8))
    )
    assert len(await a.storage.jobs()) == 3  # 3 per channel per hour, across both
    assert sum(r is not None and "a lot of digests" in r.text for r in replies) == 5
    # Those the channel refused were not counted against themselves either.
    assert sum([await b.storage.rate_hits(f"user:fake:P{i}") for i in range(8)]) == 3


async def test_flags_are_limited_per_user_across_two_processes(
    two_cores: tuple[Clock, Core, Core],
) -> None:
    _, a, b = two_cores

    def flag(i: int) -> Reaction:
        return Reaction(
            MessageRef("fake", "C1", f"m{i}"), "🔍", "U9", "S1",
            message_text=f"look https://www.reddit.com/r/x/comments/aaa{i:03d}/t/",
        )  # fmt: skip

    await asyncio.gather(*((a, b)[i % 2].handle_reaction(flag(i)) for i in range(10)))
    assert len(await a.storage.jobs()) == 5
    answer = await b.handle_reaction(
        Reaction(MessageRef("fake", "C1", "m99"), "🔍", "U9", "S1",
                 message_text="https://redd.it/aaa099", requested=True)
    )  # fmt: skip
    assert answer is not None
    assert answer.startswith("That is a lot of deep analyses at once")


async def test_the_leader_sweeps_old_hits(postgres_url: str) -> None:
    clock = Clock()
    async with AsyncExitStack() as stack:
        core = await _core(stack, postgres_url, clock, leader_renew_seconds=0.01, sweep_seconds=0.0)
        await core.handle_request(_digest("U1", "one"))
        assert await core.storage.rate_hits("user:fake:U1") == 1
        await core.start(frozenset({"scheduler"}))
        try:
            clock.advance(seconds=601)  # the user's window is over (the channel's is not)

            async def user_hit_swept() -> bool:
                return await core.storage.rate_hits("user:fake:U1") == 0

            await _until(user_hit_swept, "the leader swept the user's hit")
            assert await core.storage.rate_hits("channel:fake:C1") == 1
        finally:
            await core.stop(grace=1)


# ----------------------------------------------------------------------------- Reddit


def _storage_clock(time: ManualTime) -> Callable[[], datetime]:
    return lambda: T0 + timedelta(seconds=time.now)


@pytest.fixture
async def pg_pair(postgres_url: str) -> AsyncIterator[tuple[ManualTime, Storage, Storage]]:
    time = ManualTime()
    clock = _storage_clock(time)
    async with Storage(postgres_url, clock=clock) as a, Storage(postgres_url, clock=clock) as b:
        yield time, a, b


async def test_two_processes_fetches_together_stay_within_the_minutes_budget(
    pg_pair: tuple[ManualTime, Storage, Storage],
) -> None:
    time, db_a, db_b = pg_pair
    pacers = []
    for db in (db_a, db_b):
        pacer = PriorityPacer(10, time.clock, time.sleep)
        pacer.share(StoredQuota(db), "reddit:public")
        pacers.append(pacer)
    granted: list[str] = []

    async def fetch(pacer: PriorityPacer, tag: str) -> None:
        await pacer.acquire(Priority.ON_DEMAND)
        granted.append(tag)

    tasks = [asyncio.create_task(fetch(pacers[i % 2], f"{'ab'[i % 2]}{i}")) for i in range(16)]
    await _until(lambda: len(granted) == 10, "the minute's 10 requests")
    await asyncio.sleep(0.2)
    await settle()
    assert len(granted) == 10  # each process alone would have let 8 go: 16
    assert {t[0] for t in granted} == {"a", "b"}
    await time.advance(60)
    await asyncio.gather(*tasks)
    assert len(granted) == 16


async def test_background_work_leaves_room_for_people_in_any_process(
    pg_pair: tuple[ManualTime, Storage, Storage],
) -> None:
    """A watcher in one process cannot take the minute from a digest in another: background
    requests reserve against a lower limit (7 of 10: a quarter or more is left to people)."""
    time, db_a, db_b = pg_pair
    watcher, worker = PriorityPacer(10, time.clock, time.sleep), PriorityPacer(10, time.clock, time.sleep)  # fmt: skip
    watcher.share(StoredQuota(db_a), "reddit:public")
    worker.share(StoredQuota(db_b), "reddit:public")
    assert watcher.background_limit == 7
    for _ in range(7):
        await watcher.acquire(Priority.BACKGROUND)
    polling = asyncio.create_task(watcher.acquire(Priority.BACKGROUND))
    for _ in range(3):
        await worker.acquire(Priority.ON_DEMAND)  # at once: people keep their share
    fourth = asyncio.create_task(worker.acquire(Priority.ON_DEMAND))
    await asyncio.sleep(0.2)
    await settle()
    assert not polling.done()
    assert not fourth.done()  # the shared minute is full (10)
    await time.advance(60)
    await asyncio.gather(polling, fourth)


@pytest.fixture
async def fake() -> AsyncIterator[FakeReddit]:
    async with FakeReddit(ratelimit_budget=10_000_000, public_ratelimit_budget=10_000_000) as f:
        yield f


async def test_a_retry_after_seen_by_one_process_makes_the_other_wait(
    fake: FakeReddit, pg_pair: tuple[ManualTime, Storage, Storage]
) -> None:
    time, db_a, db_b = pg_pair
    fake.add_full_thread(make_post("th1", num_comments=3), generate_comment_tree("th1", 3))
    config = PublicConfig(base_url=fake.base_url, requests_per_minute=100)
    async with (
        PublicRedditSource(config, clock=time.clock, sleep=time.sleep) as one,
        PublicRedditSource(config, clock=time.clock, sleep=time.sleep) as other,
        PublicRedditSource(
            PublicConfig(base_url=fake.base_url, requests_per_minute=100, max_hold_seconds=10),
            clock=time.clock,
            sleep=time.sleep,
        ) as impatient,
    ):
        one.share_budget(StoredQuota(db_a))
        other.share_budget(StoredQuota(db_b))
        impatient.share_budget(StoredQuota(db_b))
        fake.fail_next(r"^/comments/", 429, headers={"Retry-After": "42"})
        with pytest.raises(RateLimited):
            await one.fetch_thread(ThreadRef("th1"), Depth.BRIEF)
        assert len(fake.requests) == 1
        waiting = asyncio.create_task(other.fetch_thread(ThreadRef("th1"), Depth.BRIEF))
        await _until(lambda: other.pacer.held_for() > 40, "the other process holds too")
        # Someone whose request may not wait that long is told at once, as when this process
        # saw the 429 itself.
        with pytest.raises(RateLimited, match="try again after"):
            await impatient.fetch_thread(ThreadRef("th1"), Depth.BRIEF)
        await asyncio.sleep(0.2)
        assert len(fake.requests) == 1
        assert not waiting.done()
        await time.advance(42)
        thread = await waiting
        assert len(thread.comments) == 3
        assert len(fake.requests) == 2


# ----------------------------------------------------------------------------- spend


async def test_spend_is_reserved_settled_released_and_a_dead_ones_swept(
    db_where: Path | str,
) -> None:
    clock = Clock()
    async with Storage(db_where, clock=clock) as db:
        first = await db.reserve_spend("fake", "S1", 1.0, 0.6, channel_id="C1")
        second = await db.reserve_spend("fake", "S1", 1.0, 0.6)  # 0.6 < 1.0: may still start
        assert first is not None
        assert second is not None
        assert await db.reserve_spend("fake", "S1", 1.0, 0.6) is None  # 1.2 reserved: the cap
        assert await db.spent_today("fake", "S1") == pytest.approx(1.2)
        assert await db.usage_since("fake", "S1", T0.date()) == []  # none analysed yet
        await db.settle_spend(first, "claude-haiku-5-5", 1000, 200, 0.002)
        await db.release_spend(second)  # a cached report: nothing paid
        assert await db.spent_today("fake", "S1") == pytest.approx(0.002)
        [row] = await db.usage_since("fake", "S1", T0.date())
        assert (row.channel_id, row.model, row.analyses) == ("C1", "claude-haiku-5-5", 1)
        assert row.cost_usd == pytest.approx(0.002)
        await db.reserve_spend("fake", "S1", 1.0, 0.5)  # its process dies mid-analysis
        clock.advance(minutes=61)
        assert await db.sweep_rate_hits() == 1
        assert await db.spent_today("fake", "S1") == pytest.approx(0.002)


async def test_on_a_sqlite_file_the_next_process_gives_back_what_the_last_reserved(
    tmp_path: Path,
) -> None:
    clock, path = Clock(), tmp_path / "bot.sqlite3"
    async with Storage(path, clock=clock) as db:
        await db.reserve_spend("fake", "S1", 1.0, 0.5)  # then the process is killed
        await db.record_usage("fake", "S1", "claude-haiku-5-5", 1000, 200, 0.002)
    async with Storage(path, clock=clock) as db:
        assert await db.spent_today("fake", "S1") == pytest.approx(0.502)
        assert await db.release_spend_left() == 1
        assert await db.spent_today("fake", "S1") == pytest.approx(0.002)


class GatedLLM(ScriptedLLM):
    """Answers once the test opens the gate: analyses stay under way meanwhile."""

    def __init__(self) -> None:
        super().__init__(default=grounded_answer, name="anthropic")
        self.gate = asyncio.Event()
        self.called = 0

    async def structured(self, request: StructuredRequest, *, time_limit: float) -> StructuredResponse:  # fmt: skip
        self.called += 1
        await self.gate.wait()
        return await super().structured(request, time_limit=time_limit)


async def test_two_processes_analyses_at_once_do_not_both_pass_the_spend_cap(
    postgres_url: str,
) -> None:
    """Before, both read today's spend (nothing yet) and both paid for an LLM analysis."""
    clock, llm = Clock(), GatedLLM()
    llm_engine = DigestEngine(
        LLMAnalyzer(llm, models=dict.fromkeys(Depth, "claude-haiku-5-5")), scorer=SCORER
    )
    assert 0.01 < llm_engine.cost_ceiling(Depth.BRIEF) < 0.05  # one brief digest's ceiling
    cores = []
    async with AsyncExitStack() as stack:
        for _ in range(2):
            source = FakeSource()
            for post_id in ("aaa111", "bbb222"):
                source.add(make_thread(post_id))
            engines = Engines({"offline": DigestEngine(scorer=SCORER), "anthropic": llm_engine})
            cores.append(
                await open_core(stack, postgres_url, source=source, engines=engines,
                                chats={"fake": FakeChat()}, clock=clock,
                                config=CoreConfig(workers=0))
            )  # fmt: skip
        a, b = cores
        settings = await a.server_settings("fake", "S1") | {"analyzer": "anthropic",
                                                            "spend-cap": "0.01"}  # fmt: skip
        both = asyncio.gather(
            a.report_for("fake", "S1", ThreadRef("aaa111"), Depth.BRIEF, settings),
            b.report_for("fake", "S1", ThreadRef("bbb222"), Depth.BRIEF, settings),
        )
        await _until(lambda: llm.called >= 1, "one analysis under way")
        await asyncio.sleep(0.2)  # the other one had every chance to start too
        llm.gate.set()
        reports = [report for report, _ in await both]
        assert sorted(r.analyzer for r in reports) == ["anthropic", "offline"]
        assert llm.called == 1
        [offline] = [r for r in reports if r.analyzer == "offline"]
        assert any("LLM budget for this server is spent" in n for n in offline.notes)
        assert await a.storage.spent_today("fake", "S1") == pytest.approx(0.002)  # as paid


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
async def test_the_bot_counts_reddits_budget_in_the_database_other_processes_share(
    fake: FakeReddit, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    request: pytest.FixtureRequest, engine: str,
) -> None:  # fmt: skip
    """The composition root (bot/app.py) shares the public source's budget on PostgreSQL; on a
    SQLite file the process's own pacer is the whole count."""
    fake.add_full_thread(make_post("th1", num_comments=3), generate_comment_tree("th1", 3))
    env = {
        "REDIGEST_REDDIT_MODE": "auto",  # no credentials: the public pages
        "REDIGEST_REDDIT_PUBLIC_URL": fake.base_url,
        "REDIGEST_CPU_LANE": "thread",
        "REDIGEST_DATABASE_PATH": str(tmp_path / "bot.sqlite3"),
    }
    if engine == "postgres":
        env["REDIGEST_DATABASE_URL"] = await fresh_database(
            request.getfixturevalue("postgres_server")
        )
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    async with App(load_settings(env_file=None)) as app:
        core = await app.bot({})
        thread = await core.source.fetch_thread(ThreadRef("th1"), Depth.BRIEF)
        assert len(thread.comments) == 3
        assert await core.storage.rate_hits("reddit:public") == (engine == "postgres")
