"""What the adapter looks up in Slack for the core: a message's text (`read_message`), whether a
person may manage the bot (`can_manage`), and whether a keyed post is already there after a
crash (`find_posted`, from the metadata each part carries)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from typing import Any

from slack_sdk.errors import SlackApiError

from adapters.slack_chat.config import PLATFORM
from adapters.slack_chat.connection import SlackConnection
from adapters.slack_chat.errors import slack_error
from adapters.slack_chat.events import message_text
from adapters.slack_chat.posting import METADATA_EVENT
from bot.chat import (
    ChannelTarget,
    EphemeralTarget,
    LookupUnavailable,
    MessageRef,
    MessageText,
    Target,
    ThreadTarget,
)
from bot.multipart import MultipartPosts
from bot.ttl_map import TTLMap

log = logging.getLogger(__name__)


class SlackLookups:
    """Reads from Slack on the core's behalf (the ChatPort's lookups)."""

    def __init__(self, conn: SlackConnection, multipart: MultipartPosts) -> None:
        self.conn = conn
        self.config = conn.config
        self.multipart = multipart
        self._admins: TTLMap[str, Any] = TTLMap(conn.config.admin_cache_seconds)

    async def read_message(self, ref: MessageRef) -> MessageText | None:
        """A message's text (links in attachments and blocks included), with the thread it
        sits in; None when it cannot be read."""
        found = await self._read_message(ref.channel_id, ref.message_id)
        if found is None:
            return None
        thread_ts = found.get("thread_ts")
        if thread_ts and thread_ts != ref.message_id:
            ref = replace(ref, thread_id=str(thread_ts))
        return MessageText(ref, message_text(found))

    async def _read_message(self, channel: str, ts: str) -> Mapping[str, Any] | None:
        """The message at `ts`, top-level or a thread reply; None when it cannot be read."""
        try:
            history = await self.conn.web.conversations_history(
                channel=channel, latest=ts, oldest=ts, inclusive=True, limit=1
            )
            for m in history.get("messages") or ():
                if m.get("ts") == ts:
                    return dict(m)
            cursor: str | None = None
            for _ in range(5):  # a reply: look in its thread
                replies = await self.conn.web.conversations_replies(
                    channel=channel, ts=ts, oldest=ts, inclusive=True, limit=200, cursor=cursor
                )
                for m in replies.get("messages") or ():
                    if m.get("ts") == ts:
                        return dict(m)
                cursor = (replies.get("response_metadata") or {}).get("next_cursor") or None
                if not cursor:
                    break
        except SlackApiError as exc:
            log.info("Slack: cannot read message %s in %s: %s", ts, channel,
                     slack_error(exc))  # fmt: skip
        return None

    async def can_manage(self, user_id: str) -> bool:
        """Workspace admins and owners, and members of the configured user group."""
        cached = self._admins.get(user_id)
        if cached is not None:
            return bool(cached)
        allowed = False
        try:
            info = await self.conn.web.users_info(user=user_id)
            user = info.get("user") or {}
            allowed = not user.get("deleted") and any(
                user.get(k) for k in ("is_admin", "is_owner", "is_primary_owner")
            )
            if not allowed and self.config.admin_group:
                allowed = user_id in await self._group_members(self.config.admin_group)
        except SlackApiError as exc:
            log.warning("Slack: cannot check whether %s may manage the bot: %s", user_id,
                        slack_error(exc))  # fmt: skip
            return False
        self._admins.put(user_id, allowed)
        return allowed

    async def _group_members(self, group: str) -> frozenset[str]:
        key = f"group:{group}"
        cached = self._admins.get(key)
        if cached is not None:
            return frozenset(cached)
        members = frozenset(
            str(u)
            for u in (await self.conn.web.usergroups_users_list(usergroup=group)).get("users") or ()
        )
        self._admins.put(key, members)
        return members

    # ------------------------------------------------------------------ after a crash

    async def find_posted(self, target: Target, idempotency_key: str) -> list[MessageRef] | None:
        """The messages posted with this key (their metadata carries it), or None.

        When only some parts of a multi-message post went out, returns None and remembers the
        parts, so the next `post` with this key sends only the missing ones.
        """
        known = self.multipart.posted(idempotency_key)
        if known:
            return known
        if isinstance(target, EphemeralTarget):
            return None
        try:
            return await self._look_for(target, idempotency_key)
        except SlackApiError as exc:
            error = slack_error(exc)
            if error == "channel_not_found":
                return None  # gone, or private without us: nothing of ours can be there
            if error == "not_in_channel" and await self._join(target):
                try:
                    return await self._look_for(target, idempotency_key)
                except SlackApiError as again:
                    error = slack_error(again)
            log.warning("Slack: cannot look for %s: %s", idempotency_key, error)
            # Not "not posted": with chat:write.public a post can be there while its history
            # cannot be read. The core retries the lookup later instead of posting again.
            raise LookupUnavailable(
                "I can't read this channel's history to check whether the digest was already "
                "posted: invite me with /invite @redigest."
                if error == "not_in_channel"
                else f"I can't check this channel's history right now ({error}); I will try again."
            ) from None

    async def _join(self, target: Target) -> bool:
        """Join a public channel to read its history (needs channels:join); False if not."""
        channel = target.channel_id if isinstance(target, ChannelTarget | EphemeralTarget) else (
            target.parent.channel_id)  # fmt: skip
        try:
            await self.conn.web.conversations_join(channel=channel)
        except SlackApiError as exc:
            log.info("Slack: cannot join %s to look for a post: %s", channel, slack_error(exc))
            return False
        return True

    async def _look_for(self, target: Target, idempotency_key: str) -> list[MessageRef] | None:
        if isinstance(target, EphemeralTarget):
            return None
        found: dict[int, MessageRef] = {}
        parts = 0
        async for m, thread_ts in self._recent_messages(target):
            meta = m.get("metadata") or {}
            payload = meta.get("event_payload") or {}
            if meta.get("event_type") != METADATA_EVENT or payload.get("key") != idempotency_key:
                continue
            if m.get("user") != self.conn.bot_user_id and m.get("bot_id") != self.conn.bot_id:
                continue
            part = int(payload.get("part", 0))
            parts = max(parts, int(payload.get("parts", 1)))
            channel = target.channel_id if isinstance(target, ChannelTarget) else (
                target.parent.channel_id)  # fmt: skip
            found[part] = MessageRef(PLATFORM, channel, str(m["ts"]), thread_ts)
        return self.multipart.settle(idempotency_key, found, parts)

    async def _recent_messages(
        self, target: Target
    ) -> AsyncIterator[tuple[Mapping[str, Any], str | None]]:
        """(message, thread ts) of recent messages where `target` would have posted."""
        cursor: str | None = None
        seen = 0
        while seen < self.config.history_scan:
            if isinstance(target, ThreadTarget):
                root = target.parent.thread_id or target.parent.message_id
                page = await self.conn.web.conversations_replies(
                    channel=target.parent.channel_id, ts=root, include_all_metadata=True,
                    limit=200, cursor=cursor,
                )  # fmt: skip
                thread_ts: str | None = root
            else:
                assert isinstance(target, ChannelTarget)
                page = await self.conn.web.conversations_history(
                    channel=target.channel_id, include_all_metadata=True, limit=200,
                    cursor=cursor,
                )  # fmt: skip
                thread_ts = None
            messages = page.get("messages") or []
            for m in messages:
                if thread_ts is not None and m.get("ts") == thread_ts:
                    continue  # the parent itself
                yield m, thread_ts
            seen += len(messages)
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor or not messages:
                return
