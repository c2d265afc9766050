"""Reading a Slack thread for the core (the ChatThreadReader port): conversations.info for the
channel (its name, whether it is private), conversations.replies page by page (cursor) up to the
limit, names from each message's `user_profile` or users.info (looked up once per read), and, for a
private channel's thread asked for elsewhere, conversations.members to say whether the asker is in
it. Slack's refusals become one sentence (ThreadUnreadable): which scope is missing, or that the
bot must be invited. The text is translated only (messages.py); what is kept is the
core's decision."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from slack_sdk.errors import SlackApiError

from adapters.slack_chat.config import PLATFORM
from adapters.slack_chat.connection import SlackConnection
from adapters.slack_chat.errors import slack_error
from adapters.slack_chat.messages import chat_message, mentioned_users, profile_name
from bot.chat_threads import ChatHistory, ChatThreadRef, ThreadUnreadable

log = logging.getLogger(__name__)
PAGE = 200  # messages asked for per conversations.replies call (Slack allows up to 1,000)
MEMBER_PAGES = 50  # conversations.members pages read at most (200 members each)


def _refusal(error: str, place: str, private: bool) -> str | None:
    """What a Slack error means for the asker, in one sentence (None: not theirs to fix)."""
    scope = "groups:history" if private else "channels:history"
    if error == "missing_scope":
        return (
            f"I need the {scope} scope to read threads in {place}; ask an admin to reinstall "
            "the app with it."
        )
    if error == "not_in_channel":
        return (
            f"I'm not in {place}, so I can't read its threads: invite me with /invite @redigest, "
            "then try again."
        )
    if error == "channel_not_found":
        return (
            "I can't see that channel (a private channel I'm not in, or it is gone): invite me "
            "with /invite @redigest, then try again."
        )
    if error in ("thread_not_found", "message_not_found"):
        return "That message is gone (or not in that channel), so there is no thread to digest."
    return None


class SlackThreads:
    """The adapter's thread reader; names are remembered for one read only."""

    def __init__(self, conn: SlackConnection) -> None:
        self.conn = conn

    async def read_thread(self, ref: ChatThreadRef, *, limit: int) -> ChatHistory:
        web = self.conn.web
        place, private, step = "that channel", False, "info"
        try:
            info = (await web.conversations_info(channel=ref.channel_id)).get("channel") or {}
            private = bool(info.get("is_private") or info.get("is_im") or info.get("is_mpim"))
            name = info.get("name")
            place = f"#{name}" if isinstance(name, str) and name else "a direct message"
            raw: list[Mapping[str, Any]] = []
            cursor: str | None = None
            step = "replies"
            while len(raw) < limit:
                page = await web.conversations_replies(
                    channel=ref.channel_id, ts=ref.message_id, limit=min(PAGE, limit - len(raw)),
                    cursor=cursor,
                )  # fmt: skip
                raw.extend(m for m in page.get("messages") or () if isinstance(m, Mapping))
                cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
                if not cursor:
                    break
            step = "members"
            member = await self._is_member(ref) if private and ref.asker_id else None
        except SlackApiError as exc:
            error = slack_error(exc)
            if error == "missing_scope" and step != "replies":
                needed = "groups:read" if private or step == "members" else "channels:read"
                raise ThreadUnreadable(
                    f"I need the {needed} scope to see {place}; ask an admin to reinstall the "
                    "app with it."
                ) from None
            said = _refusal(error, place, private)
            if said is None:
                raise
            log.info("Slack: cannot read thread %s in %s: %s", ref.message_id, ref.channel_id,
                     error)  # fmt: skip
            raise ThreadUnreadable(said) from None
        if not raw:
            raise ThreadUnreadable(_refusal("thread_not_found", place, private) or "")
        names = await self._names(raw)
        messages = [chat_message(m, lambda u: names.get(u, u)) for m in raw[:limit]]
        root, replies = messages[0], tuple(messages[1:])
        count = raw[0].get("reply_count")
        permalink = await self._permalink(ref.channel_id, root.id)
        return ChatHistory(
            ref=ChatThreadRef(PLATFORM, ref.server_id, ref.channel_id, root.id, ref.asker_id),
            place=place,
            private=private,
            permalink=permalink,
            root=root,
            replies=replies,
            complete=cursor is None and len(raw) <= limit,
            asker_is_member=member,
            reply_count=count if isinstance(count, int) else None,
        )

    async def _is_member(self, ref: ChatThreadRef) -> bool:
        cursor: str | None = None
        for _ in range(MEMBER_PAGES):
            page = await self.conn.web.conversations_members(
                channel=ref.channel_id, limit=200, cursor=cursor
            )
            if ref.asker_id in (page.get("members") or ()):
                return True
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return False
        return False  # not found within what was read: treated as not a member

    async def _names(self, raw: list[Mapping[str, Any]]) -> dict[str, str]:
        """Display names of the authors and of the members the text names, each looked up once
        (a message's own `user_profile` spares the call)."""
        names: dict[str, str] = {}
        for m in raw:
            user, own = m.get("user"), profile_name(m)
            if isinstance(user, str) and own and "user_profile" in m:
                names.setdefault(user, own)
        wanted = {str(m["user"]) for m in raw if isinstance(m.get("user"), str)}
        wanted |= mentioned_users(raw)
        slots = asyncio.Semaphore(4)

        async def one(user: str) -> None:
            async with slots:
                try:
                    found = (await self.conn.web.users_info(user=user)).get("user") or {}
                except SlackApiError as exc:
                    log.info("Slack: no name for %s: %s", user, slack_error(exc))
                    return
            profile = found.get("profile") or {}
            for value in (profile.get("display_name"), profile.get("real_name"),
                          found.get("real_name"), found.get("name")):  # fmt: skip
                if isinstance(value, str) and value.strip():
                    names[user] = value.strip()
                    return

        await asyncio.gather(*(one(u) for u in sorted(wanted - names.keys())))
        return names

    async def _permalink(self, channel: str, ts: str) -> str:
        try:
            found = await self.conn.web.chat_getPermalink(channel=channel, message_ts=ts)
            link = found.get("permalink")
            if isinstance(link, str) and link:
                return link
        except SlackApiError as exc:
            log.info("Slack: no permalink for %s in %s: %s", ts, channel, slack_error(exc))
        return f"https://slack.com/app_redirect?channel={channel}&message_ts={ts}"
