"""What a schedule that cannot be used raises, and how a typed token is quoted back in it."""

from __future__ import annotations

from digest.errors import DigestError


class ScheduleError(DigestError):
    """A schedule a person typed (or we stored) that we cannot use; the message says how to fix it."""


def shown(token: str) -> str:
    """A token as quoted back in a message: one line, not too long."""
    flat = " ".join("".join(ch if ch.isprintable() else " " for ch in token).split())
    if not flat:
        return "(empty)"
    return flat if len(flat) <= 40 else flat[:39] + "…"
