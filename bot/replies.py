"""What the bot says, decided once for every platform: the failure sentence and the word an
adapter must answer with before it may do anything (Slack's 3-second acknowledgement)."""

from __future__ import annotations

from typing import Final

from bot.chat_links import chat_link_platform
from bot.commands import DigestCmd, PreviewCmd, parse_command

SOMETHING_WENT_WRONG: Final = (
    "Something went wrong on our side; it has been logged. Please try again."
)
READING: Final = "Reading that thread… the digest will be posted here."
READING_CHAT: Final = "Reading that thread… the digest will be posted in it."


def acknowledgement(command: str, text: str) -> str:
    """The text of an acknowledgement sent before the core sees the request: only a digest
    and a preview take long enough to need a word; anything else is answered right after
    ("")."""
    try:
        parsed = parse_command(command, text, default_tz="UTC")
    except Exception:  # an acknowledgement never fails; the core's answer says why
        return ""
    if isinstance(parsed, PreviewCmd):
        return f"Preparing a preview of #{parsed.id}… only you will see it."
    if not isinstance(parsed, DigestCmd):
        return ""
    return READING_CHAT if chat_link_platform(parsed.target) in ("slack", "discord") else READING
