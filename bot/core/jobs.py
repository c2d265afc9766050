"""Where a job runs: claimed (with a lease its heartbeat renews), read into its typed kind
(bot/jobs/), run by that type, retried with back-off after a failure of its own, given up after
too many, and its failure told once (a subscription's run: counted, and said in its channel once
per problem, through Subscriptions.run_failed)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, assert_never

from bot.chat import ChannelTarget, EphemeralTarget, LookupUnavailable, PostRefused, Target
from bot.core.answers import GaveUp, GaveUpUnsure
from bot.core.bundles import run_preview
from bot.core.delivery import target_for, tell
from bot.core.subscriptions import OUR_ERROR
from bot.jobs import (
    DigestJob,
    FlagJob,
    Job,
    PreviewJob,
    ScheduledJob,
    UnreadableJob,
    WatchJob,
    read_job,
)
from bot.ports import RateLimited, RedditUnavailable
from bot.storage import ClaimLost, JobRow
from digest import codec, cpu
from digest.errors import DigestError
from digest.report import Report

if TYPE_CHECKING:
    from bot.core.facade import Core

log = logging.getLogger(__name__)

# How a failure posted in the channel names the job (a job someone asked for is told to them).
_NAMES: dict[type[Job], str] = {
    ScheduledJob: "scheduled digest",
    WatchJob: "watched thread's digest",
}
# What someone asked for and waits for: claimed before subscription runs.
_ASKED = (DigestJob.KIND, FlagJob.KIND, PreviewJob.KIND)
# A subscription's run given up (out of attempts, or interrupted again and again).
_GAVE_UP = "It failed or was interrupted several times in a row; the log has the details."


class Jobs:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.running_keys: set[str] = set()  # jobs this process runs now (their claims renewed)
        self.running = 0
        self.background = 0  # subscription runs under way or being claimed (see run_one)

    async def run_one(self) -> JobRow | None:
        """Claim and run the next due job; returns it (as finished) or None if none was due.
        What a person waits for is claimed first, and with several workers one is kept for
        people: a burst of scheduled runs never leaves an asked-for digest waiting behind it."""
        core = self.core
        workers = core.config.workers
        may_run_background = workers < 2 or self.background < workers - 1
        reserved = int(may_run_background)
        self.background += reserved  # counted before the claim: no race between workers
        try:
            row = await core.storage.claim_job(
                lease=core.config.job_lease,
                max_attempts=core.config.max_attempts,
                max_interruptions=core.config.max_interruptions,
                exclude=sorted(self.running_keys),
                urgent=_ASKED,
                only=None if may_run_background else _ASKED,
            )
            if row is None or row.kind in _ASKED:  # not a subscription's run: slot given back
                self.background -= reserved
                reserved = 0
            return None if row is None else await self._claimed(row)
        finally:
            self.background -= reserved

    async def _claimed(self, row: JobRow) -> JobRow | None:
        core = self.core
        try:
            job = read_job(row.kind, row.payload)
        except UnreadableJob as exc:
            log.error("job %s cannot be run: %s", row.key, exc.user_message)
            if not row.gave_up:
                await core.storage.fail_job(
                    row.key, exc.user_message, retry_at=None, token=row.claim_token
                )
            return await self._done(row)
        if row.gave_up:  # tried too often (and perhaps the job is what kills the process)
            await self._give_up(row, job)
            return row
        self.running += 1
        self.running_keys.add(row.key)
        try:
            await self._run(row, job)
        except ClaimLost:
            log.warning("job %s: its claim lapsed and another run took it over", row.key)
        except Exception as exc:  # the job failed; it is retried or given up, never lost
            try:
                await self._failed(row, job, exc)
            except Exception:
                # The bookkeeping failed too (a database locked for long?): the claim lapses
                # and a worker takes the job again, counting the attempt.
                log.exception("job %s: could not record its failure", row.key)
        finally:
            self.running -= 1
            self.running_keys.discard(row.key)
        return await self._done(row)

    async def _done(self, row: JobRow) -> JobRow | None:
        done = await self.core.storage.job(row.key)
        if done is not None and self.core.on_job_done is not None:
            self.core.on_job_done(done)
        return done

    async def _run(self, row: JobRow, job: Job) -> None:
        match job:
            case DigestJob() | FlagJob() | WatchJob():
                await self.core.digests.run(row, job)
            case ScheduledJob():
                await self.core.scheduler.run(row, job)
            case PreviewJob():
                await run_preview(self.core, row, job)
            case _:
                assert_never(job)
        if isinstance(job, ScheduledJob | WatchJob):
            await self._run_worked(row, job)

    async def _run_worked(self, row: JobRow, job: ScheduledJob | WatchJob) -> None:
        """A subscription's run that worked ends its failed runs in a row (a watch's outage
        said by its stream is the stream's to end, when Reddit answers it again)."""
        storage = self.core.storage
        sub = await storage.subscription(job.subscription_id)
        if sub is None or not (
            sub.failures or (isinstance(job, ScheduledJob) and sub.source_problem)
        ):
            return  # the common case: nothing to reset, no write
        done = await storage.job(row.key)
        if done is not None and done.status == "done":
            await storage.note_run_ok(sub.id)

    async def _give_up(self, row: JobRow, job: Job) -> None:
        """A job out of attempts. If it had begun posting, its post may be out: then it is done,
        not failed (the asker must not hear "failed" under their digest)."""
        core = self.core
        if row.post_attempted:
            chat = core.chats.get(job.platform)
            try:
                refs = row.result or (
                    await chat.find_posted(target_for(job), row.key) if chat else None
                )
            except Exception as exc:  # cannot look: say so, never claim it failed
                log.warning("job %s given up; cannot check whether it posted: %s", row.key, exc)
                await self._tell_failure(job, GaveUpUnsure())
                return
            if refs:
                log.warning("job %s given up after its post went out: recorded as done", row.key)
                post_id = None
                if row.report is not None and not isinstance(job, ScheduledJob):  # a flag works
                    report = await cpu.run(codec.loads, Report, row.report)
                    post_id = report.thread.id
                await core.storage.finish_job(row.key, refs, post_id=post_id)
                return
        log.error("job %s given up: %s", row.key, row.error)
        await self._tell_failure(job, GaveUp())

    async def _failed(self, row: JobRow, job: Job, exc: Exception) -> None:
        core = self.core
        permanent = isinstance(exc, DigestError | RecursionError) and not isinstance(
            exc, RateLimited | RedditUnavailable | LookupUnavailable
        )
        if not isinstance(exc, DigestError):
            whose = (
                f" (subscription #{job.subscription_id})"
                if isinstance(job, ScheduledJob | WatchJob)
                else ""
            )
            log.error("job %s%s failed (attempt %d)", row.key, whose, row.attempts, exc_info=exc)
        if not permanent and row.attempts < core.config.max_attempts:
            delay = timedelta(seconds=30 * 2 ** (row.attempts - 1))
            if isinstance(exc, RateLimited) and exc.reset_at is not None:
                delay = max(delay, exc.reset_at - core.clock())
            await core.storage.fail_job(
                row.key, repr(exc), retry_at=core.clock() + delay, token=row.claim_token
            )
            return
        if not await core.storage.fail_job(
            row.key, repr(exc), retry_at=None, token=row.claim_token
        ):
            return  # another run holds it now
        if isinstance(exc, PostRefused) and isinstance(job, ScheduledJob | WatchJob):
            # Every later run would be refused too, after paying for its digests: pause it;
            # /subscriptions shows it paused and /resume brings it back once fixed.
            await core.storage.set_paused(job.subscription_id, True, reason=exc.user_message)
            log.warning("subscription #%s paused: %s", job.subscription_id, exc.user_message)
        await self._tell_failure(job, exc)

    async def _tell_failure(self, job: Job, exc: Exception) -> None:
        """Say once that a job failed for good: to the asker; a subscription's run is counted
        as a failed run of its subscription and said in its channel once per problem."""
        if isinstance(exc, DigestError):
            message = exc.user_message
        elif isinstance(exc, RecursionError):
            message = "That thread's replies are nested too deeply to digest."
        else:  # ours: the log has its traceback
            message = OUR_ERROR
        ours = not isinstance(exc, DigestError | RecursionError)
        target: Target
        match job:
            case DigestJob():
                target = EphemeralTarget(job.channel_id, job.user_id, job.reply_token)
            case PreviewJob():
                target = EphemeralTarget(job.channel_id, job.user_id, job.reply_token)
                message = f"The preview of #{job.subscription_id} could not be made: {message}"
            case FlagJob():
                target = EphemeralTarget(job.channel_id, job.user_id, None)
            case WatchJob() | ScheduledJob():
                if isinstance(exc, PostRefused):
                    return  # the channel refuses our posts; the subscription says why when listed
                if not isinstance(exc, GaveUpUnsure):  # (it may have posted: not a failed run)
                    if isinstance(exc, GaveUp):
                        message = _GAVE_UP
                    if isinstance(job, ScheduledJob):
                        await self.core.scheduler.failed(job.subscription_id, message)
                    else:
                        await self.core.watching.job_failed(job.subscription_id, message)
                    return
                target = ChannelTarget(job.channel_id)
                message = f"A {_NAMES[type(job)]} could not be posted: {message}"
            case _:
                assert_never(job)
        if ours:
            message = (
                "The digest could not be made because of an error on our side; it has been logged."
            )
        await tell(self.core, job.platform, target, message)

    async def describe(self) -> str:
        jobs = await self.core.storage.jobs()
        if not jobs:
            return "No jobs yet."
        return "\n".join(f"{j.key}: {j.status} (attempts {j.attempts})" for j in jobs[-20:])
