"""Where subscriptions are scheduled: each due run queued once (however long the bot was down,
skipped when too old, said late when late), a scheduled run made into one bundle of the top
threads that pass the subscription's filters, and a run that failed counted and said."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from bot.chat import Bundle, ChannelTarget, Delivery
from bot.core.answers import UserFacing, ago
from bot.core.bundles import build_bundle
from bot.core.delivery import deliver, tell
from bot.jobs import ScheduledJob, job_payload
from bot.ports import ListingSort, RateLimited, RedditUnavailable, SourceError, TopPeriod
from bot.specs import ScheduleSpec, names, spec_of
from bot.storage import JobRow, SubscriptionRow
from digest import codec, cpu

if TYPE_CHECKING:
    from bot.core.facade import Core

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def tick(self) -> int:
        """Queue every due scheduled run (each once, however long the bot was down)."""
        core = self.core
        now = core.clock()
        queued = 0
        for sub in await core.storage.due_subscriptions(now):
            spec = spec_of(sub)
            if not isinstance(spec, ScheduleSpec):
                continue  # due runs are only ever scheduled subscriptions'
            schedule = spec.timing()
            due_at = sub.next_run_at or now
            latest = schedule.last_at_or_before(now) or due_at
            next_run = schedule.next_after(now)
            if now - latest > core.config.schedule_grace:
                log.info("subscription #%s: missed run at %s is too old; skipped", sub.id, latest)
                await core.storage.set_next_run(sub.id, next_run)
                # Said once: the next run is moved first, so a crash here loses the notice at
                # worst, never repeats it.
                await tell(
                    core, sub.platform, ChannelTarget(sub.channel_id),
                    f"The scheduled digest of {names(spec)} due at {latest:%Y-%m-%d %H:%M} UTC "
                    f"was skipped: the bot was down until {ago(now - latest)} after it (runs more "
                    f"than {ago(core.config.schedule_grace)} late are not made). The next run is "
                    f"{next_run:%Y-%m-%d %H:%M} UTC.",
                )  # fmt: skip
                continue
            note = None
            if now - latest > core.config.late_after:
                note = (
                    f"Late: this digest was due at {latest:%Y-%m-%d %H:%M} UTC "
                    f"({ago(now - latest)} ago) while the bot was down."
                )
            job = _run_of(sub, note)
            created = await core.storage.schedule_due(
                sub.id, f"sched:{sub.id}:{latest.isoformat()}", job.KIND, job_payload(job),
                next_run_at=next_run, ran_at=now,
            )  # fmt: skip
            queued += int(created)
        if queued:
            core.wake.jobs_ready.set()
        return queued

    async def run_now(self, sub_id: int) -> bool:
        """Queue a run of a subscription now (the console's `:run`)."""
        core = self.core
        sub = await core.storage.subscription(sub_id)
        if sub is None or not isinstance(spec_of(sub), ScheduleSpec):
            return False
        if sub.paused:
            raise UserFacing(f"#{sub.id} is paused: /resume {sub.id} first, then run it.")
        now = core.clock()
        job = _run_of(sub, None)
        await core.storage.add_job(
            f"sched:{sub.id}:manual:{now.isoformat()}", job.KIND, job_payload(job)
        )
        core.wake.jobs_ready.set()
        return True

    async def describe_next_runs(self) -> str:
        now = self.core.clock()
        lines = []
        for sub in await self.core.storage.subscriptions(kind=ScheduleSpec.KIND):
            spec = spec_of(sub)
            if not isinstance(spec, ScheduleSpec):
                continue
            schedule, listed = spec.timing(), names(spec)
            if sub.paused or sub.next_run_at is None:
                why = f" ({sub.paused_reason})" if sub.paused and sub.paused_reason else ""
                lines.append(f"#{sub.id} {listed}: paused{why}")
                continue
            lines.append(
                f"#{sub.id} {listed}: {schedule.describe()} — next run "
                f"{sub.next_run_at:%Y-%m-%d %H:%M} UTC (in {ago(sub.next_run_at - now)})"
            )
        return (
            "\n".join(lines)
            or "No scheduled subscriptions. Try: /subscribe r/selfhosted daily 09:00"
        )

    async def run(self, row: JobRow, job: ScheduledJob) -> None:
        """A scheduled run: the subscription's top threads, each digested, in one bundle."""
        core = self.core
        sub = await core.storage.subscription(job.subscription_id)
        spec = spec_of(sub) if sub is not None else None
        if sub is None or not isinstance(spec, ScheduleSpec):
            await core.storage.finish_job(row.key, [], post_id=None, token=row.claim_token)
            return
        settings = await core.server_settings(sub.platform, sub.server_id)
        schedule = spec.timing()
        if row.report is not None:
            bundle = await cpu.run(codec.loads, Bundle, row.report)
        else:
            try:
                posts = await core.source.listing(
                    "+".join(spec.subreddits),
                    ListingSort.TOP,
                    period=TopPeriod(schedule.period()),
                    limit=100,
                )
            except SourceError as exc:
                transient = isinstance(exc, RateLimited | RedditUnavailable)
                if transient and row.attempts < core.config.max_attempts:
                    raise  # retried in a minute or two, as any job
                next_run = schedule.next_after(core.clock())
                await self._reddit_unreachable(sub, spec, row, exc, next_run)
                return
            if sub.source_problem is not None:  # Reddit answers again
                await core.storage.note_source_problem(sub.id, None)
            bundle = await build_bundle(core, sub, spec, settings, posts, note=job.late_note)
            text = await cpu.run(codec.dumps, bundle)
            await core.storage.save_job_report(row.key, text, row.claim_token)
        if not bundle.reports and settings["quiet"] == "silent":
            await core.storage.finish_job(row.key, [], post_id=None, token=row.claim_token)
            return
        # A flag on a bundle finds its threads through the links in the message text.
        await deliver(core, row, job, Delivery(bundle=bundle), post_id=None, focus=None,
                      thread_posts=[r.thread.id for r in bundle.reports])  # fmt: skip

    async def _reddit_unreachable(
        self, sub: SubscriptionRow, spec: ScheduleSpec, row: JobRow, exc: SourceError,
        next_run: datetime,
    ) -> None:  # fmt: skip
        """This run is over (the next one tries again): a failed run, counted and said once."""
        core = self.core
        log.info("subscription #%s: Reddit refused its listing: %s", sub.id, exc.user_message)
        if not await core.storage.fail_job(
            row.key, repr(exc), retry_at=None, token=row.claim_token
        ):
            return
        await self.failed(sub.id, _problem_of(exc), next_run)

    async def failed(self, sub_id: int, problem: str, next_run: datetime | None = None) -> None:
        """A scheduled run that failed for good: counted, said in its channel once per problem,
        the third in a row pausing it (Subscriptions.run_failed)."""
        core = self.core
        sub = await core.storage.subscription(sub_id)
        spec = spec_of(sub) if sub is not None else None
        if sub is None or not isinstance(spec, ScheduleSpec):
            return
        nxt = sub.next_run_at or next_run or spec.timing().next_after(core.clock())
        await core.subscriptions.run_failed(
            sub,
            f"The scheduled digest of {names(spec)} (#{sub.id}) could not be made",
            problem,
            f"I will try again at the next run ({nxt:%Y-%m-%d %H:%M} UTC).",
        )


def _problem_of(exc: SourceError) -> str:
    """What failed, in words that stay the same while the problem lasts (so it is said once)."""
    if isinstance(exc, RateLimited):
        return "Reddit kept rate-limiting this bot."
    return exc.user_message


def _run_of(sub: SubscriptionRow, late_note: str | None) -> ScheduledJob:
    return ScheduledJob(
        platform=sub.platform,
        server_id=sub.server_id,
        channel_id=sub.channel_id,
        subscription_id=sub.id,
        late_note=late_note,
    )
