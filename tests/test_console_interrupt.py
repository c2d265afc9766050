"""Ctrl-C in the console: `redigest run` (no chat tokens: the console) leaves at once while its
standard input is still open, without a traceback from its worker process, and the jobs it had
not run stay in the database."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from bot.jobs import DigestJob, job_payload
from bot.ports import ThreadRef
from bot.storage import Storage, utcnow
from digest.report import Depth

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 60  # generous: only a hang fails it


async def _queue_a_job(database: Path) -> None:
    job = DigestJob("console", "console", "general", "you", ThreadRef("abc123"), Depth.BRIEF, True)
    async with Storage(database) as storage:
        # Due tomorrow: still waiting when the console is stopped.
        later = utcnow() + timedelta(days=1)
        assert await storage.add_job("digest:later", job.KIND, job_payload(job), later)


async def _jobs(database: Path) -> list[tuple[str, str]]:
    async with Storage(database) as storage:
        return [(j.key, j.status) for j in await storage.jobs()]


def _env(database: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("REDIGEST_", "DISCORD_", "SLACK_", "REDDIT_", "ANTHROPIC_", "OPENAI_"))
    }
    return env | {
        "PYTHONPATH": str(REPO),
        "REDIGEST_REDDIT_MODE": "saved",
        "REDIGEST_DATABASE_PATH": str(database),
        "REDIGEST_ANALYZER": "offline",  # and the default lane: a worker process
    }


def test_ctrl_c_leaves_at_once_and_keeps_the_pending_jobs(tmp_path: Path) -> None:
    database = tmp_path / "bot.sqlite3"
    asyncio.run(_queue_a_job(database))
    child = subprocess.Popen(
        [sys.executable, "-c", "import bot.cli; bot.cli.main()", "run"],
        stdin=subprocess.PIPE,  # kept open: nobody presses Enter
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(database),
        cwd=tmp_path,
        text=True,
        start_new_session=True,  # its own process group, as a shell gives a command
    )
    try:
        assert child.stdout is not None
        assert child.stdin is not None
        # The banner is printed once the core runs and the console reads its input.
        banner = child.stdout.readline()
        assert "redigest console" in banner, banner
        child.stdin.write(":jobs\n")
        child.stdin.flush()
        assert "digest:later: pending" in child.stdout.readline()
        # Ctrl-C at a terminal: SIGINT to the whole group (the worker process too).
        os.killpg(child.pid, signal.SIGINT)
        code = child.wait(timeout=TIMEOUT)
        _, err = child.communicate(timeout=TIMEOUT)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert code in (0, 130), err
    assert "Traceback" not in err
    assert "KeyboardInterrupt" not in err
    assert "Stopped; 1 job is kept and will run at the next start." in err
    assert asyncio.run(_jobs(database)) == [("digest:later", "pending")]
