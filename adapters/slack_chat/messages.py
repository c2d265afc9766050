"""Slack messages (as `conversations.replies` returns them) as the core's ChatMessages, for the
thread reader (threads.py): pure translation.

Text is what a person reads: `<@U1>` becomes the member's display name (no "@": a name, never a
ping), `<#C1|general>` → #general, `<!here>` → @here (the renderers defuse broadcasts), a link
`<url|label>` → `label (url)` or the URL, entities decoded. A bot's message (`bot_id`, subtype
`bot_message`) is flagged `from_bot`; reactions are summed over every emoji.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from bot.chat_threads import ChatMessage

_SLACK_LINK = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")


def slack_time(ts: str) -> datetime:
    try:
        return datetime.fromtimestamp(float(ts), UTC)
    except (TypeError, ValueError, OverflowError):
        return datetime.fromtimestamp(0, UTC)


def readable_text(text: str, name_of: Callable[[str], str]) -> str:
    """Slack's encoded text as people read it, with members named (see the module's doc)."""

    def one(m: re.Match[str]) -> str:
        target, label = m.group(1), m.group(2)
        if target.startswith("@"):
            return name_of(target[1:]) if not label else label.lstrip("@")
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            return "@" + (label or target[1:].split("^", 1)[0]).lstrip("@")
        if label and label != target:
            return f"{label} ({target})"
        return target

    decoded = _SLACK_LINK.sub(one, text)
    return decoded.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def mentioned_users(messages: list[Mapping[str, Any]]) -> set[str]:
    """Member ids named in these messages' text (`<@U1>`), to look up once."""
    found: set[str] = set()
    for m in messages:
        for target in re.findall(r"<@([A-Z0-9]+)(?:\|[^<>]*)?>", str(m.get("text") or "")):
            found.add(target)
    return found


def profile_name(message: Mapping[str, Any]) -> str | None:
    """The name a message carries itself (`user_profile`, a bot's `username`), if any."""
    profile = message.get("user_profile")
    if isinstance(profile, Mapping):
        for key in ("display_name", "real_name", "name"):
            value = profile.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
    username = message.get("username")
    return username.strip() if isinstance(username, str) and username.strip() else None


def chat_message(message: Mapping[str, Any], name_of: Callable[[str], str]) -> ChatMessage:
    """One Slack message of a thread (`name_of`: a member's display name by id)."""
    ts = str(message.get("ts") or "")
    user = str(message.get("user") or message.get("bot_id") or "")
    name = profile_name(message) or (name_of(user) if message.get("user") else "")
    reactions = 0
    for r in message.get("reactions") or ():
        if isinstance(r, Mapping):
            count = r.get("count")
            reactions += count if isinstance(count, int) and count > 0 else 0
    edited = message.get("edited")
    edited_at = slack_time(str(edited.get("ts"))) if isinstance(edited, Mapping) else None
    return ChatMessage(
        id=ts,
        author_id=user,
        author_name=name or "an app",
        text=readable_text(str(message.get("text") or ""), name_of),
        created=slack_time(ts),
        reply_to=None,  # a Slack thread is flat: every reply answers the first message
        reactions=reactions,
        from_bot=bool(message.get("bot_id")) or message.get("subtype") == "bot_message",
        edited=edited_at,
    )
