"""Schedules: next and last runs in UTC, DST transitions, text round trips and parse errors."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.schedule import Schedule, ScheduleError, parse_schedule, resolve_timezone
from digest.errors import DigestError

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
# 2026 transitions: Berlin springs forward at 01:00 UTC on 29 March (02:00 → 03:00 local) and
# falls back at 01:00 UTC on 25 October (03:00 → 02:00); New York on 8 March at 07:00 UTC
# (02:00 → 03:00) and on 1 November at 06:00 UTC (02:00 → 01:00).
TRANSITIONS = [
    (BERLIN, datetime(2026, 3, 29, 1, tzinfo=UTC)),
    (BERLIN, datetime(2026, 10, 25, 1, tzinfo=UTC)),
    (NEW_YORK, datetime(2026, 3, 8, 7, tzinfo=UTC)),
    (NEW_YORK, datetime(2026, 11, 1, 6, tzinfo=UTC)),
]
PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def daily(hour: int, minute: int, tz: str = "UTC") -> Schedule:
    return Schedule("daily", minute=minute, hour=hour, tz=tz)


def runs_between(schedule: Schedule, start: datetime, end: datetime) -> list[datetime]:
    """Walk next_after from `start` and keep the runs before `end`."""
    out: list[datetime] = []
    t = start
    while (t := schedule.next_after(t)) < end:
        out.append(t)
    return out


def brute_force_every_hour(minute: int, tz: str, start: datetime, end: datetime) -> list[datetime]:
    """Every real UTC minute in (start, end) whose wall clock in `tz` reads :minute."""
    zone = ZoneInfo(tz)
    out: list[datetime] = []
    t = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while t < end:
        if t.astimezone(zone).minute == minute:
            out.append(t)
        t += timedelta(minutes=1)
    return out


def local(moment: datetime, tz: str) -> str:
    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %z")


# ---------------------------------------------------------------------- next_after per kind


def test_environment_has_tz_data() -> None:
    assert {"UTC", BERLIN, NEW_YORK} <= available_timezones()


@pytest.mark.parametrize(
    ("schedule", "after", "expected"),
    [
        (Schedule("hourly"), utc(2026, 1, 1, 10, 0), utc(2026, 1, 1, 11, 0)),
        (Schedule("hourly", minute=15), utc(2026, 1, 1, 10, 0), utc(2026, 1, 1, 10, 15)),
        (Schedule("hourly", minute=15), utc(2026, 1, 1, 10, 15), utc(2026, 1, 1, 11, 15)),
        (Schedule("hourly", minute=15), utc(2026, 1, 1, 23, 20), utc(2026, 1, 2, 0, 15)),
        (daily(9, 0), utc(2026, 1, 1, 8, 59, 59), utc(2026, 1, 1, 9, 0)),
        (daily(9, 0), utc(2026, 1, 1, 9, 0), utc(2026, 1, 2, 9, 0)),
        (daily(9, 0, BERLIN), utc(2026, 1, 1, 0, 0), utc(2026, 1, 1, 8, 0)),  # CET
        (daily(9, 0, BERLIN), utc(2026, 7, 1, 0, 0), utc(2026, 7, 1, 7, 0)),  # CEST
        (daily(0, 30, NEW_YORK), utc(2026, 12, 31, 12, 0), utc(2027, 1, 1, 5, 30)),
        # 2026-01-01 is a Thursday.
        (Schedule("weekly", minute=30, hour=8, weekday=0), utc(2026, 1, 1), utc(2026, 1, 5, 8, 30)),
        (Schedule("weekly", minute=0, hour=9, weekday=3), utc(2026, 1, 1, 8), utc(2026, 1, 1, 9)),
        (Schedule("weekly", minute=0, hour=9, weekday=3), utc(2026, 1, 1, 9), utc(2026, 1, 8, 9)),
        (
            Schedule("weekly", minute=30, hour=8, weekday=0, tz=NEW_YORK),
            utc(2026, 1, 1),
            utc(2026, 1, 5, 13, 30),
        ),
        (Schedule("cron", cron="0 */6 * * *"), utc(2026, 1, 1, 6, 0), utc(2026, 1, 1, 12, 0)),
        (Schedule("cron", cron="0 9 * * 1-5"), utc(2026, 1, 2, 9, 0), utc(2026, 1, 5, 9, 0)),
        (Schedule("cron", cron="0 9 1 * *", tz=BERLIN), utc(2026, 1, 1, 9), utc(2026, 2, 1, 8)),
        (Schedule("cron", cron="0 0 29 2 *"), utc(2026, 1, 1), utc(2028, 2, 29)),
    ],
)
def test_next_after(schedule: Schedule, after: datetime, expected: datetime) -> None:
    got = schedule.next_after(after)
    assert got == expected
    assert got.tzinfo is UTC


def test_next_after_accepts_any_aware_time_and_refuses_naive() -> None:
    berlin_noon = datetime(2026, 1, 1, 12, 0, tzinfo=ZoneInfo(BERLIN))  # 11:00 UTC
    assert daily(11, 30).next_after(berlin_noon) == utc(2026, 1, 1, 11, 30)
    with pytest.raises(ValueError, match="timezone-aware"):
        daily(9, 0).next_after(datetime(2026, 1, 1))


# ---------------------------------------------------------------------- DST


def test_daily_in_the_spring_gap_runs_once_shifted_by_the_gap() -> None:
    runs = runs_between(daily(2, 30, BERLIN), utc(2026, 3, 27), utc(2026, 4, 1))
    assert [local(r, BERLIN) for r in runs] == [
        "2026-03-27 02:30 +0100",
        "2026-03-28 02:30 +0100",
        "2026-03-29 03:30 +0200",  # 02:30 does not exist that day
        "2026-03-30 02:30 +0200",
        "2026-03-31 02:30 +0200",
    ]
    assert runs[2] == utc(2026, 3, 29, 1, 30)


def test_daily_in_the_autumn_overlap_runs_once_at_the_first_occurrence() -> None:
    runs = runs_between(daily(2, 30, BERLIN), utc(2026, 10, 24), utc(2026, 10, 27))
    assert runs == [utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]
    assert local(runs[1], BERLIN) == "2026-10-25 02:30 +0200"  # CEST: the first 02:30


def test_daily_in_new_york_across_both_transitions() -> None:
    spring = runs_between(daily(2, 30, NEW_YORK), utc(2026, 3, 7), utc(2026, 3, 10))
    assert spring == [utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7, 30), utc(2026, 3, 9, 6, 30)]
    assert local(spring[1], NEW_YORK) == "2026-03-08 03:30 -0400"
    autumn = runs_between(daily(1, 30, NEW_YORK), utc(2026, 10, 31), utc(2026, 11, 3))
    assert autumn == [utc(2026, 10, 31, 5, 30), utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]
    assert local(autumn[1], NEW_YORK) == "2026-11-01 01:30 -0400"  # EDT: the first 01:30


@pytest.mark.parametrize(("tz", "transition"), TRANSITIONS)
@pytest.mark.parametrize("minute", [0, 15, 59])
def test_hourly_never_skips_or_doubles_a_real_hour(
    tz: str, transition: datetime, minute: int
) -> None:
    start, end = transition - timedelta(hours=30), transition + timedelta(hours=30)
    runs = runs_between(Schedule("hourly", minute=minute, tz=tz), start, end)
    assert runs == brute_force_every_hour(minute, tz, start, end)
    assert all(b - a == timedelta(hours=1) for a, b in pairwise(runs))
    assert len(runs) in (59, 60)


@pytest.mark.parametrize(("tz", "transition"), TRANSITIONS)
def test_every_hour_cron_behaves_like_hourly(tz: str, transition: datetime) -> None:
    start, end = transition - timedelta(hours=30), transition + timedelta(hours=30)
    cron = runs_between(Schedule("cron", cron="20 * * * *", tz=tz), start, end)
    assert cron == runs_between(Schedule("hourly", minute=20, tz=tz), start, end)


@pytest.mark.parametrize(("tz", "transition"), TRANSITIONS)
def test_quarter_hourly_cron_is_evenly_spaced_across_transitions(
    tz: str, transition: datetime
) -> None:
    start = transition - timedelta(hours=6)
    runs = runs_between(
        Schedule("cron", cron="*/15 * * * *", tz=tz), start, start + timedelta(hours=12)
    )
    assert len(runs) == 47
    assert all(b - a == timedelta(minutes=15) for a, b in pairwise(runs))


def test_fixed_time_cron_follows_the_daily_rules() -> None:
    for start, end in [(utc(2026, 3, 27), utc(2026, 4, 1)), (utc(2026, 10, 23), utc(2026, 10, 28))]:
        cron = runs_between(Schedule("cron", cron="30 2 * * *", tz=BERLIN), start, end)
        assert cron == runs_between(daily(2, 30, BERLIN), start, end)


def test_cron_with_several_fixed_hours_across_berlin_transitions() -> None:
    schedule = Schedule("cron", cron="30 1-3 * * *", tz=BERLIN)
    spring = runs_between(schedule, utc(2026, 3, 28, 12), utc(2026, 3, 29, 12))
    # 01:30 CET, then 02:30 (missing) and 03:30 are the same instant: it runs once.
    assert [local(r, BERLIN) for r in spring] == [
        "2026-03-29 01:30 +0100",
        "2026-03-29 03:30 +0200",
    ]
    autumn = runs_between(schedule, utc(2026, 10, 24, 12), utc(2026, 10, 25, 12))
    assert [local(r, BERLIN) for r in autumn] == [
        "2026-10-25 01:30 +0200",
        "2026-10-25 02:30 +0200",  # the repeated 02:30 runs at its first occurrence only
        "2026-10-25 03:30 +0100",
    ]


def test_weekly_across_transitions() -> None:
    sunday = Schedule("weekly", minute=30, hour=2, weekday=6, tz=BERLIN)
    assert [local(r, BERLIN) for r in runs_between(sunday, utc(2026, 3, 21), utc(2026, 4, 6))] == [
        "2026-03-22 02:30 +0100",
        "2026-03-29 03:30 +0200",
        "2026-04-05 02:30 +0200",
    ]
    assert runs_between(sunday, utc(2026, 10, 17), utc(2026, 11, 2)) == [
        utc(2026, 10, 18, 0, 30),
        utc(2026, 10, 25, 0, 30),
        utc(2026, 11, 1, 1, 30),
    ]
    ny_sunday = Schedule("weekly", minute=30, hour=1, weekday=6, tz=NEW_YORK)
    assert runs_between(ny_sunday, utc(2026, 10, 24), utc(2026, 11, 9)) == [
        utc(2026, 10, 25, 5, 30),
        utc(2026, 11, 1, 5, 30),  # once, at 01:30 EDT
        utc(2026, 11, 8, 6, 30),
    ]
    ny_spring = Schedule("weekly", minute=30, hour=2, weekday=6, tz=NEW_YORK)
    assert ny_spring.next_after(utc(2026, 3, 2)) == utc(2026, 3, 8, 7, 30)  # 03:30 EDT


def test_half_hour_dst_zone_hourly_matches_brute_force() -> None:
    # Lord Howe shifts by 30 minutes: the local :15 moves by half an hour in UTC.
    tz = "Australia/Lord_Howe"
    start, end = utc(2026, 4, 4, 0), utc(2026, 4, 6, 0)  # DST ends 2026-04-05 02:00 local
    assert runs_between(Schedule("hourly", minute=15, tz=tz), start, end) == (
        brute_force_every_hour(15, tz, start, end)
    )


# ---------------------------------------------------------------------- last_at_or_before

ZONES = [
    "UTC",
    BERLIN,
    NEW_YORK,
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "America/Santiago",
]
CRONS = ["0 */6 * * *", "*/15 * * * *", "30 1-3 * * *", "0 9 * * 1-5", "45 * * * sun", "0 0 1 * *"]


def schedules(zones: list[str] = ZONES) -> st.SearchStrategy[Schedule]:
    tz = st.sampled_from(zones)
    minute, hour = st.integers(0, 59), st.integers(0, 23)
    return st.one_of(
        st.builds(lambda m, z: Schedule("hourly", minute=m, tz=z), minute, tz),
        st.builds(lambda h, m, z: Schedule("daily", minute=m, hour=h, tz=z), hour, minute, tz),
        st.builds(
            lambda d, h, m, z: Schedule("weekly", minute=m, hour=h, weekday=d, tz=z),
            st.integers(0, 6),
            hour,
            minute,
            tz,
        ),
        st.builds(lambda c, z: Schedule("cron", cron=c, tz=z), st.sampled_from(CRONS), tz),
    )


instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)


@PROPS
@given(schedules(), instants)
def test_next_and_last_agree(schedule: Schedule, t: datetime) -> None:
    nxt = schedule.next_after(t)
    assert nxt > t
    assert schedule.last_at_or_before(nxt) == nxt
    # Nothing runs between t and nxt: the last run before nxt is at or before t.
    before = schedule.last_at_or_before(nxt - timedelta(microseconds=1))
    assert before is not None
    assert before <= t
    assert schedule.next_after(before) == nxt


def test_last_at_or_before_finds_the_missed_run() -> None:
    schedule = daily(9, 0, BERLIN)
    # The bot was down from 07:00 to 10:00 UTC on 2 January: the 08:00 UTC run was missed.
    assert schedule.last_at_or_before(utc(2026, 1, 2, 10)) == utc(2026, 1, 2, 8)
    assert schedule.last_at_or_before(utc(2026, 1, 2, 8)) == utc(2026, 1, 2, 8)
    assert schedule.last_at_or_before(utc(2026, 1, 2, 7, 59)) == utc(2026, 1, 1, 8)
    assert Schedule("hourly", minute=15).last_at_or_before(utc(2026, 1, 1, 10, 14)) == utc(
        2026, 1, 1, 9, 15
    )
    weekly = Schedule("weekly", minute=0, hour=9, weekday=0, tz=NEW_YORK)
    assert weekly.last_at_or_before(utc(2026, 1, 1)) == utc(2025, 12, 29, 14)
    cron = Schedule("cron", cron="0 */6 * * *", tz=BERLIN)
    assert cron.last_at_or_before(utc(2026, 1, 1, 12)) == utc(2026, 1, 1, 11)


def test_last_at_or_before_across_the_overlap() -> None:
    hourly = Schedule("hourly", minute=40, tz=NEW_YORK)
    # 06:10 UTC is 01:10 EST, the second 01:10; the first 01:40 (EDT, 05:40 UTC) came before it.
    assert hourly.last_at_or_before(utc(2026, 11, 1, 6, 10)) == utc(2026, 11, 1, 5, 40)
    assert hourly.last_at_or_before(utc(2026, 11, 1, 6, 50)) == utc(2026, 11, 1, 6, 40)
    assert daily(2, 30, BERLIN).last_at_or_before(utc(2026, 3, 29, 2)) == utc(2026, 3, 29, 1, 30)


def test_last_at_or_before_the_start_of_the_calendar_is_none() -> None:
    assert daily(23, 59).last_at_or_before(utc(1, 1, 1, 12)) is None


# ---------------------------------------------------------------------- period and describe


@pytest.mark.parametrize(
    ("schedule", "period"),
    [
        (Schedule("hourly", minute=5), "hour"),
        (daily(9, 0), "day"),
        (Schedule("weekly", minute=0, hour=9, weekday=0), "week"),
        (Schedule("cron", cron="*/15 * * * *"), "hour"),
        (Schedule("cron", cron="0 * * * *"), "hour"),
        (Schedule("cron", cron="0 */6 * * *"), "day"),
        (Schedule("cron", cron="0 9 * * 1-5"), "day"),
        (Schedule("cron", cron="0 9 * * 1,4"), "week"),
        (Schedule("cron", cron="0 9 1 * *"), "week"),
    ],
)
def test_period(schedule: Schedule, period: str) -> None:
    assert schedule.period() == period


@pytest.mark.parametrize(
    ("schedule", "text"),
    [
        (daily(9, 0, BERLIN), "daily at 09:00 (Europe/Berlin)"),
        (Schedule("hourly", minute=15), "every hour at :15 (UTC)"),
        (Schedule("weekly", minute=30, hour=8, weekday=0, tz=NEW_YORK), "Mondays at 08:30 (America/New_York)"),
        (Schedule("cron", cron="0 */6 * * *"), "cron `0 */6 * * *` (UTC)"),
    ],
)  # fmt: skip
def test_describe(schedule: Schedule, text: str) -> None:
    assert schedule.describe() == text


# ---------------------------------------------------------------------- text round trip


@PROPS
@given(schedules(sorted(available_timezones() - {"localtime", "Factory"})))
def test_to_text_round_trips(schedule: Schedule) -> None:
    text = schedule.to_text()
    assert Schedule.from_text(text) == schedule
    assert parse_schedule(text.split(), default_tz="UTC") == (schedule, [])  # valid command syntax


@pytest.mark.parametrize(
    "text",
    ["", "daily", "daily 09:00", "daily 9:00 UTC", "daily 09:00  UTC", "daily 09:00 UTC top 5",
     "daily 09:00 utc", "hourly UTC", "weekly Monday 09:00 UTC", "cron */5 * * * * UTC", "nonsense"],
)  # fmt: skip
def test_from_text_refuses_what_to_text_would_not_write(text: str) -> None:
    with pytest.raises(ScheduleError, match="damaged"):
        Schedule.from_text(text)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kind": "monthly"},
        {"kind": "daily"},  # no hour
        {"kind": "hourly", "hour": 3},
        {"kind": "daily", "hour": 24},
        {"kind": "daily", "hour": 9, "minute": 60},
        {"kind": "weekly", "hour": 9},
        {"kind": "daily", "hour": 9, "weekday": 1},
        {"kind": "weekly", "hour": 9, "weekday": 7},
        {"kind": "cron"},
        {"kind": "cron", "cron": "0 9 * * *", "minute": 5},
        {"kind": "daily", "hour": 9, "cron": "0 9 * * *"},
        {"kind": "cron", "cron": "0  9 * * *"},  # not normalised
        {"kind": "cron", "cron": "* * * * *"},
        {"kind": "hourly", "tz": "Mars/Olympus"},
        {"kind": "hourly", "tz": "europe/berlin"},  # not canonical
        {"kind": "hourly", "tz": "localtime"},
    ],
)
def test_invalid_schedules_cannot_be_built(kwargs: dict[str, object]) -> None:
    with pytest.raises(ScheduleError):
        Schedule(**kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "expected", "rest"),
    [
        ("hourly", Schedule("hourly"), []),
        ("HOURLY :15", Schedule("hourly", minute=15), []),
        ("hourly at :05 top 5", Schedule("hourly", minute=5), ["top", "5"]),
        ("daily 09:00", daily(9, 0), []),
        ("daily 9:05", daily(9, 5), []),
        ("daily 21:00", daily(21, 0), []),
        ("daily 9am", daily(9, 0), []),
        ("daily 9:30PM", daily(21, 30), []),
        ("daily 12am", daily(0, 0), []),
        ("daily 12pm", daily(12, 0), []),
        ("daily 9 am", daily(9, 0), []),
        ("daily noon", daily(12, 0), []),
        ("daily at 07:45 Europe/Berlin nsfw", daily(7, 45, BERLIN), ["nsfw"]),
        ("daily 09:00 europe/berlin", daily(9, 0, BERLIN), []),
        ("daily 09:00 utc", daily(9, 0, "UTC"), []),
        ("weekly mon 08:30", Schedule("weekly", minute=30, hour=8, weekday=0), []),
        ("weekly Monday 08:30", Schedule("weekly", minute=30, hour=8, weekday=0), []),
        ("weekly FRIDAYS 6pm", Schedule("weekly", minute=0, hour=18, weekday=4), []),
        ("weekly tues 08:30", Schedule("weekly", minute=30, hour=8, weekday=1), []),
        ("weekly sun at 08:30 America/New_York", Schedule("weekly", minute=30, hour=8, weekday=6, tz=NEW_YORK), []),
        ("cron 0 */6 * * *", Schedule("cron", cron="0 */6 * * *"), []),
        ("cron 0 9 * * MON-FRI Europe/Berlin top 3", Schedule("cron", cron="0 9 * * mon-fri", tz=BERLIN), ["top", "3"]),
        ("cron */15 * * * *", Schedule("cron", cron="*/15 * * * *"), []),
        ("cron 0,30 9 * * *", Schedule("cron", cron="0,30 9 * * *"), []),
    ],
)  # fmt: skip
def test_parse_schedule(text: str, expected: Schedule, rest: list[str]) -> None:
    assert parse_schedule(text.split(), default_tz="UTC") == (expected, rest)


def test_parse_schedule_quoted_cron_and_default_timezone() -> None:
    got, rest = parse_schedule(["cron", "0  */6 * * *", "top", "5"], default_tz=BERLIN)
    assert got == Schedule("cron", cron="0 */6 * * *", tz=BERLIN)
    assert rest == ["top", "5"]
    assert parse_schedule(["cron", "`0 9 * * *`"], "UTC")[0].cron == "0 9 * * *"
    # Split naively, the quotes stay on the first and last field.
    assert parse_schedule(["cron", '"0', "9", "*", "*", '*"'], "UTC")[0].cron == "0 9 * * *"
    assert parse_schedule(["daily", "09:00"], "europe/berlin")[0].tz == BERLIN


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("", "Say when"),
        ("monthly 09:00", "“monthly”"),
        ("hourly :75", "“:75”"),
        ("hourly :x", "“:x”"),
        ("daily", "“daily”"),
        ("daily 25:00", "“25:00”"),
        ("daily 09:60", "“09:60”"),
        ("daily 13pm", "“13pm”"),
        ("daily 9", "“9”"),
        ("daily soon", "“soon”"),
        ("daily Europe/Berlin", "“Europe/Berlin”"),
        ("weekly", "“weekly”"),
        ("weekly 09:00", "“09:00”"),
        ("weekly funday 09:00", "“funday”"),
        ("weekly mon", "“weekly”"),
        ("weekly mon 9h", "“9h”"),
        ("cron", "nothing"),
        ("cron 0 9 * *", "“0 9 * *”"),
        ("cron 0 9 * * Europe/Berlin", "“0 9 * *”"),
        ("cron */5 * * * *", "“*/5 * * * *”"),
        ("cron 0,59 * * * *", "“0,59 * * * *”"),
        ("cron 61 * * * *", "“61 * * * *”"),
        ("cron 0 0 30 2 *", "“0 0 30 2 *”"),
        ("cron 100 * * * *", "“100 * * * *”"),
        ("cron 0 9 * * foo", "“0 9 * *”"),
        ("daily 09:00 Europe/Berlinn", "“Europe/Berlinn”"),
        ("daily 09:00 PST", "“PST”"),
        ("daily 09:00 UTC+2", "“UTC+2”"),
    ],
)
def test_parse_errors_name_the_bad_token(text: str, named: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(text.split(), default_tz="UTC")
    message = caught.value.user_message
    assert named in message
    assert message.endswith(".")
    assert "\n" not in message
    assert "like" in message or "use" in message  # the right form, by example


@pytest.mark.parametrize(
    ("tokens", "named"),
    [(["cron", "0 9 * *"], "“0 9 * *”"), (["cron", "0 9 * * * *"], "“0 9 * * * *”"),
     (["cron", "R 9 * * *"], "“R 9 * * *”"), (["cron", "H 9 * * *"], "“H 9 * * *”"),
     (["cron", "*/10 9 * * *"], "“*/10 9 * * *”")],
)  # fmt: skip
def test_quoted_cron_errors_name_the_expression(tokens: list[str], named: str) -> None:
    with pytest.raises(ScheduleError, match=re.escape(named)):
        parse_schedule(tokens, default_tz="UTC")


def test_cron_every_15_minutes_is_the_limit() -> None:
    assert parse_schedule(["cron", "*/15 * * * *"], "UTC")[0].cron == "*/15 * * * *"
    assert parse_schedule(["cron", "0,45 9 * * *"], "UTC")[0].cron == "0,45 9 * * *"
    with pytest.raises(ScheduleError, match="15 minutes"):
        parse_schedule(["cron", "0,50 8,9 * * *"], "UTC")  # 08:50 → 09:00 is 10 minutes
    assert parse_schedule(["cron", "0,50 8 * * *"], "UTC")[0].cron == "0,50 8 * * *"


def test_unknown_default_timezone_is_a_schedule_error() -> None:
    with pytest.raises(ScheduleError, match="Mars/Olympus"):
        parse_schedule(["daily", "09:00"], default_tz="Mars/Olympus")


def test_resolve_timezone() -> None:
    assert resolve_timezone("europe/BERLIN") == BERLIN
    assert resolve_timezone(" UTC ") == "UTC"
    with pytest.raises(ScheduleError) as caught:
        resolve_timezone("Europe/Berlinn")
    assert caught.value.user_message == (
        "Unknown timezone “Europe/Berlinn”: use an IANA name like Europe/Berlin or UTC."
    )
    assert isinstance(caught.value, DigestError)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=12), max_size=8), st.sampled_from(["UTC", BERLIN]))
def test_parse_schedule_never_raises_anything_else(tokens: list[str], tz: str) -> None:
    result: tuple[Schedule, list[str]] | ScheduleError
    try:
        result = parse_schedule(tokens, default_tz=tz)
    except ScheduleError as exc:
        result = exc
    if isinstance(result, ScheduleError):
        assert result.user_message
        return
    schedule, rest = result
    assert Schedule.from_text(schedule.to_text()) == schedule
    assert len(rest) < len(tokens)
