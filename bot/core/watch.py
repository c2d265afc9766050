"""Watch mode: a watch command, one stream of new posts per watched subreddit, each new post a
candidate re-checked with back-off until it crosses the watch's score (then digested) or ages
out; once per outage, a word in the channel when Reddit cannot be reached (never counted against
the watch: an outage must not need a person to resume it); and a subreddit Reddit refuses (private,
banned, gone) or an error of ours counted as a failed run, at most once an hour, three in a row
pausing the watch (Subscriptions.run_failed)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.chat import ChannelTarget, Request
from bot.commands import WatchCmd
from bot.core.answers import saved_note
from bot.core.delivery import tell
from bot.core.subscriptions import OUR_ERROR
from bot.jobs import WatchJob, job_payload
from bot.ports import BadCredentials, RateLimited, RedditUnavailable, SourceError, ThreadRef
from bot.routing import is_hn_name, place_name
from bot.specs import WatchSpec, names, spec_of
from bot.storage import SubscriptionRow
from digest.model import Post
from digest.text import plural, points

if TYPE_CHECKING:
    from bot.core.facade import Core

log = logging.getLogger(__name__)

COUNT_EVERY = timedelta(hours=1)  # a watch's failed checks count as failed runs this far apart


class Watching:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.streams: dict[str, asyncio.Task[None]] = {}
        self.streams_ok: set[str] = set()  # streams known to reach Reddit since the start
        self.counted: dict[int, datetime] = {}  # when a watch's failed check was last counted

    async def watch(self, request: Request, cmd: WatchCmd) -> str:
        spec = WatchSpec(
            subreddits=(cmd.subreddit,),
            min_score=cmd.min_score,
            within_hours=cmd.within_hours,
            channel_nsfw=request.channel_nsfw,
        )
        sub_id = await self.core.subscriptions.add(request, spec, None)
        self.ensure_streams()
        return (
            f"Watching #{sub_id}: new posts in {place_name(cmd.subreddit)} are posted here once they reach "
            f"{points(cmd.min_score)} within {plural(cmd.within_hours, 'hour')}."
            f"{saved_note(self.core.config.saved_only and not is_hn_name(cmd.subreddit))}"
        )

    async def _watches(self) -> list[tuple[SubscriptionRow, WatchSpec]]:
        out = []
        for sub in await self.core.storage.subscriptions(kind=WatchSpec.KIND):
            spec = spec_of(sub)
            if isinstance(spec, WatchSpec):
                out.append((sub, spec))
        return out

    async def add_candidate(self, post: Post) -> int:
        """A new post from the stream → a candidate for every watch on its subreddit."""
        core = self.core
        added = 0
        for sub, spec in await self._watches():
            if sub.paused or not spec.follows(post.subreddit):
                continue
            first = core.clock() + core.config.watch_first_check
            added += int(await core.storage.add_candidate(sub.id, post.id, post.created, first))
        return added

    async def tick(self) -> int:
        """Re-check due candidates; queue those that crossed their threshold."""
        core = self.core
        storage, config = core.storage, core.config
        now = core.clock()
        due = await storage.due_candidates(now)
        if not due:
            return 0
        posts = {p.id: p for p in await core.source.posts([c.post_id for c in due])}
        queued = 0
        for cand in due:
            sub = await storage.subscription(cand.subscription_id)
            post = posts.get(cand.post_id)
            if sub is None or post is None:
                await storage.update_candidate(cand.subscription_id, cand.post_id, score=0,
                                               comments=0, next_check_at=None, state="expired")  # fmt: skip
                continue
            spec = spec_of(sub)
            if not isinstance(spec, WatchSpec):
                continue  # candidates are only ever a watch's
            if post.score >= spec.min_score and post.num_comments >= config.watch_min_comments:
                job = WatchJob(
                    platform=sub.platform,
                    server_id=sub.server_id,
                    channel_id=sub.channel_id,
                    subscription_id=sub.id,
                    thread=ThreadRef(post.id),
                    nsfw_ok=spec.channel_nsfw,
                    header=f"{place_name(post.subreddit)} · crossed {points(spec.min_score)}",
                )
                created = await storage.add_job(
                    f"watch:{sub.id}:{post.id}", job.KIND, job_payload(job)
                )
                queued += int(created)
                state, nxt = "queued", None
            elif now - post.created > timedelta(hours=spec.within_hours):
                state, nxt = "expired", None
            else:
                backoff = min(config.watch_first_check * 2**cand.checks, config.watch_max_backoff)
                state, nxt = "waiting", now + backoff
            await storage.update_candidate(
                cand.subscription_id, cand.post_id, score=post.score, comments=post.num_comments,
                next_check_at=nxt, state=state,
            )  # fmt: skip
        if queued:
            core.wake.jobs_ready.set()
        return queued

    def ensure_streams(self) -> None:
        """Start (or stop) one stream per watched subreddit (only while the loops run)."""
        if not self.core.loops:
            return
        asyncio.get_running_loop().create_task(self.sync_streams())

    def stop_streams(self) -> None:
        """Close every stream (this process no longer leads: leader.py)."""
        for task in self.streams.values():
            task.cancel()
        self.streams = {}

    async def sync_streams(self) -> None:
        """Open a stream per watched subreddit, close the others; none unless this process leads
        (another one watches)."""
        if not self.core.workers.leadership.active.is_set():
            self.stop_streams()
            return
        wanted = {
            name.lower()
            for sub, spec in await self._watches()
            if not sub.paused
            for name in spec.subreddits
        }
        for name in list(self.streams):
            if name not in wanted:
                self.streams.pop(name).cancel()
        for name in wanted - set(self.streams):
            self.streams[name] = asyncio.create_task(
                self.consume_stream(name), name=f"stream:{name}"
            )

    async def consume_stream(self, name: str) -> None:
        core = self.core
        while not core.workers.stopping:
            try:
                async for post in core.source.stream([name]):
                    await self._problem(name, None)
                    await core.add_candidate(post)
            except asyncio.CancelledError:
                raise
            except SourceError as exc:
                log.warning("stream of r/%s: %s; retrying", name, exc.user_message)
                await self._stream_failed(name, exc)
                await asyncio.sleep(core.config.stream_retry_seconds)
            except Exception as exc:
                log.exception("stream of r/%s failed; restarting", name)
                await self._stream_failed(name, exc)
                await asyncio.sleep(core.config.stream_retry_seconds)

    async def _stream_failed(self, name: str, exc: Exception) -> None:
        """Reddit's outage is said once and never counted; the subreddit's own problem
        (private, banned, gone) or an error of ours is a failed check. Never raises: the stream
        goes on whatever happens to this bookkeeping."""
        try:
            if isinstance(exc, RateLimited | RedditUnavailable | BadCredentials):
                await self._problem(name, exc.user_message)
            else:
                problem = exc.user_message if isinstance(exc, SourceError) else OUR_ERROR
                await self._check_failed(name, problem)
        except Exception:
            log.exception("stream of r/%s: its failure could not be noted", name)

    async def _check_failed(self, name: str, problem: str) -> None:
        """Checking r/`name` for new posts failed for a reason of its own (or ours): a failed
        run of each of its watches, counted at most once every COUNT_EVERY (a stream is opened
        again every minute or so; three failures should take hours, not minutes). When it was
        last counted is kept in memory: a restart may count the next failure early."""
        self.streams_ok.discard(name)
        now = self.core.clock()
        for sub, spec in await self._watches():
            if sub.paused or not spec.follows(name):
                continue
            last = self.counted.get(sub.id)
            if sub.failures and last is not None and now - last < COUNT_EVERY:
                continue
            self.counted[sub.id] = now
            await self.core.subscriptions.run_failed(
                sub,
                f"The watch of {names(spec)} (#{sub.id}) could not check for new posts",
                problem,
                "I keep checking (a failed check counts as a failed run at most once an hour).",
            )

    async def job_failed(self, sub_id: int, problem: str) -> None:
        """A watched thread's digest failed for good: a failed run of its watch."""
        sub = await self.core.storage.subscription(sub_id)
        spec = spec_of(sub) if sub is not None else None
        if sub is None or not isinstance(spec, WatchSpec):
            return
        await self.core.subscriptions.run_failed(
            sub,
            f"The watch of {names(spec)} (#{sub.id}) could not post a thread that crossed its "
            "threshold",
            problem,
            "I keep watching for the next one.",
        )

    async def _problem(self, name: str, problem: str | None) -> None:
        """Each watch of r/`name` says once in its channel that Reddit cannot be reached (and
        notes, silently, when it can again: its failed runs in a row, if any, are over)."""
        if problem is None:
            if name in self.streams_ok:
                return  # the common case, every new post: no database round trip
            self.streams_ok.add(name)
        else:
            self.streams_ok.discard(name)
        storage = self.core.storage
        for sub, spec in await self._watches():
            if sub.paused or not spec.follows(name):
                continue
            if problem is None:
                if sub.source_problem is not None or sub.failures:
                    self.counted.pop(sub.id, None)
                    await storage.note_run_ok(sub.id)
                continue
            if sub.source_problem is not None:
                continue  # said already
            if await storage.note_source_problem(sub.id, problem):
                await tell(
                    self.core,
                    sub.platform,
                    ChannelTarget(sub.channel_id),
                    f"Watching r/{name} is interrupted: {problem} I keep trying and will post "
                    "what crosses the threshold once Reddit answers again.",
                )
