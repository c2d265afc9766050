"""Every command a person can type, parsed the same way on every platform.

Discord gives us the command name and the rest of the line; Slack namespaces subcommands
(`/redigest subscribe …`). Both end up in `parse_command`, which returns a frozen Command or
raises a DigestError whose user_message is one sentence with an example of the right form.
Nothing here touches the network: a thread link is checked for presence only.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TypeAlias

from bot.schedule import (
    Schedule,
    canonical_timezone,
    looks_like_timezone,
    parse_schedule,
    resolve_timezone,
)
from bot.subreddits import validate_subreddits
from digest.errors import DigestError
from digest.report import Depth

THREAD_EXAMPLE = "https://www.reddit.com/r/LocalLLaMA/comments/1lpl656/glm41vthinking/"
TOP_RANGE = (1, 10)
WITHIN_HOURS_RANGE = (1, 168)
FLAG_THRESHOLD_RANGE = (1, 20)
MAX_SPEND_CAP = Decimal(1000)
MAX_SCORE = 10_000_000
MAX_TERMS = 20  # flairs or keywords in one subscription
MAX_TERM_LENGTH = 64


class CommandError(DigestError):
    """A command we cannot read; the message says what to type instead."""


@dataclass(frozen=True, slots=True)
class DigestCmd:
    target: str  # a link or id as typed; resolved later, where the network is
    depth: Depth | None = None  # None: the server's default-depth


@dataclass(frozen=True, slots=True)
class SubscribeCmd:
    subreddits: tuple[str, ...]
    schedule: Schedule
    top: int = 5
    min_score: int | None = None
    flairs: tuple[str, ...] = ()
    exclude_flairs: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    nsfw: bool = False


@dataclass(frozen=True, slots=True)
class WatchCmd:
    subreddit: str
    min_score: int
    within_hours: int = 24


@dataclass(frozen=True, slots=True)
class UnsubscribeCmd:
    id: int


@dataclass(frozen=True, slots=True)
class PauseCmd:
    id: int


@dataclass(frozen=True, slots=True)
class ResumeCmd:
    id: int


@dataclass(frozen=True, slots=True)
class SubscriptionsCmd:
    pass


@dataclass(frozen=True, slots=True)
class SettingsCmd:
    key: str | None = None  # None: show the settings
    value: str | None = None  # normalised (e.g. spend-cap "2.50", timezone "Europe/Berlin")


@dataclass(frozen=True, slots=True)
class HelpCmd:
    topic: str | None = None  # a command name, when help about one was asked for


Command: TypeAlias = (
    DigestCmd
    | SubscribeCmd
    | WatchCmd
    | UnsubscribeCmd
    | PauseCmd
    | ResumeCmd
    | SubscriptionsCmd
    | SettingsCmd
    | HelpCmd
)

# ---------------------------------------------------------------------- usage and help

_USAGE = {
    "digest": (
        "digest <thread link or id> [brief|deep]",
        f"digest {THREAD_EXAMPLE} deep",
        "digest a Reddit thread",
    ),
    "subscribe": (
        "subscribe r/SUB[,r/SUB…] hourly [:MM] | daily HH:MM | weekly DAY HH:MM | "
        'cron "m h dom mon dow" [TIMEZONE] [top N] [min-score N] [flair NAME] '
        "[exclude-flair NAME] [keywords a,b] [nsfw]",
        'subscribe r/LocalLLaMA daily 09:00 Europe/Berlin top 5 min-score 50 flair "New Model"',
        "post the top threads of subreddits on a schedule",
    ),
    "watch": (
        "watch r/SUB min-score N [within H hours]",
        "watch r/LocalLLaMA min-score 200 within 12h",
        "post new threads once they reach a score",
    ),
    "subscriptions": ("subscriptions", "subscriptions", "list this server's subscriptions"),
    "unsubscribe": ("unsubscribe #N", "unsubscribe #3", "remove a subscription"),
    "pause": ("pause #N", "pause #3", "pause a subscription"),
    "resume": ("resume #N", "resume #3", "resume a paused subscription"),
    "settings": (
        "settings [KEY VALUE]",
        "settings timezone Europe/Berlin",
        "show or change settings: flag-emoji, default-depth, spend-cap, analyzer, timezone, "
        "quiet, flag-threshold",
    ),
    "help": ("help [COMMAND]", "help subscribe", "this help"),
}
COMMANDS = tuple(_USAGE)
_ALIASES = {
    "subs": "subscriptions",
    "list": "subscriptions",
    "unsub": "unsubscribe",
    "config": "settings",
    "?": "help",
}
_COMMAND_LIST = ", ".join(COMMANDS[:-1]) + " or " + COMMANDS[-1]


def _canonical_command(name: str) -> str | None:
    low = name.strip().lstrip("/").lower()
    if low in _USAGE:
        return low
    return _ALIASES.get(low)


def example(command: str) -> str:
    """A complete, valid example of the command."""
    return _USAGE[_canonical_command(command) or "help"][1]


def usage(command: str) -> str:
    """One line: the command's form and an example ("watch r/SUB min-score N … — e.g. …")."""
    name = _canonical_command(command)
    if name is None:
        raise CommandError(_unknown_command(command))
    form, sample, _ = _USAGE[name]
    return f"{form} — e.g. {sample}"


HELP_TEXT = "\n".join(
    [
        "redigest digests Reddit threads. Commands:",
        *(f"• {form} — {what}. Example: {sample}" for form, sample, what in _USAGE.values()),
        'Schedules: hourly [:MM], daily HH:MM, weekly DAY HH:MM or cron "m h dom mon dow" '
        "(at most every 15 minutes), in your timezone (settings timezone) or one you name.",
        "Settings: flag-emoji EMOJI, default-depth brief|deep, spend-cap US$/day (0 = no LLM), "
        "analyzer offline|auto|anthropic|openai, timezone NAME, quiet post|silent, "
        "flag-threshold 1-20.",
    ]
)


# ---------------------------------------------------------------------- tokens

_QUOTES = {'"': '"”', "“": '”"', "'": "'’", "‘": "’'", "`": "`"}  # opener → closers


def _shown(token: str) -> str:
    """A token as quoted back in a message: one line, not too long."""
    flat = " ".join("".join(ch if ch.isprintable() else " " for ch in token).split())
    if not flat:
        return "(empty)"
    return flat if len(flat) <= 40 else flat[:39] + "…"


def split_words(text: str) -> list[str]:
    """Split on whitespace, keeping "quoted phrases" (straight, curly or backtick quotes) whole.

    Unlike shlex this never raises on its own: an unclosed quote becomes a CommandError. A quote
    opens only at the start of a word or after a comma, so apostrophes (don't) stay literal.
    """
    words: list[str] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        word: list[str] = []
        while i < n and not text[i].isspace():
            ch = text[i]
            if ch in _QUOTES and (not word or word[-1] == ","):
                end = next((j for j in range(i + 1, n) if text[j] in _QUOTES[ch]), -1)
                if end < 0:
                    raise CommandError(
                        f"The quote {ch} before “{_shown(text[i + 1 :])}” is never closed: "
                        'close it, like flair "New Model".'
                    )
                word.append(text[i + 1 : end])
                i = end + 1
                continue
            word.append(ch)
            i += 1
        words.append("".join(word))
    return words


# ---------------------------------------------------------------------- entry point


def parse_command(command: str, text: str, *, default_tz: str) -> Command:
    """What the platform gave (command name, the rest of the line) → a Command.

    `command` may be "/digest", "digest", or "redigest" (Slack's namespace: the subcommand is then
    the first word of `text`). Raises CommandError, ScheduleError or InvalidSubreddit, all
    DigestErrors with a one-sentence user_message.
    """
    head = command.split()
    words = split_words(" ".join(head[1:]) + " " + text) if len(head) > 1 else split_words(text)
    name = head[0].lstrip("/").lower() if head else ""
    if name in ("redigest", ""):
        if not words:
            return HelpCmd(None)
        if re.search(r"(?:reddit\.com|redd\.it)/", words[0], re.IGNORECASE):
            return _digest(words)  # "/redigest <link>": digesting is what people mean
        name, words = words[0], words[1:]
    canonical = _canonical_command(name)
    if canonical is None:
        raise CommandError(_unknown_command(name))
    return _PARSERS[canonical](words, default_tz)


def _unknown_command(name: str) -> str:
    return f"There is no command “{_shown(name)}”: use {_COMMAND_LIST}, like {example('digest')}."


# ---------------------------------------------------------------------- commands


def _digest(words: list[str], default_tz: str = "UTC") -> DigestCmd:
    depth: Depth | None = None
    targets: list[str] = []
    for word in words:
        low = word.strip().lstrip("-").lower()
        if low in (Depth.BRIEF.value, Depth.DEEP.value) and depth is None:
            depth = Depth(low)
        elif word.strip():
            targets.append(word.strip())
    if not targets:
        raise CommandError(f"Give a thread to digest: paste its link, like {example('digest')}.")
    if len(targets) > 1:
        raise CommandError(
            f"Digest one thread at a time (got “{_shown(' '.join(targets))}”): "
            f"use a link and optionally brief or deep, like {example('digest')}."
        )
    return DigestCmd(targets[0], depth)


def _number(word: str | None, what: str, low: int, high: int, sample: str) -> int:
    """A whole number in [low, high] (1,000 and #3 are fine), or a CommandError naming the word."""
    if word is None:
        raise CommandError(f"Give {what} from {low:,} to {high:,}, like {sample}.")
    text = word.strip().lstrip("#").replace(",", "").replace("_", "")
    # At most 9 digits: int() of a huge string is slow, and no count here needs more.
    if not re.fullmatch(r"[0-9]{1,9}", text) or not low <= int(text) <= high:
        raise CommandError(
            f"“{_shown(word)}” is not {what} from {low:,} to {high:,}, like {sample}."
        )
    return int(text)


def _terms(word: str | None, option: str, sample: str) -> list[str]:
    """Comma-separated flair names or keywords (quoted when they contain spaces)."""
    terms = [" ".join(t.split()) for t in (word or "").split(",")]
    terms = [t for t in terms if t]
    if not terms:
        raise CommandError(f"“{option}” needs a value: quote it if it has spaces, like {sample}.")
    for term in terms:
        if len(term) > MAX_TERM_LENGTH or not term.isprintable():
            raise CommandError(
                f"“{_shown(term)}” is too long or has odd characters for {option}: "
                f"use up to {MAX_TERM_LENGTH} characters, like {sample}."
            )
    return terms


def _add_terms(have: tuple[str, ...], new: list[str], option: str, sample: str) -> tuple[str, ...]:
    out = list(have)
    for term in new:
        if term.lower() not in (o.lower() for o in out):
            out.append(term)
    if len(out) > MAX_TERMS:
        raise CommandError(f"Use at most {MAX_TERMS} values for {option}, like {sample}.")
    return tuple(out)


_SUBSCRIBE_OPTIONS = {
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


def _subscribe(words: list[str], default_tz: str) -> SubscribeCmd:
    kinds = ("hourly", "daily", "weekly", "cron")
    at = next((i for i, w in enumerate(words) if w.strip().lower() in kinds), None)
    names = [p for w in words[:at] for p in re.split(r"[,+\s]+", w) if p]
    if not names:
        raise CommandError(f"Name a subreddit, then a schedule, like {example('subscribe')}.")
    if at is None:
        raise CommandError(
            f"Add a schedule after the subreddits (hourly, daily HH:MM, weekly DAY HH:MM or cron), "
            f"like {example('subscribe')}."
        )
    subreddits = tuple(validate_subreddits(names))
    after = words[at:]
    schedule, rest = parse_schedule(after, default_tz)
    consumed = after[: len(after) - len(rest)]
    tz_given = bool(consumed) and canonical_timezone(consumed[-1]) is not None
    cmd = SubscribeCmd(subreddits, schedule)
    seen: set[str] = set()
    i = 0
    while i < len(rest):
        word = rest[i]
        option = _SUBSCRIBE_OPTIONS.get(word.strip().lower())
        value = rest[i + 1] if i + 1 < len(rest) else None
        if option is None:
            if looks_like_timezone(word):
                if tz_given:
                    raise CommandError(
                        f"Give one timezone, not also “{_shown(word)}”, like {example('subscribe')}."
                    )
                cmd = replace(cmd, schedule=replace(schedule, tz=resolve_timezone(word)))
                tz_given = True
                i += 1
                continue
            # "flair New Model": the second word of an unquoted name lands here.
            before = rest[i - 2].strip().lower() if i >= 2 else ""
            hint = (
                ' (quote names with spaces, like flair "New Model")'
                if _SUBSCRIBE_OPTIONS.get(before) in ("flair", "exclude-flair", "keywords")
                else ""
            )
            raise CommandError(
                f"“{_shown(word)}” is not a subscribe option{hint}: use top, min-score, flair, "
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
            top = _number(value, "a number of threads", *TOP_RANGE, sample)
            cmd = replace(cmd, top=top)
        elif option == "min-score":
            score = _number(value, "a minimum score", 0, MAX_SCORE, sample)
            cmd = replace(cmd, min_score=score)
        elif option == "flair":
            flairs = _add_terms(cmd.flairs, _terms(value, option, sample), option, sample)
            cmd = replace(cmd, flairs=flairs)
        elif option == "exclude-flair":
            excluded = _terms(value, option, sample)
            cmd = replace(
                cmd, exclude_flairs=_add_terms(cmd.exclude_flairs, excluded, option, sample)
            )
        else:
            keywords = _add_terms(cmd.keywords, _terms(value, option, sample), option, sample)
            cmd = replace(cmd, keywords=keywords)
        i += 2
    return cmd


def _within(words: list[str]) -> tuple[int, int]:
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
            f"“{_shown(' '.join(words[:used]))}” is not a time window: use {low} to {high} hours, "
            f"like {sample}."
        )
    return count * units.get(unit, 1), used


def _watch(words: list[str], default_tz: str) -> WatchCmd:
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
            min_score = _number(value, "a minimum score", 0, MAX_SCORE, "min-score 200")
            i += 2
        elif low == "within":
            if within is not None:
                raise CommandError("“within” is given twice: keep one, like within 12h.")
            within, used = _within(words[i + 1 :])
            i += 1 + used
        elif names or not low or low in _SUBSCRIBE_OPTIONS:
            raise CommandError(
                f"“{_shown(words[i])}” is not a watch option: use min-score and within, "
                f"like {example('watch')}."
            )
        else:
            names = [p for p in re.split(r"[,+\s]+", words[i]) if p] or [words[i]]
            i += 1
    if not names:
        raise CommandError(f"Name the subreddit to watch, like {example('watch')}.")
    subreddits = validate_subreddits(names)
    if len(subreddits) > 1:
        raise CommandError(
            f"Watch one subreddit at a time (got {len(subreddits)}), like {example('watch')}."
        )
    if min_score is None:
        raise CommandError(f"Say what score a thread needs, like {example('watch')}.")
    return WatchCmd(subreddits[0], min_score, within if within is not None else 24)


def _subscription_id(name: str, words: list[str]) -> int:
    sample = f"{name} #3 (subscriptions lists the numbers)"
    if len(words) != 1:
        what = f"“{_shown(' '.join(words))}” is not" if words else "Give"
        raise CommandError(f"{what} one subscription number, like {sample}.")
    return _number(words[0], "a subscription number", 1, 10**9 - 1, sample)


def _unsubscribe(words: list[str], default_tz: str) -> UnsubscribeCmd:
    return UnsubscribeCmd(_subscription_id("unsubscribe", words))


def _pause(words: list[str], default_tz: str) -> PauseCmd:
    return PauseCmd(_subscription_id("pause", words))


def _resume(words: list[str], default_tz: str) -> ResumeCmd:
    return ResumeCmd(_subscription_id("resume", words))


def _no_arguments(name: str, words: list[str]) -> None:
    if words:
        raise CommandError(
            f"“{name}” takes nothing after it (got “{_shown(' '.join(words))}”): type just {name}."
        )


def _subscriptions(words: list[str], default_tz: str) -> SubscriptionsCmd:
    _no_arguments("subscriptions", words)
    return SubscriptionsCmd()


def _help(words: list[str], default_tz: str) -> HelpCmd:
    # Help never fails: an unknown topic gets the whole help, which lists every command.
    return HelpCmd(_canonical_command(words[0]) if words else None)


# ---------------------------------------------------------------------- settings

SETTING_KEYS = (
    "flag-emoji",
    "default-depth",
    "spend-cap",
    "analyzer",
    "timezone",
    "quiet",
    "flag-threshold",
)
_SETTING_ALIASES = {"emoji": "flag-emoji", "depth": "default-depth", "tz": "timezone"}
_SETTING_EXAMPLES = {
    "flag-emoji": "settings flag-emoji 🔍",
    "default-depth": "settings default-depth deep",
    "spend-cap": "settings spend-cap 2.50",
    "analyzer": "settings analyzer offline",
    "timezone": "settings timezone Europe/Berlin",
    "quiet": "settings quiet silent",
    "flag-threshold": "settings flag-threshold 2",
}
_CHOICES = {
    "default-depth": ("brief", "deep"),
    "analyzer": ("offline", "auto", "anthropic", "openai"),
    "quiet": ("post", "silent"),
}
# Unicode categories an emoji sequence is made of: symbols, modifiers, joiners and selectors.
_EMOJI_CATEGORIES = frozenset({"So", "Sk", "Mn", "Me", "Cf"})


def _emoji(value: str) -> str | None:
    """One emoji (🔍, 👍🏽, 🏳️‍🌈), a Slack-style :name: or a Discord custom <:name:id>; else None."""
    if re.fullmatch(r":[a-z0-9_+\-']{1,64}:", value) or re.fullmatch(
        r"<a?:[A-Za-z0-9_]{2,32}:[0-9]{5,25}>", value
    ):
        return value
    categories = [unicodedata.category(ch) for ch in value]
    # At least one real symbol, and nothing ASCII: "^" and "`" are modifier symbols too.
    if (
        0 < len(value) <= 16
        and "So" in categories
        and all(c in _EMOJI_CATEGORIES for c in categories)
        and all(ord(ch) > 0x7F for ch in value)
    ):
        return value
    return None


def _spend_cap(value: str) -> str | None:
    text = value.strip().lower().removeprefix("us").removeprefix("$").removesuffix("usd").strip()
    if "," in text and "." not in text:
        text = text.replace(",", ".")  # a decimal comma, as many people write it
    if not re.fullmatch(r"[0-9]{1,4}(?:\.[0-9]{1,2})?", text):
        return None
    amount = Decimal(text)
    return f"{amount:.2f}" if amount <= MAX_SPEND_CAP else None


def _setting_value(key: str, value: str) -> str:
    """The normalised value, or a CommandError with the allowed form."""
    sample = _SETTING_EXAMPLES[key]
    if key in _CHOICES:
        choices = _CHOICES[key]
        if value.lower() not in choices:
            listed = ", ".join(choices[:-1]) + " or " + choices[-1]
            raise CommandError(
                f"“{_shown(value)}” is not a choice for {key}: use {listed}, like {sample}."
            )
        return value.lower()
    if key == "flag-emoji":
        emoji = _emoji(value)
        if emoji is None:
            raise CommandError(f"“{_shown(value)}” is not an emoji: use one emoji, like {sample}.")
        return emoji
    if key == "spend-cap":
        cap = _spend_cap(value)
        if cap is None:
            raise CommandError(
                f"“{_shown(value)}” is not an amount: use US$ per day from 0 (no LLM) to "
                f"{MAX_SPEND_CAP:,}, like {sample}."
            )
        return cap
    if key == "timezone":
        return resolve_timezone(value)
    threshold = _number(value, "a number of people", *FLAG_THRESHOLD_RANGE, sample)
    return str(threshold)


def _settings(words: list[str], default_tz: str) -> SettingsCmd:
    if not words:
        return SettingsCmd(None, None)
    typed = words[0].strip().lower().replace("_", "-")
    key = _SETTING_ALIASES.get(typed, typed)
    if key not in SETTING_KEYS:
        raise CommandError(
            f"“{_shown(words[0])}” is not a setting: use {', '.join(SETTING_KEYS[:-1])} or "
            f"{SETTING_KEYS[-1]}, like {_SETTING_EXAMPLES['timezone']}."
        )
    sample = _SETTING_EXAMPLES[key]
    if len(words) == 1 or not words[1].strip():
        raise CommandError(f"Give a value for {key}, like {sample}.")
    if len(words) > 2:
        raise CommandError(
            f"“{key}” takes one value, not “{_shown(' '.join(words[1:]))}”, like {sample}."
        )
    return SettingsCmd(key, _setting_value(key, words[1].strip()))


_PARSERS: dict[str, Callable[[list[str], str], Command]] = {
    "digest": _digest,
    "subscribe": _subscribe,
    "watch": _watch,
    "subscriptions": _subscriptions,
    "unsubscribe": _unsubscribe,
    "pause": _pause,
    "resume": _resume,
    "settings": _settings,
    "help": _help,
}
