"""Where a reaction is answered: a flag on a message (which emoji flag is bot/flags.py's rule)
becomes one deep-analysis job under that message, once enough people asked."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.chat import Reaction
from bot.core.answers import ago
from bot.flags import DEEP_NOT_POSSIBLE, flag_target, is_flag
from bot.jobs import FlagJob, job_payload
from bot.ratelimit import RateLimiter
from bot.replies import SOMETHING_WENT_WRONG
from digest.text import plural

if TYPE_CHECKING:
    from bot.core.facade import Core

log = logging.getLogger(__name__)


class Reactions:
    def __init__(self, core: Core) -> None:
        self.core = core
        monotonic = lambda: core.clock().timestamp()  # noqa: E731 - the limiter shares its clock
        self.flag_limit = RateLimiter(*core.config.flag_limit, clock=monotonic)

    async def handle(self, reaction: Reaction) -> str | None:
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
        core = self.core
        settings = await core.server_settings(reaction.message.platform, reaction.server_id)
        if not reaction.requested and not is_flag(reaction.emoji, settings["flag-emoji"]):
            return None
        ref = reaction.message
        known = await core.storage.posted_thread_for(ref)
        text = reaction.message_text
        if known is None and text is None:  # someone's message: read it (the bot's are known)
            chat = core.chats.get(ref.platform)
            read = await chat.read_message(ref) if chat is not None else None
            if read is not None:
                ref, text = read.ref, read.text
        target = flag_target(known, text)
        if target is None:  # not a digest and no thread link: nothing to do
            return DEEP_NOT_POSSIBLE
        who = f"{reaction.message.platform}:{reaction.user_id}"
        # Counted before any await and given back if no job is created (as for digests).
        wait = self.flag_limit.reserve(who)
        if wait > 0:
            log.info("flag by %s on %s: over the per-user limit", who, ref.key)
            return (
                "That is a lot of deep analyses at once; try again in "
                f"{ago(timedelta(seconds=wait))}."
            )
        created = False
        try:
            count = await core.storage.add_flag(ref, reaction.user_id)
            threshold = int(settings["flag-threshold"])
            if count < threshold:
                return (
                    f"Noted: the deep analysis starts once {plural(threshold, 'person', 'people')} ask for it "
                    f"({count} so far)."
                )
            job = FlagJob(
                message=ref,
                server_id=reaction.server_id,
                user_id=reaction.user_id,
                thread=target,
                nsfw_ok=reaction.channel_nsfw,
            )
            created = await core.storage.add_job(f"flag:{ref.key}:deep", job.KIND, job_payload(job))
        finally:
            if not created:
                self.flag_limit.release(who)
        core.wake.jobs_ready.set()
        return (
            "The deep analysis will appear in a thread under that message (once per message, "
            "however often it is asked for)."
        )
