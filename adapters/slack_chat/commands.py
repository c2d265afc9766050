"""Slash commands: a command's fields (an HTTP form or a Socket Mode payload) as a Request."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from adapters.slack_chat.config import PLATFORM
from adapters.slack_chat.events import slack_to_plain
from bot.chat import Request
from bot.chat_links import slack_permalink


def _command_name(command: str) -> str:
    """`/digest` → digest; any other slash command is redigest's namespace (`/redigest help`),
    so an operator may rename it."""
    name = command.strip().lstrip("/").lower()
    return "digest" if name == "digest" else "redigest"


def request_from_command(
    command: Mapping[str, Any], *, can_manage: bool = False, reply_token: str | None = None
) -> Request:
    """A slash command's fields (HTTP form or Socket Mode payload) → a Request."""
    return Request(
        platform=PLATFORM,
        server_id=str(command.get("team_id") or command.get("enterprise_id") or ""),
        channel_id=str(command.get("channel_id") or ""),
        user_id=str(command.get("user_id") or ""),
        command=_command_name(str(command.get("command") or "")),
        text=slack_to_plain(str(command.get("text") or "")).strip(),
        can_manage=can_manage,
        reply_token=reply_token or str(command.get("trigger_id") or "") or uuid.uuid4().hex,
    )


def digest_command(shortcut: Mapping[str, Any]) -> dict[str, Any]:
    """A "Digest this thread" message shortcut as the slash command it stands for:
    `/digest <the message's permalink>` from the same person, in the same channel (so it meets
    the same checks as a typed one)."""
    message = shortcut.get("message") or {}
    team = shortcut.get("team") or {}
    channel = str((shortcut.get("channel") or {}).get("id") or "")
    ts = str(message.get("ts") or shortcut.get("message_ts") or "")
    thread_ts = message.get("thread_ts")
    link = slack_permalink(str(team.get("domain") or "slack"), channel, ts,
                           str(thread_ts) if thread_ts else None)  # fmt: skip
    return {
        "command": "/digest",
        "text": link,
        "team_id": team.get("id") or team.get("enterprise_id") or "",
        "channel_id": channel,
        "user_id": (shortcut.get("user") or {}).get("id") or "",
        "trigger_id": shortcut.get("trigger_id") or "",
        "response_url": shortcut.get("response_url"),
    }
