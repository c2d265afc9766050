"""Where a job runs: claimed (with a lease its heartbeat renews), run by its kind, retried with
back-off after a failure of its own, given up after too many, and its failure told once."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.chat import ChannelTarget, EphemeralTarget, LookupUnavailable, PostRefused, Target
from bot.core.answers import GaveUp, GaveUpUnsure
from bot.core.delivery import target_for, tell
from bot.ports import RateLimited, RedditUnavailable
from bot.storage import ClaimLost, JobRow
from digest import codec
from digest.errors import DigestError
from digest.report import Report

if TYPE_CHECKING:
    from bot.core.facade import Core

log = logging.getLogger(__name__)

_JOB_NAMES = {"scheduled": "scheduled digest", "watch": "watched thread's digest"}


class Jobs:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.running_keys: set[str] = set()  # jobs this process runs now (their claims renewed)
        self.running = 0

    async def run_one(self) -> JobRow | None:
        """Claim and run the next due job; returns it (as finished) or None if none was due."""
        core = self.core
        job = await core.storage.claim_job(
            lease=core.config.job_lease,
            max_attempts=core.config.max_attempts,
            max_interruptions=core.config.max_interruptions,
            exclude=sorted(self.running_keys),
        )
        if job is None:
            return None
        if job.gave_up:  # tried too often (and perhaps the job is what kills the process)
            await self._give_up(job)
            return job
        self.running += 1
        self.running_keys.add(job.key)
        try:
            await self._run(job)
        except ClaimLost:
            log.warning("job %s: its claim lapsed and another run took it over", job.key)
        except Exception as exc:  # the job failed; it is retried or given up, never lost
            try:
                await self._failed(job, exc)
            except Exception:
                # The bookkeeping failed too (a database locked for long?): the claim lapses
                # and a worker takes the job again, counting the attempt.
                log.exception("job %s: could not record its failure", job.key)
        finally:
            self.running -= 1
            self.running_keys.discard(job.key)
        done = await core.storage.job(job.key)
        if done is not None and core.on_job_done is not None:
            core.on_job_done(done)
        return done

    async def _run(self, job: JobRow) -> None:
        if job.kind in ("digest", "flag", "watch"):
            await self.core.digests.run(job)
        elif job.kind == "scheduled":
            await self.core.scheduler.run(job)
        else:
            await self.core.storage.fail_job(
                job.key, f"unknown job kind {job.kind}", retry_at=None, token=job.claim_token
            )

    async def _give_up(self, job: JobRow) -> None:
        """A job out of attempts. If it had begun posting, its post may be out: then it is done,
        not failed (the asker must not hear "failed" under their digest)."""
        core = self.core
        if job.post_attempted:
            chat = core.chats.get(job.payload.get("platform", ""))
            try:
                refs = job.result or (
                    await chat.find_posted(target_for(job), job.key) if chat else None
                )
            except Exception as exc:  # cannot look: say so, never claim it failed
                log.warning("job %s given up; cannot check whether it posted: %s", job.key, exc)
                await self._tell_failure(job, GaveUpUnsure())
                return
            if refs:
                log.warning("job %s given up after its post went out: recorded as done", job.key)
                post_id = None
                if job.report is not None and job.kind != "scheduled":  # 🔍 on it still works
                    report = await asyncio.to_thread(codec.loads, Report, job.report)
                    post_id = report.thread.id
                await core.storage.finish_job(job.key, refs, post_id=post_id)
                return
        log.error("job %s given up: %s", job.key, job.error)
        await self._tell_failure(job, GaveUp())

    async def _failed(self, job: JobRow, exc: Exception) -> None:
        core = self.core
        permanent = isinstance(exc, DigestError | RecursionError) and not isinstance(
            exc, RateLimited | RedditUnavailable | LookupUnavailable
        )
        if not isinstance(exc, DigestError):
            log.error("job %s failed (attempt %d)", job.key, job.attempts, exc_info=exc)
        if not permanent and job.attempts < core.config.max_attempts:
            delay = timedelta(seconds=30 * 2 ** (job.attempts - 1))
            if isinstance(exc, RateLimited) and exc.reset_at is not None:
                delay = max(delay, exc.reset_at - core.clock())
            await core.storage.fail_job(
                job.key, repr(exc), retry_at=core.clock() + delay, token=job.claim_token
            )
            return
        if not await core.storage.fail_job(
            job.key, repr(exc), retry_at=None, token=job.claim_token
        ):
            return  # another run holds it now
        sub_id = job.payload.get("subscription_id")
        if isinstance(exc, PostRefused) and isinstance(sub_id, int):
            # Every later run would be refused too, after paying for its digests: pause it;
            # /subscriptions shows it paused and /resume brings it back once fixed.
            await core.storage.set_paused(sub_id, True, reason=exc.user_message)
            log.warning("subscription #%s paused: %s", sub_id, exc.user_message)
        await self._tell_failure(job, exc)

    async def _tell_failure(self, job: JobRow, exc: Exception) -> None:
        """Say once that a job failed for good: to the asker, or else in the channel."""
        if isinstance(exc, DigestError):
            message = exc.user_message
        elif isinstance(exc, RecursionError):
            message = "That thread's replies are nested too deeply to digest."
        else:
            message = (
                "The digest could not be made because of an error on our side; it has been logged."
            )
        p = job.payload
        platform, channel = p.get("platform", ""), p.get("channel_id")
        if not channel:
            return
        if p.get("user_id"):
            target: Target = EphemeralTarget(channel, p["user_id"], p.get("reply_token"))
        elif isinstance(exc, PostRefused):
            return  # the channel refuses our posts; the subscription says why when listed
        else:
            target = ChannelTarget(channel)
            message = f"A {_JOB_NAMES.get(job.kind, 'digest')} could not be posted: {message}"
        await tell(self.core, platform, target, message)

    async def describe(self) -> str:
        jobs = await self.core.storage.jobs()
        if not jobs:
            return "No jobs yet."
        return "\n".join(f"{j.key}: {j.status} (attempts {j.attempts})" for j in jobs[-20:])
