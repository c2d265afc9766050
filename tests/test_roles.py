"""`redigest run --role all|gateway|worker|scheduler` (bot/roles.py).

The cluster tests run real Apps with distinct roles in this process (in-process, not separate
processes: the same code path as `redigest run --role …` from `App.run_chats` on, each App with
its own settings, storage connection and Slack client) on one real PostgreSQL database of the
suite's server, against the fake Slack in Socket Mode with the real slack-bolt. A job queued by
the gateway reaches the worker through the database only (the worker polls; nothing in memory
is shared). The refusals go through the real CLI in a subprocess.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.commands import SubscribeCmd, parse_command
from bot.core import Core
from bot.core.loops import ALL_LOOPS
from bot.roles import ROLES, Role, RoleError, role_named
from bot.settings import load_settings
from bot.storage import JobRow, Storage
from tests.fakes.slack_server import FakeSlack

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
CLI = [sys.executable, "-c", "from bot.cli import main; main()"]
THREAD_URL = "https://www.reddit.com/r/selfhosted/comments/rdg001/what_do_you_use/"


# ----------------------------------------------------------------------------- the refusals


def _cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    prefixes = ("REDIGEST_", "DISCORD_", "SLACK_", "REDDIT_", "ANTHROPIC_", "OPENAI_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    return env | {
        "PYTHONPATH": str(REPO),
        "REDIGEST_DATABASE_PATH": str(tmp_path / "bot.sqlite3"),
        "REDIGEST_REDDIT_MODE": "saved",
        "SLACK_BOT_TOKEN": "xoxb-1111-2222-never-used",
        "SLACK_APP_TOKEN": "xapp-1-never-used",
        **extra,
    }


def _run_cli(tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "run", *args],
        capture_output=True,
        text=True,
        env=_cli_env(tmp_path, **extra),
        cwd=tmp_path,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_a_role_other_than_all_on_sqlite_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = _run_cli(tmp_path, "--role", "worker")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "redigest: --role worker needs a shared database: set "
        "REDIGEST_DATABASE_URL=postgresql://… (SQLite allows one process)"
    ]
    assert not (tmp_path / "bot.sqlite3").exists()  # refused before anything was opened


def test_an_unknown_role_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = _run_cli(tmp_path, "--role", "bogus")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "redigest: --role bogus is not a role: use one of all, gateway, worker, scheduler "
        "(all is the default)."
    ]


def test_the_console_is_role_all_only() -> None:
    with pytest.raises(RoleError, match="console runs as role all only"):
        role_named("gateway", shared_database=True, chats=False)
    assert role_named("all", shared_database=False, chats=False) is ROLES["all"]
    assert role_named(" Worker ", shared_database=True, chats=True) is ROLES["worker"]


def test_each_role_names_its_loops_and_says_what_it_does() -> None:
    assert ROLES["all"].loops == ALL_LOOPS
    assert ROLES["gateway"].loops == frozenset()
    assert ROLES["worker"].loops == {"workers", "heartbeat"}
    assert ROLES["scheduler"].loops == {"scheduler", "watcher"}
    assert [r.name for r in ROLES.values() if r.receives] == ["all", "gateway"]
    line = ROLES["worker"].startup_line(4)
    assert line == "role worker: job workers only (4), chats post-only"
    assert ROLES["gateway"].startup_line(4).startswith("role gateway: ")


# ----------------------------------------------------------------------------- a cluster


class Cluster:
    """Apps of several roles on one PostgreSQL database and one fake Slack workspace."""

    def __init__(self, fake: FakeSlack, url: str, tmp_path: Path, mp: pytest.MonkeyPatch) -> None:
        self.fake, self.url, self.tmp_path, self.mp = fake, url, tmp_path, mp
        self.cores: dict[str, Core] = {}
        self.done: dict[str, list[str]] = {}  # role → keys of the jobs it finished
        self.said: dict[str, list[str]] = {}
        self.tasks: list[asyncio.Task[None]] = []
        original = App.bot

        async def bot(app: App, chats: dict[str, object], **kw: object) -> Core:
            core = await original(app, chats, **kw)  # type: ignore[arg-type]
            name = app.role.name if app.role else "all"
            self.cores[name] = core
            core.on_job_done = lambda row: self.done.setdefault(name, []).append(row.key)
            return core

        mp.setattr(App, "bot", bot)

    def start(self, role: Role) -> None:
        env = {
            "REDIGEST_DATABASE_URL": self.url,
            # One status file per process, as on its own host.
            "REDIGEST_STATUS_PATH": str(self.tmp_path / f"{role.name}.status.json"),
            "REDIGEST_SAVED_THREADS": str(EXAMPLES),
            "REDIGEST_REDDIT_MODE": "saved",
            "REDIGEST_CPU_LANE": "thread",
            "REDIGEST_WORKERS": "2",
            "SLACK_BOT_TOKEN": self.fake.bot_token,
            "SLACK_APP_TOKEN": self.fake.app_token,
            "REDIGEST_SLACK_API_URL": self.fake.api_url,
        }
        for key, value in env.items():
            self.mp.setenv(key, value)
        settings = load_settings(env_file=None)
        said = self.said.setdefault(role.name, [])

        async def run() -> None:
            async with App(settings, role=role) as app:
                await app.run_chats(say=said.append)

        self.tasks.append(asyncio.create_task(run(), name=role.name))

    async def until(self, what: Callable[[], bool], timeout: float = 60.0) -> None:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            while not what():
                for task in self.tasks:
                    if task.done():
                        task.result()  # a role that stopped says why
                        raise AssertionError(f"{task.get_name()} stopped by itself")
                await asyncio.sleep(0.02)

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


@asynccontextmanager
async def cluster(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Cluster]:
    async with FakeSlack() as fake:
        running = Cluster(fake, postgres_url, tmp_path, monkeypatch)
        try:
            yield running
        finally:
            await running.stop()


def _posted_keys(fake: FakeSlack) -> list[str]:
    keys = []
    for call in fake.calls_to("chat.postMessage"):
        metadata = call.args.get("metadata") or {}
        key = (metadata.get("event_payload") or {}).get("key")
        if key:
            keys.append(str(key))
    return keys


async def test_a_gateway_acknowledges_and_a_worker_posts_the_digest_once(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with cluster(postgres_url, tmp_path, monkeypatch) as c:
        c.start(ROLES["gateway"])
        c.start(ROLES["worker"])
        await c.until(lambda: c.fake.socket_connected and {"gateway", "worker"} <= c.cores.keys())
        await c.until(lambda: len(c.cores["worker"].loops) > 0)
        assert c.fake.socket_connections_opened == 1  # the worker opened no Socket Mode

        payload = c.fake.slash_command_payload("/digest", THREAD_URL)
        envelope_id = await c.fake.socket_send(c.fake.envelope("slash_commands", payload))
        ack = await c.fake.wait_ack(envelope_id, timeout=10.0)
        assert "digest will be posted here" in ack["payload"]["text"]  # the gateway answered

        await c.until(lambda: bool(c.done.get("worker")))
        key = c.done["worker"][0]
        assert key.startswith("digest:slack:C0GENERAL:")
        await c.until(lambda: len(_posted_keys(c.fake)) >= 1)
        # Let the worker's loops go round again: nothing more is posted, by anyone.
        await asyncio.sleep(1.0)
        assert _posted_keys(c.fake) == [key]
        assert "gateway" not in c.done  # the gateway ran no job
        gateway, worker = c.cores["gateway"], c.cores["worker"]
        assert gateway.loops == ()  # no worker, no scheduler, no watcher, no heartbeat
        names = {task.get_name() for task in worker.loops}
        assert names == {"worker-0", "worker-1", "heartbeat"}
        row = await worker.storage.job(key)
        assert row is not None
        assert row.status == "done"
        assert (
            "role gateway: chats receive and answer, jobs queued, none run here"
            in c.said["gateway"]
        )
        assert "role worker: job workers only (2), chats post-only" in c.said["worker"]
        status = (tmp_path / "worker.status.json").read_text(encoding="utf-8")
        assert '"role": "worker"' in status


async def test_a_scheduler_queues_a_due_run_and_a_worker_posts_it(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slot = (datetime.now(UTC) - timedelta(minutes=1)).replace(second=0, microsecond=0)
    words = f"r/selfhosted daily {slot:%H:%M} top 1"  # a run due a minute ago
    cmd = parse_command("subscribe", words, default_tz="UTC")
    assert isinstance(cmd, SubscribeCmd)
    async with Storage(postgres_url) as storage:
        sub = await storage.add_subscription(
            platform="slack", server_id="T0FAKE001", channel_id="C0GENERAL",
            created_by="U0OWNER01", kind="schedule",
            spec={"subreddits": ["selfhosted"], "schedule": cmd.schedule.to_text(), "top": 1,
                  "min_score": None, "flairs": [], "exclude_flairs": [], "keywords": [],
                  "nsfw": False},
            next_run_at=slot,
        )  # fmt: skip
    async with cluster(postgres_url, tmp_path, monkeypatch) as c:
        c.start(ROLES["scheduler"])
        c.start(ROLES["worker"])
        await c.until(lambda: any(k.startswith(f"sched:{sub}:") for k in c.done.get("worker", [])))
        key = next(k for k in c.done["worker"] if k.startswith(f"sched:{sub}:"))
        scheduler = c.cores["scheduler"]
        names = {task.get_name() for task in scheduler.loops}
        assert names == {"scheduler", "watcher", "leader"}  # the lease's renewal: leader.py
        assert "scheduler" not in c.done  # it queued the run; the worker ran it
        row: JobRow | None = await scheduler.storage.job(key)
        assert row is not None
        assert row.status == "done"
        assert c.fake.socket_connections_opened == 0  # neither receives
        assert c.fake.calls_to("apps.connections.open") == []
        await c.until(lambda: key in _posted_keys(c.fake))
        assert _posted_keys(c.fake).count(key) == 1
        assert (
            "role scheduler: the scheduler and the watcher only, chats post-only"
            in c.said["scheduler"]
        )
