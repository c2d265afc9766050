"""Reading a schedule from typed words: `hourly [:MM]`, `daily HH:MM`, `weekly DAY HH:MM`,
`cron "m h dom mon dow"`, each optionally followed by a timezone."""

from __future__ import annotations

import re

from bot.schedule.cron import CRON_EXAMPLE, take_cron
from bot.schedule.errors import ScheduleError, shown
from bot.schedule.model import KINDS, WEEKDAY_NAMES, WEEKDAYS, Schedule
from bot.schedule.timezones import looks_like_timezone, resolve_timezone

_WEEKDAY_ALIASES = {"tues": 1, "weds": 2, "thur": 3, "thurs": 3}
_TIME_HINT = "use HH:MM in 24-hour form"


def parse_time(token: str) -> tuple[int, int] | None:
    """`09:00`, `9:00`, `21:00`, `9am`, `9:30pm`, `noon`, `midnight` → (hour, minute); else None."""
    t = token.strip().lower().replace(".", "")
    named = {"noon": (12, 0), "midnight": (0, 0)}
    if t in named:
        return named[t]
    m = re.fullmatch(r"([0-9]{1,2}):([0-9]{2})", t)
    if m:
        hour, minute = int(m.group(1)), int(m.group(2))
        return (hour, minute) if hour <= 23 and minute <= 59 else None
    m = re.fullmatch(r"([0-9]{1,2})(?::([0-9]{2}))?\s*([ap])m", t)
    if m:
        hour, minute = int(m.group(1)), int(m.group(2) or 0)
        if not 1 <= hour <= 12 or minute > 59:
            return None
        return (hour % 12 + (12 if m.group(3) == "p" else 0), minute)
    return None


def parse_weekday(token: str) -> int | None:
    """`mon`, `Monday`, `mondays`, `Tues`… → 0..6; else None."""
    t = token.strip().lower()
    if t in _WEEKDAY_ALIASES:
        return _WEEKDAY_ALIASES[t]
    for index, name in enumerate(WEEKDAY_NAMES):
        if t in (WEEKDAYS[index], name.lower(), name.lower() + "s"):
            return index
    return None


def parse_schedule(tokens: list[str], default_tz: str) -> tuple[Schedule, list[str]]:
    """Read a schedule from the front of `tokens`; return it and the tokens after it.

    `hourly [:MM]`, `daily HH:MM`, `weekly DAY HH:MM`, `cron "m h dom mon dow"` (quoted or as 5
    tokens), each optionally followed by a timezone (else `default_tz`). "at" before a time is
    allowed ("daily at 9am"), and so is a separate am/pm ("daily 9 am").
    """
    if not tokens:
        raise ScheduleError(
            f"Say when to post: use hourly, daily 09:00, weekly mon 09:00 or {CRON_EXAMPLE}."
        )
    head, rest = tokens[0], list(tokens[1:])
    kind = head.strip().lower()
    if kind not in KINDS:
        raise ScheduleError(
            f"“{shown(head)}” is not a schedule: use hourly, daily 09:00, weekly mon 09:00 or "
            f"{CRON_EXAMPLE}."
        )
    if kind != "cron" and rest and rest[0].strip().lower() == "at":
        rest = rest[1:]
    minute, hour, weekday, expression = 0, None, None, None
    if kind == "hourly":
        if rest and rest[0].strip().startswith(":"):
            m = re.fullmatch(r":([0-9]{1,2})", rest[0].strip())
            if not m or int(m.group(1)) > 59:
                raise ScheduleError(
                    f"“{shown(rest[0])}” is not a minute: use :00 to :59, like hourly :15."
                )
            minute, rest = int(m.group(1)), rest[1:]
    elif kind == "cron":
        expression, rest = take_cron(rest)
    else:
        example = "daily 09:00" if kind == "daily" else "weekly mon 09:00"
        if kind == "weekly":
            if not rest:
                raise ScheduleError(f"“{shown(head)}” needs a day and a time, like {example}.")
            weekday = parse_weekday(rest[0])
            if weekday is None:
                raise ScheduleError(
                    f"“{shown(rest[0])}” is not a day of the week: use mon to sun, like {example}."
                )
            rest = rest[1:]
            if rest and rest[0].strip().lower() == "at":  # "weekly mon at 9am"
                rest = rest[1:]
        if not rest:
            raise ScheduleError(f"“{shown(head)}” needs a time: {_TIME_HINT}, like {example}.")
        typed, used = rest[0], 1
        if len(rest) > 1 and rest[1].strip().lower().replace(".", "") in ("am", "pm"):
            typed, used = typed.strip() + rest[1].strip(), 2
        at = parse_time(typed)
        if at is None:
            raise ScheduleError(f"“{shown(typed)}” is not a time: {_TIME_HINT}, like {example}.")
        (hour, minute), rest = at, rest[used:]
    tz = resolve_timezone(default_tz)
    if rest and looks_like_timezone(rest[0]):
        tz, rest = resolve_timezone(rest[0]), rest[1:]
    schedule = Schedule(kind, minute=minute, hour=hour, weekday=weekday, cron=expression, tz=tz)
    return schedule, rest
