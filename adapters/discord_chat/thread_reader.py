"""Reading a Discord thread for the core (`bot.chat_threads.ChatThreadReader`), through the REST
API only, so a post-only worker (no gateway, no cache) reads as well as the gateway process.

Which messages make "the thread" of a message someone pointed at (a link, the message menu):

* a message **in a thread channel** (public, private, a forum post): the whole thread, its
  first message being the one it was opened on (fetched from the parent channel, where it
  lives) or, for a thread opened on its own, the thread's first message;
* a message **a thread was opened on**: that thread, the message first;
* any **other message** of a channel (or a direct message): its reply chain. Replies are
  followed up to the message that started the chain (at most MAX_HOPS), then the channel's
  next SCAN_LIMIT messages are read for the replies to it and to its replies.

Messages are returned as Discord gives them, bots' included (flagged), system messages
(joins, pins, "started a thread") left out, oldest first. Up to `limit` messages in all;
`complete` says whether that was all of them. Privacy: a private thread, a direct message
or a channel the server's @everyone role cannot view is private; when that cannot be told
(the server's roles unreadable), it is private too; for a private one, whether the asker may
read it is said as well (`thread_access.py`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from adapters.discord_chat.channels import Channels
from adapters.discord_chat.client import BotClient
from adapters.discord_chat.config import PLATFORM
from adapters.discord_chat.sdk import discord
from adapters.discord_chat.thread_access import everyone_sees, may_see
from adapters.discord_chat.thread_messages import (
    NO_CONTENT,
    NOT_TEXT,
    OTHER_SERVER,
    UNKNOWN_CHANNEL,
    UNKNOWN_MESSAGE,
    content_withheld,
    is_spoken,
    names_of,
    no_access,
    no_history,
    place_of,
    to_chat_message,
)
from bot.chat_threads import ChatHistory, ChatThreadRef, ThreadUnreadable

log = logging.getLogger(__name__)

SCAN_LIMIT = 1000  # channel messages read, after a reply chain's first message, for its replies
MAX_HOPS = 50  # replies followed back to the first message of a reply chain
UNKNOWN_MESSAGE_CODE = 10008
EMPTY_THREAD = "That thread has no messages yet."

Readable = (
    discord.TextChannel
    | discord.VoiceChannel
    | discord.StageChannel
    | discord.DMChannel
    | discord.GroupChannel
)


@dataclass
class _Read:
    """What was read: the first message, the others (oldest first), and where they are."""

    root: discord.Message
    rest: list[discord.Message]
    complete: bool
    root_channel_id: int  # where the first message lives
    thread: discord.Thread | None = None  # the thread channel, when there is one
    home: object = None  # the channel the thread is in (a thread's parent), as fetched


async def _spoken(
    messages: AsyncIterator[discord.Message], want: int, keep: set[int] | None = None
) -> tuple[list[discord.Message], bool]:
    """Up to `want` messages people wrote from `messages` (with `keep`: only replies to a
    message whose id is in it, which grows with each one kept), and whether there was more."""
    found: list[discord.Message] = []
    try:
        async for message in messages:
            if not is_spoken(message):
                continue
            if keep is not None:
                ref = message.reference
                if ref is None or ref.message_id not in keep or _is_forward(ref):
                    continue
                keep.add(message.id)
            if len(found) >= want:
                return found, True
            found.append(message)
        return found, False
    finally:  # stopped early: close the history now, not whenever it is collected
        close = getattr(messages, "aclose", None)
        if close is not None:
            await close()


class _Counted:
    """An async iterator of messages that counts what went through it."""

    def __init__(self, messages: AsyncIterator[discord.Message]) -> None:
        self.messages = messages
        self.count = 0

    def __aiter__(self) -> _Counted:
        return self

    async def __anext__(self) -> discord.Message:
        message = await anext(self.messages)
        self.count += 1
        return message

    async def aclose(self) -> None:
        close = getattr(self.messages, "aclose", None)
        if close is not None:
            await close()


def _is_forward(ref: discord.MessageReference) -> bool:
    """A forwarded message refers to another, but answers nothing."""
    return ref.type is discord.MessageReferenceType.forward


class DiscordThreadReader:
    """Reads threads on the core's behalf (the `ChatThreadReader` of `DiscordChat`)."""

    platform = PLATFORM

    def __init__(self, client: BotClient, channels: Channels) -> None:
        self.client = client
        self.channels = channels

    async def read_thread(self, ref: ChatThreadRef, *, limit: int) -> ChatHistory:
        """The thread `ref` starts or sits in (see the module doc); raises ThreadUnreadable
        with one sentence when Discord will not let the bot read it."""
        place: str | None = None
        try:
            channel_id, message_id = int(ref.channel_id), int(ref.message_id)
        except ValueError:
            raise ThreadUnreadable(UNKNOWN_MESSAGE) from None
        try:
            channel = await self.channels.get(channel_id)
            place = place_of(channel)
            guild = getattr(channel, "guild", None)
            if guild is not None and ref.server_id not in ("", "@me", str(guild.id)):
                raise ThreadUnreadable(OTHER_SERVER)
            if isinstance(channel, discord.Thread):
                read = await self._thread_channel(channel, max(limit, 1))
            elif isinstance(channel, Readable):
                read = await self._from_message(channel, message_id, max(limit, 1))
            else:
                raise ThreadUnreadable(NOT_TEXT)
            if read.thread is not None:
                place = place_of(read.thread)
            return await self._history(ref, channel, read, place)
        except discord.Forbidden as exc:
            log.info("cannot read thread %s: %s", ref, exc)
            raise ThreadUnreadable(no_access(place)) from None
        except discord.NotFound as exc:
            log.info("cannot read thread %s: %s", ref, exc)
            gone = UNKNOWN_MESSAGE if exc.code == UNKNOWN_MESSAGE_CODE else UNKNOWN_CHANNEL
            raise ThreadUnreadable(gone) from None

    # ------------------------------------------------------------------ finding the thread

    async def _thread_channel(self, thread: discord.Thread, limit: int) -> _Read:
        """A thread channel: its first message (on the parent channel) and its messages."""
        parent = await self._parent(thread)
        starter: discord.Message | None = None
        if isinstance(parent, discord.TextChannel):  # a thread opened on a message has its id
            try:
                starter = await parent.fetch_message(thread.id)
            except (discord.NotFound, discord.Forbidden):
                starter = None
        want = limit - 1 if starter is not None else limit
        messages, more = await _spoken(thread.history(limit=None, oldest_first=True), want)
        if starter is None:
            if not messages:
                if thread.message_count:
                    raise ThreadUnreadable(no_history(place_of(thread)))
                raise ThreadUnreadable(EMPTY_THREAD)
            starter = messages.pop(0)
            return _Read(starter, messages, not more, thread.id, thread, parent)
        return _Read(starter, messages, not more, starter.channel.id, thread, parent)

    async def _from_message(self, channel: Readable, message_id: int, limit: int) -> _Read:
        """A message of a channel: the thread opened on it, else its reply chain."""
        message = await channel.fetch_message(message_id)
        thread = message.thread
        if thread is None and message.flags.has_thread:
            found = await self.channels.get(message.id)
            thread = found if isinstance(found, discord.Thread) else None
        if thread is not None:
            want = max(limit - 1, 0)
            messages, more = await _spoken(thread.history(limit=None, oldest_first=True), want)
            return _Read(message, messages, not more, channel.id, thread, channel)
        root = await self._chain_start(channel, message)
        scanned = _Counted(channel.history(limit=SCAN_LIMIT, after=root, oldest_first=True))
        replies, more = await _spoken(scanned, limit - 1, keep={root.id})
        # Complete when the scan reached the channel's end (it was not cut at SCAN_LIMIT).
        return _Read(
            root, replies, not more and scanned.count < SCAN_LIMIT, channel.id, None, channel
        )

    async def _chain_start(self, channel: Readable, message: discord.Message) -> discord.Message:
        """The message a reply chain started from (following replies back, MAX_HOPS at most;
        a deleted or unreadable message ends the walk)."""
        current = message
        for _ in range(MAX_HOPS):
            ref = current.reference
            if ref is None or ref.message_id is None or _is_forward(ref):
                break
            if ref.channel_id != channel.id:
                break
            resolved = ref.resolved
            if isinstance(resolved, discord.Message):
                current = resolved
                continue
            try:
                current = await channel.fetch_message(ref.message_id)
            except (discord.NotFound, discord.Forbidden):
                break
        return current

    async def _parent(self, thread: discord.Thread) -> object:
        parent = thread.parent
        if parent is None and thread.parent_id:
            try:
                parent = await self.channels.get(thread.parent_id)
            except (discord.NotFound, discord.Forbidden):
                return None
        return parent

    # ------------------------------------------------------------------ what it becomes

    async def _guild(self, guild_id: int) -> discord.Guild | None:
        """The server with its roles (from the cache, else the API); None when unreadable."""
        guild = self.client.get_guild(guild_id)
        if guild is not None and guild.get_role(guild_id) is not None:
            return guild
        try:
            return await self.client.fetch_guild(guild_id, with_counts=False)
        except discord.HTTPException as exc:
            log.info("cannot read server %s's roles: %s", guild_id, exc)
            return None

    async def _history(
        self, ref: ChatThreadRef, channel: object, read: _Read, place: str | None
    ) -> ChatHistory:
        me = self.client.user
        me_id = me.id if me is not None else None
        everything = [read.root, *read.rest]
        in_server = isinstance(channel, discord.Thread | discord.abc.GuildChannel)
        if in_server and content_withheld(everything, me_id):
            raise ThreadUnreadable(NO_CONTENT)
        guild_id = getattr(getattr(channel, "guild", None), "id", None)
        guild = await self._guild(guild_id) if guild_id is not None else None
        thread = read.thread
        home = read.home  # the channel the thread is in
        private = (
            thread is not None and thread.type is discord.ChannelType.private_thread
        ) or not everyone_sees(home, guild)
        member: bool | None = None
        if private and ref.asker_id.isdigit():
            member = await may_see(home, thread, guild, int(ref.asker_id))
        convert = functools.partial(
            to_chat_message,
            me_id=me_id,
            inside={m.id for m in read.rest},
            roles=names_of(guild.roles) if guild is not None else {},
            channels=names_of(c for c in (home, thread) if c is not None),
        )
        server = str(guild_id) if guild_id is not None else ""
        link = (
            f"https://discord.com/channels/{server or '@me'}/{read.root_channel_id}/{read.root.id}"
        )
        counted = thread.message_count if thread is not None else None
        return ChatHistory(
            ref=ChatThreadRef(
                PLATFORM, server, str(read.root_channel_id), str(read.root.id), ref.asker_id
            ),
            place=place or place_of(channel),
            private=private,
            permalink=link,
            root=convert(read.root),
            replies=tuple(convert(m) for m in read.rest),
            complete=read.complete,
            thread_channel_id=str(thread.id) if thread is not None else None,
            asker_is_member=member,
            # Discord's count of a thread's messages (the first one not included), when the
            # reading stopped early: the report says how many there were.
            reply_count=counted if not read.complete and counted else None,
        )
