"""The entry point: the platform's command name and line → a Command, through one parser per
command (the longer ones have their own module)."""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.commands.edit import parse_edit
from bot.commands.model import (
    Command,
    CommandError,
    DigestCmd,
    HelpCmd,
    PauseCmd,
    PreviewCmd,
    ResumeCmd,
    SubscriptionsCmd,
    UnsubscribeCmd,
    UsageCmd,
)
from bot.commands.settings import parse_settings
from bot.commands.subscribe import parse_subscribe
from bot.commands.usage import canonical_command, example, unknown_command
from bot.commands.watch import parse_watch
from bot.commands.words import number, shown, split_words
from digest.report import Depth


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
    canonical = canonical_command(name)
    if canonical is None:
        raise CommandError(unknown_command(name))
    return _PARSERS[canonical](words, default_tz)


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
            f"Digest one thread at a time (got “{shown(' '.join(targets))}”): "
            f"use a link and optionally brief or deep, like {example('digest')}."
        )
    return DigestCmd(targets[0], depth)


def _subscription_id(name: str, words: list[str]) -> int:
    sample = f"{name} #3 (subscriptions lists the numbers)"
    if len(words) != 1:
        what = f"“{shown(' '.join(words))}” is not" if words else "Give"
        raise CommandError(f"{what} one subscription number, like {sample}.")
    return number(words[0], "a subscription number", 1, 10**9 - 1, sample)


def _unsubscribe(words: list[str], default_tz: str) -> UnsubscribeCmd:
    return UnsubscribeCmd(_subscription_id("unsubscribe", words))


def _pause(words: list[str], default_tz: str) -> PauseCmd:
    return PauseCmd(_subscription_id("pause", words))


def _resume(words: list[str], default_tz: str) -> ResumeCmd:
    return ResumeCmd(_subscription_id("resume", words))


def _preview(words: list[str], default_tz: str) -> PreviewCmd:
    return PreviewCmd(_subscription_id("preview", words))


def _no_arguments(name: str, words: list[str]) -> None:
    if words:
        raise CommandError(
            f"“{name}” takes nothing after it (got “{shown(' '.join(words))}”): type just {name}."
        )


def _subscriptions(words: list[str], default_tz: str) -> SubscriptionsCmd:
    _no_arguments("subscriptions", words)
    return SubscriptionsCmd()


def _usage(words: list[str], default_tz: str) -> UsageCmd:
    _no_arguments("usage", words)
    return UsageCmd()


def _help(words: list[str], default_tz: str) -> HelpCmd:
    # Help never fails: an unknown topic gets the whole help, which lists every command.
    return HelpCmd(canonical_command(words[0]) if words else None)


_PARSERS: dict[str, Callable[[list[str], str], Command]] = {
    "digest": _digest,
    "subscribe": parse_subscribe,
    "watch": parse_watch,
    "subscriptions": _subscriptions,
    "unsubscribe": _unsubscribe,
    "pause": _pause,
    "resume": _resume,
    "edit": parse_edit,
    "preview": _preview,
    "settings": parse_settings,
    "usage": _usage,
    "help": _help,
}
