"""When a schedule runs: wall-clock times in an IANA timezone, computed and compared in UTC.

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

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import pairwise
from statistics import median
from typing import TYPE_CHECKING, Literal, cast
from zoneinfo import ZoneInfo

from croniter import CroniterError, croniter

from bot.schedule.cron import cron_every_hour

if TYPE_CHECKING:
    from bot.schedule.model import Schedule, ScheduleKind

Period = Literal["hour", "day", "week"]

_MINUTE = timedelta(minutes=1)


def next_after(schedule: Schedule, after: datetime) -> datetime:
    """The first run strictly after `after` (aware), as an aware UTC datetime."""
    after = _as_utc(after)
    zone = ZoneInfo(schedule.tz)
    # A wall time W runs at some instant in [W - max offset, W - min offset] (the gap shift
    # included), so walls up to after + min offset cannot run after `after`, and once we hold
    # a run `best`, walls past best + max offset cannot run before it. Between those bounds
    # DST can reorder runs, so every wall there is looked at.
    low, _ = _offset_bounds(schedule.tz, after.year)
    best: datetime | None = None
    stop: datetime | None = None
    for wall in _walls_after(schedule, _naive(after) + low):
        if stop is not None and wall > stop:
            break
        for run in _runs_at(schedule, wall, zone):
            if run > after and (best is None or run < best):
                best = run
                stop = _naive(best) + _offset_bounds(schedule.tz, best.year)[1]
    assert best is not None  # the walls run on until a run is found
    return best


def last_at_or_before(schedule: Schedule, t: datetime) -> datetime | None:
    """The most recent run at or before `t` (aware), as aware UTC; None if there is none.

    The mirror image of next_after: walls from t + max offset down, until min offset past.
    """
    t = _as_utc(t)
    zone = ZoneInfo(schedule.tz)
    _, high = _offset_bounds(schedule.tz, t.year)
    best: datetime | None = None
    stop: datetime | None = None
    try:
        for wall in _walls_at_or_before(schedule, _naive(t) + high):
            if stop is not None and wall < stop:
                break
            for run in _runs_at(schedule, wall, zone):
                if run <= t and (best is None or run > best):
                    best = run
                    stop = _naive(best) + _offset_bounds(schedule.tz, best.year)[0]
    except (OverflowError, CroniterError):
        pass  # ran off the start of the calendar: nothing earlier
    return best


def period(schedule: Schedule) -> Period:
    """The smallest listing period ("top of the …") that covers the usual gap between runs."""
    if schedule.kind == "hourly":
        return "hour"
    if schedule.kind == "daily":
        return "day"
    if schedule.kind == "weekly":
        return "week"
    assert schedule.cron is not None
    # Wall-clock gaps from a fixed Monday: deterministic, and DST does not change the answer.
    it = croniter(schedule.cron, datetime(2026, 1, 5))
    runs = [it.get_next(datetime) for _ in range(25)]
    gap = median(b - a for a, b in pairwise(runs))
    if gap <= timedelta(hours=1):
        return "hour"
    if gap <= timedelta(days=1):
        return "day"
    return "week"


def _every_hour(schedule: Schedule) -> bool:
    """Hourly-like schedules follow real hours across DST; fixed times run once a day."""
    return schedule.kind == "hourly" or (
        schedule.cron is not None and cron_every_hour(schedule.cron)
    )


def _runs_at(schedule: Schedule, wall: datetime, zone: ZoneInfo) -> tuple[datetime, ...]:
    """The UTC instants one naive wall time stands for, by the DST rules in the module doc."""
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first == second:
        return (first,)
    if first < second:  # repeated wall time (fall back): fold=0 is the first occurrence
        return (first, second) if _every_hour(schedule) else (first,)
    # Skipped wall time (spring forward): fold=0 keeps the old offset, i.e. shifts by the gap.
    return () if _every_hour(schedule) else (first,)


def _walls_after(schedule: Schedule, start: datetime) -> Iterator[datetime]:
    """Matching naive wall times strictly after `start`, ascending, without end."""
    if schedule.kind == "cron":
        it = croniter(cast(str, schedule.cron), start)
        while True:
            yield it.get_next(datetime)
    step = _step(schedule.kind)
    wall = _wall_near(schedule, start)
    while wall <= start:
        wall += step
    while True:
        yield wall
        wall += step


def _walls_at_or_before(schedule: Schedule, start: datetime) -> Iterator[datetime]:
    """Matching naive wall times at or before `start`, descending, without end."""
    if schedule.kind == "cron":
        it = croniter(cast(str, schedule.cron), start.replace(second=0, microsecond=0) + _MINUTE)
        while True:
            yield it.get_prev(datetime)
    step = _step(schedule.kind)
    wall = _wall_near(schedule, start)
    while wall > start:
        wall -= step
    while True:
        yield wall
        wall -= step


def _wall_near(schedule: Schedule, start: datetime) -> datetime:
    """A matching wall time within one step of `start` (either side)."""
    wall = start.replace(minute=schedule.minute, second=0, microsecond=0)
    if schedule.hour is not None:
        wall = wall.replace(hour=schedule.hour)
    if schedule.weekday is not None:
        wall += timedelta(days=schedule.weekday - wall.weekday())
    return wall


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
