"""Subscription commands: subscribe a channel to a schedule, list, pause, resume and
unsubscribe (scheduled digests and watches alike). When runs are due is scheduler.py's; watched
subreddits are followed in watch.py."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from bot.chat import Request
from bot.commands import PauseCmd, ResumeCmd, SubscribeCmd, UnsubscribeCmd
from bot.core.answers import UserFacing, ago, saved_note
from bot.specs import ScheduleSpec, Spec, WatchSpec, names, spec_of, spec_payload
from bot.storage import SubscriptionRow
from digest.text import points

if TYPE_CHECKING:
    from bot.core.facade import Core


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
        subs = ", ".join(f"r/{s}" for s in cmd.subreddits)
        return (
            f"Subscribed #{sub_id}: {subs}, {cmd.schedule.describe()}, top {cmd.top}"
            f"{spec.filters()}. "
            f"Next run {next_run:%Y-%m-%d %H:%M} UTC (in {ago(next_run - now)})."
            f"{saved_note(self.core.config.saved_only)}"
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
        await core.storage.set_paused(sub.id, paused)
        spec = spec_of(sub)
        if not paused and isinstance(spec, ScheduleSpec):
            await core.storage.set_next_run(sub.id, spec.timing().next_after(core.clock()))
        core.wake.schedule_changed.set()
        core.watching.ensure_streams()
        return f"{'Paused' if paused else 'Resumed'} #{sub.id}."

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
            elif s.source_problem:
                state = f" — Reddit could not be reached on the last try: {s.source_problem}"
            match spec:
                case ScheduleSpec():
                    nxt = f"; next {s.next_run_at:%Y-%m-%d %H:%M} UTC" if s.next_run_at else ""
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
