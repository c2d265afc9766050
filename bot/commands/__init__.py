"""Every command a person can type, parsed the same way on every platform.

Discord gives us the command name and the rest of the line; Slack namespaces subcommands
(`/redigest subscribe …`). Both end up in `parse_command`, which returns a frozen Command or
raises a DigestError whose user_message is one sentence with an example of the right form.
Nothing here touches the network: a thread link is checked for presence only.

- model.py: the Command dataclasses, their limits, CommandError
- words.py: splitting a line into words; numbers and term lists
- usage.py: usage and help texts, command names and aliases
- parse.py: the entry point and the short commands; subscribe.py, watch.py, settings.py the long ones
"""

from __future__ import annotations

from bot.commands.model import (
    FLAG_THRESHOLD_RANGE,
    MAX_SCORE,
    MAX_SPEND_CAP,
    MAX_TERM_LENGTH,
    MAX_TERMS,
    THREAD_EXAMPLE,
    TOP_RANGE,
    WITHIN_HOURS_RANGE,
    Command,
    CommandError,
    DigestCmd,
    EditCmd,
    HelpCmd,
    PauseCmd,
    PreviewCmd,
    ResumeCmd,
    SettingsCmd,
    SubscribeCmd,
    SubscriptionsCmd,
    UnsubscribeCmd,
    UsageCmd,
    WatchCmd,
)
from bot.commands.parse import parse_command
from bot.commands.settings import SETTING_KEYS
from bot.commands.usage import COMMANDS, HELP_TEXT, example, usage
from bot.commands.words import split_words

__all__ = [
    "COMMANDS",
    "FLAG_THRESHOLD_RANGE",
    "HELP_TEXT",
    "MAX_SCORE",
    "MAX_SPEND_CAP",
    "MAX_TERMS",
    "MAX_TERM_LENGTH",
    "SETTING_KEYS",
    "THREAD_EXAMPLE",
    "TOP_RANGE",
    "WITHIN_HOURS_RANGE",
    "Command",
    "CommandError",
    "DigestCmd",
    "EditCmd",
    "HelpCmd",
    "PauseCmd",
    "PreviewCmd",
    "ResumeCmd",
    "SettingsCmd",
    "SubscribeCmd",
    "SubscriptionsCmd",
    "UnsubscribeCmd",
    "UsageCmd",
    "WatchCmd",
    "example",
    "parse_command",
    "split_words",
    "usage",
]
