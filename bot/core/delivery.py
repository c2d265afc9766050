"""Posting what a job made, exactly once (even across crashes), and best-effort messages (a
refusal, a failure) that are logged, never raised."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.chat import ChannelTarget, Delivery, MessageRef, Target, ThreadTarget
from bot.storage import JobRow

if TYPE_CHECKING:
    from bot.core.facade import Core

log = logging.getLogger(__name__)


def target_for(job: JobRow) -> Target:
    p = job.payload
    if job.kind == "flag":
        parent = MessageRef(p["platform"], p["channel_id"], p["message_id"], p.get("thread_id"))
        return ThreadTarget(parent)
    return ChannelTarget(p["channel_id"], p.get("reply_token") if job.kind == "digest" else None)


async def deliver(
    core: Core, job: JobRow, delivery: Delivery, *, post_id: str | None, focus: str | None,
    thread_posts: Sequence[str],
) -> None:  # fmt: skip
    """Post exactly once: the intent is recorded before posting and what the post created
    right after it; a later attempt reuses that, or looks first. A lookup that cannot be
    made (LookupUnavailable) fails the attempt: it is retried later, never posted blindly."""
    chat = core.chats[job.payload["platform"]]
    target = target_for(job)
    refs: list[MessageRef] | None = job.result if job.post_attempted else None
    if not refs and job.post_attempted:
        refs = await chat.find_posted(target, job.key)
        if refs:
            log.info("job %s had posted before a restart; not posting again", job.key)
    if not refs:
        await core.storage.mark_posting(job.key, job.claim_token)
        refs = await chat.post(target, delivery, idempotency_key=job.key)
        await core.storage.record_post_result(job.key, refs, job.claim_token)
    await core.storage.finish_job(
        job.key, refs, post_id=post_id, focus_comment_id=focus, thread_posts=thread_posts,
        token=job.claim_token,
    )  # fmt: skip


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
