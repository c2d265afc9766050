"""What Slack's refusals mean: the error code, the sentence a user sees, and which refusals a
workspace admin can fix (SlackPostRefused) or point at a bug (logged)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Final

import aiohttp

from bot.chat import PostRefused
from digest.errors import DigestError

if TYPE_CHECKING:
    from slack_sdk.errors import SlackApiError

# Errors after which posting again cannot help: the user is told at once, in one sentence.
_PERMANENT_POST_ERRORS: Final = {
    "not_in_channel": "I can't post in this channel: invite me with /invite @redigest, then try again.",
    "channel_not_found": (
        "I can't see this channel (a private channel or a conversation I'm not in): "
        "invite me with /invite @redigest, then try again."
    ),
    "is_archived": "This channel is archived, so I can't post in it.",
    "restricted_action": "This workspace doesn't let me post in this channel.",
    "restricted_action_read_only_channel": "This channel is read-only, so I can't post in it.",
    "restricted_action_thread_only_channel": "This channel only allows replies in threads.",
    "restricted_action_non_threadable_channel": "This channel doesn't allow threads.",
    "ekm_access_denied": "This workspace's key management doesn't let me post here.",
    "thread_not_found": "The message to answer under is gone, so there is no thread to post in.",
    "message_not_found": "The message to answer under is gone, so there is no thread to post in.",
    "missing_scope": "I'm missing a Slack permission for this; an admin should reinstall the app.",
    "msg_too_long": "The digest came out too long for Slack; this has been logged.",
    "invalid_blocks": "The digest could not be laid out for Slack; this has been logged.",
    "invalid_blocks_format": "The digest could not be laid out for Slack; this has been logged.",
}
_BUG_ERRORS: Final = {"msg_too_long", "invalid_blocks", "invalid_blocks_format", "missing_scope"}


class SlackPostError(DigestError):
    """Slack refused a post for a reason retrying cannot fix; user_message says what to do."""

    def __init__(self, user_message: str, slack_error: str) -> None:
        super().__init__(user_message)
        self.slack_error = slack_error


class SlackPostRefused(SlackPostError, PostRefused):
    """…and a workspace admin can fix it (invite the bot, unarchive the channel)."""


def slack_error(exc: SlackApiError) -> str:
    """Slack's error code (`not_in_channel`), or the HTTP status when the answer was not
    Slack's JSON (a proxy's error page, an outage)."""
    data = exc.response.data
    if isinstance(data, dict) and data.get("error"):
        return str(data["error"])
    return f"HTTP {exc.response.status_code}"


def _connection_reason(exc: BaseException) -> str:
    """Why a connection failed, in a few words (no traceback, no addresses twice)."""
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "its host name does not resolve"
    error = exc.os_error if isinstance(exc, aiohttp.ClientConnectorError) else exc
    if isinstance(error, OSError) and error.errno:
        return os.strerror(error.errno).lower()  # "connection refused", not asyncio's wording
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return type(error).__name__
