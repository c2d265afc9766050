"""A free event loop: CPU work runs in the one CPU lane (digest/cpu.py), never on the loop's
thread; the writes that acknowledge commands are batched; settings are read once.

No wall-clock thresholds: where work ran is told by the thread that ran it, and whether the loop
stayed free by counting its turns while a stage computes.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import aiosqlite
import pytest

import digest.pipeline
from adapters.reddit_source import live
from adapters.reddit_source.public import PublicConfig, PublicRedditSource
from adapters.reddit_source.thread_json import thread_from_json
from bot.ports import ThreadRef
from bot.storage import Storage
from bot.storage.backend import Conn
from digest import cpu
from digest.analysis import AnalysisInput
from digest.model import Thread
from digest.pipeline import DigestEngine
from digest.report import Depth
from tests.fakes.reddit_server import FakeReddit, generate_comment_tree, make_post
from tests.support.synthetic import thread_json

# Only a guard against hanging when the code under test is wrong: no assertion depends on it.
HANG_GUARD_S = 60.0

_seen: contextvars.ContextVar[str] = contextvars.ContextVar("_seen", default="")


def synthetic_thread(n: int, seed: int) -> Thread:
    return thread_from_json(thread_json(n, seed=seed))


def _where() -> tuple[int, str]:
    thread = threading.current_thread()
    return threading.get_ident(), thread.name


# --------------------------------------------------------------------------- the lane


async def test_cpu_run_runs_in_one_lane_thread_not_the_loops() -> None:
    loop_thread = threading.get_ident()
    _seen.set("asked on the loop")
    first = await cpu.run(_where)
    second = await cpu.run(_where)
    assert first[0] != loop_thread
    assert first[1].startswith(cpu.THREAD_NAME)
    assert second == first  # one lane: the same thread every time
    assert await cpu.run(_seen.get) == "asked on the loop"  # context variables go along


async def test_cpu_run_raises_what_the_work_raises() -> None:
    def fails(what: str) -> None:
        raise ValueError(what)

    with pytest.raises(ValueError, match="bad thread"):
        await cpu.run(fails, "bad thread")


async def test_every_cpu_stage_of_a_digest_runs_in_the_lane(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = DigestEngine()
    ran: dict[str, tuple[int, str]] = {}

    def recorded(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            ran[name] = _where()
            return fn(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(engine, "prepare", recorded("prepare", engine.prepare))
    monkeypatch.setattr(
        engine._offline, "narrate_sync", recorded("narrate", engine._offline.narrate_sync)
    )
    monkeypatch.setattr(digest.pipeline, "assemble", recorded("assemble", digest.pipeline.assemble))
    report = await engine.digest(synthetic_thread(60, seed=3), Depth.DEEP)
    assert report.analyzer == "offline"
    assert set(ran) == {"prepare", "narrate", "assemble"}
    lane = await cpu.run(_where)
    assert all(where == lane for where in ran.values()), ran
    assert all(where[0] != threading.get_ident() for where in ran.values())


async def test_the_loop_keeps_turning_while_a_digest_stage_computes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The stage finishes only after the loop has turned 20 times: were it run on the loop, the
    loop could not turn, and the stage would find the ticks missing when its guard ran out."""
    engine = DigestEngine()
    ticked = threading.Event()
    ticks_seen_by_stage: list[int] = []
    ticks = 0
    prepare = engine.prepare

    def slow_prepare(
        thread: Thread, depth: Depth, budget: int | None = None, lang: str = "en"
    ) -> AnalysisInput:
        ticked.wait(HANG_GUARD_S)
        ticks_seen_by_stage.append(ticks)
        return prepare(thread, depth, budget, lang)

    monkeypatch.setattr(engine, "prepare", slow_prepare)

    async def ticker() -> None:
        nonlocal ticks
        for _ in range(20):
            await asyncio.sleep(0)
            ticks += 1
        ticked.set()

    report, _ = await asyncio.gather(
        engine.digest(synthetic_thread(30, seed=4), Depth.BRIEF), ticker()
    )
    assert ticks_seen_by_stage == [20]
    assert report.stats.comments_present == 30


async def test_the_public_source_converts_a_thread_in_the_lane(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    converted: list[tuple[int, str]] = []
    thread_of = live.thread_of

    def recorded(post_listing: Any, flat: list[dict[str, Any]]) -> Thread:
        converted.append(_where())
        return thread_of(post_listing, flat)

    monkeypatch.setattr("adapters.reddit_source.public.thread_of", recorded)
    async with FakeReddit() as fake:
        fake.add_full_thread(
            make_post("lane", num_comments=120), generate_comment_tree("lane", 120)
        )
        async with PublicRedditSource(
            PublicConfig(base_url=fake.base_url, requests_per_minute=10_000)
        ) as source:
            thread = await source.fetch_thread(ThreadRef("lane"), Depth.BRIEF)
    assert len(thread.comments) > 0
    assert converted == [await cpu.run(_where)]


# --------------------------------------------------------------------------- batched writes


async def _count_statements(storage: Storage, starts: str) -> list[str]:
    seen: list[str] = []

    def trace(sql: str) -> None:
        if sql.lstrip().upper().startswith(starts):
            seen.append(sql)

    await cast(aiosqlite.Connection, storage.db).set_trace_callback(trace)  # SQLite's own
    return seen


async def test_a_burst_of_acknowledged_jobs_is_written_in_a_few_statements(
    tmp_path: Path,
) -> None:
    async with Storage(tmp_path / "b.sqlite3") as storage:
        assert await storage.add_job("old", "digest", {"n": -1}) is True
        inserts = await _count_statements(storage, "INSERT INTO JOBS")
        keys = ["old", *(f"k{i}" for i in range(150)), "k7"]  # one there already, one twice
        queued = await asyncio.gather(
            *(storage.add_job(key, "digest", {"n": i}, urgent=True) for i, key in enumerate(keys))
        )
        assert queued == [False, *([True] * 150), False]
        assert len(inserts) < 10  # 151 new rows: not a statement each
        jobs = {job.key: job for job in await storage.jobs()}
        assert len(jobs) == 151
        assert jobs["old"].payload == {"n": -1}
        assert jobs["k7"].payload == {"n": 8}  # the first of the two asks won


async def test_batched_rows_share_their_groups_fate(tmp_path: Path) -> None:
    """One unit of a group fails: the whole group is not written, and each caller is told."""
    async with Storage(tmp_path / "f.sqlite3") as storage:

        async def broken(db: Conn) -> None:
            raise RuntimeError("disk on fire")

        async def fine(db: Conn) -> str:
            return "fine"

        results = await asyncio.gather(
            storage.add_job("a", "digest", {}, urgent=True),
            storage.write_grouped(fine),
            storage.write_grouped(broken),
            storage.add_job("b", "digest", {}, urgent=True),
            return_exceptions=True,
        )
        assert all(isinstance(r, RuntimeError) for r in results), results
        assert await storage.jobs() == []
        # The next group is written as usual, each caller getting its own result in order.
        written = await asyncio.gather(
            storage.add_job("a", "digest", {}, urgent=True),
            storage.write_grouped(fine),
            storage.add_job("a", "digest", {}, urgent=True),
            storage.add_job("b", "digest", {}, urgent=True),
        )
        assert list(written) == [True, "fine", False, True]
        assert [job.key for job in await storage.jobs()] == ["a", "b"]


# --------------------------------------------------------------------------- settings


async def test_settings_are_read_once_and_a_change_is_seen(tmp_path: Path) -> None:
    async with Storage(tmp_path / "s.sqlite3") as storage:
        await storage.set_setting("slack", "T1", "default-depth", "deep")
        selects = await _count_statements(
            storage, "SELECT PLATFORM, SERVER_ID, KEY, VALUE FROM SERVER_SETTINGS"
        )
        first = await asyncio.gather(*(storage.get_settings("slack", "T1") for _ in range(50)))
        assert first == [{"default-depth": "deep"}] * 50
        assert len(selects) == 1  # fifty at once share one query
        again = await storage.get_settings("slack", "T1")
        assert len(selects) == 1  # and later ones none
        again["default-depth"] = "changed by a caller"  # a copy: the kept settings are not
        await storage.set_setting("slack", "T1", "default-depth", "brief")
        assert await storage.get_settings("slack", "T1") == {"default-depth": "brief"}
        assert await storage.get_settings("slack", "T2") == {}


async def test_a_read_under_way_during_a_change_is_not_kept(tmp_path: Path) -> None:
    async with Storage(tmp_path / "r.sqlite3") as storage:
        await storage.set_setting("discord", "G1", "quiet", "post")
        reading = asyncio.create_task(storage.get_settings("discord", "G1"))
        await asyncio.sleep(0)  # the read has asked the database
        await storage.set_setting("discord", "G1", "quiet", "flag")
        await reading  # old or new: it began before the change
        assert await storage.get_settings("discord", "G1") == {"quiet": "flag"}
        assert await storage.get_settings("discord", "G1") == {"quiet": "flag"}
