"""What a parsed command is: one frozen dataclass per command, the limits their values keep to,
and the error a command that cannot be read raises."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TypeAlias

from bot.schedule import Schedule
from digest.errors import DigestError
from digest.report import Depth

THREAD_EXAMPLE = "https://www.reddit.com/r/LocalLLaMA/comments/1lpl656/glm41vthinking/"
TOP_RANGE = (1, 10)
WITHIN_HOURS_RANGE = (1, 168)
FLAG_THRESHOLD_RANGE = (1, 20)
MAX_SPEND_CAP = Decimal(1000)
MAX_SCORE = 10_000_000
MAX_TERMS = 20  # flairs or keywords in one subscription
MAX_TERM_LENGTH = 64


class CommandError(DigestError):
    """A command we cannot read; the message says what to type instead."""


@dataclass(frozen=True, slots=True)
class DigestCmd:
    target: str  # a link or id as typed; resolved later, where the network is
    depth: Depth | None = None  # None: the server's default-depth


@dataclass(frozen=True, slots=True)
class SubscribeCmd:
    subreddits: tuple[str, ...]
    schedule: Schedule
    top: int = 5
    min_score: int | None = None
    flairs: tuple[str, ...] = ()
    exclude_flairs: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    nsfw: bool = False


@dataclass(frozen=True, slots=True)
class WatchCmd:
    subreddit: str
    min_score: int
    within_hours: int = 24


@dataclass(frozen=True, slots=True)
class UnsubscribeCmd:
    id: int


@dataclass(frozen=True, slots=True)
class PauseCmd:
    id: int


@dataclass(frozen=True, slots=True)
class ResumeCmd:
    id: int


@dataclass(frozen=True, slots=True)
class EditCmd:
    """`edit #N …`: only what is given changes (None: unchanged). A new `schedule` keeps the
    subscription's timezone unless `timezone` names one; `timezone` alone moves the same
    schedule to another zone. Term lists replace the old ones; () clears them."""

    id: int
    schedule: Schedule | None = None  # its tz is the parser's default: see `timezone`
    timezone: str | None = None
    top: int | None = None
    min_score: int | None = None
    no_min_score: bool = False
    within_hours: int | None = None  # watches only
    flairs: tuple[str, ...] | None = None
    exclude_flairs: tuple[str, ...] | None = None
    keywords: tuple[str, ...] | None = None
    nsfw: bool | None = None

    @property
    def changes_nothing(self) -> bool:
        return self == EditCmd(self.id)


@dataclass(frozen=True, slots=True)
class PreviewCmd:
    id: int


@dataclass(frozen=True, slots=True)
class SubscriptionsCmd:
    pass


@dataclass(frozen=True, slots=True)
class UsageCmd:
    """The server's LLM usage and its cost (for managers)."""


@dataclass(frozen=True, slots=True)
class SettingsCmd:
    key: str | None = None  # None: show the settings
    value: str | None = None  # normalised (e.g. spend-cap "2.50", timezone "Europe/Berlin")


@dataclass(frozen=True, slots=True)
class HelpCmd:
    topic: str | None = None  # a command name, when help about one was asked for


Command: TypeAlias = (
    DigestCmd
    | SubscribeCmd
    | WatchCmd
    | UnsubscribeCmd
    | PauseCmd
    | ResumeCmd
    | SubscriptionsCmd
    | UsageCmd
    | EditCmd
    | PreviewCmd
    | SettingsCmd
    | HelpCmd
)
