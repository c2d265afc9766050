"""`watch r/SUB min-score N [within H hours]`."""

from __future__ import annotations

import re

from bot.commands.model import MAX_SCORE, WITHIN_HOURS_RANGE, CommandError, WatchCmd
from bot.commands.subscribe import SUBSCRIBE_OPTIONS
from bot.commands.usage import example
from bot.commands.words import number, shown
from bot.routing import is_hn_name
from bot.subreddits import validate_subreddits


def parse_within(words: list[str]) -> tuple[int, int]:
    """`12h`, `12 hours`, `2 days`, `12` (hours) → (hours, how many words that took)."""
    sample = "within 12h"
    low, high = WITHIN_HOURS_RANGE
    if not words:
        raise CommandError(f"“within” needs a number of hours from {low} to {high}, like {sample}.")
    units = {"h": 1, "hr": 1, "hrs": 1, "hour": 1, "hours": 1, "d": 24, "day": 24, "days": 24}
    m = re.fullmatch(r"([0-9]{1,4})([a-z]*)", words[0].strip().lower())
    count, unit, used = (int(m.group(1)), m.group(2), 1) if m else (0, "", 1)
    if m and not unit and len(words) > 1 and words[1].strip().lower() in units:
        unit, used = words[1].strip().lower(), 2
    if not m or unit not in ("", *units) or not low <= count * units.get(unit, 1) <= high:
        raise CommandError(
            f"“{shown(' '.join(words[:used]))}” is not a time window: use {low} to {high} hours, "
            f"like {sample}."
        )
    return count * units.get(unit, 1), used


def _watched(names: list[str]) -> list[str]:
    """Subreddits, or `hn` (Hacker News's new stories: `hn` and `hn:new` say the same)."""
    if not any(is_hn_name(n) for n in names):
        return validate_subreddits(names)
    if len(names) > 1 or names[0].strip().lower() not in ("hn", "hn:new"):
        raise CommandError(
            "Watch Hacker News's new stories on their own, like watch hn min-score 100."
        )
    return ["hn"]


def parse_watch(words: list[str], default_tz: str) -> WatchCmd:
    names: list[str] = []
    min_score: int | None = None
    within: int | None = None
    i = 0
    while i < len(words):
        low = words[i].strip().lower()
        if low in ("min-score", "min_score", "minscore"):
            if min_score is not None:
                raise CommandError("“min-score” is given twice: keep one, like min-score 200.")
            value = words[i + 1] if i + 1 < len(words) else None
            min_score = number(value, "a minimum score", 0, MAX_SCORE, "min-score 200")
            i += 2
        elif low == "within":
            if within is not None:
                raise CommandError("“within” is given twice: keep one, like within 12h.")
            within, used = parse_within(words[i + 1 :])
            i += 1 + used
        elif names or not low or low in SUBSCRIBE_OPTIONS:
            raise CommandError(
                f"“{shown(words[i])}” is not a watch option: use min-score and within, "
                f"like {example('watch')}."
            )
        else:
            names = [p for p in re.split(r"[,+\s]+", words[i]) if p] or [words[i]]
            i += 1
    if not names:
        raise CommandError(f"Name the subreddit to watch, like {example('watch')}.")
    subreddits = _watched(names)
    if len(subreddits) > 1:
        raise CommandError(
            f"Watch one subreddit at a time (got {len(subreddits)}), like {example('watch')}."
        )
    if min_score is None:
        raise CommandError(f"Say what score a thread needs, like {example('watch')}.")
    return WatchCmd(subreddits[0], min_score, within if within is not None else 24)
