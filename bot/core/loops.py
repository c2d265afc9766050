"""The loops that keep the bot going: job workers, the claims' heartbeat, the scheduler and the
watcher (run only while this process leads: leader.py) and the leader lease's renewal (with the
leader's sweep of old rate-limit hits); wake-ups heard from other processes (PostgreSQL's
NOTIFY); started and stopped together (stop lets running jobs finish), and a drain for a console
fed from a pipe."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.core.leader import Leadership
from bot.storage import JOBS_CHANNEL, SCHEDULE_CHANNEL, SETTINGS_CHANNEL

if TYPE_CHECKING:
    from bot.core.facade import Core
    from bot.storage.listener import PgListener

log = logging.getLogger(__name__)

# The loops a process may run (bot/roles.py picks them per role): the job workers, the claims'
# heartbeat, the scheduler and the watcher (with its subreddit streams).
WORKERS, HEARTBEAT, SCHEDULER, WATCHER = "workers", "heartbeat", "scheduler", "watcher"
ALL_LOOPS: frozenset[str] = frozenset({WORKERS, HEARTBEAT, SCHEDULER, WATCHER})


class Signal(asyncio.Event):
    """An Event that counts how often it was set. The workers share one and each clears it when
    woken, so a worker whose claim was under way when it was set (and found nothing: it looked
    too early) cannot tell from the Event alone; from the count it can, and looks again."""

    def __init__(self) -> None:
        super().__init__()
        self.sets = 0

    def set(self) -> None:
        self.sets += 1
        super().set()


@dataclass
class Wakeups:
    """What wakes a sleeping loop early: a job queued, a schedule changed."""

    jobs_ready: Signal = field(default_factory=Signal)
    schedule_changed: asyncio.Event = field(default_factory=asyncio.Event)


async def _wait(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout=max(seconds, 0.0))
    event.clear()


class Workers:
    """The loops drive the core through its façade (`Core.run_one_job`, `Core.scheduler_tick`,
    `Core.watch_tick`), as the console and the tests do."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.tasks: list[asyncio.Task[None]] = []
        self.stopping = False
        self.leadership = Leadership(core)
        self.listener: PgListener | None = None

    async def start(self, loops: frozenset[str] = ALL_LOOPS) -> None:
        """Start the `loops` named (all of them by default): the workers (after recovering
        interrupted jobs), the heartbeat, the scheduler and the watcher (with its streams).
        The scheduler and the watcher run while this process leads (leader.py): it asks for
        the lease now, and renews it (or asks again) in a loop of its own."""
        core = self.core
        unknown = loops - ALL_LOOPS
        if unknown:
            raise ValueError(f"no such loop: {', '.join(sorted(unknown))}")
        self.stopping = False
        self.tasks = []
        if WORKERS in loops:
            recovered = await core.storage.recover_jobs()
            await core.storage.release_spend_left()  # reserved by a process that stopped
            if recovered:
                log.info("%d job(s) interrupted by the last stop will be taken up again", recovered)
            self.tasks += [
                asyncio.create_task(self._worker(i), name=f"worker-{i}")
                for i in range(core.config.workers)
            ]
        lead = bool(loops & {SCHEDULER, WATCHER})
        if lead:
            await self.leadership.renew()
        await self._listen()
        if SCHEDULER in loops:
            self.tasks.append(asyncio.create_task(self._scheduler_loop(), name="scheduler"))
        if WATCHER in loops:
            self.tasks.append(asyncio.create_task(self._watch_loop(), name="watcher"))
        if HEARTBEAT in loops:
            self.tasks.append(asyncio.create_task(self._heartbeat_loop(), name="heartbeat"))
        if lead:
            self.tasks.append(asyncio.create_task(self._leader_loop(), name="leader"))
        if WATCHER in loops:
            await core.watching.sync_streams()

    async def _listen(self) -> None:
        """Wake-ups from other processes (PostgreSQL): a job queued, a subscription changed.
        Without them (SQLite, or the connection refused) the workers poll as before."""
        try:
            self.listener = await self.core.storage.listen(
                (JOBS_CHANNEL, SCHEDULE_CHANNEL, SETTINGS_CHANNEL), self._heard
            )
        except Exception:
            log.warning("cannot listen for wake-ups from other processes; polling instead",
                        exc_info=True)  # fmt: skip
            self.listener = None

    def _heard(self, channel: str, payload: str) -> None:
        """A notification ("" after the listening connection came back: anything may have
        happened meanwhile)."""
        wake = self.core.wake
        if channel == JOBS_CHANNEL:
            wake.jobs_ready.set()
        elif channel == SETTINGS_CHANNEL:
            self.core.storage.forget_settings()  # another process changed a server's settings
        elif channel == SCHEDULE_CHANNEL:
            wake.schedule_changed.set()
            if self.leadership.active.is_set():
                self.core.watching.ensure_streams()

    @property
    def idle_poll_seconds(self) -> float:
        config = self.core.config
        return config.notified_poll_seconds if self.listener else config.idle_poll_seconds

    async def stop(self, grace: float = 20.0) -> None:
        """Let running jobs finish (up to `grace` s); anything unfinished stays pending."""
        core = self.core
        self.stopping = True
        core.wake.jobs_ready.set()
        core.wake.schedule_changed.set()
        streams = core.watching.streams
        for task in streams.values():
            task.cancel()
        workers = [t for t in self.tasks if t.get_name().startswith("worker")]
        others = [t for t in self.tasks if t not in workers]
        for task in others:
            task.cancel()
        _, pending = await asyncio.wait(workers, timeout=grace) if workers else (set(), set())
        for task in pending:
            task.cancel()
        await asyncio.gather(*self.tasks, *streams.values(), return_exceptions=True)
        self.tasks, core.watching.streams = [], {}
        if self.leadership.until is not None or self.leadership.active.is_set():
            await self.leadership.resign()
        if self.listener is not None:
            await self.listener.close()
            self.listener = None

    async def drain(self, max_seconds: float = 120.0) -> bool:
        """Wait until no job is runnable or running (a console fed from a pipe ends cleanly)."""
        core = self.core
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_seconds
        while loop.time() < deadline:
            now = core.clock()
            busy = [
                j
                for j in await core.storage.jobs()
                if j.status in ("running", "posting")
                or (j.status == "pending" and j.not_before <= now)
            ]
            if not busy and core.jobs.running == 0:
                return True
            core.wake.jobs_ready.set()
            await asyncio.sleep(0.05)
        return False

    async def _worker(self, index: int) -> None:
        while not self.stopping:
            ready = self.core.wake.jobs_ready
            seen = ready.sets  # a job queued from now on is looked for again, not slept through
            try:
                job = await self.core.run_one_job()
            except Exception:
                log.exception("worker %d: unexpected error", index)
                job = None
            if job is None and not self.stopping and ready.sets == seen:
                await _wait(ready, self.idle_poll_seconds)

    async def _heartbeat_loop(self) -> None:
        """Renew the claims of the jobs running here, so none is taken over while it runs."""
        core = self.core
        while not self.stopping:
            await asyncio.sleep(core.config.heartbeat_seconds)
            try:
                await core.storage.renew_claims(
                    sorted(core.jobs.running_keys), core.config.job_lease
                )
            except Exception:
                log.warning("could not renew job claims (database busy?); retrying", exc_info=True)

    async def _leader_loop(self) -> None:
        """Renew the lease while leading; ask for it while another process leads. The leader
        also sweeps the rate-limit hits that left their windows, every `sweep_seconds`."""
        loop = asyncio.get_running_loop()
        swept: float | None = None
        while not self.stopping:
            await asyncio.sleep(self.core.config.leader_renew_every)
            if not await self.leadership.renew():
                continue
            if swept is None or loop.time() - swept >= self.core.config.sweep_seconds:
                swept = loop.time()
                await self._sweep()

    async def _sweep(self) -> None:
        try:
            removed = await self.core.storage.sweep_rate_hits()
        except Exception:
            log.warning("could not sweep old rate-limit hits; next time", exc_info=True)
            return
        if removed:
            log.debug("swept %d rate-limit hit(s) and hold(s) out of their windows", removed)

    async def _stand_by(self) -> bool:
        """True at once while this process leads; otherwise waits (until it leads, or a while)
        and says False."""
        if await self.leadership.check():
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                self.leadership.active.wait(), self.core.config.leader_renew_every
            )
        return False

    async def _scheduler_loop(self) -> None:
        core = self.core
        while not self.stopping:
            if not await self._stand_by():
                continue
            try:
                await core.scheduler_tick()
                nxt = await core.storage.earliest_next_run()
            except Exception:
                log.exception("scheduler: unexpected error")
                nxt = None
            seconds = (nxt - core.clock()).total_seconds() if nxt else 3600.0
            await _wait(core.wake.schedule_changed, min(max(seconds, 0.5), 3600.0))

    async def _watch_loop(self) -> None:
        core = self.core
        while not self.stopping:
            if not await self._stand_by():
                continue
            try:
                await core.watch_tick()
                nxt = await core.storage.earliest_candidate_check()
            except Exception:
                log.exception("watcher: unexpected error")
                nxt = None
            seconds = (nxt - core.clock()).total_seconds() if nxt else 300.0
            await asyncio.sleep(min(max(seconds, 1.0), 300.0))
