"""Errors the domain raises, each with one sentence a user can act on."""

from __future__ import annotations


class DigestError(Exception):
    """An error whose message is fit to show to the person who caused it."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


class ThreadDataError(DigestError):
    """The input is not a Reddit thread we can read (wrong shape, truncated, not JSON)."""
