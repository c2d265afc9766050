"""Subscription commands: subscribe a channel to a schedule, list, pause, resume and
unsubscribe (scheduled digests and watches alike); and a failed run, said once in its channel,
the third in a row pausing the subscription. When runs are due is scheduler.py's; watched
subreddits are followed in watch.py."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from bot.chat import ChannelTarget, Request
from bot.commands import EditCmd, PauseCmd, PreviewCmd, ResumeCmd, SubscribeCmd, UnsubscribeCmd
from bot.commands.edit import WHAT_EDIT_CHANGES
from bot.core.answers import UserFacing, ago, saved_note
from bot.core.delivery import tell, typed
from bot.jobs import PreviewJob, job_payload
from bot.routing import is_hn_name
from bot.specs import (
    ScheduleSpec,
    Spec,
    WatchSpec,
    changes,
    edited,
    names,
    spec_of,
    spec_payload,
)
from bot.storage import RunFailure, SubscriptionRow
from digest.text import plural, points

if TYPE_CHECKING:
    from bot.core.facade import Core

log = logging.getLogger(__name__)

PAUSE_AFTER = 3  # failed runs in a row that pause a subscription until someone resumes it
# What failed, when the error is ours (its traceback is in the log, with the subscription's id).
OUR_ERROR = "An error on our side stopped it; it has been logged."


class Subscriptions:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def subscribe(self, request: Request, cmd: SubscribeCmd) -> str:
        now = self.core.clock()
        next_run = cmd.schedule.next_after(now)
        spec = ScheduleSpec(
            subreddits=cmd.subreddits,
            schedule=cmd.schedule.to_text(),
            top=cmd.top,
            min_score=cmd.min_score,
            flairs=cmd.flairs,
            exclude_flairs=cmd.exclude_flairs,
            keywords=cmd.keywords,
            nsfw=cmd.nsfw,
            channel_nsfw=request.channel_nsfw,
        )
        sub_id = await self.add(request, spec, next_run)
        self.core.wake.schedule_changed.set()
        return (
            f"Subscribed #{sub_id}: {spec.describe()}. "
            f"Next run {next_run:%Y-%m-%d %H:%M} UTC (in {ago(next_run - now)})."
            f"{saved_note(self.core.config.saved_only and not is_hn_name(spec.subreddits[0]))}"
        )

    async def add(self, request: Request, spec: Spec, next_run: datetime | None) -> int:
        return await self.core.storage.add_subscription(
            platform=request.platform,
            server_id=request.server_id,
            channel_id=request.channel_id,
            created_by=request.user_id,
            kind=spec.KIND,
            spec=spec_payload(spec),
            next_run_at=next_run,
        )

    async def choices(
        self, platform: str, server_id: str, channel_id: str
    ) -> list[tuple[int, str]]:
        """This channel's subscriptions first, then the server's, as (id, label)."""
        subs = [
            s
            for s in await self.core.storage.subscriptions(platform=platform)
            if s.server_id == server_id
        ]
        subs.sort(key=lambda s: (s.channel_id != channel_id, s.id))
        out = []
        for s in subs:
            spec = spec_of(s)
            what = spec.timing().describe() if isinstance(spec, ScheduleSpec) else "watch"
            out.append((s.id, f"#{s.id} {names(spec)} — {what}"[:100]))
        return out

    async def _own(self, request: Request, sub_id: int) -> SubscriptionRow:
        sub = await self.core.storage.subscription(sub_id)
        if sub is None or (sub.platform, sub.server_id) != (request.platform, request.server_id):
            raise UserFacing(
                f"There is no subscription #{sub_id} here; `subscriptions` lists them."
            )
        return sub

    async def change(self, request: Request, cmd: UnsubscribeCmd | PauseCmd | ResumeCmd) -> str:
        core = self.core
        sub = await self._own(request, cmd.id)
        if isinstance(cmd, UnsubscribeCmd):
            await core.storage.delete_subscription(sub.id)
            core.wake.schedule_changed.set()
            core.watching.ensure_streams()
            return f"Unsubscribed #{sub.id}."
        paused = isinstance(cmd, PauseCmd)
        await core.storage.set_paused(sub.id, paused)  # resuming forgets its failed runs
        spec = spec_of(sub)
        if not paused and isinstance(spec, ScheduleSpec):
            await core.storage.set_next_run(sub.id, spec.timing().next_after(core.clock()))
        core.wake.schedule_changed.set()
        core.watching.ensure_streams()
        return f"{'Paused' if paused else 'Resumed'} #{sub.id}."

    async def edit(self, request: Request, cmd: EditCmd) -> str:
        """Change a subscription in place: its number, channel and what it posted stay; the
        next run moves only when the schedule changed."""
        core = self.core
        if cmd.changes_nothing:  # the parser asks for a change; a built EditCmd may not
            raise UserFacing(f"Say what to change in #{cmd.id}: {WHAT_EDIT_CHANGES}.")
        sub = await self._own(request, cmd.id)
        old = spec_of(sub)
        new = edited(old, cmd)
        changed = changes(old, new)
        next_run = sub.next_run_at
        if changed:
            if isinstance(new, ScheduleSpec) and new.schedule != getattr(old, "schedule", None):
                next_run = new.timing().next_after(core.clock())
            await core.storage.update_spec(sub.id, spec_payload(new), next_run_at=next_run)
            core.wake.schedule_changed.set()
        what = (
            f"Changed: {'; '.join(changed)}." if changed else "Nothing changed: it was so already."
        )
        resume = typed(core, request.platform, f"resume {sub.id}")
        return f"{_edited(sub, new, next_run, core.clock(), request.channel_id, resume)} {what}"

    async def preview(self, request: Request, cmd: PreviewCmd) -> None:
        """Queue a preview of a scheduled subscription's next run, shown to the asker only
        (bundles.run_preview). A job, as a digest is: it lists Reddit and digests up to ten
        threads, and a restart must not lose it. The answer comes later (None now)."""
        core = self.core
        sub = await self._own(request, cmd.id)
        spec = spec_of(sub)
        if not isinstance(spec, ScheduleSpec):
            raise UserFacing(
                f"#{sub.id} is a watch: it has no next run to preview (it posts each thread "
                "once it reaches its score); preview a scheduled digest instead."
            )
        job = PreviewJob(
            platform=request.platform,
            server_id=request.server_id,
            channel_id=request.channel_id,
            user_id=request.user_id,
            subscription_id=sub.id,
            # Shown where the asker is: an NSFW thread only if both channels are marked NSFW.
            nsfw_ok=request.channel_nsfw and spec.channel_nsfw,
            reply_token=request.reply_token,
        )
        key = f"preview:{request.platform}:{request.channel_id}:{request.reply_token or uuid.uuid4().hex}"
        if await core.storage.add_job(key, job.KIND, job_payload(job), urgent=True):
            core.wake.jobs_ready.set()
        # else: the same request delivered again (a platform retry); it is queued already

    async def listing(self, request: Request) -> str:
        subs = [
            s
            for s in await self.core.storage.subscriptions(platform=request.platform)
            if s.server_id == request.server_id
        ]
        if not subs:
            return "No subscriptions yet. Try: subscribe r/LocalLLaMA daily 09:00 top 5"
        lines = []
        for s in subs:
            where = "" if s.channel_id == request.channel_id else f" (in {s.channel_id})"
            spec = spec_of(s)
            listed = names(spec)
            state = ""
            if s.paused:
                state = f" — paused: {s.paused_reason}" if s.paused_reason else " — paused"
            elif s.failures and s.source_problem:
                state = (
                    f" — {plural(s.failures, 'failed run')} in a row (of {PAUSE_AFTER} before it "
                    f"pauses itself); the last: {s.source_problem}"
                )
            elif s.source_problem:
                state = f" — Reddit could not be reached on the last try: {s.source_problem}"
            match spec:
                case ScheduleSpec():
                    nxt = (
                        f"; next {s.next_run_at:%Y-%m-%d %H:%M} UTC"
                        if s.next_run_at and not s.paused
                        else ""
                    )
                    lines.append(
                        f"#{s.id} {listed}: {spec.timing().describe()}, top {spec.top}"
                        f"{spec.filters()}{nxt}{where}{state}"
                    )
                case WatchSpec():
                    lines.append(
                        f"#{s.id} watch {listed}: ≥ {points(spec.min_score)} within "
                        f"{spec.within_hours} h{where}{state}"
                    )
        return "\n".join(lines)

    async def run_failed(
        self, sub: SubscriptionRow, what: str, problem: str, next_try: str
    ) -> RunFailure | None:
        """A run of `sub` failed (after its own retries): counted, and its channel told once
        per problem — `what` failed, the `problem`, and `next_try` (when it is tried again) — and
        the PAUSE_AFTER-th failure in a row pauses it, said once too. The count and what was said
        are written before the channel is told: a crash loses a notice at worst, never repeats
        it. None when the subscription is gone or paused."""
        core = self.core
        failed = await core.storage.note_run_failed(
            sub.id,
            problem,
            pause_after=PAUSE_AFTER,
            reason=f"{PAUSE_AFTER} failed runs in a row; the last: {problem}",
        )
        if failed is None:
            return None
        log.warning("subscription #%s: run failed (%d in a row): %s", sub.id, failed.failures,
                    problem)  # fmt: skip
        if failed.paused:
            log.warning("subscription #%s paused itself after %d failed runs in a row", sub.id,
                        failed.failures)  # fmt: skip
            core.wake.schedule_changed.set()
            core.watching.ensure_streams()
            text = (
                f"{what}: {problem} That is {PAUSE_AFTER} failed runs in a row, so #{sub.id} "
                f"paused itself; {typed(core, sub.platform, f'resume {sub.id}')} once it is "
                "fixed."
            )
        elif failed.say:
            so_far = f" ({failed.failures} so far)" if failed.failures > 1 else ""
            text = (
                f"{what}: {problem} {next_try} After {PAUSE_AFTER} failed runs in a row this "
                f"subscription pauses itself{so_far}."
            )
        else:
            return failed
        await tell(core, sub.platform, ChannelTarget(sub.channel_id), text)
        return failed


def _edited(
    sub: SubscriptionRow, spec: Spec, next_run: datetime | None, now: datetime, here: str,
    resume: str,
) -> str:  # fmt: skip
    """An edited subscription as /subscribe or /watch would have answered it."""
    elsewhere = sub.channel_id != here
    if isinstance(spec, WatchSpec):
        return (
            f"Edited #{sub.id}: {spec.describe(f'in {sub.channel_id}' if elsewhere else 'here')}."
        )
    where = f" (posted in {sub.channel_id})" if elsewhere else ""
    if sub.paused:
        when = f"It is paused: {resume} to run it again."
    elif next_run is not None:
        when = f"Next run {next_run:%Y-%m-%d %H:%M} UTC (in {ago(next_run - now)})."
    else:
        when = ""
    return f"Edited #{sub.id}: {spec.describe()}{where}. {when}".rstrip()
