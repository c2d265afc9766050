"""Real `redigest run --role …` processes on one PostgreSQL database, for the kill -9 tests
(tests/test_cluster_kill.py) and the scale-out bench (bench/cluster.py).

Each process is the real CLI (`python -c "from bot.cli import main; main()" run --role …`) in a
process group of its own, its output in a log file. Everything it talks to runs in the calling
process, so it outlives any kill -9 of a child:

- Reddit: tests/fakes/reddit_server.py, read through the public pages (REDIGEST_REDDIT_MODE=
  public), one synthetic thread per digest, so no digest is a cache hit of another;
- the LLM: tests/fakes/llm_servers.py's Anthropic, answering every model call from its own
  prompt (quotes copied from the thread) after a delay drawn per call;
- Slack: tests/fakes/slack_server.py's workspace, keeping each message's metadata (the job key
  `find_posted` looks for after a crash) and able to hold the answer to one keyed post: the
  message is in the channel, the poster has not heard back (the window a kill -9 must survive).

Short leases come through the settings (REDIGEST_JOB_LEASE_SECONDS, REDIGEST_LEADER_LEASE_SECONDS).
Which process holds a claim: each process holds an advisory lock named by its claim owner id
(bot/storage/backend.py, OWNER_LOCK) on its connection; PostgreSQL says which client port that
connection has, and /proc says which child has a socket on that port (Linux).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from aiohttp import web

from bot.jobs import DigestJob, job_payload
from bot.ports import ThreadRef
from bot.storage import Storage
from bot.storage.backend import OWNER_LOCKS
from digest.llm import StructuredRequest
from digest.llm_port import PromptBlock
from digest.report import Depth
from tests.fakes.llm_servers import FakeAnthropic, RawText, RecordedRequest, Reply, Slow, Step
from tests.fakes.reddit_server import FakeReddit, generate_comment_tree, make_post, to_base36
from tests.fakes.slack_server import ApiCall
from tests.support.scripted_llm import grounded_answer
from tests.test_slack_adapter import MetaSlack

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-c", "from bot.cli import main; main()"]
SUBREDDIT = "clustertest"
TEAM = "T0FAKE001"
LLM_KEY = "test-key"
# Environment names a child must not inherit from the caller (the settings read them).
_OURS = ("REDIGEST_", "DISCORD_", "SLACK_", "REDDIT_", "ANTHROPIC_", "OPENAI_")


# ----------------------------------------------------------------------------- the fakes


class PacedLLM(FakeAnthropic):
    """Every model call is answered from its prompt (a grounded answer) after `delay` seconds,
    drawn uniformly per call from a seeded generator."""

    def __init__(self, delay: tuple[float, float], seed: int = 0) -> None:
        super().__init__(api_key=LLM_KEY)
        self.delay = delay
        self._rng = random.Random(seed)

    def _next_step(self) -> Step:
        return Slow(self._rng.uniform(*self.delay), Reply({}))

    def _answer(self, record: RecordedRequest, step: Reply | RawText) -> web.Response:
        if isinstance(step, Reply) and step.obj == {}:
            step = Reply(grounded_answer(_request_of(record.user_text)))
        return super()._answer(record, step)


def _request_of(prompt: str) -> StructuredRequest:
    return StructuredRequest(model="m", system="", blocks=(PromptBlock(prompt),), instructions="",
                             schema={}, schema_name="", max_tokens=1)  # fmt: skip


class KeyedSlack(MetaSlack):
    """The fake workspace, keeping each message's metadata (MetaSlack: returned to
    `include_all_metadata` readers); `hold(key)` holds the answer to the post of `key` after the
    message is stored, until `release()`."""

    def __init__(self, channels: Iterable[str]) -> None:
        super().__init__()
        for channel in channels:
            self.add_channel(channel)
        self.hold_key: str | None = None
        self.held = asyncio.Event()  # the held post is in its channel
        self._release = asyncio.Event()

    def hold(self, key: str) -> None:
        self.hold_key = key

    def release(self) -> None:
        self._release.set()

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        response = await super()._handle_api(request)
        call = self.calls[-1]  # ours: nothing awaited since the parent appended it
        key = (_metadata(call) or {}).get("event_payload", {}).get("key")
        if call.method == "chat.postMessage" and call.ok and key and key == self.hold_key:
            self.held.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._release.wait(), timeout=300)
        return response

    def posts_by_key(self) -> Counter[tuple[str, int]]:
        """How many messages were posted for each (job key, part)."""
        out: Counter[tuple[str, int]] = Counter()
        for m in self.messages:
            payload = (m.extra.get("metadata") or {}).get("event_payload") or {}
            if payload.get("key"):
                out[(str(payload["key"]), int(payload.get("part", 0)))] += 1
        return out

    def ts_of(self, key: str) -> list[str]:
        return [
            m.ts
            for m in self.messages
            if ((m.extra.get("metadata") or {}).get("event_payload") or {}).get("key") == key
        ]


def _metadata(call: ApiCall) -> dict[str, Any] | None:
    metadata = call.args.get("metadata")
    if isinstance(metadata, str):
        with contextlib.suppress(ValueError):
            metadata = json.loads(metadata)
    return metadata if isinstance(metadata, dict) else None


@dataclass
class Fakes:
    """Reddit, the LLM and Slack for a cluster, in this process (`async with Fakes(...)`)."""

    threads: int
    channels: int = 50
    llm_delay: tuple[float, float] = (0.2, 1.5)
    comments: tuple[int, int] = (15, 40)
    seed: int = 17
    reddit: FakeReddit = field(init=False)
    llm: PacedLLM = field(init=False)
    slack: KeyedSlack = field(init=False)
    post_ids: list[str] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.reddit = FakeReddit(public_ratelimit_budget=1_000_000)
        self.llm = PacedLLM(self.llm_delay, seed=self.seed)
        self.slack = KeyedSlack(self.channel(i) for i in range(self.channels))
        rng = random.Random(self.seed)
        for i in range(self.threads):
            post_id = "k" + to_base36(36**3 + i)
            post = make_post(post_id, subreddit=SUBREDDIT, title=f"Question {i}: what do you use?",
                             selftext="Looking for opinions.", score=10 + i)  # fmt: skip
            count = rng.randint(*self.comments)
            comments = generate_comment_tree(post_id, count, seed=i, subreddit=SUBREDDIT)
            self.reddit.add_full_thread(post, comments)
            self.post_ids.append(post_id)

    def channel(self, i: int) -> str:
        return f"C0CL{i:04d}"

    async def __aenter__(self) -> Self:
        await self.reddit.start()
        await self.llm.start()
        await self.slack.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.slack.release()
        for server in (self.slack, self.llm, self.reddit):
            await server.close()

    def env(self) -> dict[str, str]:
        """The settings that point a process at these fakes."""
        return {
            "REDIGEST_REDDIT_MODE": "public",
            "REDIGEST_REDDIT_PUBLIC_URL": self.reddit.base_url,
            "REDIGEST_REDDIT_PUBLIC_RPM": "600",
            "REDIGEST_ANALYZER": "anthropic",
            "ANTHROPIC_API_KEY": LLM_KEY,
            "ANTHROPIC_BASE_URL": self.llm.base_url,
            "REDIGEST_DAILY_SPEND_CAP": "10000",
            "SLACK_BOT_TOKEN": self.slack.bot_token,
            "REDIGEST_SLACK_API_URL": self.slack.api_url,
        }

    def digest_jobs(self, count: int, tag: str = "r") -> list[tuple[str, DigestJob]]:
        """`count` digests asked for, as a gateway queues them: one key each (`tag` tells one
        batch's from another's), a thread each, spread over the channels."""
        jobs = []
        for i in range(count):
            channel = self.channel(i % self.channels)
            job = DigestJob(platform="slack", server_id=TEAM, channel_id=channel,
                            user_id=f"U0USER{i % 40:03d}", thread=ThreadRef(self.post_ids[i]),
                            depth=Depth.BRIEF, nsfw_ok=False)  # fmt: skip
            jobs.append((f"digest:slack:{channel}:{tag}{i:05d}", job))
        return jobs


async def queue_digests(database: Path | str, jobs: list[tuple[str, DigestJob]]) -> int:
    """Queue the jobs through the storage API, as gateways do (all at once: they are written
    in groups); how many were queued."""
    async with Storage(database) as storage:
        queued = await asyncio.gather(
            *(storage.add_job(key, job.KIND, job_payload(job), urgent=True) for key, job in jobs)
        )
    return sum(queued)


# ----------------------------------------------------------------------------- the processes


@dataclass
class Child:
    name: str
    role: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""


class Processes:
    """redigest processes started here; `close()` (or `async with`) kills whatever is left."""

    def __init__(self, folder: Path, base_env: Mapping[str, str]) -> None:
        self.folder = folder
        self.base_env = dict(base_env)
        self.children: dict[str, Child] = {}
        self.killed: set[str] = set()

    def start(self, name: str, role: str, command: list[str] | None = None,
              **env: str) -> Child:  # fmt: skip
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(_OURS)}
        full = inherited | {
            "PYTHONPATH": str(REPO),
            "REDIGEST_STATUS_PATH": str(self.folder / f"{name}.status.json"),
            "REDIGEST_CPU_LANE": "thread",
            **self.base_env,
            **env,
        }
        log = self.folder / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                command or [*CLI, "run", "--role", role], cwd=self.folder, env=full,
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        child = Child(name, role, process, log)
        self.children[name] = child
        return child

    def kill9(self, name: str) -> None:
        child = self.children[name]
        self.killed.add(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.process.pid, signal.SIGKILL)
        child.process.wait(10)

    def check_running(self) -> None:
        """Every child not killed here is still running (or AssertionError with its log)."""
        for child in self.children.values():
            if child.name not in self.killed and child.process.poll() is not None:
                raise AssertionError(
                    f"{child.name} exited ({child.process.returncode}):\n{child.output()[-3000:]}"
                )

    async def until_ready(self, *names: str, timeout: float = 90.0) -> None:  # noqa: ASYNC109
        """Until each child said its role at start-up (its loops start right after)."""
        async with asyncio.timeout(timeout):
            while not all(f"role {self.children[n].role}:" in self.children[n].output()
                          for n in names):  # fmt: skip
                self.check_running()
                await asyncio.sleep(0.1)

    async def terminate(self, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        """A graceful stop of every child still running (SIGTERM), killed if it hangs."""
        running = [c for c in self.children.values() if c.process.poll() is None]
        for child in running:
            child.process.terminate()

        async def stopped() -> bool:
            return all(c.process.poll() is not None for c in running)

        with contextlib.suppress(TimeoutError):
            await until(stopped, timeout=timeout, every=0.1)
        self.close()

    def close(self) -> None:
        for child in self.children.values():
            if child.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.process.wait(10)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


async def until(what: Callable[[], Awaitable[bool]], *, timeout: float,  # noqa: ASYNC109
                processes: Processes | None = None, every: float = 0.2) -> None:  # fmt: skip
    """Poll `what` until it is true (TimeoutError after `timeout` s); a child that died on its
    own meanwhile fails at once."""
    async with asyncio.timeout(timeout):
        while not await what():
            if processes is not None:
                processes.check_running()
            await asyncio.sleep(every)


# ----------------------------------------------------------------------------- who holds what

# The client port of the connection that holds the owner lock of `claimed_by` (its process).
_OWNER_PORT = (
    "SELECT a.client_port FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
    f" WHERE l.locktype = 'advisory' AND l.granted AND l.classid = {OWNER_LOCKS}"
    " AND l.objid = hashtext($1)::oid AND l.objsubid = 2"
)


def _local_ports(pid: int) -> set[int]:
    """The local TCP ports of `pid`'s sockets (Linux /proc)."""
    inodes: set[str] = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    ports: set[int] = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/net/{table}") as f:
            for line in list(f)[1:]:
                fields = line.split()
                if fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


async def process_of(conn: Any, owner: str, processes: Processes) -> str | None:
    """The name of the child whose claims are `owner`'s (None: none alive here)."""
    port = await conn.fetchval(_OWNER_PORT, owner)
    if port is None:
        return None
    for child in processes.children.values():
        if child.process.poll() is None and port in _local_ports(child.process.pid):
            return child.name
    return None
