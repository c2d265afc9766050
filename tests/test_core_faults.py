"""The core's promises under faults and hostile input: a chat never makes the bot read a host
file; job claims lapse and are taken over, attempts are capped, a post whose fate cannot be
checked is never repeated blindly, a long database lock leaves no job stuck, replays do no work,
and flags are rate-limited per user."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.reddit_source.thread_json import thread_from_json_text
from bot.chat import MessageRef, Reaction
from bot.core import Core
from bot.storage import ClaimLost, Storage, StorageError
from digest.model import Thread
from tests.support.fake_chat import SimulatedCrash
from tests.support.harness import Harness
from tests.support.synthetic import thread_json

URL = "https://redd.it/aaa111"


# ----------------------------------------------------------------------------- host files


async def test_a_chat_request_never_reads_a_file_on_the_host(h: Harness, tmp_path: Path) -> None:
    real, missing = tmp_path / "export.json", tmp_path / "missing.json"
    real.write_text(json.dumps(thread_json(5, post_id="sec001")), encoding="utf-8")
    await h.core.handle_request(h.request("digest", str(real), reply_token="a"))
    await h.core.handle_request(h.request("digest", str(missing), reply_token="b"))
    await h.run_jobs()
    first, second = h.chat.ephemeral()
    assert h.chat.public() == []
    assert await h.core.storage.jobs() == []
    assert "sec001" not in first.text
    # The same sentence whether the file exists or not: nothing to learn about the host.
    assert first.text.replace(str(real), "P") == second.text.replace(str(missing), "P")
    assert "not a Reddit thread link" in first.text


async def test_the_terminal_may_name_a_file(h: Harness, tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text(json.dumps(thread_json(5, post_id="loc001")), encoding="utf-8")

    class Files:
        async def read(self, name: str) -> Thread:
            data = await asyncio.to_thread(Path(name).read_bytes)
            return thread_from_json_text(data, source=name)

    h.core.files = Files()
    await h.core.handle_request(h.request("digest", str(path)))  # a chat: still refused
    await h.core.handle_request(h.request("digest", str(path), at_terminal=True, reply_token="t"))
    await h.run_jobs()
    [posted] = h.chat.public()
    assert posted.delivery.report is not None
    assert posted.delivery.report.thread.id == "loc001"


# ----------------------------------------------------------------------------- attempts


async def test_a_job_that_kills_the_process_is_capped_and_the_asker_told_once(
    h: Harness,
) -> None:
    await h.core.handle_request(h.request("digest", URL))
    original = h.core.engines.by_name["offline"].digest

    async def crash(*a: Any, **k: Any) -> Any:
        raise SimulatedCrash

    for _ in range(h.core.config.max_interruptions + 2):  # restarts, each killed by the job
        h.core.engines.by_name["offline"].digest = crash  # type: ignore[method-assign]
        with contextlib.suppress(SimulatedCrash):
            await h.run_jobs()
        h.core.engines.by_name["offline"].digest = original  # type: ignore[method-assign]
        await h.restart()
    await h.run_jobs()
    [job] = await h.core.storage.jobs()
    assert job.status == "failed"
    assert job.attempts == h.core.config.max_interruptions
    assert h.chat.public() == []
    [told] = h.chat.ephemeral()
    assert "stopped trying" in told.text


async def test_a_scheduled_run_that_gives_up_says_so_in_its_channel_once(h: Harness) -> None:
    await h.core.handle_request(h.request("subscribe", "r/LocalLLaMA daily 09:00 top 2"))
    assert await h.core.run_subscription_now(1)
    h.source.fail_fetch = SimulatedCrash()  # the run kills the process
    with pytest.raises(SimulatedCrash):
        await h.run_jobs()
    for _ in range(2):
        core = await h.restart()
        core.config = replace(core.config, max_interruptions=1)
        await h.run_jobs()
    said = [p for p in h.chat.public() if "could not be made" in p.text]
    assert len(said) == 1
    assert "scheduled digest" in said[0].text
    assert "I will try again at the next run" in said[0].text
    [job] = await h.core.storage.jobs()
    assert job.status == "failed"


async def test_a_malformed_tree_is_not_retried(h: Harness) -> None:
    h.source.fail_fetch = RecursionError("maximum recursion depth exceeded")
    await h.core.handle_request(h.request("digest", URL))
    await h.run_jobs()
    [job] = await h.core.storage.jobs()
    assert (job.status, job.attempts) == ("failed", 1)
    [told] = h.chat.ephemeral()
    assert "nested too deeply" in told.text


# ----------------------------------------------------------------------------- posting once


async def test_a_post_recorded_right_after_it_returned_is_not_looked_up_again(
    h: Harness,
) -> None:
    await h.core.handle_request(h.request("digest", URL))
    original = h.core.storage.finish_job

    async def crash(*a: Any, **k: Any) -> None:
        raise SimulatedCrash

    h.core.storage.finish_job = crash  # type: ignore[method-assign]
    with pytest.raises(SimulatedCrash):
        await h.run_jobs()
    h.core.storage.finish_job = original  # type: ignore[method-assign]
    await h.restart()
    h.chat.lookups_unavailable = 99  # a lookup would fail: the recorded result is enough
    await h.run_jobs()
    assert len(h.chat.public()) == 1
    assert h.chat.lookups == 0
    [job] = await h.core.storage.jobs()
    assert job.status == "done"


async def test_cannot_look_is_not_not_posted(h: Harness) -> None:
    await h.core.handle_request(h.request("digest", URL))
    h.chat.crash_after_post = True  # posted, then the process died before recording it
    with pytest.raises(SimulatedCrash):
        await h.run_jobs()
    await h.restart()
    h.chat.lookups_unavailable = 1  # the first look after the restart cannot be made
    await h.run_jobs()
    assert len(h.chat.public()) == 1  # not posted again blindly
    [job] = await h.core.storage.jobs()
    assert job.status == "pending"
    h.clock.advance(minutes=5)
    await h.run_jobs()
    assert len(h.chat.public()) == 1
    [job] = await h.core.storage.jobs()
    assert job.status == "done"
    assert job.result == [h.chat.public()[0].ref]


async def test_a_post_that_can_never_be_checked_is_given_up_not_repeated(h: Harness) -> None:
    await h.core.handle_request(h.request("digest", URL))
    h.chat.crash_after_post = True
    with pytest.raises(SimulatedCrash):
        await h.run_jobs()
    await h.restart()
    h.chat.lookups_unavailable = 99
    for _ in range(6):
        h.clock.advance(minutes=10)
        await h.run_jobs()
    assert len(h.chat.public()) == 1
    [job] = await h.core.storage.jobs()
    assert job.status == "failed"


# ----------------------------------------------------------------------------- leases


async def test_a_long_database_lock_mid_job_leaves_no_job_running(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """Another program locks the database for 40 s right after the post: the job's bookkeeping
    fails, its claim lapses, and a worker finishes it — one post, status done."""
    await h.restart()
    # Short waits for the lock, so the test does not sit through SQLite's 5 s busy timeout.
    await h.core.storage.db.execute("PRAGMA busy_timeout=50")
    await h.core.handle_request(h.request("digest", URL))
    blocker = sqlite3.connect(h.path, timeout=0.05, isolation_level=None)

    async def lock_the_database() -> None:
        blocker.execute("BEGIN EXCLUSIVE")
        h.chat.after_post = None

    h.chat.after_post = lock_the_database
    await h.core.run_one_job()  # posts, then cannot record anything
    [job] = await h.core.storage.jobs()
    assert job.status in ("running", "posting")
    assert "could not record its failure" in caplog.text
    h.clock.advance(seconds=40)
    blocker.execute("ROLLBACK")
    blocker.close()
    assert await h.core.run_one_job() is None  # its claim has not lapsed yet
    h.clock.advance(seconds=30)
    await h.run_jobs()
    [job] = await h.core.storage.jobs()
    assert job.status == "done"
    assert len(h.chat.public()) == 1


async def test_a_running_jobs_claim_is_renewed_and_not_taken_from_under_it(h: Harness) -> None:
    await h.core.handle_request(h.request("digest", URL))
    storage = h.core.storage
    job = await storage.claim_job(lease=timedelta(seconds=60))
    assert job is not None
    assert job.claim_token
    h.clock.advance(seconds=50)
    assert await storage.renew_claims([job.key], timedelta(seconds=60)) == 1
    h.clock.advance(seconds=50)
    assert await storage.claim_job() is None  # renewed: still held
    assert await storage.claim_job(exclude=[job.key]) is None
    h.clock.advance(seconds=11)
    again = await storage.claim_job()
    assert again is not None
    assert again.claim_token != job.claim_token
    # The first run lost its claim: it may not post, and its bookkeeping is refused.
    with pytest.raises(ClaimLost):
        await storage.mark_posting(job.key, job.claim_token)
    assert not await storage.fail_job(job.key, "late", retry_at=None, token=job.claim_token)


# ----------------------------------------------------------------------------- one owner


async def test_a_second_process_on_the_same_database_is_refused(h: Harness) -> None:
    with pytest.raises(StorageError) as refused:
        async with Storage(h.path):
            pass
    message = str(refused.value)
    assert "in use by another redigest" in message
    assert "process " in message
    assert "\n" not in message


async def test_a_killed_owner_does_not_keep_the_next_start_waiting(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    code = (
        "import asyncio, sys\n"
        "from bot.storage import Storage\n"
        "async def main():\n"
        f"    async with Storage({str(path)!r}):\n"
        "        print('owner', flush=True)\n"
        "        await asyncio.sleep(60)\n"
        "asyncio.run(main())\n"
    )
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE, cwd=Path(__file__).parents[1]
    )
    assert child.stdout is not None
    assert (await asyncio.wait_for(child.stdout.readline(), 30)).strip() == b"owner"
    with pytest.raises(StorageError, match=rf"process {child.pid} "):
        async with Storage(path):
            pass
    child.kill()  # kill -9: no clean-up runs
    await child.wait()
    async with Storage(path) as db:  # at once: the kernel dropped the dead owner's lock
        assert await db.schema_version() >= 4


# ----------------------------------------------------------------------------- replays, limits


async def test_a_replayed_request_does_no_work_and_spends_no_limit(h: Harness) -> None:
    request = h.request("digest", URL, reply_token="same")
    for _ in range(4):
        await h.core.handle_request(request)
    assert len(await h.core.storage.jobs()) == 1
    assert h.chat.ephemeral() == []
    for i in range(4):  # 1 + 4 = the user's 5 digests in the window
        await h.core.handle_request(h.request("digest", URL, reply_token=f"new{i}"))
    assert len(await h.core.storage.jobs()) == 5
    assert h.chat.ephemeral() == []


async def test_a_used_request_id_for_another_request_is_said_not_dropped(h: Harness) -> None:
    await h.core.handle_request(h.request("digest", URL, reply_token="r1"))
    await h.core.handle_request(h.request("digest", "https://redd.it/bbb222", reply_token="r1"))
    assert len(await h.core.storage.jobs()) == 1
    [told] = h.chat.ephemeral()
    assert "already used" in told.text


async def test_flags_and_menus_are_rate_limited_per_user(h: Harness) -> None:
    core: Core = h.core
    for i in range(8):
        assert None is await core.handle_reaction(
            Reaction(
                MessageRef("fake", "C1", f"u{i}"),
                "🔍",
                "U9",
                "S1",
                message_text=f"look https://www.reddit.com/r/x/comments/aaa{i:03d}/t/",
            )
        )
    jobs = await core.storage.jobs()
    assert len(jobs) == core.config.flag_limit[0] == 5
    assert h.chat.ephemeral() == []  # a plain reaction over the limit is not answered
    answer = await core.handle_reaction(
        Reaction(MessageRef("fake", "C1", "u99"), "anything", "U9", "S1",
                 message_text="https://redd.it/aaa111", requested=True)
    )  # fmt: skip
    assert answer is not None
    assert "a lot of deep analyses" in answer  # a menu is answered (by the adapter)
    # Someone else is not held back by U9.
    await core.handle_reaction(
        Reaction(MessageRef("fake", "C1", "u1"), "🔍", "U8", "S1",
                 message_text="https://redd.it/aaa111")
    )  # fmt: skip
    assert len(await core.storage.jobs()) == 5  # u1 was flagged already: one analysis per message


async def test_a_burst_cannot_pass_the_limit_before_it_counts(h: Harness) -> None:
    """Requests handled concurrently all awaited the database between the check and the count,
    so 12 at once used to make 8 digests against a limit of 5."""
    await asyncio.gather(
        *(
            h.core.handle_request(h.request("digest", URL, reply_token=f"burst{i}"))
            for i in range(12)
        )
    )
    assert len(await h.core.storage.jobs()) == h.core.config.user_limit[0] == 5
    assert len(h.chat.ephemeral()) == 7


async def test_a_job_given_up_after_its_post_went_out_is_done_not_failed(h: Harness) -> None:
    """Killed right after posting, again and again: when its attempts run out, the post is
    found, and the asker is not told it failed under their digest."""
    await h.core.handle_request(h.request("digest", URL))
    h.chat.crash_after_post = True
    with pytest.raises(SimulatedCrash):
        await h.run_jobs()
    original = h.core.storage.finish_job

    async def crash(*a: Any, **k: Any) -> None:
        raise SimulatedCrash

    for _ in range(h.core.config.max_interruptions - 1):  # the last claim gives up
        core = await h.restart()
        core.storage.finish_job = crash  # type: ignore[method-assign]
        with contextlib.suppress(SimulatedCrash):
            await h.run_jobs()
    core = await h.restart()
    assert core.storage.finish_job.__func__ is original.__func__  # type: ignore[attr-defined]
    await h.run_jobs()
    [job] = await h.core.storage.jobs()
    assert job.status == "done"
    assert len(h.chat.public()) == 1
    assert h.chat.ephemeral() == []


async def test_bystanders_of_a_few_crashes_are_not_given_up(h: Harness) -> None:
    """Three restarts that each interrupt a job it did not cause: it still completes."""
    await h.core.handle_request(h.request("digest", URL))
    original = h.core.engines.by_name["offline"].digest

    async def crash(*a: Any, **k: Any) -> Any:
        raise SimulatedCrash

    for _ in range(3):
        h.core.engines.by_name["offline"].digest = crash  # type: ignore[method-assign]
        with contextlib.suppress(SimulatedCrash):
            await h.run_jobs()
        h.core.engines.by_name["offline"].digest = original  # type: ignore[method-assign]
        await h.restart()
    await h.run_jobs()
    [job] = await h.core.storage.jobs()
    assert job.status == "done"
    assert len(h.chat.public()) == 1


async def test_a_job_that_crashes_the_process_does_not_hold_up_the_queue(h: Harness) -> None:
    await h.core.handle_request(h.request("digest", URL, reply_token="poison"))
    await h.core.handle_request(h.request("digest", "https://redd.it/bbb222", reply_token="fine"))
    h.source.fail_fetch = SimulatedCrash()  # the first job claimed crashes the process
    with pytest.raises(SimulatedCrash):
        await h.core.run_one_job()
    await h.restart()
    done = await h.core.run_one_job()  # the other job goes first now
    assert done is not None
    assert done.key.endswith(":fine")
    assert done.status == "done"
