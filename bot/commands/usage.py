"""Usage and help texts: each command's form, an example and what it does; the names and aliases
a command is known by."""

from __future__ import annotations

from bot.commands.model import THREAD_EXAMPLE, CommandError
from bot.commands.words import shown

_USAGE = {
    "digest": (
        "digest <thread link or id, an HN link or hn:ID, or a chat message link> [brief|deep]",
        f"digest {THREAD_EXAMPLE} deep",
        "digest a Reddit thread, a Hacker News discussion or a thread of this chat",
    ),
    "subscribe": (
        "subscribe r/SUB[,r/SUB…]|hn[:best|new|ask|show] hourly [:MM] | daily HH:MM | weekly DAY HH:MM | "
        'cron "m h dom mon dow" [TIMEZONE] [top N] [min-score N] [flair NAME] '
        "[exclude-flair NAME] [keywords a,b] [nsfw]",
        'subscribe r/LocalLLaMA daily 09:00 Europe/Berlin top 5 min-score 50 flair "New Model"',
        "post the top threads of subreddits on a schedule",
    ),
    "watch": (
        "watch r/SUB|hn min-score N [within H hours]",
        "watch r/LocalLLaMA min-score 200 within 12h",
        "post new threads once they reach a score",
    ),
    "subscriptions": ("subscriptions", "subscriptions", "list this server's subscriptions"),
    "unsubscribe": ("unsubscribe #N", "unsubscribe #3", "remove a subscription"),
    "pause": ("pause #N", "pause #3", "pause a subscription"),
    "resume": ("resume #N", "resume #3", "resume a paused subscription"),
    "edit": (
        "edit #N [SCHEDULE] [TIMEZONE] [top N] [min-score N] [flair NAME] [exclude-flair NAME] "
        "[keywords a,b] [nsfw] [no-min-score] [no-flair] [no-exclude-flair] [no-keywords] "
        "[no-nsfw] (a watch: [min-score N] [within H hours])",
        "edit #3 daily 10:00 top 3 no-flair",
        "change a subscription's schedule, size or filters, keeping its number and history",
    ),
    "preview": (
        "preview #N",
        "preview #3",
        "see now, privately, what a subscription's next run would post",
    ),
    "settings": (
        "settings [KEY VALUE]",
        "settings timezone Europe/Berlin",
        "show or change settings: flag-emoji, default-depth, spend-cap, analyzer, timezone, "
        "quiet, flag-threshold, language",
    ),
    "usage": (
        "usage",
        "usage",
        "LLM tokens and estimated cost: today, 7 and 30 days, by channel and subscription",
    ),
    "help": ("help [COMMAND]", "help subscribe", "this help"),
}
COMMANDS = tuple(_USAGE)
_ALIASES = {
    "subs": "subscriptions",
    "list": "subscriptions",
    "unsub": "unsubscribe",
    "config": "settings",
    "costs": "usage",
    "spend": "usage",
    "?": "help",
}
_COMMAND_LIST = ", ".join(COMMANDS[:-1]) + " or " + COMMANDS[-1]


def canonical_command(name: str) -> str | None:
    low = name.strip().lstrip("/").lower()
    if low in _USAGE:
        return low
    return _ALIASES.get(low)


def example(command: str) -> str:
    """A complete, valid example of the command."""
    return _USAGE[canonical_command(command) or "help"][1]


def usage(command: str) -> str:
    """One line: the command's form and an example ("watch r/SUB min-score N … — e.g. …")."""
    name = canonical_command(command)
    if name is None:
        raise CommandError(unknown_command(command))
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
        "flag-threshold 1-20, language en|de|fr|es|ja|pt.",
    ]
)


def unknown_command(name: str) -> str:
    return f"There is no command “{shown(name)}”: use {_COMMAND_LIST}, like {example('digest')}."
