"""A chat's own threads as a source (issue 18, scope 2): the port a chat adapter implements to
let the core read a Slack or Discord thread, and the values that cross it.

The adapter only translates: it reads the messages the platform lets the bot read and returns
them as they are (bots included, flagged); what is kept, how it becomes a `digest.model.Thread`
and where the digest may go are the core's decisions. A thread the bot may not read raises
`ThreadUnreadable` with one sentence for the asker (which scope or intent is missing, or that the
bot is not in that channel).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from digest.errors import DigestError


@dataclass(frozen=True, slots=True)
class ChatThreadRef:
    """A message a person pointed at (a link, a menu on a message): the thread is the one it
    starts or sits in. `platform`: "slack", "discord", "console"; `server_id`: the workspace or
    guild ("" when the link does not say); `channel_id`: the channel (on Discord, the thread's
    own channel when the message sits in one); `message_id`: Slack's ts, Discord's snowflake.
    `asker_id`: the person who asked ("" when nobody did): for a private channel's thread the
    reader says whether they are a member of it (`ChatHistory.asker_is_member`)."""

    platform: str
    server_id: str
    channel_id: str
    message_id: str
    asker_id: str = ""


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of a thread, as the platform gave it. `text` is plain text with mentions
    written as names (never as pings); `reply_to` is the message it answers inside the thread
    (None: an answer to the thread's first message); `reactions` counts every reaction on it."""

    id: str
    author_id: str
    author_name: str
    text: str
    created: datetime  # UTC
    reply_to: str | None = None
    reactions: int = 0
    from_bot: bool = False
    edited: datetime | None = None


@dataclass(frozen=True, slots=True)
class ChatHistory:
    """A thread as read. `place`: where it lives, for humans ("#general"); `private`: a private
    channel, a private thread or a direct message, whose text must never be posted elsewhere;
    `permalink`: a link to the first message; `complete`: False when the reading limit stopped
    before the end (the report says what it covered)."""

    ref: ChatThreadRef
    place: str
    private: bool
    permalink: str
    root: ChatMessage
    replies: tuple[ChatMessage, ...]
    complete: bool = True
    # Where replies go: the root message's reference as the platform needs it to answer in the
    # thread (Discord: the thread channel's id when the thread is a channel of its own).
    thread_channel_id: str | None = None
    # Whether `ref.asker_id` is a member of the thread's channel: True or False when the reader
    # checked (a private channel's thread), None when it did not. The core posts a private
    # thread's digest only in it, and only for a member.
    asker_is_member: bool | None = None
    # How many replies the platform says the thread has (Slack's reply_count), when it says; more
    # than were read when the reading limit stopped early.
    reply_count: int | None = None


class ThreadUnreadable(DigestError):
    """The bot may not (or cannot) read this thread; `str(error)` is one sentence for the asker
    saying why and what would fix it (the scope, the intent, inviting the bot)."""


@runtime_checkable
class ChatThreadReader(Protocol):
    """Implemented by chat adapters that can read their own threads."""

    platform: str

    async def read_thread(self, ref: ChatThreadRef, *, limit: int) -> ChatHistory:
        """The thread `ref` starts or sits in, up to `limit` messages (the first one and the
        earliest replies first). Raises `ThreadUnreadable` when the bot may not read it."""
        ...
