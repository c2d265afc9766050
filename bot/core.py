"""The bot core: commands, persisted jobs, the scheduler, watched subreddits and reaction flags.

Platform-neutral: adapters hand in `Request`s and `Reaction`s and implement `ChatPort`; Reddit is
a `ThreadSource`; analysis is a `DigestEngine` per analyser. Time comes from an injected clock so
everything here can be tested without sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, assert_never

from bot.chat import (
    Bundle,
    ChannelTarget,
    ChatPort,
    Delivery,
    EphemeralTarget,
    LookupUnavailable,
    MessageRef,
    PostRefused,
    Reaction,
    Reply,
    Request,
    Target,
    ThreadTarget,
)
from bot.commands import (
    HELP_TEXT,
    Command,
    CommandError,
    DigestCmd,
    HelpCmd,
    PauseCmd,
    ResumeCmd,
    SettingsCmd,
    SubscribeCmd,
    SubscriptionsCmd,
    UnsubscribeCmd,
    WatchCmd,
    parse_command,
)
from bot.flags import DEEP_NOT_POSSIBLE, flag_target, is_flag, offered_emoji
from bot.ports import (
    ListingSort,
    RateLimited,
    RedditUnavailable,
    SourceError,
    ThreadFiles,
    ThreadRef,
    ThreadSource,
    TopPeriod,
)
from bot.ratelimit import RateLimiter
from bot.replies import SOMETHING_WENT_WRONG
from bot.schedule import Schedule
from bot.storage import ClaimLost, JobRow, Storage, SubscriptionRow
from bot.thread_ref import parse_thread_text
from digest import codec, cpu
from digest.errors import DigestError
from digest.model import Post, Thread
from digest.pipeline import DigestEngine
from digest.report import Depth, Report
from digest.text import plural, points

log = logging.getLogger(__name__)

SETTING_DEFAULTS = {
    "flag-emoji": "🔍",
    "default-depth": "brief",
    "spend-cap": "1.00",
    "analyzer": "auto",
    "timezone": "UTC",
    "quiet": "post",
    "flag-threshold": "1",
}


@dataclass(frozen=True, slots=True)
class CoreConfig:
    default_timezone: str = "UTC"
    workers: int = 4
    user_limit: tuple[int, float] = (5, 600.0)  # digests per user per window (s)
    channel_limit: tuple[int, float] = (20, 3600.0)
    flag_limit: tuple[int, float] = (5, 600.0)  # deep analyses asked for per user per window
    report_cache_ttl: timedelta = timedelta(minutes=30)
    recent_days: int = 7  # a scheduled digest skips threads posted to the channel this recently
    schedule_grace: timedelta = timedelta(hours=6)  # a missed run older than this is skipped
    late_after: timedelta = timedelta(minutes=2)
    max_attempts: int = 3  # attempts that failed with an error of their own
    max_interruptions: int = 6  # attempts that ended with the process (crashes, kills)
    job_lease: timedelta = timedelta(seconds=60)  # a claim lapses unless renewed
    heartbeat_seconds: float = 15.0  # how often running jobs' claims are renewed
    watch_first_check: timedelta = timedelta(minutes=10)
    watch_max_backoff: timedelta = timedelta(hours=2)
    watch_min_comments: int = 1  # a post with no comments is not worth digesting yet
    idle_poll_seconds: float = 5.0
    stream_retry_seconds: float = 60.0  # a stream that failed is opened again after this
    # Reddit is off (REDIGEST_REDDIT_MODE=saved): subscriptions see only the saved threads.
    saved_only: bool = False


@dataclass
class Engines:
    """The analysers available, by name; `default` is what `auto` means."""

    by_name: Mapping[str, DigestEngine]
    default: str = "offline"

    def pick(self, choice: str, spend_ok: bool) -> tuple[DigestEngine, str | None]:
        offline = self.by_name["offline"]
        name = self.default if choice == "auto" else choice
        if name not in self.by_name:
            return self.by_name[self.default], (
                f"The {name} analyser is not configured on this bot; "
                f"the {self.default} analyser wrote this."
            )
        if name != "offline" and not spend_ok:
            return (
                offline,
                "Today's LLM budget for this server is spent; the offline analyser wrote this.",
            )
        return self.by_name[name], None


class UserFacing(DigestError):
    """A refusal or an answer to show the requester (ephemerally)."""


class GaveUp(DigestError):
    def __init__(self) -> None:
        super().__init__(
            "The digest could not be made: it failed several times in a row, so I stopped "
            "trying. Please try again later."
        )


class GaveUpUnsure(DigestError):
    def __init__(self) -> None:
        super().__init__(
            "The digest may or may not have been posted: it was interrupted several times and "
            "I cannot check this channel's history. If it is not here, please ask again."
        )


_JOB_NAMES = {"scheduled": "scheduled digest", "watch": "watched thread's digest"}


def _fingerprint(thread: Thread) -> str:
    """What the text of a thread is, not how it is voted: a new comment changes it, a vote not."""
    h = hashlib.sha256()
    h.update(thread.post.id.encode())
    h.update(thread.post.body.encode())
    for c in thread.comments:
        h.update(c.id.encode())
    return h.hexdigest()[:16]


def _ago(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 90:
        return f"{max(seconds, 0)} s"
    if seconds < 5400:
        return f"{seconds // 60} min"
    if seconds < 172_800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86_400} days"


@dataclass
class Core:
    storage: Storage
    source: ThreadSource
    engines: Engines
    chats: dict[str, ChatPort]
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    files: ThreadFiles | None = None  # saved files for requests typed at the terminal only
    config: CoreConfig = field(default_factory=CoreConfig)
    default_spend_cap: float = 1.0  # US$ per server per day, until the server sets its own

    def __post_init__(self) -> None:
        monotonic = lambda: self.clock().timestamp()  # noqa: E731 - the limiters share our clock
        self._user_limit = RateLimiter(*self.config.user_limit, clock=monotonic)
        self._channel_limit = RateLimiter(*self.config.channel_limit, clock=monotonic)
        self._flag_limit = RateLimiter(*self.config.flag_limit, clock=monotonic)
        self._running_keys: set[str] = set()  # jobs this process runs now (their claims renewed)
        self._jobs_ready = asyncio.Event()
        self._schedule_changed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._streams: dict[str, asyncio.Task[None]] = {}
        self._streams_ok: set[str] = set()  # streams known to reach Reddit since the start
        self._stopping = False
        self._running_jobs = 0
        # Analyses under way, by cache key: a second job for the same thread waits for the first.
        self._analysing: dict[str, asyncio.Future[tuple[Report, str]]] = {}
        self.on_job_done: Callable[[JobRow], None] | None = None  # for tests and the console

    # ================================================================== requests

    async def handle_request(self, request: Request) -> Reply | None:
        """Answer one command. Fast: anything slow becomes a job. Never raises.

        Returns the answer for the adapter to show the asker now; None when the answer comes
        later (a digest is its own answer; its failure is told through `ChatPort.post`)."""
        try:
            settings = await self.server_settings(request.platform, request.server_id)
            command = parse_command(request.command, request.text, default_tz=settings["timezone"])
            answer = await self._dispatch(request, command, settings)
        except (DigestError, CommandError) as exc:
            answer = exc.user_message
        except Exception:
            log.exception("request %s %r failed", request.command, request.text[:200])
            answer = SOMETHING_WENT_WRONG
        return Reply(answer) if answer else None

    async def server_settings(self, platform: str, server_id: str) -> dict[str, str]:
        stored = await self.storage.get_settings(platform, server_id)
        defaults = dict(
            SETTING_DEFAULTS,
            timezone=self.config.default_timezone,
            **{"spend-cap": f"{self.default_spend_cap:.2f}"},
        )
        return {**defaults, **stored}

    def _require_manage(self, request: Request, what: str) -> None:
        if not request.can_manage:
            raise UserFacing(
                f"Only people who can manage this {'workspace' if request.platform == 'slack' else 'server'} "
                f"can {what}."
            )

    async def _dispatch(
        self, request: Request, command: Command, settings: dict[str, str]
    ) -> str | None:
        if isinstance(command, DigestCmd):
            return await self._digest(request, command, settings)
        if isinstance(command, SubscribeCmd):
            self._require_manage(request, "subscribe a channel")
            return await self._subscribe(request, command)
        if isinstance(command, WatchCmd):
            self._require_manage(request, "watch a subreddit")
            return await self._watch(request, command)
        if isinstance(command, UnsubscribeCmd | PauseCmd | ResumeCmd):
            self._require_manage(request, "change subscriptions")
            return await self._change_subscription(request, command)
        if isinstance(command, SubscriptionsCmd):
            return await self._list_subscriptions(request)
        if isinstance(command, SettingsCmd):
            return await self._settings(request, command, settings)
        if isinstance(command, HelpCmd):
            return HELP_TEXT
        assert_never(command)

    async def _digest(
        self, request: Request, cmd: DigestCmd, settings: dict[str, str]
    ) -> str | None:
        user = f"{request.platform}:{request.user_id}"
        channel = f"{request.platform}:{request.channel_id}"
        # Counted before any await and given back if no work is created: a burst of requests
        # cannot all pass the check before one of them counts.
        wait = self._user_limit.reserve(user)
        if wait == 0:
            wait = self._channel_limit.reserve(channel)
            if wait > 0:
                self._user_limit.release(user)
        if wait > 0:
            return (
                f"That is a lot of digests at once; try again in {_ago(timedelta(seconds=wait))}."
            )
        created = False
        try:
            created, answer = await self._queue_digest(request, cmd, settings)
        finally:
            if not created:
                self._user_limit.release(user)
                self._channel_limit.release(channel)
        return answer

    async def _queue_digest(
        self, request: Request, cmd: DigestCmd, settings: dict[str, str]
    ) -> tuple[bool, str | None]:
        """(whether a job was created, what to answer)."""
        depth = cmd.depth or Depth(settings["default-depth"])
        payload: dict[str, Any] = {
            "platform": request.platform,
            "server_id": request.server_id,
            "channel_id": request.channel_id,
            "user_id": request.user_id,
            "reply_token": request.reply_token,
            "target": cmd.target,
            "depth": depth.value,
            "nsfw_ok": request.channel_nsfw,
        }
        # A URL or id is checked now, so a typo is answered at once; share links are resolved
        # by the job (they need I/O). A file on the host is read only for the person at the
        # host's terminal: from a chat, a path is refused like any other non-link, so nobody
        # learns which files exist.
        try:
            parse_thread_text(cmd.target)
        except DigestError:
            if not (request.at_terminal and self.files is not None):
                raise
            payload["path"] = cmd.target
        key = f"digest:{request.platform}:{request.channel_id}:{request.reply_token or uuid.uuid4().hex}"
        if not await self.storage.add_job(key, "digest", payload, urgent=True):
            return False, await self._existing_job(key, payload)
        self._jobs_ready.set()
        return True, None  # the digest itself is the answer

    async def _existing_job(self, key: str, payload: dict[str, Any]) -> str | None:
        """The job key exists: the same request delivered again (a platform retry, a replay) is
        done once, quietly; a different request under a used key is said, never dropped."""
        existing = await self.storage.job(key)
        if existing is not None and all(
            existing.payload.get(k) == payload.get(k) for k in ("user_id", "target", "depth")
        ):
            log.info("request %s arrived again; it is queued or done already", key)
            return None
        log.error("job key %s already used by another request; this one was not queued", key)
        return (
            "This request could not be queued: its id was already used by an earlier one. "
            "Please send it again."
        )

    async def _subscribe(self, request: Request, cmd: SubscribeCmd) -> str:
        now = self.clock()
        next_run = cmd.schedule.next_after(now)
        spec = {
            "subreddits": list(cmd.subreddits),
            "schedule": cmd.schedule.to_text(),
            "top": cmd.top,
            "min_score": cmd.min_score,
            "flairs": list(cmd.flairs),
            "exclude_flairs": list(cmd.exclude_flairs),
            "keywords": list(cmd.keywords),
            "nsfw": cmd.nsfw,
            "channel_nsfw": request.channel_nsfw,
        }
        sub_id = await self._add_subscription(request, "schedule", spec, next_run)
        self._schedule_changed.set()
        subs = ", ".join(f"r/{s}" for s in cmd.subreddits)
        return (
            f"Subscribed #{sub_id}: {subs}, {cmd.schedule.describe()}, top {cmd.top}. "
            f"Next run {next_run:%Y-%m-%d %H:%M} UTC (in {_ago(next_run - now)}).{self._saved_note()}"
        )

    def _saved_note(self) -> str:
        if not self.config.saved_only:
            return ""
        return (
            " Note: this bot does not read Reddit (REDIGEST_REDDIT_MODE=saved), so only its saved "
            "threads are available to it."
        )

    async def _add_subscription(
        self, request: Request, kind: str, spec: dict[str, Any], next_run: datetime | None
    ) -> int:
        return await self.storage.add_subscription(
            platform=request.platform,
            server_id=request.server_id,
            channel_id=request.channel_id,
            created_by=request.user_id,
            kind=kind,
            spec=spec,
            next_run_at=next_run,
        )

    async def _watch(self, request: Request, cmd: WatchCmd) -> str:
        spec = {
            "subreddits": [cmd.subreddit],
            "min_score": cmd.min_score,
            "within_hours": cmd.within_hours,
            "channel_nsfw": request.channel_nsfw,
        }
        sub_id = await self._add_subscription(request, "watch", spec, None)
        self._ensure_streams()
        return (
            f"Watching #{sub_id}: new posts in r/{cmd.subreddit} are posted here once they reach "
            f"{points(cmd.min_score)} within {plural(cmd.within_hours, 'hour')}.{self._saved_note()}"
        )

    async def subscription_choices(
        self, platform: str, server_id: str, channel_id: str
    ) -> list[tuple[int, str]]:
        """This channel's subscriptions first, then the server's, as (id, label)."""
        subs = [
            s
            for s in await self.storage.subscriptions(platform=platform)
            if s.server_id == server_id
        ]
        subs.sort(key=lambda s: (s.channel_id != channel_id, s.id))
        out = []
        for s in subs:
            names = ", ".join(f"r/{n}" for n in s.spec["subreddits"])
            what = (
                Schedule.from_text(s.spec["schedule"]).describe()
                if s.kind == "schedule"
                else "watch"
            )
            out.append((s.id, f"#{s.id} {names} — {what}"[:100]))
        return out

    async def _own_subscription(self, request: Request, sub_id: int) -> SubscriptionRow:
        sub = await self.storage.subscription(sub_id)
        if sub is None or (sub.platform, sub.server_id) != (request.platform, request.server_id):
            raise UserFacing(
                f"There is no subscription #{sub_id} here; `subscriptions` lists them."
            )
        return sub

    async def _change_subscription(
        self, request: Request, cmd: UnsubscribeCmd | PauseCmd | ResumeCmd
    ) -> str:
        sub = await self._own_subscription(request, cmd.id)
        if isinstance(cmd, UnsubscribeCmd):
            await self.storage.delete_subscription(sub.id)
            self._schedule_changed.set()
            self._ensure_streams()
            return f"Unsubscribed #{sub.id}."
        paused = isinstance(cmd, PauseCmd)
        await self.storage.set_paused(sub.id, paused)
        if not paused and sub.kind == "schedule":
            schedule = Schedule.from_text(sub.spec["schedule"])
            await self.storage.set_next_run(sub.id, schedule.next_after(self.clock()))
        self._schedule_changed.set()
        self._ensure_streams()
        return f"{'Paused' if paused else 'Resumed'} #{sub.id}."

    async def _list_subscriptions(self, request: Request) -> str:
        subs = [
            s
            for s in await self.storage.subscriptions(platform=request.platform)
            if s.server_id == request.server_id
        ]
        if not subs:
            return "No subscriptions yet. Try: subscribe r/LocalLLaMA daily 09:00 top 5"
        lines = []
        for s in subs:
            where = "" if s.channel_id == request.channel_id else f" (in {s.channel_id})"
            names = ", ".join(f"r/{n}" for n in s.spec["subreddits"])
            state = ""
            if s.paused:
                state = f" — paused: {s.paused_reason}" if s.paused_reason else " — paused"
            elif s.source_problem:
                state = f" — Reddit could not be reached on the last try: {s.source_problem}"
            if s.kind == "schedule":
                schedule = Schedule.from_text(s.spec["schedule"])
                nxt = f"; next {s.next_run_at:%Y-%m-%d %H:%M} UTC" if s.next_run_at else ""
                lines.append(
                    f"#{s.id} {names}: {schedule.describe()}, top {s.spec['top']}{nxt}{where}{state}"
                )
            else:
                lines.append(
                    f"#{s.id} watch {names}: ≥ {points(s.spec['min_score'])} within "
                    f"{s.spec['within_hours']} h{where}{state}"
                )
        return "\n".join(lines)

    async def _settings(self, request: Request, cmd: SettingsCmd, settings: dict[str, str]) -> str:
        if cmd.key is None:
            spent = await self.storage.spent_today(request.platform, request.server_id)
            shown = "\n".join(f"{k}: {v}" for k, v in sorted(settings.items()))
            return f"{shown}\nspent today: ${spent:.4f}"
        self._require_manage(request, "change settings")
        assert cmd.value is not None
        await self.storage.set_setting(request.platform, request.server_id, cmd.key, cmd.value)
        return f"{cmd.key} is now {cmd.value}."

    # ================================================================== reactions

    async def handle_reaction(self, reaction: Reaction) -> str | None:
        """A flag on a message → the deep report in a thread under it, once. Never raises.

        Returns what to tell the person when they asked explicitly (a "Deep analysis" menu or
        shortcut: `requested`); a plain reaction gets no answer (None)."""
        try:
            answer = await self._flag(reaction)
        except Exception:
            log.exception("reaction %s on %s failed", reaction.emoji, reaction.message.key)
            answer = SOMETHING_WENT_WRONG
        return answer if reaction.requested else None

    async def _flag(self, reaction: Reaction) -> str | None:
        if reaction.by_bot:
            return None
        settings = await self.server_settings(reaction.message.platform, reaction.server_id)
        if not reaction.requested and not is_flag(reaction.emoji, settings["flag-emoji"]):
            return None
        ref = reaction.message
        known = await self.storage.posted_thread_for(ref)
        text = reaction.message_text
        if known is None and text is None:  # someone's message: read it (the bot's are known)
            chat = self.chats.get(ref.platform)
            read = await chat.read_message(ref) if chat is not None else None
            if read is not None:
                ref, text = read.ref, read.text
        target = flag_target(known, text)
        if target is None:  # not a digest and no thread link: nothing to do
            return DEEP_NOT_POSSIBLE
        who = f"{reaction.message.platform}:{reaction.user_id}"
        # Counted before any await and given back if no job is created (as for digests).
        wait = self._flag_limit.reserve(who)
        if wait > 0:
            log.info("flag by %s on %s: over the per-user limit", who, ref.key)
            return (
                "That is a lot of deep analyses at once; try again in "
                f"{_ago(timedelta(seconds=wait))}."
            )
        created = False
        try:
            count = await self.storage.add_flag(ref, reaction.user_id)
            threshold = int(settings["flag-threshold"])
            if count < threshold:
                return (
                    f"Noted: the deep analysis starts once {plural(threshold, 'person', 'people')} ask for it "
                    f"({count} so far)."
                )
            created = await self.storage.add_job(
                f"flag:{ref.key}:deep",
                "flag",
                {
                    "platform": ref.platform,
                    "server_id": reaction.server_id,
                    "channel_id": ref.channel_id,
                    "message_id": ref.message_id,
                    "thread_id": ref.thread_id,
                    "user_id": reaction.user_id,
                    "target": target,
                    "depth": "deep",
                    "nsfw_ok": reaction.channel_nsfw,
                },
            )
        finally:
            if not created:
                self._flag_limit.release(who)
        self._jobs_ready.set()
        return (
            "The deep analysis will appear in a thread under that message (once per message, "
            "however often it is asked for)."
        )

    async def _tell(self, platform: str, target: Target, text: str) -> None:
        """A best-effort message (a refusal, a failure): logged, never raised."""
        chat = self.chats.get(platform)
        if chat is None:
            log.error("no chat adapter for %s", platform)
            return
        try:
            await chat.post(target, Delivery(text=text))
        except Exception:
            log.exception("could not tell %s: %s", target, text[:100])

    # ================================================================== jobs

    async def run_one_job(self) -> JobRow | None:
        """Claim and run the next due job; returns it (as finished) or None if none was due."""
        job = await self.storage.claim_job(
            lease=self.config.job_lease,
            max_attempts=self.config.max_attempts,
            max_interruptions=self.config.max_interruptions,
            exclude=sorted(self._running_keys),
        )
        if job is None:
            return None
        if job.gave_up:  # tried too often (and perhaps the job is what kills the process)
            await self._give_up(job)
            return job
        self._running_jobs += 1
        self._running_keys.add(job.key)
        try:
            await self._run(job)
        except ClaimLost:
            log.warning("job %s: its claim lapsed and another run took it over", job.key)
        except Exception as exc:  # the job failed; it is retried or given up, never lost
            try:
                await self._job_failed(job, exc)
            except Exception:
                # The bookkeeping failed too (a database locked for long?): the claim lapses
                # and a worker takes the job again, counting the attempt.
                log.exception("job %s: could not record its failure", job.key)
        finally:
            self._running_jobs -= 1
            self._running_keys.discard(job.key)
        done = await self.storage.job(job.key)
        if done is not None and self.on_job_done is not None:
            self.on_job_done(done)
        return done

    async def _give_up(self, job: JobRow) -> None:
        """A job out of attempts. If it had begun posting, its post may be out: then it is done,
        not failed (the asker must not hear "failed" under their digest)."""
        if job.post_attempted:
            chat = self.chats.get(job.payload.get("platform", ""))
            try:
                refs = job.result or (
                    await chat.find_posted(self._target_for(job), job.key) if chat else None
                )
            except Exception as exc:  # cannot look: say so, never claim it failed
                log.warning("job %s given up; cannot check whether it posted: %s", job.key, exc)
                await self._tell_failure(job, GaveUpUnsure())
                return
            if refs:
                log.warning("job %s given up after its post went out: recorded as done", job.key)
                post_id = None
                if job.report is not None and job.kind != "scheduled":  # 🔍 on it still works
                    report = await cpu.run(codec.loads, Report, job.report)
                    post_id = report.thread.id
                await self.storage.finish_job(job.key, refs, post_id=post_id)
                return
        log.error("job %s given up: %s", job.key, job.error)
        await self._tell_failure(job, GaveUp())

    async def _job_failed(self, job: JobRow, exc: Exception) -> None:
        permanent = isinstance(exc, DigestError | RecursionError) and not isinstance(
            exc, RateLimited | RedditUnavailable | LookupUnavailable
        )
        if not isinstance(exc, DigestError):
            log.error("job %s failed (attempt %d)", job.key, job.attempts, exc_info=exc)
        if not permanent and job.attempts < self.config.max_attempts:
            delay = timedelta(seconds=30 * 2 ** (job.attempts - 1))
            if isinstance(exc, RateLimited) and exc.reset_at is not None:
                delay = max(delay, exc.reset_at - self.clock())
            await self.storage.fail_job(
                job.key, repr(exc), retry_at=self.clock() + delay, token=job.claim_token
            )
            return
        if not await self.storage.fail_job(
            job.key, repr(exc), retry_at=None, token=job.claim_token
        ):
            return  # another run holds it now
        sub_id = job.payload.get("subscription_id")
        if isinstance(exc, PostRefused) and isinstance(sub_id, int):
            # Every later run would be refused too, after paying for its digests: pause it;
            # /subscriptions shows it paused and /resume brings it back once fixed.
            await self.storage.set_paused(sub_id, True, reason=exc.user_message)
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
        await self._tell(platform, target, message)

    async def _run(self, job: JobRow) -> None:
        if job.kind in ("digest", "flag", "watch"):
            await self._run_digest(job)
        elif job.kind == "scheduled":
            await self._run_scheduled(job)
        else:
            await self.storage.fail_job(
                job.key, f"unknown job kind {job.kind}", retry_at=None, token=job.claim_token
            )

    def _target_for(self, job: JobRow) -> Target:
        p = job.payload
        if job.kind == "flag":
            parent = MessageRef(p["platform"], p["channel_id"], p["message_id"], p.get("thread_id"))
            return ThreadTarget(parent)
        return ChannelTarget(
            p["channel_id"], p.get("reply_token") if job.kind == "digest" else None
        )

    async def _resolve(self, target: str) -> ThreadRef:
        if target.startswith("t3_"):
            return ThreadRef(target[3:])
        return await self.source.resolve(target)

    async def report_for(
        self, platform: str, server_id: str, ref: ThreadRef, depth: Depth, settings: dict[str, str],
        *, nsfw_ok: bool = True, thread: Thread | None = None,
    ) -> tuple[Report, str]:  # fmt: skip
        """One analysis per (thread, depth, content, analyser), reused across channels; returns
        the report and its serialised form (made once, off the event loop). `thread` is given
        when it was read from a file rather than fetched."""
        if thread is None:
            thread = await self.source.fetch_thread(ref, depth)
        if thread.post.nsfw and not nsfw_ok:
            raise UserFacing(
                "That thread is marked NSFW; digests of it are only posted in NSFW channels."
            )
        cap = float(settings["spend-cap"])
        spent = await self.storage.spent_today(platform, server_id)
        engine, note = self.engines.pick(settings["analyzer"], spend_ok=cap > 0 and spent < cap)
        key = f"{thread.post.id}:{ref.comment_id or ''}:{depth.value}:{_fingerprint(thread)}:{engine.analyzer_name}"
        pending = self._analysing.get(key)
        if pending is not None:
            report, text = await asyncio.shield(pending)
        else:
            future: asyncio.Future[tuple[Report, str]] = asyncio.get_running_loop().create_future()
            self._analysing[key] = future
            try:
                report, text = await self._analyse(key, engine, thread, depth, platform, server_id)
            except BaseException as exc:
                future.set_exception(exc)
                future.exception()  # waiters re-raise it; nobody else must
                raise
            finally:
                self._analysing.pop(key, None)
            future.set_result((report, text))
        if note:
            report = replace(report, notes=(*report.notes, note))
            text = await cpu.run(codec.dumps, report)
        return report, text

    async def _analyse(
        self, key: str, engine: DigestEngine, thread: Thread, depth: Depth, platform: str,
        server_id: str,
    ) -> tuple[Report, str]:  # fmt: skip
        cached = await self.storage.cached_report(key, self.config.report_cache_ttl)
        if cached is not None:
            return await cpu.run(codec.loads, Report, cached), cached
        report = await engine.digest(thread, depth)
        text = await cpu.run(codec.dumps, report)
        await self.storage.cache_report(key, text)
        u = report.usage
        if u.input_tokens or u.cost_usd:
            await self.storage.record_usage(
                platform, server_id, u.model, u.input_tokens, u.output_tokens, u.cost_usd
            )
        return report, text

    async def _run_digest(self, job: JobRow) -> None:
        p = job.payload
        depth = Depth(p.get("depth", "brief"))
        settings = await self.server_settings(p["platform"], p["server_id"])
        report: Report
        if job.report is not None:  # analysed before a crash: not redone
            report = await cpu.run(codec.loads, Report, job.report)
        else:
            thread: Thread | None = None
            if p.get("path") is not None:  # typed at the terminal (see _digest), never a chat's
                if self.files is None:
                    raise UserFacing("Saved thread files can only be read at the terminal.")
                thread = await self.files.read(p["path"])
                ref = ThreadRef(thread.post.id)
            else:
                ref = await self._resolve(p["target"])
            report, text = await self.report_for(
                p["platform"], p["server_id"], ref, depth, settings,
                nsfw_ok=p.get("nsfw_ok", True), thread=thread,
            )  # fmt: skip
            await self.storage.save_job_report(job.key, text, job.claim_token)
        post_id = report.thread.id
        # Under a brief digest in a channel, the server's own flag: one click asks for depth.
        offer = job.kind != "flag" and report.depth is Depth.BRIEF
        delivery = Delivery(
            report=report,
            header=p.get("header"),
            offer_emoji=offered_emoji(settings["flag-emoji"]) if offer else None,
        )
        await self._deliver(job, delivery, post_id=post_id, focus=report.focus_comment_id,
                            thread_posts=[post_id])  # fmt: skip

    async def _deliver(
        self, job: JobRow, delivery: Delivery, *, post_id: str | None, focus: str | None,
        thread_posts: Sequence[str],
    ) -> None:  # fmt: skip
        """Post exactly once: the intent is recorded before posting and what the post created
        right after it; a later attempt reuses that, or looks first. A lookup that cannot be
        made (LookupUnavailable) fails the attempt: it is retried later, never posted blindly."""
        chat = self.chats[job.payload["platform"]]
        target = self._target_for(job)
        refs: list[MessageRef] | None = job.result if job.post_attempted else None
        if not refs and job.post_attempted:
            refs = await chat.find_posted(target, job.key)
            if refs:
                log.info("job %s had posted before a restart; not posting again", job.key)
        if not refs:
            await self.storage.mark_posting(job.key, job.claim_token)
            refs = await chat.post(target, delivery, idempotency_key=job.key)
            await self.storage.record_post_result(job.key, refs, job.claim_token)
        await self.storage.finish_job(
            job.key, refs, post_id=post_id, focus_comment_id=focus, thread_posts=thread_posts,
            token=job.claim_token,
        )  # fmt: skip

    # ------------------------------------------------------------------ scheduled digests

    async def _run_scheduled(self, job: JobRow) -> None:
        p = job.payload
        sub = await self.storage.subscription(p["subscription_id"])
        if sub is None:
            await self.storage.finish_job(job.key, [], post_id=None, token=job.claim_token)
            return
        spec = sub.spec
        settings = await self.server_settings(sub.platform, sub.server_id)
        schedule = Schedule.from_text(spec["schedule"])
        names = "+".join(spec["subreddits"])
        if job.report is not None:
            bundle = await cpu.run(codec.loads, Bundle, job.report)
        else:
            try:
                posts = await self.source.listing(
                    names, ListingSort.TOP, period=TopPeriod(schedule.period()), limit=100
                )
            except SourceError as exc:
                transient = isinstance(exc, RateLimited | RedditUnavailable)
                if transient and job.attempts < self.config.max_attempts:
                    raise  # retried in a minute or two, as any job
                await self._reddit_unreachable(sub, job, exc, schedule.next_after(self.clock()))
                return
            await self._reddit_reachable(sub)
            recent = await self.storage.recently_posted(
                sub.platform, sub.channel_id, self.config.recent_days
            )
            chosen = [p for p in _filter(posts, spec) if p.id not in recent][: spec["top"]]
            reports = []
            for post in chosen:
                try:
                    report, _ = await self.report_for(
                        sub.platform,
                        sub.server_id,
                        ThreadRef(post.id),
                        Depth.BRIEF,
                        settings,
                        nsfw_ok=spec.get("channel_nsfw", False),
                    )
                    reports.append(report)
                except SourceError as exc:  # one thread gone must not sink the whole digest
                    log.info("scheduled #%s: skipping %s: %s", sub.id, post.id, exc)
                except UserFacing:
                    continue
            subs = ", ".join(f"r/{n}" for n in spec["subreddits"])
            when = {"hour": "in the last hour", "day": "today", "week": "this week"}[
                schedule.period()
            ]
            bundle = Bundle(
                title=f"Top of {subs} {when}",
                reports=tuple(reports),
                note=p.get("late_note"),
                empty_text=f"Nothing new in {subs} passed the filters {when}.",
            )
            text = await cpu.run(codec.dumps, bundle)
            await self.storage.save_job_report(job.key, text, job.claim_token)
        if not bundle.reports and settings["quiet"] == "silent":
            await self.storage.finish_job(job.key, [], post_id=None, token=job.claim_token)
            return
        # A flag on a bundle finds its threads through the links in the message text.
        await self._deliver(job, Delivery(bundle=bundle), post_id=None, focus=None,
                            thread_posts=[r.thread.id for r in bundle.reports])  # fmt: skip

    async def _reddit_unreachable(
        self, sub: SubscriptionRow, job: JobRow, exc: SourceError, next_run: datetime
    ) -> None:
        """This run is over (the next one tries again); the channel hears why once, however
        many runs the problem lasts."""
        log.warning("subscription #%s: Reddit could not be reached: %s", sub.id, exc.user_message)
        if not await self.storage.fail_job(
            job.key, repr(exc), retry_at=None, token=job.claim_token
        ):
            return
        if await self.storage.note_source_problem(sub.id, exc.user_message):
            subs = ", ".join(f"r/{n}" for n in sub.spec["subreddits"])
            await self._tell(
                sub.platform,
                ChannelTarget(sub.channel_id),
                f"The scheduled digest of {subs} could not be made: {exc.user_message} "
                f"I will try again at the next run ({next_run:%Y-%m-%d %H:%M} UTC) and say "
                "nothing more about it until Reddit answers again.",
            )

    async def _reddit_reachable(self, sub: SubscriptionRow) -> None:
        if sub.source_problem is not None:
            await self.storage.note_source_problem(sub.id, None)

    async def scheduler_tick(self) -> int:
        """Queue every due scheduled run (each once, however long the bot was down)."""
        now = self.clock()
        queued = 0
        for sub in await self.storage.due_subscriptions(now):
            schedule = Schedule.from_text(sub.spec["schedule"])
            due_at = sub.next_run_at or now
            latest = schedule.last_at_or_before(now) or due_at
            next_run = schedule.next_after(now)
            if now - latest > self.config.schedule_grace:
                log.info("subscription #%s: missed run at %s is too old; skipped", sub.id, latest)
                await self.storage.set_next_run(sub.id, next_run)
                continue
            note = None
            if now - latest > self.config.late_after:
                note = (
                    f"Late: this digest was due at {latest:%Y-%m-%d %H:%M} UTC "
                    f"({_ago(now - latest)} ago) while the bot was down."
                )
            created = await self.storage.schedule_due(
                sub.id,
                f"sched:{sub.id}:{latest.isoformat()}",
                "scheduled",
                {"platform": sub.platform, "subscription_id": sub.id, "late_note": note,
                 "channel_id": sub.channel_id, "server_id": sub.server_id},
                next_run_at=next_run,
                ran_at=now,
            )  # fmt: skip
            queued += int(created)
        if queued:
            self._jobs_ready.set()
        return queued

    async def run_subscription_now(self, sub_id: int) -> bool:
        """Queue a run of a subscription now (the console's `:run`)."""
        sub = await self.storage.subscription(sub_id)
        if sub is None or sub.kind != "schedule":
            return False
        now = self.clock()
        await self.storage.add_job(
            f"sched:{sub.id}:manual:{now.isoformat()}",
            "scheduled",
            {"platform": sub.platform, "subscription_id": sub.id, "late_note": None,
             "channel_id": sub.channel_id, "server_id": sub.server_id},
        )  # fmt: skip
        self._jobs_ready.set()
        return True

    # ------------------------------------------------------------------ watch mode

    async def add_candidate(self, post: Post) -> int:
        """A new post from the stream → a candidate for every watch on its subreddit."""
        added = 0
        for sub in await self.storage.subscriptions(kind="watch"):
            if sub.paused or post.subreddit.lower() not in (
                s.lower() for s in sub.spec["subreddits"]
            ):
                continue
            first = self.clock() + self.config.watch_first_check
            added += int(await self.storage.add_candidate(sub.id, post.id, post.created, first))
        return added

    async def watch_tick(self) -> int:
        """Re-check due candidates; queue those that crossed their threshold."""
        now = self.clock()
        due = await self.storage.due_candidates(now)
        if not due:
            return 0
        posts = {p.id: p for p in await self.source.posts([c.post_id for c in due])}
        queued = 0
        for cand in due:
            sub = await self.storage.subscription(cand.subscription_id)
            post = posts.get(cand.post_id)
            if sub is None or post is None:
                await self.storage.update_candidate(cand.subscription_id, cand.post_id, score=0,
                                                    comments=0, next_check_at=None, state="expired")  # fmt: skip
                continue
            spec = sub.spec
            if (
                post.score >= spec["min_score"]
                and post.num_comments >= self.config.watch_min_comments
            ):
                created = await self.storage.add_job(
                    f"watch:{sub.id}:{post.id}",
                    "watch",
                    {"platform": sub.platform, "server_id": sub.server_id, "subscription_id": sub.id,
                     "channel_id": sub.channel_id, "target": f"t3_{post.id}", "depth": "brief",
                     "nsfw_ok": spec.get("channel_nsfw", False),
                     "header": f"r/{post.subreddit} · crossed {points(spec['min_score'])}"},
                )  # fmt: skip
                queued += int(created)
                state, nxt = "queued", None
            elif now - post.created > timedelta(hours=spec["within_hours"]):
                state, nxt = "expired", None
            else:
                backoff = min(
                    self.config.watch_first_check * 2**cand.checks, self.config.watch_max_backoff
                )
                state, nxt = "waiting", now + backoff
            await self.storage.update_candidate(
                cand.subscription_id, cand.post_id, score=post.score, comments=post.num_comments,
                next_check_at=nxt, state=state,
            )  # fmt: skip
        if queued:
            self._jobs_ready.set()
        return queued

    def _ensure_streams(self) -> None:
        """Start (or stop) one stream per watched subreddit (only while the loops run)."""
        if not self._tasks:
            return
        asyncio.get_running_loop().create_task(self._sync_streams())

    async def _sync_streams(self) -> None:
        wanted = {
            name.lower()
            for sub in await self.storage.subscriptions(kind="watch")
            if not sub.paused
            for name in sub.spec["subreddits"]
        }
        for name in list(self._streams):
            if name not in wanted:
                self._streams.pop(name).cancel()
        for name in wanted - set(self._streams):
            self._streams[name] = asyncio.create_task(
                self._consume_stream(name), name=f"stream:{name}"
            )

    async def _consume_stream(self, name: str) -> None:
        while not self._stopping:
            try:
                async for post in self.source.stream([name]):
                    await self._watch_problem(name, None)
                    await self.add_candidate(post)
            except asyncio.CancelledError:
                raise
            except SourceError as exc:
                log.warning("stream of r/%s: %s; retrying", name, exc.user_message)
                await self._watch_problem(name, exc.user_message)
                await asyncio.sleep(self.config.stream_retry_seconds)
            except Exception:
                log.exception("stream of r/%s failed; restarting", name)
                await asyncio.sleep(self.config.stream_retry_seconds)

    async def _watch_problem(self, name: str, problem: str | None) -> None:
        """Each watch of r/`name` says once in its channel that Reddit cannot be reached (and
        notes, silently, when it can again)."""
        if problem is None:
            if name in self._streams_ok:
                return  # the common case, every new post: no database round trip
            self._streams_ok.add(name)
        else:
            self._streams_ok.discard(name)
        for sub in await self.storage.subscriptions(kind="watch"):
            if sub.paused or name.lower() not in (s.lower() for s in sub.spec["subreddits"]):
                continue
            if (sub.source_problem is None) == (problem is None):
                continue  # nothing changed
            if await self.storage.note_source_problem(sub.id, problem) and problem:
                await self._tell(
                    sub.platform,
                    ChannelTarget(sub.channel_id),
                    f"Watching r/{name} is interrupted: {problem} I keep trying and will post "
                    "what crosses the threshold once Reddit answers again.",
                )

    # ================================================================== the loops

    async def start(self) -> None:
        """Recover interrupted jobs and start the workers, the scheduler and the watcher."""
        recovered = await self.storage.recover_jobs()
        if recovered:
            log.info("%d job(s) interrupted by the last stop will be taken up again", recovered)
        self._stopping = False
        self._tasks = [
            asyncio.create_task(self._worker(i), name=f"worker-{i}")
            for i in range(self.config.workers)
        ]
        self._tasks.append(asyncio.create_task(self._scheduler_loop(), name="scheduler"))
        self._tasks.append(asyncio.create_task(self._watch_loop(), name="watcher"))
        self._tasks.append(asyncio.create_task(self._heartbeat_loop(), name="heartbeat"))
        await self._sync_streams()

    @property
    def loops(self) -> tuple[asyncio.Task[None], ...]:
        """The loops `start` began (named): they end only on `stop`, so the app watches them."""
        return tuple(self._tasks)

    async def stop(self, grace: float = 20.0) -> None:
        """Let running jobs finish (up to `grace` s); anything unfinished stays pending."""
        self._stopping = True
        self._jobs_ready.set()
        self._schedule_changed.set()
        for task in self._streams.values():
            task.cancel()
        workers = [t for t in self._tasks if t.get_name().startswith("worker")]
        others = [t for t in self._tasks if t not in workers]
        for task in others:
            task.cancel()
        _, pending = await asyncio.wait(workers, timeout=grace) if workers else (set(), set())
        for task in pending:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._streams.values(), return_exceptions=True)
        self._tasks, self._streams = [], {}

    async def drain(self, max_seconds: float = 120.0) -> bool:
        """Wait until no job is runnable or running (a console fed from a pipe ends cleanly)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_seconds
        while loop.time() < deadline:
            now = self.clock()
            busy = [
                j
                for j in await self.storage.jobs()
                if j.status in ("running", "posting")
                or (j.status == "pending" and j.not_before <= now)
            ]
            if not busy and self._running_jobs == 0:
                return True
            self._jobs_ready.set()
            await asyncio.sleep(0.05)
        return False

    async def describe_next_runs(self) -> str:
        now = self.clock()
        lines = []
        for sub in await self.storage.subscriptions(kind="schedule"):
            schedule = Schedule.from_text(sub.spec["schedule"])
            names = ", ".join(f"r/{n}" for n in sub.spec["subreddits"])
            if sub.paused or sub.next_run_at is None:
                why = f" ({sub.paused_reason})" if sub.paused and sub.paused_reason else ""
                lines.append(f"#{sub.id} {names}: paused{why}")
                continue
            lines.append(
                f"#{sub.id} {names}: {schedule.describe()} — next run "
                f"{sub.next_run_at:%Y-%m-%d %H:%M} UTC (in {_ago(sub.next_run_at - now)})"
            )
        return (
            "\n".join(lines)
            or "No scheduled subscriptions. Try: /subscribe r/selfhosted daily 09:00"
        )

    async def describe_jobs(self) -> str:
        jobs = await self.storage.jobs()
        if not jobs:
            return "No jobs yet."
        return "\n".join(f"{j.key}: {j.status} (attempts {j.attempts})" for j in jobs[-20:])

    async def _wait(self, event: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout=max(seconds, 0.0))
        event.clear()

    async def _worker(self, index: int) -> None:
        while not self._stopping:
            try:
                job = await self.run_one_job()
            except Exception:
                log.exception("worker %d: unexpected error", index)
                job = None
            if job is None and not self._stopping:
                await self._wait(self._jobs_ready, self.config.idle_poll_seconds)

    async def _heartbeat_loop(self) -> None:
        """Renew the claims of the jobs running here, so none is taken over while it runs."""
        while not self._stopping:
            await asyncio.sleep(self.config.heartbeat_seconds)
            try:
                await self.storage.renew_claims(sorted(self._running_keys), self.config.job_lease)
            except Exception:
                log.warning("could not renew job claims (database busy?); retrying", exc_info=True)

    async def _scheduler_loop(self) -> None:
        while not self._stopping:
            try:
                await self.scheduler_tick()
                nxt = await self.storage.earliest_next_run()
            except Exception:
                log.exception("scheduler: unexpected error")
                nxt = None
            seconds = (nxt - self.clock()).total_seconds() if nxt else 3600.0
            await self._wait(self._schedule_changed, min(max(seconds, 0.5), 3600.0))

    async def _watch_loop(self) -> None:
        while not self._stopping:
            try:
                await self.watch_tick()
                nxt = await self.storage.earliest_candidate_check()
            except Exception:
                log.exception("watcher: unexpected error")
                nxt = None
            seconds = (nxt - self.clock()).total_seconds() if nxt else 300.0
            await asyncio.sleep(min(max(seconds, 1.0), 300.0))


def _filter(posts: Sequence[Post], spec: Mapping[str, Any]) -> list[Post]:
    flairs = {f.lower() for f in spec.get("flairs", [])}
    excluded = {f.lower() for f in spec.get("exclude_flairs", [])}
    keywords = [k.lower() for k in spec.get("keywords", [])]
    out = []
    for post in posts:
        flair = (post.flair or "").lower()
        if spec.get("min_score") is not None and post.score < spec["min_score"]:
            continue
        if flairs and flair not in flairs:
            continue
        if flair and flair in excluded:
            continue
        if post.nsfw and not spec.get("nsfw", False):
            continue
        text = f"{post.title} {post.body}".lower()
        if keywords and not any(k in text for k in keywords):
            continue
        out.append(post)
    return out
