"""`edit #N CHANGES`: any of subscribe's words (a schedule, a timezone, top, min-score, flair,
exclude-flair, keywords, nsfw), a watch's `within H hours`, and `no-…` words that clear a filter.
Only what is typed changes; which words fit which kind of subscription is the core's to say."""

from __future__ import annotations

from dataclasses import replace

from bot.commands.model import MAX_SCORE, TOP_RANGE, CommandError, EditCmd
from bot.commands.subscribe import SUBSCRIBE_OPTIONS, quote_hint
from bot.commands.watch import parse_within
from bot.commands.words import add_terms, number, shown, terms
from bot.schedule import (
    KINDS,
    canonical_timezone,
    looks_like_timezone,
    parse_schedule,
    resolve_timezone,
)

EDIT_EXAMPLE = "edit #3 daily 10:00 top 3 no-flair"
# The words that clear a filter (their spellings → the filter).
CLEARS = {
    f"no{sep}{name}": option
    for option, names in (
        ("min-score", ("min-score", "min_score", "minscore")),
        ("flair", ("flair", "flairs")),
        ("exclude-flair", ("exclude-flair", "exclude_flair", "exclude-flairs")),
        ("keywords", ("keywords", "keyword")),
        ("nsfw", ("nsfw",)),
    )
    for name in names
    for sep in ("-", "_")
}
WHAT_EDIT_CHANGES = (
    "a schedule (hourly, daily HH:MM, weekly DAY HH:MM or cron, with a timezone if you like), "
    "top N, min-score N, flair, exclude-flair, keywords or nsfw (for a watch: min-score N and "
    "within H hours), or no-min-score, no-flair, no-exclude-flair, no-keywords or no-nsfw to "
    "clear a filter"
)


def parse_edit(words: list[str], default_tz: str) -> EditCmd:
    if not words or not words[0].strip().lstrip("#").isdigit():
        got = f"“{shown(words[0])}” is not a subscription number: g" if words else "G"
        raise CommandError(
            f"{got}ive the subscription's number, then what to change, like {EDIT_EXAMPLE} "
            "(subscriptions lists the numbers)."
        )
    sub_id = number(words[0], "a subscription number", 1, 10**9 - 1, EDIT_EXAMPLE)
    rest = words[1:]
    if not rest:
        raise CommandError(
            f"Say what to change in #{sub_id}: {WHAT_EDIT_CHANGES}, like {EDIT_EXAMPLE}."
        )
    cmd = EditCmd(sub_id)
    seen: dict[str, str] = {}  # what is changed → the word that changed it
    i = 0
    while i < len(rest):
        word = rest[i]
        low = word.strip().lower()
        value = rest[i + 1] if i + 1 < len(rest) else None
        if low in KINDS:
            _once(seen, "schedule", word, "edit #3 daily 10:00")
            after = rest[i:]
            schedule, left = parse_schedule(after, default_tz)
            used = after[: len(after) - len(left)]
            if canonical_timezone(used[-1]) is not None:
                _once(seen, "timezone", used[-1], "edit #3 daily 10:00 Europe/Berlin")
                cmd = replace(cmd, timezone=schedule.tz)
            cmd = replace(cmd, schedule=schedule)
            i += len(used)
        elif low in CLEARS:
            option = CLEARS[low]
            _once(seen, option, word, f"no-{option}")
            cmd = _cleared(cmd, option)
            i += 1
        elif low == "within":
            _once(seen, "within", word, "within 12h")
            hours, took = parse_within(rest[i + 1 :])
            cmd = replace(cmd, within_hours=hours)
            i += 1 + took
        elif low in SUBSCRIBE_OPTIONS:
            option = SUBSCRIBE_OPTIONS[low]
            _once(seen, option, word, _SAMPLES[option])
            cmd, took = _option(cmd, option, value)
            i += took
        elif low in ("timezone", "tz") or looks_like_timezone(word):
            named = low in ("timezone", "tz")
            zone = (value or "") if named else word
            _once(seen, "timezone", zone, "edit #3 Europe/Berlin")
            cmd = replace(cmd, timezone=resolve_timezone(zone))
            i += 2 if named else 1
        else:
            raise CommandError(
                f"“{shown(word)}” is not something edit changes{quote_hint(rest, i)}: give "
                f"{WHAT_EDIT_CHANGES}, like {EDIT_EXAMPLE}."
            )
    return cmd


def _once(seen: dict[str, str], what: str, word: str, sample: str) -> None:
    """Each thing changes once: an option twice, or with its no- word, is refused."""
    if what in seen:
        first = seen[what]
        both = (
            f"“{shown(word)}” is given twice"
            if first.lower() == word.lower()
            else (f"“{shown(first)}” and “{shown(word)}” both change {what}")
        )
        raise CommandError(f"{both}: keep one, like {sample}.")
    seen[what] = word


def _cleared(cmd: EditCmd, option: str) -> EditCmd:
    match option:
        case "min-score":
            return replace(cmd, no_min_score=True)
        case "flair":
            return replace(cmd, flairs=())
        case "exclude-flair":
            return replace(cmd, exclude_flairs=())
        case "keywords":
            return replace(cmd, keywords=())
        case _:
            return replace(cmd, nsfw=False)


_SAMPLES = {
    "top": "top 5",
    "min-score": "min-score 50",
    "flair": 'flair "New Model"',
    "exclude-flair": "exclude-flair Meme",
    "keywords": "keywords llama,qwen",
    "nsfw": "nsfw",
}


def _option(cmd: EditCmd, option: str, value: str | None) -> tuple[EditCmd, int]:
    """A subscribe option as a change: (the command, how many words it took)."""
    sample = _SAMPLES[option]
    if option == "nsfw":
        return replace(cmd, nsfw=True), 1
    if option == "top":
        return replace(cmd, top=number(value, "a number of threads", *TOP_RANGE, sample)), 2
    if option == "min-score":
        return replace(cmd, min_score=number(value, "a minimum score", 0, MAX_SCORE, sample)), 2
    found = add_terms((), terms(value, option, sample), option, sample)  # replaces the old list
    if option == "flair":
        return replace(cmd, flairs=found), 2
    if option == "exclude-flair":
        return replace(cmd, exclude_flairs=found), 2
    return replace(cmd, keywords=found), 2
