"""What a schedule is: a frozen `Schedule`, valid by construction, that says when it runs
(runs.py computes it), how people read it, and how it is stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from bot.schedule import runs
from bot.schedule.cron import check_cron
from bot.schedule.errors import ScheduleError, shown
from bot.schedule.timezones import canonical_timezone, resolve_timezone

ScheduleKind = Literal["hourly", "daily", "weekly", "cron"]

KINDS: tuple[ScheduleKind, ...] = ("hourly", "daily", "weekly", "cron")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a subscription runs. Valid by construction: __post_init__ refuses inconsistent fields.

    hourly: `minute`; daily: `hour`, `minute`; weekly: also `weekday` (0 = Monday);
    cron: `cron` (5 fields, normalised: lower case, single spaces), `minute` 0 and `hour` None.
    """

    kind: ScheduleKind
    minute: int = 0
    hour: int | None = None
    weekday: int | None = None
    cron: str | None = None
    tz: str = "UTC"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ScheduleError(
                f"Unknown schedule kind “{self.kind}”: use one of {', '.join(KINDS)}."
            )
        resolve_timezone(self.tz)
        if self.tz != canonical_timezone(self.tz):
            raise ScheduleError(
                f"Write the timezone as {canonical_timezone(self.tz)}, not {self.tz}."
            )
        if not 0 <= self.minute <= 59 or (self.kind == "cron" and self.minute != 0):
            raise ScheduleError(f"“{self.minute}” is not a minute of a {self.kind} schedule.")
        needs_hour = self.kind in ("daily", "weekly")
        if needs_hour != (self.hour is not None) or not 0 <= (self.hour or 0) <= 23:
            raise ScheduleError(
                f"A {self.kind} schedule needs {'an' if needs_hour else 'no'} hour."
            )
        is_weekly = self.kind == "weekly"
        if is_weekly != (self.weekday is not None) or not 0 <= (self.weekday or 0) <= 6:
            raise ScheduleError(
                f"A {self.kind} schedule needs {'a' if is_weekly else 'no'} weekday."
            )
        if (self.kind == "cron") != (self.cron is not None):
            raise ScheduleError(f"Only a cron schedule has a cron expression, not {self.kind}.")
        if self.cron is not None:
            check_cron(self.cron, self.cron)

    # ------------------------------------------------------------------ when (runs.py)

    def next_after(self, after: datetime) -> datetime:
        """The first run strictly after `after` (aware), as an aware UTC datetime."""
        return runs.next_after(self, after)

    def last_at_or_before(self, t: datetime) -> datetime | None:
        """The most recent run at or before `t` (aware), as aware UTC; None if there is none."""
        return runs.last_at_or_before(self, t)

    def period(self) -> runs.Period:
        """The smallest listing period ("top of the …") that covers the usual gap between runs."""
        return runs.period(self)

    # ------------------------------------------------------------------ text

    def describe(self) -> str:
        """For people: "daily at 09:00 (Europe/Berlin)"."""
        if self.kind == "hourly":
            return f"every hour at :{self.minute:02d} ({self.tz})"
        if self.kind == "daily":
            return f"daily at {self.hour:02d}:{self.minute:02d} ({self.tz})"
        if self.kind == "weekly":
            assert self.weekday is not None
            day = WEEKDAY_NAMES[self.weekday]
            return f"{day}s at {self.hour:02d}:{self.minute:02d} ({self.tz})"
        return f"cron `{self.cron}` ({self.tz})"

    def to_text(self) -> str:
        """For storage: a compact form that is also valid command syntax ("daily 09:00 UTC")."""
        if self.kind == "hourly":
            return f"hourly :{self.minute:02d} {self.tz}"
        if self.kind == "daily":
            return f"daily {self.hour:02d}:{self.minute:02d} {self.tz}"
        if self.kind == "weekly":
            assert self.weekday is not None
            return f"weekly {WEEKDAYS[self.weekday]} {self.hour:02d}:{self.minute:02d} {self.tz}"
        return f"cron {self.cron} {self.tz}"

    @classmethod
    def from_text(cls, text: str) -> Schedule:
        """The inverse of to_text; ScheduleError for anything to_text would not have written."""
        # The parser builds Schedules, so it is imported here, not at the top (a cycle).
        from bot.schedule.parsing import parse_schedule

        damaged = ScheduleError(f"The stored schedule “{shown(text)}” is damaged: subscribe again.")
        try:
            schedule, rest = parse_schedule(text.split(" "), default_tz="UTC")
        except ScheduleError:
            raise damaged from None
        if rest or schedule.to_text() != text:
            raise damaged
        return schedule
