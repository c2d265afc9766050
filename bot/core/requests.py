"""Where a command is answered: parsed, checked (who may manage, how many digests at once) and
either answered at once (a Reply) or turned into a job. Subscription commands are answered in
subscriptions.py, the watch command in watch.py."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, assert_never

from bot.chat import Reply, Request
from bot.chat_links import chat_thread_ref
from bot.chat_threads import ChatThreadRef
from bot.commands import (
    HELP_TEXT,
    Command,
    CommandError,
    DigestCmd,
    EditCmd,
    HelpCmd,
    PauseCmd,
    PreviewCmd,
    ResumeCmd,
    SettingsCmd,
    SubscribeCmd,
    SubscriptionsCmd,
    UnsubscribeCmd,
    UsageCmd,
    WatchCmd,
    parse_command,
)
from bot.core.answers import UserFacing, ago
from bot.core.delivery import typed
from bot.core.usage import usage_report
from bot.jobs import DigestJob, SavedFile, UnreadableJob, job_payload, read_job
from bot.ports import ThreadRef
from bot.ratelimit import Window
from bot.replies import SOMETHING_WENT_WRONG
from bot.thread_ref import ShareLink, parse_thread_text
from digest.errors import DigestError
from digest.i18n import ENGLISH_NAMES, valid
from digest.report import Depth

if TYPE_CHECKING:
    from bot.core.facade import Core

log = logging.getLogger(__name__)


def require_manage(request: Request, what: str) -> None:
    if not request.can_manage:
        raise UserFacing(
            f"Only people who can manage this {'workspace' if request.platform == 'slack' else 'server'} "
            f"can {what}."
        )


class Requests:
    """Commands from people, whatever the platform."""

    def __init__(self, core: Core) -> None:
        self.core = core

    async def handle(self, request: Request) -> Reply | None:
        """Answer one command. Fast: anything slow becomes a job. Never raises.

        Returns the answer for the adapter to show the asker now; None when the answer comes
        later (a digest is its own answer; its failure is told through `ChatPort.post`)."""
        try:
            settings = await self.core.server_settings(request.platform, request.server_id)
            command = parse_command(request.command, request.text, default_tz=settings["timezone"])
            answer = await self._dispatch(request, command, settings)
            if isinstance(answer, Reply):  # an answer that names channels
                return answer
        except (DigestError, CommandError) as exc:
            answer = exc.user_message
        except Exception:
            log.exception("request %s %r failed", request.command, request.text[:200])
            answer = SOMETHING_WENT_WRONG
        return Reply(answer) if answer else None

    async def _dispatch(
        self, request: Request, command: Command, settings: dict[str, str]
    ) -> str | Reply | None:
        subscriptions = self.core.subscriptions
        if isinstance(command, DigestCmd):
            return await self._digest(request, command, settings)
        if isinstance(command, SubscribeCmd):
            require_manage(request, "subscribe a channel")
            return await subscriptions.subscribe(request, command)
        if isinstance(command, WatchCmd):
            require_manage(request, "watch a subreddit")
            return await self.core.watching.watch(request, command)
        if isinstance(command, UnsubscribeCmd | PauseCmd | ResumeCmd):
            require_manage(request, "change subscriptions")
            return await subscriptions.change(request, command)
        if isinstance(command, SubscriptionsCmd):
            return await subscriptions.listing(request)
        if isinstance(command, EditCmd):
            require_manage(request, "change subscriptions")
            return await subscriptions.edit(request, command)
        if isinstance(command, PreviewCmd):
            require_manage(request, "preview subscriptions")
            await subscriptions.preview(request, command)
            return None  # the preview itself is the answer, to the asker only
        if isinstance(command, SettingsCmd):
            return await self._settings(request, command, settings)
        if isinstance(command, UsageCmd):
            require_manage(request, "see its usage and costs")
            return await usage_report(self.core, request)
        if isinstance(command, HelpCmd):
            return HELP_TEXT
        assert_never(command)

    async def _digest(
        self, request: Request, cmd: DigestCmd, settings: dict[str, str]
    ) -> str | None:
        config = self.core.config
        # Checked and counted in one step (in the database every process shares: Core.limits),
        # and given back if no work is created: a burst of requests (to one process or several)
        # cannot all pass the check before one of them counts.
        reserved = await self.core.limits.reserve_hits(
            (
                Window(f"user:{request.platform}:{request.user_id}", *config.user_limit),
                Window(f"channel:{request.platform}:{request.channel_id}", *config.channel_limit),
            )
        )
        if not reserved.counted:
            wait = timedelta(seconds=reserved.wait)
            return f"That is a lot of digests at once; try again in {ago(wait)}."
        created = False
        try:
            created, answer = await self._queue_digest(request, cmd, settings)
        finally:
            if not created:
                await self.core.limits.release_hits(reserved.hits)
        return answer

    async def _queue_digest(
        self, request: Request, cmd: DigestCmd, settings: dict[str, str]
    ) -> tuple[bool, str | None]:
        """(whether a job was created, what to answer)."""
        # A URL or id is checked now, so a typo is answered at once; share links are resolved
        # by the job (they need I/O). A file on the host is read only for the person at the
        # host's terminal: from a chat, a path is refused like any other non-link, so nobody
        # learns which files exist.
        # A chat's own message link (or a console reference) names a thread of that chat: it is
        # read by the job, through the chat's adapter, and digested in that thread.
        thread: ThreadRef | ShareLink | SavedFile | ChatThreadRef | None = chat_thread_ref(
            cmd.target, platform=request.platform, server_id=request.server_id,
            user_id=request.user_id, channel_id=request.channel_id,
        )  # fmt: skip
        if thread is None:
            try:
                thread = parse_thread_text(cmd.target)
            except DigestError:
                if not (request.at_terminal and self.core.files is not None):
                    raise
                thread = SavedFile(cmd.target)
        job = DigestJob(
            platform=request.platform,
            server_id=request.server_id,
            channel_id=request.channel_id,
            user_id=request.user_id,
            thread=thread,
            depth=cmd.depth or Depth(settings["default-depth"]),
            nsfw_ok=request.channel_nsfw,
            reply_token=request.reply_token,
        )
        key = f"digest:{request.platform}:{request.channel_id}:{request.reply_token or uuid.uuid4().hex}"
        if not await self.core.storage.add_job(key, job.KIND, job_payload(job), urgent=True):
            return False, await self._existing_job(key, job)
        self.core.wake.jobs_ready.set()
        return True, None  # the digest itself is the answer

    async def _existing_job(self, key: str, job: DigestJob) -> str | None:
        """The job key exists: the same request delivered again (a platform retry, a replay) is
        done once, quietly; a different request under a used key is said, never dropped."""
        row = await self.core.storage.job(key)
        try:
            existing = read_job(row.kind, row.payload) if row is not None else None
        except UnreadableJob:
            existing = None
        if isinstance(existing, DigestJob) and (existing.user_id, existing.thread, existing.depth) == (
            job.user_id, job.thread, job.depth
        ):  # fmt: skip
            log.info("request %s arrived again; it is queued or done already", key)
            return None
        log.error("job key %s already used by another request; this one was not queued", key)
        return (
            "This request could not be queued: its id was already used by an earlier one. "
            "Please send it again."
        )

    def _language_hint(self, request: Request, settings: dict[str, str]) -> str:
        """A suggestion from the asker's own chat language, when digests are in another one."""
        code = valid(request.locale or "")
        if code is None or code == settings.get("language"):
            return ""
        name = ENGLISH_NAMES[code]
        command = typed(self.core, request.platform, f"settings language {code}")
        return (
            f"\nYour {request.platform.capitalize()} is in {name}: {command} writes digests "
            f"in {name}."
        )

    async def _settings(self, request: Request, cmd: SettingsCmd, settings: dict[str, str]) -> str:
        storage = self.core.storage
        if cmd.key is None:
            spent = await storage.spent_today(request.platform, request.server_id)
            shown = "\n".join(f"{k}: {v}" for k, v in sorted(settings.items()))
            return f"{shown}\nspent today: ${spent:.4f}" + self._language_hint(request, settings)
        require_manage(request, "change settings")
        assert cmd.value is not None
        await storage.set_setting(request.platform, request.server_id, cmd.key, cmd.value)
        return f"{cmd.key} is now {cmd.value}."
