"""Discord messages as the core's `ChatMessage`s, and what Discord's answers mean for reading a
thread: whether the Message Content intent is missing, and the one sentence a person gets when
the bot cannot read (see `thread_reader.py`, which fetches, and `thread_access.py`: who may see).

Text is kept as written, with mentions turned into names (`<@123>` → `@Ana`, `<#5>` →
`#general`, `<@&7>` → `@mods`) and @everyone / @here broken, so a quote can never ping."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any

from adapters.discord_chat.sdk import discord
from bot.chat_threads import ChatMessage

# What a person can write (and system messages are not): replies and commands included.
SPOKEN = frozenset(
    {
        discord.MessageType.default,
        discord.MessageType.reply,
        discord.MessageType.chat_input_command,
        discord.MessageType.context_menu_command,
    }
)
ZWSP = "\u200b"

NO_CONTENT = (
    "I need the Message Content intent to read other people's messages in a thread: turn on "
    "“Message Content Intent” under Bot → Privileged Gateway Intents at "
    "https://discord.com/developers/applications, then try again."
)
UNKNOWN_CHANNEL = (
    "That channel or thread does not exist (any more), or it is in a server I am not in: check "
    "the link, or invite me to that server."
)
UNKNOWN_MESSAGE = "That message does not exist (any more): check the link, or pick another one."
OTHER_SERVER = "That link's channel is not in the server the link names: copy the link again."
NOT_TEXT = "That link does not point to a message in a text channel or a thread."


def no_access(place: str | None) -> str:
    """The sentence for 403 Missing Access / Missing Permissions."""
    where = place or "that channel"
    return (
        f"I cannot see {where}: give my role View Channel and Read Message History there "
        "(for a private thread, add me to it), then try again."
    )


def no_history(place: str) -> str:
    """History reads back empty although the thread has messages: the permission is missing."""
    return f"I cannot read the messages in {place}: give my role Read Message History there."


def place_of(channel: object) -> str:
    """Where a thread lives, for people: "#name", or "a direct message"."""
    if isinstance(channel, discord.DMChannel | discord.GroupChannel):
        return "a direct message"
    name = getattr(channel, "name", None)
    return f"#{name}" if name else "that channel"


def is_spoken(message: discord.Message) -> bool:
    return message.type in SPOKEN


def from_bot(message: discord.Message, me_id: int | None) -> bool:
    return bool(message.author.bot or message.webhook_id is not None or message.author.id == me_id)


def looks_blanked(message: discord.Message) -> bool:
    """A message that carries nothing at all: Discord sends others' messages like this to an
    app without the Message Content intent (a real message always has text, a file, an
    embed, a sticker, a poll or a forwarded message)."""
    return not (
        message.content
        or message.attachments
        or message.embeds
        or message.stickers
        or message.components
        or getattr(message, "poll", None)
        or getattr(message, "message_snapshots", None)
    )


def content_withheld(messages: Iterable[discord.Message], me_id: int | None) -> bool:
    """True when every message the intent governs (in a server, someone else's, not
    mentioning the bot) came back empty, and there was at least one: the Message Content
    intent is missing. (Direct messages always come with their content.)"""
    governed = [
        m for m in messages if m.author.id != me_id and not any(u.id == me_id for u in m.mentions)
    ]
    return bool(governed) and all(looks_blanked(m) for m in governed)


_MENTION = re.compile(r"<(@[!&]?|#)(\d{15,20})>")
_EMOJI = re.compile(r"<a?:(\w{1,32}):\d{15,20}>")
_SLASH = re.compile(r"</([-_\w ]{1,100}):\d{15,20}>")
_TIME = re.compile(r"<t:(-?\d{1,13})(?::[tTdDfFR])?>")
_PING = re.compile(r"@(everyone|here)\b")


def _when(match: re.Match[str]) -> str:
    try:
        moment = dt.datetime.fromtimestamp(int(match[1]), tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        return match[0]
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def clean_text(
    content: str,
    *,
    users: Mapping[int, str],
    roles: Mapping[int, str],
    channels: Mapping[int, str],
) -> str:
    """`content` with mentions as names (from the given id → name maps), custom emoji as
    `:name:`, command mentions as `/name`, timestamps as UTC, and @everyone/@here broken."""

    def mention(match: re.Match[str]) -> str:
        kind, ident = match[1], int(match[2])
        if kind == "#":
            return f"#{channels.get(ident, 'channel')}"
        if kind == "@&":
            return f"@{roles.get(ident, 'role')}"
        return f"@{users.get(ident, 'someone')}"

    text = _MENTION.sub(mention, content)
    text = _EMOJI.sub(r":\1:", text)
    text = _SLASH.sub(r"/\1", text)
    text = _TIME.sub(_when, text)
    return _PING.sub(lambda m: f"@{ZWSP}{m[1]}", text)


def display_name(user: discord.abc.User) -> str:
    """The name people see: the server nickname when known, else the global display name,
    else the username."""
    return user.display_name or user.name


def to_chat_message(
    message: discord.Message,
    *,
    me_id: int | None,
    inside: set[int],
    roles: Mapping[int, str],
    channels: Mapping[int, str],
) -> ChatMessage:
    """One message as the core sees it. `inside`: the ids of the thread's messages after the
    first, so `reply_to` names only a message of the thread (an answer to the first message,
    or to anything outside, is None)."""
    users = {u.id: display_name(u) for u in message.mentions}
    ref = message.reference
    reply_to = ref.message_id if ref is not None and ref.message_id in inside else None
    return ChatMessage(
        id=str(message.id),
        author_id=str(message.author.id),
        author_name=display_name(message.author),
        text=clean_text(message.content, users=users, roles=roles, channels=channels),
        created=message.created_at.astimezone(dt.UTC),
        reply_to=str(reply_to) if reply_to is not None else None,
        reactions=sum(r.count for r in message.reactions),
        from_bot=from_bot(message, me_id),
        edited=message.edited_at.astimezone(dt.UTC) if message.edited_at else None,
    )


def names_of(items: Iterable[Any]) -> dict[int, str]:
    """`{id: name}` for roles or channels (anything with `id` and `name`)."""
    return {int(i.id): str(i.name) for i in items if getattr(i, "name", None)}
