"""What the bot is doing now, for a person waiting at a terminal: the port the Reddit sources and
the digest's call site report to, and the one in force for the running task.

The core owns the port; whoever shows it (the CLI, on a terminal, with rich: bot/terminal.py)
installs one with `reporting(...)` around the work. Everything else reports to `current()`,
which is a no-op unless someone installed a reporter, so the bot's workers, the tests and a
`redigest digest` into a pipe stay silent and pay nothing. A context variable carries it: each
asyncio task started inside `reporting` sees the same reporter, other tasks see none.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol

from digest.text import plural


class Progress(Protocol):
    """Where work in progress is told. Never raises; never blocks."""

    def step(self, text: str) -> None:
        """A new stage begins ("Fetching the thread from Reddit…"); its time counts from now."""
        ...

    def update(self, text: str) -> None:
        """The current stage moved on ("…: 3 requests, 412 comments so far")."""
        ...


class NoProgress:
    """Tells nobody: the default."""

    def step(self, text: str) -> None:
        return None

    def update(self, text: str) -> None:
        return None


_NOBODY = NoProgress()
_current: ContextVar[Progress] = ContextVar("redigest_progress", default=_NOBODY)


def current() -> Progress:
    """The reporter in force for this task (a no-op unless one was installed)."""
    return _current.get()


@contextmanager
def reporting(progress: Progress) -> Iterator[Progress]:
    """Report to `progress` within this block (and the tasks it starts)."""
    token = _current.set(progress)
    try:
        yield progress
    finally:
        _current.reset(token)


def analysing_line(analyzer: str, comments: int) -> str:
    """The stage after the fetch: an LLM is waited for, the offline analyser just works."""
    if analyzer == "offline":
        return f"Analysing {plural(comments, 'comment')} (offline)…"
    return f"Waiting for the model ({analyzer}) to analyse {plural(comments, 'comment')}…"
