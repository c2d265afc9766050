"""`subscribe r/SUB … SCHEDULE [TIMEZONE] [options]`: subreddits, a schedule, then options."""

from __future__ import annotations

import re
from dataclasses import replace

from bot.commands.model import MAX_SCORE, TOP_RANGE, CommandError, SubscribeCmd
from bot.commands.usage import example
from bot.commands.words import add_terms, number, shown, terms
from bot.routing import hn_list, is_hn_name
from bot.schedule import canonical_timezone, looks_like_timezone, parse_schedule, resolve_timezone
from bot.subreddits import validate_subreddits

SUBSCRIBE_OPTIONS = {
    "top": "top",
    "min-score": "min-score",
    "min_score": "min-score",
    "minscore": "min-score",
    "flair": "flair",
    "flairs": "flair",
    "exclude-flair": "exclude-flair",
    "exclude_flair": "exclude-flair",
    "excludeflair": "exclude-flair",
    "exclude-flairs": "exclude-flair",
    "keywords": "keywords",
    "keyword": "keywords",
    "nsfw": "nsfw",
}
_OPTION_EXAMPLES = {
    "top": "top 5",
    "min-score": "min-score 50",
    "flair": 'flair "New Model"',
    "exclude-flair": "exclude-flair Meme",
    "keywords": "keywords llama,qwen",
    "nsfw": "nsfw",
}


def parse_subscribe(words: list[str], default_tz: str) -> SubscribeCmd:
    kinds = ("hourly", "daily", "weekly", "cron")
    at = next((i for i, w in enumerate(words) if w.strip().lower() in kinds), None)
    if at is not None and at > 1 and is_hn_name(words[0]):
        # `hn top 5 daily 09:00`: what follows a Hacker News list before the schedule is options.
        words, at = [words[0], *words[at:], *words[1:at]], 1
    names = [p for w in words[:at] for p in re.split(r"[,+\s]+", w) if p]
    if not names:
        raise CommandError(f"Name a subreddit, then a schedule, like {example('subscribe')}.")
    if at is None:
        raise CommandError(
            f"Add a schedule after the subreddits (hourly, daily HH:MM, weekly DAY HH:MM or cron), "
            f"like {example('subscribe')}."
        )
    subreddits = tuple(_places(names))
    after = words[at:]
    schedule, rest = parse_schedule(after, default_tz)
    consumed = after[: len(after) - len(rest)]
    tz_given = bool(consumed) and canonical_timezone(consumed[-1]) is not None
    cmd = SubscribeCmd(subreddits, schedule)
    seen: set[str] = set()
    i = 0
    while i < len(rest):
        word = rest[i]
        option = SUBSCRIBE_OPTIONS.get(word.strip().lower())
        value = rest[i + 1] if i + 1 < len(rest) else None
        if option is None:
            if looks_like_timezone(word):
                if tz_given:
                    raise CommandError(
                        f"Give one timezone, not also “{shown(word)}”, like {example('subscribe')}."
                    )
                cmd = replace(cmd, schedule=replace(schedule, tz=resolve_timezone(word)))
                tz_given = True
                i += 1
                continue
            raise CommandError(
                f"“{shown(word)}” is not a subscribe option{quote_hint(rest, i)}: use top, min-score, flair, "
                f"exclude-flair, keywords or nsfw, like {example('subscribe')}."
            )
        sample = _OPTION_EXAMPLES[option]
        if option in ("top", "min-score", "nsfw") and option in seen:
            raise CommandError(f"“{option}” is given twice: keep one, like {sample}.")
        seen.add(option)
        if option == "nsfw":
            cmd = replace(cmd, nsfw=True)
            i += 1
            continue
        if option == "top":
            top = number(value, "a number of threads", *TOP_RANGE, sample)
            cmd = replace(cmd, top=top)
        elif option == "min-score":
            score = number(value, "a minimum score", 0, MAX_SCORE, sample)
            cmd = replace(cmd, min_score=score)
        elif option == "flair":
            flairs = add_terms(cmd.flairs, terms(value, option, sample), option, sample)
            cmd = replace(cmd, flairs=flairs)
        elif option == "exclude-flair":
            excluded = terms(value, option, sample)
            cmd = replace(
                cmd, exclude_flairs=add_terms(cmd.exclude_flairs, excluded, option, sample)
            )
        else:
            keywords = add_terms(cmd.keywords, terms(value, option, sample), option, sample)
            cmd = replace(cmd, keywords=keywords)
        i += 2
    return cmd


def _places(names: list[str]) -> list[str]:
    """Subreddits, or one Hacker News list (`hn`, `hn:best` …) on its own."""
    if not any(is_hn_name(n) for n in names):
        return validate_subreddits(names)
    if len(names) > 1:
        raise CommandError(
            "Subscribe to a Hacker News list on its own, like subscribe hn top 5 daily 09:00."
        )
    return [hn_list(names[0])]


def quote_hint(words: list[str], i: int) -> str:
    """Why words[i] was not understood when it is the second word of an unquoted name
    ("flair New Model"): a hint to quote it, else nothing."""
    before = words[i - 2].strip().lower() if i >= 2 else ""
    if SUBSCRIBE_OPTIONS.get(before) in ("flair", "exclude-flair", "keywords"):
        return ' (quote names with spaces, like flair "New Model")'
    return ""
