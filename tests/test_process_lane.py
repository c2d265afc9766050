"""The process lane (digest/cpu.py): whole offline digests in one worker process with its own
GIL, started and stopped by whoever made it (the composition root for the bot), the model
pickled by its fields. No wall-clock assertions: where work ran is told by the process id."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import pickle
import sys
from collections.abc import AsyncIterator
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.reduction import ForkingPickler
from pathlib import Path

import pytest

from adapters.reddit_source.thread_json import thread_from_json
from bot.cli import _console
from bot.settings import SettingsError, load_settings
from digest import codec
from digest.cpu import SWITCH_INTERVAL_S, ProcessLane, register_reducers
from digest.model import Thread
from digest.pipeline import DigestEngine, warm_lane
from digest.report import Depth
from tests.support.synthetic import thread_json

EXAMPLE = Path(__file__).resolve().parents[1] / "examples"


def _pid() -> int:
    return os.getpid()


def _fails(what: str) -> None:
    raise ValueError(what)


def _dies() -> None:
    os._exit(3)  # the worker is killed, out of memory, ...


@pytest.fixture
async def lane() -> AsyncIterator[ProcessLane]:
    async with ProcessLane(warm=warm_lane) as lane:
        yield lane


async def test_work_runs_in_one_other_process_and_its_errors_come_back(
    lane: ProcessLane,
) -> None:
    first, second = await lane.run(_pid), await lane.run(_pid)
    assert first != os.getpid()
    assert second == first  # one worker, kept
    with pytest.raises(ValueError, match="bad thread"):
        await lane.run(_fails, "bad thread")
    assert await lane.run(_pid) == first  # an error does not cost the worker


def _logs(secret: str) -> int:
    logging.getLogger("digest.somewhere").warning("worker says %s", secret)
    logging.getLogger("digest.somewhere").debug("below the level: not sent")
    return os.getpid()


async def test_a_workers_log_records_reach_this_processs_logging(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """They used to go to the worker's own stderr, past the bot's format and masking."""
    caplog.set_level(logging.INFO)
    async with ProcessLane() as lane:
        worker = await lane.run(_logs, "hello")
    [record] = [r for r in caplog.records if r.name == "digest.somewhere"]
    assert record.getMessage() == "worker says hello"
    assert record.levelno == logging.WARNING
    assert record.process == worker != os.getpid()


async def test_a_dead_worker_fails_its_job_and_the_next_job_gets_a_new_one(
    lane: ProcessLane,
) -> None:
    before = await lane.run(_pid)
    with pytest.raises(BrokenProcessPool):
        await lane.run(_dies)
    after = await lane.run(_pid)
    assert after not in (before, os.getpid())


async def test_a_closed_lane_takes_no_work() -> None:
    lane = ProcessLane()
    assert await lane.run(_pid) != os.getpid()  # started on first use
    await lane.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await lane.run(_pid)
    await lane.aclose()  # twice is fine


async def test_concurrent_first_jobs_share_one_start() -> None:
    async with ProcessLane() as lane:
        pids = await asyncio.gather(*(lane.run(_pid) for _ in range(6)))
    assert len(set(pids)) == 1


@pytest.mark.parametrize("depth", list(Depth))
async def test_an_offline_digest_in_the_lane_is_the_digest_in_this_process(
    lane: ProcessLane, depth: Depth
) -> None:
    thread = thread_from_json(thread_json(400, seed=11))
    here = await DigestEngine().digest(thread, depth)
    there = await DigestEngine(lane=lane).digest(thread, depth)
    assert codec.dumps(there) == codec.dumps(here)
    assert there == here


def test_an_engine_with_a_lane_takes_no_scorer_of_its_own() -> None:
    with pytest.raises(ValueError, match="make_scorer"):
        DigestEngine(lane=ProcessLane(), scorer=DigestEngine()._scorer)


def test_the_model_crosses_by_its_fields_equal_and_without_its_indexes() -> None:
    register_reducers()
    thread = thread_from_json(thread_json(300, seed=12))
    assert thread.by_id
    assert thread.children
    data = bytes(ForkingPickler.dumps(thread))
    again: Thread = pickle.loads(data)
    assert again == thread
    assert again.comments == thread.comments
    assert again.post == thread.post
    assert "by_id" not in vars(again)
    assert "children" not in vars(again)
    assert len(data) < len(pickle.dumps(thread))


def test_the_setting_chooses_the_lane(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings(env_file=None).cpu_lane == "process"
    monkeypatch.setenv("REDIGEST_CPU_LANE", "thread")
    assert load_settings(env_file=None).cpu_lane == "thread"
    monkeypatch.setenv("REDIGEST_CPU_LANE", "fork")
    with pytest.raises(SettingsError, match="REDIGEST_CPU_LANE"):
        load_settings(env_file=None)


async def _lines(*lines: str) -> AsyncIterator[str]:
    for line in lines:
        yield line + "\n"


@pytest.mark.parametrize("lane_setting", ["process", "thread"])
async def test_the_bot_digests_the_same_in_either_lane_and_stops_its_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lane_setting: str
) -> None:
    monkeypatch.setenv("REDIGEST_DATABASE_PATH", str(tmp_path / f"{lane_setting}.sqlite3"))
    monkeypatch.setenv("REDIGEST_SAVED_THREADS", str(EXAMPLE))
    monkeypatch.setenv("REDIGEST_CPU_LANE", lane_setting)
    started: list[ProcessLane] = []
    start = ProcessLane.start

    async def recorded(self: ProcessLane) -> None:
        started.append(self)
        await start(self)

    monkeypatch.setattr(ProcessLane, "start", recorded)
    out = io.StringIO()
    await _console(
        load_settings(env_file=None),
        _lines(f"/digest {EXAMPLE / 'selfhosted_thread.json'} brief"),
        out,
    )
    assert "What do you use to bring Reddit discussions" in out.getvalue()
    assert len(started) == (lane_setting == "process")
    for lane in started:
        assert lane._closed
        assert lane._pool is None


_ORPHAN = """
import asyncio, os, sys
from digest.cpu import ProcessLane

async def main():
    lane = ProcessLane()
    print(await lane.run(os.getpid), flush=True)
    os._exit(0)  # killed: the lane is never closed

if __name__ == "__main__":
    asyncio.run(main())
"""


def _gone(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status  # exited, not yet reaped by whoever adopted it


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
async def test_a_worker_whose_bot_was_killed_goes_too(tmp_path: Path) -> None:
    script = tmp_path / "orphan.py"
    script.write_text(_ORPHAN)

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(EXAMPLE.parent)},
    )
    out, _ = await proc.communicate()
    worker = int(out.decode().split()[0])
    for _ in range(600):  # a guard against hanging only: it goes at once
        if _gone(worker):
            break
        await asyncio.sleep(0.05)
    assert _gone(worker)


async def test_the_bot_hands_the_gil_over_sooner_while_it_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIGEST_DATABASE_PATH", str(tmp_path / "s.sqlite3"))
    monkeypatch.setenv("REDIGEST_CPU_LANE", "thread")
    before = sys.getswitchinterval()
    seen: list[float] = []

    async def lines() -> AsyncIterator[str]:
        seen.append(sys.getswitchinterval())
        yield "/help\n"

    await _console(load_settings(env_file=None), lines(), io.StringIO())
    assert seen == [SWITCH_INTERVAL_S]
    assert sys.getswitchinterval() == before
