"""A wake-up must not be lost by a worker that was looking for a job when it came.

The job workers of a process share one Event (`Core.wake.jobs_ready`), and each clears it when
woken. A worker whose claim was already under way when jobs were queued found nothing (it looked
too early); if another worker, woken meanwhile, had cleared the Event, the first one went to
sleep until the next wake-up or poll (30 s on PostgreSQL, where a whole batch of jobs queued by
another process wakes a process once), while jobs waited. Found by bench/cluster.py: one
`redigest run` with 4 workers on PostgreSQL ran a 12-digest batch on 2 of them.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from bot.app import open_core
from bot.core import CoreConfig, Engines
from bot.core.loops import WORKERS
from bot.jobs import DigestJob, job_payload
from bot.ports import ThreadRef
from digest.model import Thread
from digest.pipeline import DigestEngine
from digest.report import Depth
from tests.support.fake_chat import FakeChat
from tests.support.fake_source import FakeSource
from tests.support.harness import SCORER, make_thread


class HeldSource(FakeSource):
    """Thread "held1" is fetched only once `release` is set (its job's worker stays busy)."""

    def __init__(self) -> None:
        super().__init__()
        self.fetching = asyncio.Event()
        self.release = asyncio.Event()

    async def fetch_thread(self, ref: ThreadRef, depth: Depth) -> Thread:
        if ref.post_id == "held1":
            self.fetching.set()
            await self.release.wait()
        return await super().fetch_thread(ref, depth)


def _job(post_id: str) -> tuple[str, str, dict[str, Any]]:
    job = DigestJob(platform="fake", server_id="S1", channel_id="C1", user_id="U1",
                    thread=ThreadRef(post_id), depth=Depth.BRIEF, nsfw_ok=False)  # fmt: skip
    return f"digest:fake:C1:{post_id}", job.KIND, job_payload(job)


async def _until(what: Any, why: str) -> None:
    for _ in range(1000):  # a deadline for what takes milliseconds, not a timing
        if what():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never: {why}")


async def test_a_worker_that_looked_too_early_looks_again_instead_of_sleeping(
    tmp_path: Path,
) -> None:
    source = HeldSource()
    source.add(make_thread("held1"))
    source.add(make_thread("next2"))
    chat = FakeChat()
    async with AsyncExitStack() as stack:
        core = await open_core(
            stack, tmp_path / "bot.sqlite3", source=source, chats={"fake": chat},
            engines=Engines({"offline": DigestEngine(scorer=SCORER)}),
            # An idle worker sleeps for an hour unless woken: a job done here was looked for.
            config=CoreConfig(workers=2, idle_poll_seconds=3600, notified_poll_seconds=3600),
        )  # fmt: skip
        claim = core.storage.claim_job
        calls: list[str] = []
        in_claim, go_on = asyncio.Event(), asyncio.Event()

        async def claim_job(**kw: Any) -> Any:
            """The third claim (worker A's, once both were woken) looks before the jobs are
            queued, and returns only when told."""
            calls.append("claim")
            third = calls.count("claim") == 3
            row = await claim(**kw)
            if third:
                in_claim.set()
                await go_on.wait()
            calls.append("claimed")
            return row

        core.storage.claim_job = claim_job  # type: ignore[method-assign]
        await core.start(frozenset({WORKERS}))
        try:
            await _until(lambda: calls.count("claimed") == 2, "both workers idle")
            core.wake.jobs_ready.set()  # both wake: A's claim is held, B's finds nothing
            await _until(in_claim.is_set, "A's claim held")
            await _until(lambda: calls.count("claimed") == 3, "B idle again")
            # Two jobs queued at once, one wake-up (as one NOTIFY says for a batch): B takes the
            # first and stays busy with it; A's claim, which looked too early, returns empty.
            for key, kind, payload in (_job("held1"), _job("next2")):
                assert await core.storage.add_job(key, kind, payload)
            core.wake.jobs_ready.set()
            await _until(source.fetching.is_set, "B busy with the first job")
            go_on.set()

            def second_posted() -> bool:
                return any(p.key == "digest:fake:C1:next2" for p in chat.posts)

            await _until(second_posted, "A took the second job")
        finally:
            source.release.set()
            await core.stop()
