"""What the core says when it refuses or gives up, and how it says a duration."""

from __future__ import annotations

from datetime import timedelta

from digest.errors import DigestError


class UserFacing(DigestError):
    """A refusal or an answer to show the requester (ephemerally)."""


class GaveUp(DigestError):
    def __init__(self) -> None:
        super().__init__(
            "The digest could not be made: it failed several times in a row, so I stopped "
            "trying. Please try again later."
        )


class GaveUpUnsure(DigestError):
    def __init__(self) -> None:
        super().__init__(
            "The digest may or may not have been posted: it was interrupted several times and "
            "I cannot check this channel's history. If it is not here, please ask again."
        )


def ago(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 90:
        return f"{max(seconds, 0)} s"
    if seconds < 5400:
        return f"{seconds // 60} min"
    if seconds < 172_800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86_400} days"


def saved_note(saved_only: bool) -> str:
    """Said after a new subscription or watch when the bot does not read Reddit."""
    if not saved_only:
        return ""
    return (
        " Note: this bot does not read Reddit (REDIGEST_REDDIT_MODE=saved), so only its saved "
        "threads are available to it."
    )
