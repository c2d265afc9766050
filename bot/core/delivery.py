"""Posting what a job made, exactly once (even across crashes), and best-effort messages (a
refusal, a failure) that are logged, never raised."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, assert_never

from bot.chat import ChannelTarget, Delivery, EphemeralTarget, MessageRef, Target, ThreadTarget
from bot.chat_thread_source import thread_target
from bot.chat_threads import ChatThreadRef
from bot.jobs import DigestJob, FlagJob, Job, PreviewJob, ScheduledJob, WatchJob
from bot.storage import JobRow

if TYPE_CHECKING:
    from bot.core.facade import Core

log = logging.getLogger(__name__)


def target_for(job: Job) -> Target:
    """Where a job's post goes: under the flagged message, in the chat thread digested, or in
    the channel (answering the asker's request when there was one)."""
    match job:
        case FlagJob():
            return ThreadTarget(job.message)
        case DigestJob(thread=ChatThreadRef() as ref):
            return thread_target(ref)
        case DigestJob():
            return ChannelTarget(job.channel_id, job.reply_token)
        case WatchJob() | ScheduledJob():
            return ChannelTarget(job.channel_id)
        case PreviewJob():  # to the asker only
            return EphemeralTarget(job.channel_id, job.user_id, job.reply_token, private=True)
        case _:
            assert_never(job)


async def deliver(
    core: Core, row: JobRow, job: Job, delivery: Delivery, *, post_id: str | None, focus: str | None,
    thread_posts: Sequence[str], target: Target | None = None,
) -> None:  # fmt: skip
    """Post exactly once: the intent is recorded before posting and what the post created
    right after it; a later attempt reuses that, or looks first. A lookup that cannot be
    made (LookupUnavailable) fails the attempt: it is retried later, never posted blindly.
    `target`: where the post goes when reading the thread said more than the job (a chat
    thread's own channel); `target_for(job)` by default."""
    chat = core.chats[job.platform]
    target = target or target_for(job)
    refs: list[MessageRef] | None = row.result if row.post_attempted else None
    if not refs and row.post_attempted:
        refs = await chat.find_posted(target, row.key)
        if refs:
            log.info("job %s had posted before a restart; not posting again", row.key)
    if not refs:
        await core.storage.mark_posting(row.key, row.claim_token, core.config.job_lease)
        refs = await chat.post(target, delivery, idempotency_key=row.key)
        await core.storage.record_post_result(row.key, refs, row.claim_token)
    await core.storage.finish_job(
        row.key, refs, post_id=post_id, focus_comment_id=focus, thread_posts=thread_posts,
        token=row.claim_token,
    )  # fmt: skip


def typed(core: Core, platform: str, words: str) -> str:
    """A command as a person types it on this platform ("/resume 3", "/redigest resume 3")."""
    chat = core.chats.get(platform)
    return chat.command_text(words) if chat is not None else f"/{words}"


async def tell(core: Core, platform: str, target: Target, text: str) -> None:
    """A best-effort message (a refusal, a failure): logged, never raised."""
    chat = core.chats.get(platform)
    if chat is None:
        log.error("no chat adapter for %s", platform)
        return
    try:
        await chat.post(target, Delivery(text=text))
    except Exception:
        log.exception("could not tell %s: %s", target, text[:100])
