"""The core's one face: what adapters, the console, tests and benchmarks call. It holds the
ports and the settings and hands each call to the use case beside it:

- requests.py: a command → an immediate Reply or a job
- subscriptions.py: subscribe, list, pause, resume, unsubscribe
- reactions.py: a flag on a message → a deep-analysis job (which emoji flags: bot/flags.py)
- jobs.py: claim, run, retry, give up, tell a failure
- digests.py: one thread's analysis and the digest jobs; delivery.py: posting exactly once
- scheduler.py: due subscription runs and the scheduled bundle
- watch.py: watched subreddits, their streams and candidates
- loops.py: the workers, the heartbeat and the loops; start, stop, drain
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.chat import ChatPort, Reaction, Reply, Request
from bot.core.config import SETTING_DEFAULTS, CoreConfig, Engines
from bot.core.digests import Digests
from bot.core.jobs import Jobs
from bot.core.loops import ALL_LOOPS, Wakeups, Workers
from bot.core.reactions import Reactions
from bot.core.requests import Requests
from bot.core.scheduler import Scheduler
from bot.core.subscriptions import Subscriptions
from bot.core.watch import Watching
from bot.ports import ThreadFiles, ThreadRef, ThreadSource
from bot.ratelimit import HitCounter, MemoryHits
from bot.storage import JobRow, Storage
from digest.model import Post, Thread
from digest.report import Depth, Report


@dataclass
class Core:
    """Commands, persisted jobs, the scheduler, watched subreddits and reaction flags.

    Platform-neutral: adapters hand in `Request`s and `Reaction`s and implement `ChatPort`;
    Reddit is a `ThreadSource`; analysis is a `DigestEngine` per analyser. Time comes from an
    injected clock so everything here can be tested without sleeping."""

    storage: Storage
    source: ThreadSource
    engines: Engines
    chats: dict[str, ChatPort]
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    files: ThreadFiles | None = None  # saved files for requests typed at the terminal only
    config: CoreConfig = field(default_factory=CoreConfig)
    default_spend_cap: float = 1.0  # US$ per server per day, until the server sets its own

    def __post_init__(self) -> None:
        self.wake = Wakeups()
        # The rate limits per user, per channel and on flags: in the database when other
        # processes share it (PostgreSQL), so they hold across all of them; in memory on a
        # SQLite file, which this process alone uses (no write per request).
        self.limits: HitCounter = (
            self.storage
            if self.storage.postgres_url is not None
            else MemoryHits(lambda: self.clock().timestamp())
        )
        self.requests = Requests(self)
        self.subscriptions = Subscriptions(self)
        self.reactions = Reactions(self)
        self.jobs = Jobs(self)
        self.digests = Digests(self)
        self.scheduler = Scheduler(self)
        self.watching = Watching(self)
        self.workers = Workers(self)
        self.on_job_done: Callable[[JobRow], None] | None = None  # for tests and the console
        # The state the memory soak watches (bench/memory_soak.py), under its old names.
        self._analysing = self.digests.analysing
        self._running_keys = self.jobs.running_keys

    # ------------------------------------------------------------------ requests and reactions

    async def handle_request(self, request: Request) -> Reply | None:
        """Answer one command: the Reply to show now, or None when the answer comes later."""
        return await self.requests.handle(request)

    async def handle_reaction(self, reaction: Reaction) -> str | None:
        """A flag on a message → the deep report under it, once. Never raises."""
        return await self.reactions.handle(reaction)

    async def server_settings(self, platform: str, server_id: str) -> dict[str, str]:
        stored = await self.storage.get_settings(platform, server_id)
        defaults = dict(
            SETTING_DEFAULTS,
            timezone=self.config.default_timezone,
            language=self.config.default_language,
            **{"spend-cap": f"{self.default_spend_cap:.2f}"},
        )
        return {**defaults, **stored}

    async def subscription_choices(
        self, platform: str, server_id: str, channel_id: str
    ) -> list[tuple[int, str]]:
        """This channel's subscriptions first, then the server's, as (id, label)."""
        return await self.subscriptions.choices(platform, server_id, channel_id)

    # ------------------------------------------------------------------ jobs, schedule, watch

    async def run_one_job(self) -> JobRow | None:
        """Claim and run the next due job; returns it (as finished) or None if none was due."""
        return await self.jobs.run_one()

    async def report_for(
        self, platform: str, server_id: str, ref: ThreadRef, depth: Depth, settings: dict[str, str],
        *, nsfw_ok: bool = True, thread: Thread | None = None, channel_id: str | None = None,
        subscription_id: int | None = None,
    ) -> tuple[Report, str]:  # fmt: skip
        """One analysis per (thread, depth, content, analyser): the report and its JSON (its
        cost counted for `channel_id` and `subscription_id`)."""
        return await self.digests.report_for(
            platform, server_id, ref, depth, settings, nsfw_ok=nsfw_ok, thread=thread,
            channel_id=channel_id, subscription_id=subscription_id,
        )  # fmt: skip

    async def scheduler_tick(self) -> int:
        """Queue every due scheduled run (each once, however long the bot was down)."""
        return await self.scheduler.tick()

    async def run_subscription_now(self, sub_id: int) -> bool:
        """Queue a run of a subscription now (the console's `:run`)."""
        return await self.scheduler.run_now(sub_id)

    async def add_candidate(self, post: Post) -> int:
        """A new post from the stream → a candidate for every watch on its subreddit."""
        return await self.watching.add_candidate(post)

    async def watch_tick(self) -> int:
        """Re-check due candidates; queue those that crossed their threshold."""
        return await self.watching.tick()

    async def _consume_stream(self, name: str) -> None:
        await self.watching.consume_stream(name)

    # ------------------------------------------------------------------ the loops

    async def start(self, loops: frozenset[str] = ALL_LOOPS) -> None:
        """Start the `loops` named (bot/core/loops.py; all by default: recover interrupted jobs,
        start the workers, the heartbeat, the scheduler and the watcher). A process of another
        role runs some of them (bot/roles.py)."""
        await self.workers.start(loops)

    @property
    def loops(self) -> tuple[asyncio.Task[None], ...]:
        """The loops `start` began (named): they end only on `stop`, so the app watches them."""
        return tuple(self.workers.tasks)

    async def stop(self, grace: float = 20.0) -> None:
        """Let running jobs finish (up to `grace` s); anything unfinished stays pending."""
        await self.workers.stop(grace)

    async def drain(self, max_seconds: float = 120.0) -> bool:
        """Wait until no job is runnable or running (a console fed from a pipe ends cleanly)."""
        return await self.workers.drain(max_seconds)

    async def describe_next_runs(self) -> str:
        return await self.scheduler.describe_next_runs()

    async def describe_jobs(self) -> str:
        return await self.jobs.describe()
