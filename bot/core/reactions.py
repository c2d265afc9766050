"""Where a reaction is answered: a flag on a message (which emoji flag is bot/flags.py's rule)
becomes one deep-analysis job under that message, once enough people asked.

A scheduled bundle covers several threads: a flag on it must say which (`Reaction.pick`: a
menu option, or `:react 🔍 m5 2` in the console); one that does not is answered with the
choice, once per person and message. Which threads a bundle covers, and in which order, is
what its scheduled job saved (the links in its text when that is gone)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.chat import Bundle, EphemeralTarget, MessageRef, Reaction
from bot.core.answers import ago
from bot.core.delivery import tell
from bot.flags import DEEP_NOT_POSSIBLE, flag_target, is_flag
from bot.jobs import FlagJob, ScheduledJob, job_payload
from bot.ports import ThreadRef
from bot.ratelimit import Window
from bot.replies import SOMETHING_WENT_WRONG
from bot.thread_ref import ShareLink, find_thread_urls, parse_thread_text
from bot.ttl_map import TTLMap
from digest import codec, cpu
from digest.text import plural

if TYPE_CHECKING:
    from bot.core.facade import Core

log = logging.getLogger(__name__)

TITLE_CHARS = 90  # a thread's title in an answer
CHOICE_TOLD_SECONDS = 3600.0  # a person flagging the same bundle again within this is not re-told


@dataclass(frozen=True, slots=True)
class Choice:
    """One thread a message is about, with its title when the bot posted it."""

    thread: ThreadRef | ShareLink
    title: str | None = None

    @property
    def post_id(self) -> str | None:
        return self.thread.post_id if isinstance(self.thread, ThreadRef) else None


def _short(title: str) -> str:
    flat = " ".join(title.split())
    return flat if len(flat) <= TITLE_CHARS else flat[: TITLE_CHARS - 1].rstrip() + "…"


class Reactions:
    def __init__(self, core: Core) -> None:
        self.core = core
        monotonic = lambda: core.clock().timestamp()  # noqa: E731 - the core's clock
        # (message, person) already told which threads a bundle has: a second 🔍 is not re-told.
        self._told: TTLMap[tuple[str, str], None] = TTLMap(CHOICE_TOLD_SECONDS, clock=monotonic)

    async def handle(self, reaction: Reaction) -> str | None:
        """A flag on a message → the deep report in a thread under it, once. Never raises.

        Returns what to tell the person when they asked explicitly (a "Deep analysis" menu or
        shortcut: `requested`, or a pick of one thread); a plain reaction gets no answer
        (None), except the choice on a bundle of several threads, told to the person alone."""
        try:
            answer = await self._flag(reaction)
        except Exception:
            log.exception("reaction %s on %s failed", reaction.emoji, reaction.message.key)
            answer = SOMETHING_WENT_WRONG
        return answer if reaction.requested or reaction.pick is not None else None

    async def _flag(self, reaction: Reaction) -> str | None:
        if reaction.by_bot:
            return None
        core = self.core
        settings = await core.server_settings(reaction.message.platform, reaction.server_id)
        if not reaction.requested and not is_flag(reaction.emoji, settings["flag-emoji"]):
            return None
        ref = reaction.message
        known = await core.storage.posted_thread_for(ref)
        choices: list[Choice] = []
        bundled = False
        if known is not None:
            choices = [Choice(ThreadRef(*known))]
        else:
            choices = await self._bundle_threads(ref)
            bundled = bool(choices)
        if not choices:
            text = reaction.message_text
            if text is None:  # someone's message: read it (the bot's are known)
                chat = core.chats.get(ref.platform)
                read = await chat.read_message(ref) if chat is not None else None
                if read is not None:
                    ref, text = read.ref, read.text
            if reaction.pick is None:  # as ever: the first thread the message links
                target = flag_target(None, text)
                choices = [Choice(target)] if target is not None else []
            else:
                choices = _linked(text or "")
        if not choices:  # not a digest and no thread link: nothing to do
            return DEEP_NOT_POSSIBLE
        several = len(choices) > 1
        if reaction.pick is None and several and bundled:
            return await self._ask(reaction, ref, choices)
        picked = _picked(reaction.pick, choices)
        if isinstance(picked, str):
            return picked
        position, choice = picked
        return await self._queue(reaction, ref, choice, position if several else None, settings)

    async def _bundle_threads(self, ref: MessageRef) -> list[Choice]:
        """The threads of a bundle the bot posted as this message, in order ([] if it is not)."""
        saved = await self.core.storage.job_report_for(ref, ScheduledJob.KIND)
        if saved is None:
            return []
        try:
            bundle = await cpu.run(codec.loads, Bundle, saved)
        except Exception:
            log.exception("the bundle posted as %s cannot be read", ref.key)
            return []
        return [Choice(ThreadRef(r.thread.id), r.thread.title) for r in bundle.reports]

    async def _ask(self, reaction: Reaction, ref: MessageRef, choices: list[Choice]) -> str | None:
        """Which thread? Said to the person: as the answer when they asked by name, else once
        per person and message (a reaction has no answer of its own)."""
        hint = reaction.pick_hint
        lines = [f"That digest covers {len(choices)} threads: which one should I analyse?"]
        if hint is None or not hint.shows_choices:
            lines += [f"{i}. {_short(c.title or str(c.post_id))}" for i, c in enumerate(choices, 1)]
        lines.append(
            hint.how if hint is not None else "Flag it again with the thread's number to pick one."
        )
        text = "\n".join(lines)
        if reaction.requested:
            return text
        told = (ref.key, reaction.user_id)
        if told in self._told:
            return None
        self._told.put(told, None)
        channel = ref.thread_id or ref.channel_id
        await tell(self.core, ref.platform, EphemeralTarget(channel, reaction.user_id), text)
        return None

    async def _queue(
        self,
        reaction: Reaction,
        ref: MessageRef,
        choice: Choice,
        position: int | None,
        settings: dict[str, str],
    ) -> str:
        """Count the flag (per thread on a message of several) and queue the job once enough
        people asked."""
        core = self.core
        who = f"{reaction.message.platform}:{reaction.user_id}"
        # Counted (across processes: Core.limits) and given back if no job is created.
        reserved = await core.limits.reserve_hits((Window(f"flag:{who}", *core.config.flag_limit),))
        if not reserved.counted:
            log.info("flag by %s on %s: over the per-user limit", who, ref.key)
            return (
                "That is a lot of deep analyses at once; try again in "
                f"{ago(timedelta(seconds=reserved.wait))}."
            )
        # One of several threads is flagged apart from the others: its own count and job.
        suffix = f"#{position}" if position is not None else ""
        counted = MessageRef(ref.platform, ref.channel_id, ref.message_id + suffix, ref.thread_id)
        created = False
        try:
            count = await core.storage.add_flag(counted, reaction.user_id)
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
                thread=choice.thread,
                nsfw_ok=reaction.channel_nsfw,
            )
            created = await core.storage.add_job(
                f"flag:{ref.key}{suffix}:deep", job.KIND, job_payload(job)
            )
        finally:
            if not created:
                await core.limits.release_hits(reserved.hits)
        core.wake.jobs_ready.set()
        if position is None:
            return (
                "The deep analysis will appear in a thread under that message (once per message, "
                "however often it is asked for)."
            )
        about = f"“{_short(choice.title)}”" if choice.title else f"thread {position}"
        return (
            f"The deep analysis of {about} will appear in a thread under that message (once per "
            "thread, however often it is asked for)."
        )


def _linked(text: str) -> list[Choice]:
    """The threads a message links, in order, each once."""
    out: list[Choice] = []
    seen: set[str] = set()
    for url in find_thread_urls(text):
        target = parse_thread_text(url)
        key = target.post_id if isinstance(target, ThreadRef) else target.url
        if key not in seen:
            seen.add(key)
            out.append(Choice(target))
    return out


def _picked(pick: int | str | None, choices: list[Choice]) -> tuple[int, Choice] | str:
    """The chosen thread and its position, or the one sentence saying why there is none."""
    if pick is None:
        return 1, choices[0]
    n = len(choices)
    if isinstance(pick, int):
        if 1 <= pick <= n:
            return pick, choices[pick - 1]
        if n == 1:
            return f"That message is about one thread only: leave the number out, or use 1 (not {pick})."
        return f"That message covers {n} threads: pick a number from 1 to {n} (not {pick})."
    for i, choice in enumerate(choices, 1):
        if choice.post_id == pick:
            return i, choice
    return "That thread is not one of this message's; pick one from its menu."
