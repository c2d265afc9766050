"""Wake-ups across processes on PostgreSQL (LISTEN/NOTIFY): a job queued by one process wakes
the idle workers of another, a subscription changed wakes the leader's scheduler; heard on
commit only; a listening connection that is lost is logged and listened again (a reconnect is a
wake-up: what was said meanwhile is lost). On SQLite there is nothing to listen to."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from bot.app import open_core
from bot.chat import Request
from bot.core import Core, CoreConfig, Engines
from bot.core.loops import Signal
from bot.storage import JOBS_CHANNEL, SCHEDULE_CHANNEL, SETTINGS_CHANNEL, Storage
from bot.storage.jobs import insert_job
from digest.pipeline import DigestEngine
from tests.support.fake_chat import FakeChat
from tests.support.fake_source import FakeSource
from tests.support.harness import SCORER, T0, Clock, make_thread


class Heard:
    """What a listener heard, and a way to wait for it."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []
        self._new = asyncio.Event()

    def __call__(self, channel: str, payload: str) -> None:
        self.items.append((channel, payload))
        self._new.set()

    async def wait_for(self, item: tuple[str, str]) -> None:
        async def check() -> bool:
            return item in self.items

        await _until(check, f"heard {item}")


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(1000):  # a deadline, not a timing: each turn is a few milliseconds
        if await check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never: {what}")


async def test_sqlite_has_nothing_to_listen_to(tmp_path: Path) -> None:
    async with Storage(tmp_path / "bot.sqlite3") as db:
        assert await db.listen((JOBS_CHANNEL,), Heard()) is None


async def test_a_job_queued_by_one_process_is_heard_by_another_on_commit_only(
    postgres_url: str,
) -> None:
    async with Storage(postgres_url) as a, Storage(postgres_url) as b:
        heard = Heard()
        await b.listen((JOBS_CHANNEL, SCHEDULE_CHANNEL), heard)

        async def rolled_back() -> None:
            async with a.transaction() as db:
                assert await insert_job(db, "gone", "never", {}, T0, T0)
                raise RuntimeError("rolled back")

        with pytest.raises(RuntimeError):
            await rolled_back()
        assert await a.add_job("k1", "digest", {}) is True
        assert await a.add_job("k1", "digest", {}) is False  # not queued: not said
        await asyncio.gather(*(a.add_job(f"u{i}", "flag", {}, urgent=True) for i in range(20)))
        await a.add_job("k2", "scheduled", {})
        await heard.wait_for((JOBS_CHANNEL, "scheduled"))
        # In the order committed; the rolled-back one and the key queued already never; a
        # group of urgent jobs (one transaction, one statement) once per kind.
        jobs = [payload for channel, payload in heard.items if channel == JOBS_CHANNEL]
        assert jobs[0] == "digest"
        assert jobs[-1] == "scheduled"
        assert "never" not in jobs
        assert jobs.count("digest") == 1
        assert 1 <= jobs.count("flag") < 20
        sub_id = await a.add_subscription(
            platform="fake", server_id="S1", channel_id="C1", created_by="U1", kind="watch",
            spec={}, next_run_at=None,
        )  # fmt: skip
        await heard.wait_for((SCHEDULE_CHANNEL, str(sub_id)))


async def test_a_lost_listening_connection_is_logged_and_listened_again(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.storage.backend")
    async with Storage(postgres_url) as a, Storage(postgres_url) as b:
        heard = Heard()
        listener = await b.listen((JOBS_CHANNEL,), heard)
        assert listener is not None
        assert listener.conn is not None
        pid = listener.conn.get_server_pid()
        killer = await asyncpg.connect(postgres_url)
        try:  # the server ends the listening session (as a restart or a dropped link would)
            assert await killer.fetchval("SELECT pg_terminate_backend($1)", pid)
        finally:
            await killer.close()
        await heard.wait_for((JOBS_CHANNEL, ""))  # listening again: a wake-up, to look
        assert listener.reconnects == 1
        assert "the connection listening for wake-ups" in caplog.text
        assert "was lost" in caplog.text
        await a.add_job("after", "digest", {})
        await heard.wait_for((JOBS_CHANNEL, "digest"))
    assert listener.conn is None  # closed with its Storage


# ----------------------------------------------------------------------------- two cores


async def _core(
    stack: AsyncExitStack, url: str, clock: Clock, chat: FakeChat, workers: int
) -> Core:
    source = FakeSource()
    source.add(make_thread("aaa111"))
    return await open_core(
        stack, url, source=source, engines=Engines({"offline": DigestEngine(scorer=SCORER)}),
        chats={"fake": chat}, clock=clock,
        config=CoreConfig(
            workers=workers,
            # Without a wake-up an idle worker would sleep for an hour: what is done in this
            # test is done because it was woken.
            idle_poll_seconds=3600,
            notified_poll_seconds=3600,
            leader_lease=timedelta(hours=1),
        ),
    )  # fmt: skip


async def test_a_job_queued_by_one_process_wakes_the_idle_worker_of_another(
    postgres_url: str,
) -> None:
    clock, chat = Clock(), FakeChat()
    async with AsyncExitStack() as stack:
        gateway = await _core(stack, postgres_url, clock, chat, workers=0)
        worker = await _core(stack, postgres_url, clock, chat, workers=1)
        woken = Signal()  # counts its sets (a worker clears it once awake)
        worker.wake.jobs_ready = woken
        claims: list[int] = []
        claim = worker.storage.claim_job

        async def counted(**kw: object) -> object:
            claims.append(1)
            return await claim(**kw)  # type: ignore[arg-type]

        worker.storage.claim_job = counted  # type: ignore[method-assign,assignment]
        await gateway.start()
        await worker.start()
        try:

            async def idle() -> bool:
                return bool(claims) and worker.jobs.running == 0

            await _until(idle, "the worker found nothing and sleeps")
            await asyncio.sleep(0.05)
            assert woken.sets == 0
            await gateway.handle_request(
                Request("fake", "S1", "C1", "U1", "digest", "https://redd.it/aaa111", True,
                        reply_token="r1")
            )  # fmt: skip

            async def posted() -> bool:
                return bool(chat.public())

            await _until(posted, "the worker of the other process posted the digest")
            assert woken.sets >= 1  # heard from the gateway's process

            async def done() -> bool:  # the post is out a moment before the job is recorded done
                [job] = await worker.storage.jobs()
                return job.status == "done"

            await _until(done, "the job recorded as done")

            # Its listening connection lost: listened again, and woken again.
            listener = worker.workers.listener
            assert listener is not None
            assert listener.conn is not None
            async with gateway.storage.transaction() as db:
                await db.execute(
                    "SELECT pg_terminate_backend(?)", (listener.conn.get_server_pid(),)
                )

            async def listening_again() -> bool:
                return listener.reconnects == 1

            await _until(listening_again, "listening again")
            await gateway.handle_request(
                Request("fake", "S1", "C2", "U1", "digest", "https://redd.it/aaa111", True,
                        reply_token="r2")
            )  # fmt: skip

            async def posted_twice() -> bool:
                return len(chat.public()) == 2

            await _until(posted_twice, "the second digest posted by the woken worker")
        finally:
            await gateway.stop(grace=1)
            await worker.stop(grace=1)
        assert worker.workers.listener is None  # closed on stop


async def test_a_setting_changed_by_one_process_is_read_again_by_another(
    postgres_url: str,
) -> None:
    """Each process keeps every server's settings; on a shared database another process's
    change is heard and the kept ones forgotten (they were kept for ever before)."""
    async with Storage(postgres_url) as a, Storage(postgres_url) as b:
        assert await a.get_settings("discord", "S1") == {}  # read once and kept
        heard = Heard()

        def forget(channel: str, payload: str) -> None:
            a.forget_settings()
            heard(channel, payload)

        await a.listen((SETTINGS_CHANNEL,), forget)
        await b.set_setting("discord", "S1", "timezone", "Europe/Berlin")
        await heard.wait_for((SETTINGS_CHANNEL, "discord"))
        assert await a.get_settings("discord", "S1") == {"timezone": "Europe/Berlin"}


async def test_a_setting_changed_through_one_core_is_in_force_in_another(
    postgres_url: str,
) -> None:
    clock, chat = Clock(), FakeChat()
    async with AsyncExitStack() as stack:
        gateway = await _core(stack, postgres_url, clock, chat, workers=0)
        worker = await _core(stack, postgres_url, clock, chat, workers=1)
        await worker.start()
        try:
            assert (await worker.server_settings("fake", "S1"))["timezone"] == "UTC"
            await gateway.handle_request(
                Request("fake", "S1", "C1", "U1", "settings", "timezone Europe/Berlin", True,
                        reply_token="s1")
            )  # fmt: skip

            async def in_force() -> bool:
                settings = await worker.server_settings("fake", "S1")
                return settings["timezone"] == "Europe/Berlin"

            await _until(in_force, "the worker's process reads the new timezone")
        finally:
            await worker.stop(grace=1)
