"""Recurring schedules: wall-clock times in an IANA timezone, computed and compared in UTC.

- model.py: `Schedule`, valid by construction; how it reads and how it is stored
- runs.py: when it runs, and the daylight-saving rules that decides by
- parsing.py: reading one from typed words; cron.py: cron expressions; timezones.py: zone names
"""

from __future__ import annotations

from bot.schedule.cron import MIN_CRON_GAP_MINUTES
from bot.schedule.errors import ScheduleError
from bot.schedule.model import KINDS, WEEKDAYS, Schedule, ScheduleKind
from bot.schedule.parsing import parse_schedule, parse_time, parse_weekday
from bot.schedule.runs import Period
from bot.schedule.timezones import canonical_timezone, looks_like_timezone, resolve_timezone

__all__ = [
    "KINDS",
    "MIN_CRON_GAP_MINUTES",
    "WEEKDAYS",
    "Period",
    "Schedule",
    "ScheduleError",
    "ScheduleKind",
    "canonical_timezone",
    "looks_like_timezone",
    "parse_schedule",
    "parse_time",
    "parse_weekday",
    "resolve_timezone",
]
