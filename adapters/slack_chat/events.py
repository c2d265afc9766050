"""Inbound events: a reaction or a message shortcut as the core's Reaction, and a Slack
message's text as a person would read it (links in attachments and blocks included)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from adapters.slack_chat.config import PLATFORM
from bot.chat import MessageRef, Reaction

_SLACK_LINK = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")


def slack_to_plain(text: str) -> str:
    """Slack's encoded text as a person typed it: `<url|label>` → url, `<@U1|ann>` → @ann,
    `<#C1|general>` → #general, `<!here>` → @here; entities decoded."""

    def one(m: re.Match[str]) -> str:
        target, label = m.group(1), m.group(2)
        if target.startswith("@"):
            return "@" + (label or target[1:])
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            return "@" + (label or target[1:].split("^", 1)[0])
        return target  # a link: the URL itself, which is what a thread reference needs

    decoded = _SLACK_LINK.sub(one, text)
    return decoded.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def message_text(message: Mapping[str, Any]) -> str:
    """A Slack message's text plus the links in its attachments, rich-text blocks and section
    texts (a bundle's threads, when the core must go by its links)."""
    parts = [slack_to_plain(str(message.get("text") or ""))]
    for attachment in message.get("attachments") or ():
        if isinstance(attachment, Mapping):
            for key in ("original_url", "from_url", "title_link"):
                if isinstance(attachment.get(key), str):
                    parts.append(attachment[key])

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            if node.get("type") == "link" and isinstance(node.get("url"), str):
                parts.append(node["url"])
            elif node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
                parts.append(slack_to_plain(node["text"]))  # a section's text (a bot's post)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(message.get("blocks") or [])
    return "\n".join(p for p in parts if p)


def _base_emoji(name: str) -> str:
    return name.split("::", 1)[0]  # "thumbsup::skin-tone-2" → "thumbsup"


def reaction_from_event(body: Mapping[str, Any], *, bot_user_id: str | None) -> Reaction | None:
    """An Events API `reaction_added` body → a Reaction (None for anything but a message)."""
    event = body.get("event") or {}
    item = event.get("item") or {}
    if event.get("type") != "reaction_added" or item.get("type") != "message":
        return None
    user = str(event.get("user") or "")
    return Reaction(
        message=MessageRef(PLATFORM, str(item.get("channel") or ""), str(item.get("ts") or "")),
        emoji=_base_emoji(str(event.get("reaction") or "")),
        user_id=user,
        server_id=str(body.get("team_id") or body.get("enterprise_id") or ""),
        by_bot=bool(bot_user_id) and user == bot_user_id,
    )


def reaction_from_shortcut(
    payload: Mapping[str, Any], *, emoji: str, bot_user_id: str | None
) -> Reaction:
    """A message shortcut ("Deep analysis") → the Reaction the flag emoji would have been."""
    message = payload.get("message") or {}
    ts = str(message.get("ts") or payload.get("message_ts") or "")
    thread_ts = message.get("thread_ts")
    user = str((payload.get("user") or {}).get("id") or "")
    team = payload.get("team") or {}
    return Reaction(
        message=MessageRef(
            PLATFORM,
            str((payload.get("channel") or {}).get("id") or ""),
            ts,
            str(thread_ts) if thread_ts and thread_ts != ts else None,
        ),
        emoji=emoji,
        user_id=user,
        server_id=str(team.get("id") or team.get("enterprise_id") or ""),
        by_bot=bool(bot_user_id) and user == bot_user_id,
        message_text=message_text(message),
        requested=True,
    )
