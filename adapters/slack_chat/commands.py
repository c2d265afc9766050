"""Slash commands: a command's fields (an HTTP form or a Socket Mode payload) as a Request."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from adapters.slack_chat.config import PLATFORM
from adapters.slack_chat.events import slack_to_plain
from bot.chat import Request


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
