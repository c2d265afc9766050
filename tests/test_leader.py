"""One scheduler and one watcher across the processes sharing a database: the leader lease
(bot/storage/leaders.py, bot/core/leader.py). On both engines: two processes competing, one
leads; a renewal keeps it; a lapsed lease is taken over with the next term; a clean stop hands it
over at once. On a SQLite file of its own a process always leads. Two cores on one PostgreSQL
database: only the leader queues a due run; killed, the other takes over after the lease; a
leader that lost its lease stops its scheduler and its watches."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import open_core
from bot.chat import Request
from bot.core import Core, CoreConfig, Engines
from bot.storage import Storage
from digest.pipeline import DigestEngine
from tests.support.fake_chat import FakeChat
from tests.support.fake_source import FakeSource
from tests.support.harness import SCORER, Clock, make_thread

LEASE = timedelta(seconds=30)


def _sqlite_shared(where: Path | str) -> dict[str, Any]:
    """Two Storages on one SQLite file stand for two processes (on PostgreSQL they are)."""
    return {"exclusive": False} if isinstance(where, Path) else {}


# ----------------------------------------------------------------------------- the lease row


async def test_two_processes_competing_one_leads_and_a_renewal_keeps_it(
    db_where: Path | str,
) -> None:
    clock = Clock()
    shared = _sqlite_shared(db_where)
    async with Storage(db_where, clock=clock, **shared) as a, Storage(db_where, clock=clock, **shared) as b:  # fmt: skip
        assert await a.acquire_leadership("scheduler", LEASE) == 1
        assert await b.acquire_leadership("scheduler", LEASE) is None
        clock.advance(seconds=20)
        assert await a.acquire_leadership("scheduler", LEASE) == 1  # renewed: to T0 + 50 s
        clock.advance(seconds=20)  # T0 + 40 s: past the first lease, within the renewed one
        assert await b.acquire_leadership("scheduler", LEASE) is None
        assert await a.acquire_leadership("scheduler", LEASE) == 1
        assert await a.leader("scheduler") == (a.owner_id, 1, (clock.now + LEASE).isoformat())
        # Another role is another lease.
        assert await b.acquire_leadership("retention", LEASE) == 1


async def test_a_lapsed_lease_is_taken_over_with_the_next_term(db_where: Path | str) -> None:
    clock = Clock()
    shared = _sqlite_shared(db_where)
    async with Storage(db_where, clock=clock, **shared) as a, Storage(db_where, clock=clock, **shared) as b:  # fmt: skip
        assert await a.acquire_leadership("scheduler", LEASE) == 1
        clock.advance(seconds=30)  # the lease runs to exactly now: lapsed
        assert await b.acquire_leadership("scheduler", LEASE) == 2
        assert await a.acquire_leadership("scheduler", LEASE) is None  # it lost the lease
        assert await b.acquire_leadership("scheduler", LEASE) == 2  # a renewal keeps the term
        # A clean stop hands it over at once, and only its holder's does.
        assert await a.resign_leadership("scheduler") is False
        assert await b.resign_leadership("scheduler") is True
        assert await a.acquire_leadership("scheduler", LEASE) == 3
        leader = await b.leader("scheduler")
        assert leader is not None
        assert leader[:2] == (a.owner_id, 3)


async def test_processes_asking_at_once_get_one_leader(postgres_url: str) -> None:
    async with AsyncExitStack() as stack:
        dbs = [await stack.enter_async_context(Storage(postgres_url)) for _ in range(5)]
        for _ in range(3):
            terms = await asyncio.gather(*(db.acquire_leadership("scheduler", LEASE) for db in dbs))
            assert [t for t in terms if t is not None] == [1]


async def test_on_a_sqlite_file_of_its_own_the_process_always_leads(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "bot.sqlite3"
    async with Storage(path, clock=clock) as first:
        assert await first.acquire_leadership("scheduler", LEASE) == 1
    # The process died (no hand-over): its lease has not lapsed, but the next owner of the file
    # is the only process there is.
    async with Storage(path, clock=clock) as second:
        assert await second.acquire_leadership("scheduler", LEASE) == 2
        assert await second.acquire_leadership("scheduler", LEASE) == 2


# ----------------------------------------------------------------------------- two cores


def _config(**kw: Any) -> CoreConfig:
    base: dict[str, Any] = {
        "workers": 0,  # jobs stay queued: what each scheduler queued is read from the table
        "leader_lease": timedelta(hours=12),
        "leader_renew_seconds": 0.02,
        "stream_retry_seconds": 0.01,
    }
    return CoreConfig(**(base | kw))


async def _core(stack: AsyncExitStack, url: str, clock: Clock, config: CoreConfig) -> Core:
    source = FakeSource()
    source.add(make_thread("aaa111"))
    return await open_core(
        stack, url, source=source, engines=Engines({"offline": DigestEngine(scorer=SCORER)}),
        chats={"fake": FakeChat()}, clock=clock, config=config,
    )  # fmt: skip


@pytest.fixture
async def cores(postgres_url: str) -> AsyncIterator[tuple[Clock, Core, Core, list[AsyncExitStack]]]:
    clock = Clock()
    stacks = [AsyncExitStack(), AsyncExitStack()]
    a = await _core(stacks[0], postgres_url, clock, _config())
    b = await _core(stacks[1], postgres_url, clock, _config())
    try:
        yield clock, a, b, stacks
    finally:
        for core in (a, b):
            await core.stop(grace=1)
        for stack in stacks:
            await stack.aclose()


def _count_ticks(core: Core) -> list[int]:
    """How many times `core`'s scheduler ticked (its loop's calls)."""
    ticks: list[int] = []
    tick = core.scheduler.tick

    async def counted() -> int:
        ticks.append(1)
        return await tick()

    core.scheduler.tick = counted  # type: ignore[method-assign]
    return ticks


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(1000):  # a deadline, not a timing: each turn is a few milliseconds
        if await check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never: {what}")


async def _kill(core: Core, stack: AsyncExitStack) -> None:
    """The process dies: its loops end where they are, its connections close, it hands
    nothing over (its lease is left to lapse)."""
    tasks = [*core.loops, *core.watching.streams.values()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    core.workers.tasks, core.watching.streams = [], {}
    core.workers.leadership.until = None
    core.workers.leadership.active.clear()
    await stack.aclose()


async def _subscribe(core: Core, command: str, text: str) -> None:
    await core.handle_request(Request("fake", "S1", "C1", "U1", command, text, True))


async def test_only_the_leader_schedules_and_another_takes_over_when_it_dies(
    cores: tuple[Clock, Core, Core, list[AsyncExitStack]],
) -> None:
    clock, a, b, stacks = cores
    await a.start()
    await b.start()
    a_ticks, b_ticks = _count_ticks(a), _count_ticks(b)
    assert a.workers.leadership.active.is_set()
    assert not b.workers.leadership.active.is_set()
    await _subscribe(b, "subscribe", "r/LocalLLaMA daily 09:00")
    await _subscribe(b, "watch", "r/LocalLLaMA min-score 100")

    async def a_streams() -> bool:
        return "localllama" in a.watching.streams

    await _until(a_streams, "the leader watches")
    assert b.watching.streams == {}  # the one standing by does not
    clock.advance(hours=3, minutes=1)  # 09:01: the first run is due
    for core in (a, b):
        core.wake.schedule_changed.set()

    async def queued(n: int) -> bool:
        return len([j for j in await b.storage.jobs() if j.kind == "scheduled"]) >= n

    await _until(lambda: queued(1), "the first run queued")
    assert a_ticks
    assert b_ticks == []  # B never ticked: it stands by
    await _kill(a, stacks[0])
    clock.advance(days=1)  # the next run is due, and A's lease (12 h) has lapsed

    await _until(lambda: queued(2), "the next run queued by the new leader")
    assert b_ticks
    assert b.workers.leadership.term == 2
    leader = await b.storage.leader("scheduler")
    assert leader is not None
    assert leader[:2] == (b.storage.owner_id, 2)

    async def b_streams() -> bool:
        return "localllama" in b.watching.streams

    await _until(b_streams, "the new leader watches")
    keys = sorted(j.key for j in await b.storage.jobs() if j.kind == "scheduled")
    assert len(keys) == len(set(keys)) == 2


async def test_a_leader_that_lost_its_lease_stops_its_scheduler_and_watches(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    async with AsyncExitStack() as stack:
        # A renews rarely (it stands for a process whose loop was stuck); B asks often.
        a = await _core(stack, postgres_url, clock, _config(leader_renew_seconds=3600))
        b = await _core(stack, postgres_url, clock, _config())
        try:
            await a.start()
            await b.start()
            a_ticks = _count_ticks(a)
            await _subscribe(a, "watch", "r/LocalLLaMA min-score 100")

            async def a_streams() -> bool:
                return "localllama" in a.watching.streams

            await _until(a_streams, "the leader watches")
            clock.advance(hours=13)  # A's lease lapsed: B takes it at its next renewal

            async def b_leads() -> bool:
                return b.workers.leadership.active.is_set()

            await _until(b_leads, "B took over")
            ticks = len(a_ticks)
            a.wake.schedule_changed.set()  # A's scheduler wakes: it checks its lease first

            async def a_stepped_down() -> bool:
                return not a.workers.leadership.active.is_set()

            await _until(a_stepped_down, "A stepped down")
            assert a.watching.streams == {}
            assert "no longer leads the scheduler (term 1)" in caplog.text
            await _subscribe(b, "subscribe", "r/LocalLLaMA daily 09:00")
            clock.advance(hours=15)  # the run is due: only B queues it
            a.wake.schedule_changed.set()
            b.wake.schedule_changed.set()

            async def queued() -> bool:
                return any(j.kind == "scheduled" for j in await b.storage.jobs())

            await _until(queued, "B queued the run")
            await asyncio.sleep(0.05)
            assert len(a_ticks) == ticks
            assert b.workers.leadership.term == 2
        finally:
            await a.stop(grace=1)
            await b.stop(grace=1)


async def test_a_clean_stop_hands_the_schedule_over_at_once(
    cores: tuple[Clock, Core, Core, list[AsyncExitStack]],
) -> None:
    _, a, b, _ = cores
    await a.start()
    await b.start()
    assert a.workers.leadership.active.is_set()
    await a.stop(grace=1)

    async def b_leads() -> bool:
        return b.workers.leadership.active.is_set()

    await _until(b_leads, "B took over without waiting for the lease")  # the clock stood still
    assert b.workers.leadership.term == 2


async def test_a_process_on_its_own_sqlite_file_leads_through_the_same_code(
    tmp_path: Path,
) -> None:
    clock = Clock()
    async with AsyncExitStack() as stack:
        core = await _core(stack, str(tmp_path / "bot.sqlite3"), clock, _config())
        await core.start()
        try:
            assert core.workers.leadership.active.is_set()
            leader = await core.storage.leader("scheduler")
            assert leader is not None
            assert leader[:2] == (core.storage.owner_id, 1)
        finally:
            await core.stop(grace=1)
        leader = await core.storage.leader("scheduler")
        assert leader is not None
        assert leader[2] == clock.now.isoformat()  # handed over on stop


async def test_a_process_without_the_scheduler_never_asks_for_the_lease(
    cores: tuple[Clock, Core, Core, list[AsyncExitStack]],
) -> None:
    from bot.core.loops import HEARTBEAT, WORKERS

    _, a, b, _ = cores
    await a.workers.start(frozenset({WORKERS, HEARTBEAT}))  # a worker process (bot/roles.py)
    assert not a.workers.leadership.active.is_set()
    assert {t.get_name() for t in a.loops} == {"heartbeat"}  # no workers configured here
    await b.start()
    assert b.workers.leadership.active.is_set()
    assert b.workers.leadership.term == 1  # the first to ask
