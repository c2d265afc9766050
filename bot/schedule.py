"""Recurring schedules: wall-clock times in an IANA timezone, computed and compared in UTC.

A schedule names wall-clock times ("daily at 09:00 in Europe/Berlin"); the scheduler needs UTC
instants. Daylight-saving transitions make that mapping irregular, so the rules are explicit:

* Fixed-time schedules (daily, weekly, and cron expressions with a fixed set of hours) run once per
  matching wall time. A wall time that does not exist (skipped by a spring-forward gap) runs at the
  same distance past the gap, e.g. 02:30 becomes 03:30 (PEP 495 fold=0). A wall time that happens
  twice (fall-back overlap) runs at its first occurrence only.
* Every-hour schedules (hourly, and cron expressions whose hour field is `*`) run at every real
  instant whose wall clock matches: a skipped wall time is simply not there (the hour after the gap
  has its own run) and a repeated wall time runs at both occurrences, so no real hour is skipped or
  doubled.

Runs are the set of these instants, so two wall times that land on the same instant run once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from itertools import pairwise
from statistics import median
from typing import Literal, cast
from zoneinfo import ZoneInfo, available_timezones

from croniter import CroniterError, croniter

from digest.errors import DigestError

ScheduleKind = Literal["hourly", "daily", "weekly", "cron"]
Period = Literal["hour", "day", "week"]

KINDS: tuple[ScheduleKind, ...] = ("hourly", "daily", "weekly", "cron")
MIN_CRON_GAP_MINUTES = 15
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_WEEKDAY_ALIASES = {"tues": 1, "weds": 2, "thur": 3, "thurs": 3}
_CRON_EXAMPLE = 'cron "0 */6 * * *"'
_TIME_HINT = "use HH:MM in 24-hour form"
# Names cron accepts in the month and weekday fields; any other letter (croniter's random `R`,
# hashed `H`, `L`, `W`) is refused so a schedule means the same thing every time it is read.
_CRON_NAMES = re.compile(
    r"jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|sun|mon|tue|wed|thu|fri|sat", re.IGNORECASE
)
_CRON_FIELD = re.compile(r"[0-9*/,\-]+")
# Timezone abbreviations people type that are not tz database names (EST, MST, CET are, oddly).
_ABBREVIATIONS = frozenset(
    "pst pdt edt cdt mdt akst akdt hst cest bst ist jst kst aest aedt acst awst nzst nzdt msk "
    "sast wat eat cat".split()
)


class ScheduleError(DigestError):
    """A schedule a person typed (or we stored) that we cannot use; the message says how to fix it."""


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
            _check_cron(self.cron, self.cron)

    # ------------------------------------------------------------------ when

    def next_after(self, after: datetime) -> datetime:
        """The first run strictly after `after` (aware), as an aware UTC datetime."""
        after = _as_utc(after)
        zone = ZoneInfo(self.tz)
        # A wall time W runs at some instant in [W - max offset, W - min offset] (the gap shift
        # included), so walls up to after + min offset cannot run after `after`, and once we hold
        # a run `best`, walls past best + max offset cannot run before it. Between those bounds
        # DST can reorder runs, so every wall there is looked at.
        low, _ = _offset_bounds(self.tz, after.year)
        best: datetime | None = None
        stop: datetime | None = None
        for wall in self._walls_after(_naive(after) + low):
            if stop is not None and wall > stop:
                break
            for run in self._runs_at(wall, zone):
                if run > after and (best is None or run < best):
                    best = run
                    stop = _naive(best) + _offset_bounds(self.tz, best.year)[1]
        assert best is not None  # the walls run on until a run is found
        return best

    def last_at_or_before(self, t: datetime) -> datetime | None:
        """The most recent run at or before `t` (aware), as aware UTC; None if there is none.

        The mirror image of next_after: walls from t + max offset down, until min offset past.
        """
        t = _as_utc(t)
        zone = ZoneInfo(self.tz)
        _, high = _offset_bounds(self.tz, t.year)
        best: datetime | None = None
        stop: datetime | None = None
        try:
            for wall in self._walls_at_or_before(_naive(t) + high):
                if stop is not None and wall < stop:
                    break
                for run in self._runs_at(wall, zone):
                    if run <= t and (best is None or run > best):
                        best = run
                        stop = _naive(best) + _offset_bounds(self.tz, best.year)[0]
        except (OverflowError, CroniterError):
            pass  # ran off the start of the calendar: nothing earlier
        return best

    def period(self) -> Period:
        """The smallest listing period ("top of the …") that covers the usual gap between runs."""
        if self.kind == "hourly":
            return "hour"
        if self.kind == "daily":
            return "day"
        if self.kind == "weekly":
            return "week"
        assert self.cron is not None
        # Wall-clock gaps from a fixed Monday: deterministic, and DST does not change the answer.
        it = croniter(self.cron, datetime(2026, 1, 5))
        runs = [it.get_next(datetime) for _ in range(25)]
        gap = median(b - a for a, b in pairwise(runs))
        if gap <= timedelta(hours=1):
            return "hour"
        if gap <= timedelta(days=1):
            return "day"
        return "week"

    # ------------------------------------------------------------------ text

    def describe(self) -> str:
        """For people: "daily at 09:00 (Europe/Berlin)"."""
        if self.kind == "hourly":
            return f"every hour at :{self.minute:02d} ({self.tz})"
        if self.kind == "daily":
            return f"daily at {self.hour:02d}:{self.minute:02d} ({self.tz})"
        if self.kind == "weekly":
            assert self.weekday is not None
            day = _WEEKDAY_NAMES[self.weekday]
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
        damaged = ScheduleError(
            f"The stored schedule “{_shown(text)}” is damaged: subscribe again."
        )
        try:
            schedule, rest = parse_schedule(text.split(" "), default_tz="UTC")
        except ScheduleError:
            raise damaged from None
        if rest or schedule.to_text() != text:
            raise damaged
        return schedule

    # ------------------------------------------------------------------ internals

    def _every_hour(self) -> bool:
        """Hourly-like schedules follow real hours across DST; fixed times run once a day."""
        return self.kind == "hourly" or (self.cron is not None and _cron_every_hour(self.cron))

    def _runs_at(self, wall: datetime, zone: ZoneInfo) -> tuple[datetime, ...]:
        """The UTC instants one naive wall time stands for, by the DST rules in the module doc."""
        first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
        second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
        if first == second:
            return (first,)
        if first < second:  # repeated wall time (fall back): fold=0 is the first occurrence
            return (first, second) if self._every_hour() else (first,)
        # Skipped wall time (spring forward): fold=0 keeps the old offset, i.e. shifts by the gap.
        return () if self._every_hour() else (first,)

    def _walls_after(self, start: datetime) -> Iterator[datetime]:
        """Matching naive wall times strictly after `start`, ascending, without end."""
        if self.kind == "cron":
            it = croniter(cast(str, self.cron), start)
            while True:
                yield it.get_next(datetime)
        step = _step(self.kind)
        wall = self._wall_near(start)
        while wall <= start:
            wall += step
        while True:
            yield wall
            wall += step

    def _walls_at_or_before(self, start: datetime) -> Iterator[datetime]:
        """Matching naive wall times at or before `start`, descending, without end."""
        if self.kind == "cron":
            it = croniter(cast(str, self.cron), start.replace(second=0, microsecond=0) + _MINUTE)
            while True:
                yield it.get_prev(datetime)
        step = _step(self.kind)
        wall = self._wall_near(start)
        while wall > start:
            wall -= step
        while True:
            yield wall
            wall -= step

    def _wall_near(self, start: datetime) -> datetime:
        """A matching wall time within one step of `start` (either side)."""
        wall = start.replace(minute=self.minute, second=0, microsecond=0)
        if self.hour is not None:
            wall = wall.replace(hour=self.hour)
        if self.weekday is not None:
            wall += timedelta(days=self.weekday - wall.weekday())
        return wall


_MINUTE = timedelta(minutes=1)


@lru_cache(maxsize=256)
def _cron_every_hour(expression: str) -> bool:
    return bool(croniter(expression).expanded[1] == ["*"])


def _step(kind: ScheduleKind) -> timedelta:
    return {"hourly": timedelta(hours=1), "daily": timedelta(days=1)}.get(kind, timedelta(days=7))


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("schedule times must be timezone-aware")
    return moment.astimezone(UTC)


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


@lru_cache(maxsize=512)
def _offset_bounds(tz: str, year: int) -> tuple[timedelta, timedelta]:
    """The smallest and largest UTC offset `tz` uses in the three years around `year`.

    Sampled daily: an offset in force for less than a day would be missed, which the tz database
    does not have in modern times.
    """
    zone = ZoneInfo(tz)
    first = datetime(max(year - 1, 1), 1, 1, tzinfo=UTC)
    last = datetime(min(year + 1, 9999), 12, 31, tzinfo=UTC)
    days = (last - first).days + 1
    offsets = {(first + timedelta(days=d)).astimezone(zone).utcoffset() for d in range(days)}
    known = [o for o in offsets if o is not None]
    return min(known), max(known)


# ---------------------------------------------------------------------- timezones


@cache
def _timezones() -> dict[str, str]:
    """Lower-cased name → canonical name, for every zone this machine's tz database has."""
    # `localtime` is whatever the host is set to and `Factory` is a placeholder: neither is a place.
    names = available_timezones() - {"localtime", "Factory"}
    return {name.lower(): name for name in names}


def canonical_timezone(name: str) -> str | None:
    """The tz database spelling of `name` (any case), or None when there is no such zone."""
    return _timezones().get(name.strip().lower())


def resolve_timezone(name: str) -> str:
    """The canonical IANA name, or ScheduleError with an example."""
    found = canonical_timezone(name)
    if found is None:
        raise ScheduleError(
            f"Unknown timezone “{_shown(name)}”: use an IANA name like Europe/Berlin or UTC."
        )
    return found


def looks_like_timezone(token: str) -> bool:
    """Whether a token was meant as a timezone (so a typo gets a timezone message)."""
    t = token.strip()
    low = t.lower()
    if canonical_timezone(t) is not None or low in _ABBREVIATIONS:
        return True
    if re.fullmatch(r"(?:utc|gmt)[+-][0-9]{1,2}(?::?[0-9]{2})?", low):
        return True
    return bool(
        re.fullmatch(r"[A-Za-z][A-Za-z_+\-]*(?:/[A-Za-z0-9_+\-]+)+", t)
    ) and not low.startswith(("r/", "u/"))


# ---------------------------------------------------------------------- parsing


def _shown(token: str) -> str:
    """A token as quoted back in a message: one line, not too long."""
    flat = " ".join("".join(ch if ch.isprintable() else " " for ch in token).split())
    if not flat:
        return "(empty)"
    return flat if len(flat) <= 40 else flat[:39] + "…"


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
    for index, name in enumerate(_WEEKDAY_NAMES):
        if t in (WEEKDAYS[index], name.lower(), name.lower() + "s"):
            return index
    return None


def _is_cron_field(token: str) -> bool:
    return bool(_CRON_FIELD.fullmatch(_CRON_NAMES.sub("0", token))) and len(token) <= 60


def _check_cron(expression: str, as_typed: str) -> None:
    """ScheduleError unless `expression` is 5 plain cron fields firing at most every 15 minutes."""
    example = f"like {_CRON_EXAMPLE} (minute hour day month weekday)"
    fields = expression.split(" ")
    if len(fields) != 5 or not all(_is_cron_field(f) for f in fields):
        raise ScheduleError(
            f"“{_shown(as_typed)}” is not a cron expression: use 5 fields of digits, *, /, , and -, "
            f"{example}."
        )
    if any(len(number) > 2 for number in re.findall(r"[0-9]+", expression)):
        raise ScheduleError(f"“{_shown(as_typed)}” has a number out of range for cron: {example}.")
    try:
        it = croniter(expression, datetime(2026, 1, 1))
        it.get_next(datetime)
        expanded = it.expanded
    except CroniterError as exc:  # croniter's errors (bad field, or a date that never comes)
        reason = "never runs" if "find" in str(exc) else "is not a valid cron expression"
        raise ScheduleError(f"“{_shown(as_typed)}” {reason}: {example}.") from None
    minutes = list(range(60)) if expanded[0] == ["*"] else sorted(int(m) for m in expanded[0])
    hours = set(range(24)) if expanded[1] == ["*"] else {int(h) for h in expanded[1]}
    gaps = [b - a for a, b in pairwise(minutes)]
    if any((h + 1) % 24 in hours for h in hours):  # the last minute of an hour to the next hour
        gaps.append(minutes[0] + 60 - minutes[-1])
    if gaps and min(gaps) < MIN_CRON_GAP_MINUTES:
        raise ScheduleError(
            f"“{_shown(as_typed)}” runs more often than every {MIN_CRON_GAP_MINUTES} minutes: "
            f"space the runs out, like {_CRON_EXAMPLE}."
        )


def _take_cron(tokens: list[str]) -> tuple[str, list[str]]:
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
            shown = f"“{_shown(typed)}” is" if typed else "nothing is"
            raise ScheduleError(
                f"A cron schedule needs 5 fields but {shown} given: "
                f"use minute hour day month weekday, like {_CRON_EXAMPLE}."
            )
    expression = " ".join(typed.strip(quotes + " ").lower().split())
    _check_cron(expression, typed)
    return expression, rest


def parse_schedule(tokens: list[str], default_tz: str) -> tuple[Schedule, list[str]]:
    """Read a schedule from the front of `tokens`; return it and the tokens after it.

    `hourly [:MM]`, `daily HH:MM`, `weekly DAY HH:MM`, `cron "m h dom mon dow"` (quoted or as 5
    tokens), each optionally followed by a timezone (else `default_tz`). "at" before a time is
    allowed ("daily at 9am"), and so is a separate am/pm ("daily 9 am").
    """
    if not tokens:
        raise ScheduleError(
            f"Say when to post: use hourly, daily 09:00, weekly mon 09:00 or {_CRON_EXAMPLE}."
        )
    head, rest = tokens[0], list(tokens[1:])
    kind = head.strip().lower()
    if kind not in KINDS:
        raise ScheduleError(
            f"“{_shown(head)}” is not a schedule: use hourly, daily 09:00, weekly mon 09:00 or "
            f"{_CRON_EXAMPLE}."
        )
    if kind != "cron" and rest and rest[0].strip().lower() == "at":
        rest = rest[1:]
    minute, hour, weekday, expression = 0, None, None, None
    if kind == "hourly":
        if rest and rest[0].strip().startswith(":"):
            m = re.fullmatch(r":([0-9]{1,2})", rest[0].strip())
            if not m or int(m.group(1)) > 59:
                raise ScheduleError(
                    f"“{_shown(rest[0])}” is not a minute: use :00 to :59, like hourly :15."
                )
            minute, rest = int(m.group(1)), rest[1:]
    elif kind == "cron":
        expression, rest = _take_cron(rest)
    else:
        example = "daily 09:00" if kind == "daily" else "weekly mon 09:00"
        if kind == "weekly":
            if not rest:
                raise ScheduleError(f"“{_shown(head)}” needs a day and a time, like {example}.")
            weekday = parse_weekday(rest[0])
            if weekday is None:
                raise ScheduleError(
                    f"“{_shown(rest[0])}” is not a day of the week: use mon to sun, like {example}."
                )
            rest = rest[1:]
            if rest and rest[0].strip().lower() == "at":  # "weekly mon at 9am"
                rest = rest[1:]
        if not rest:
            raise ScheduleError(f"“{_shown(head)}” needs a time: {_TIME_HINT}, like {example}.")
        typed, used = rest[0], 1
        if len(rest) > 1 and rest[1].strip().lower().replace(".", "") in ("am", "pm"):
            typed, used = typed.strip() + rest[1].strip(), 2
        at = parse_time(typed)
        if at is None:
            raise ScheduleError(f"“{_shown(typed)}” is not a time: {_TIME_HINT}, like {example}.")
        (hour, minute), rest = at, rest[used:]
    tz = resolve_timezone(default_tz)
    if rest and looks_like_timezone(rest[0]):
        tz, rest = resolve_timezone(rest[0]), rest[1:]
    schedule = Schedule(kind, minute=minute, hour=hour, weekday=weekday, cron=expression, tz=tz)
    return schedule, rest
