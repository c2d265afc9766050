"""Cron expressions: 5 plain fields (no random or hashed ones), firing at most every 15 minutes;
read from typed tokens, quoted or bare."""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from itertools import pairwise

from croniter import CroniterError, croniter

from bot.schedule.errors import ScheduleError, shown

MIN_CRON_GAP_MINUTES = 15
CRON_EXAMPLE = 'cron "0 */6 * * *"'
# Names cron accepts in the month and weekday fields; any other letter (croniter's random `R`,
# hashed `H`, `L`, `W`) is refused so a schedule means the same thing every time it is read.
_CRON_NAMES = re.compile(
    r"jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|sun|mon|tue|wed|thu|fri|sat", re.IGNORECASE
)
_CRON_FIELD = re.compile(r"[0-9*/,\-]+")


def _is_cron_field(token: str) -> bool:
    return bool(_CRON_FIELD.fullmatch(_CRON_NAMES.sub("0", token))) and len(token) <= 60


def check_cron(expression: str, as_typed: str) -> None:
    """ScheduleError unless `expression` is 5 plain cron fields firing at most every 15 minutes."""
    example = f"like {CRON_EXAMPLE} (minute hour day month weekday)"
    fields = expression.split(" ")
    if len(fields) != 5 or not all(_is_cron_field(f) for f in fields):
        raise ScheduleError(
            f"“{shown(as_typed)}” is not a cron expression: use 5 fields of digits, *, /, , and -, "
            f"{example}."
        )
    if any(len(number) > 2 for number in re.findall(r"[0-9]+", expression)):
        raise ScheduleError(f"“{shown(as_typed)}” has a number out of range for cron: {example}.")
    try:
        it = croniter(expression, datetime(2026, 1, 1))
        it.get_next(datetime)
        expanded = it.expanded
    except CroniterError as exc:  # croniter's errors (bad field, or a date that never comes)
        reason = "never runs" if "find" in str(exc) else "is not a valid cron expression"
        raise ScheduleError(f"“{shown(as_typed)}” {reason}: {example}.") from None
    minutes = list(range(60)) if expanded[0] == ["*"] else sorted(int(m) for m in expanded[0])
    hours = set(range(24)) if expanded[1] == ["*"] else {int(h) for h in expanded[1]}
    gaps = [b - a for a, b in pairwise(minutes)]
    if any((h + 1) % 24 in hours for h in hours):  # the last minute of an hour to the next hour
        gaps.append(minutes[0] + 60 - minutes[-1])
    if gaps and min(gaps) < MIN_CRON_GAP_MINUTES:
        raise ScheduleError(
            f"“{shown(as_typed)}” runs more often than every {MIN_CRON_GAP_MINUTES} minutes: "
            f"space the runs out, like {CRON_EXAMPLE}."
        )


def take_cron(tokens: list[str]) -> tuple[str, list[str]]:
    """The cron expression at the front of `tokens`: one quoted token or 5 bare ones."""
    quotes = "\"'`“”‘’"
    if tokens and " " in tokens[0].strip():
        typed, rest = tokens[0], tokens[1:]
    else:
        count = 0
        while count < min(5, len(tokens)) and _is_cron_field(tokens[count].strip(quotes)):
            count += 1
        typed, rest = " ".join(tokens[:count]), tokens[count:]
        if count < 5:
            given = f"“{shown(typed)}” is" if typed else "nothing is"
            raise ScheduleError(
                f"A cron schedule needs 5 fields but {given} given: "
                f"use minute hour day month weekday, like {CRON_EXAMPLE}."
            )
    expression = " ".join(typed.strip(quotes + " ").lower().split())
    check_cron(expression, typed)
    return expression, rest


@lru_cache(maxsize=256)
def cron_every_hour(expression: str) -> bool:
    return bool(croniter(expression).expanded[1] == ["*"])
