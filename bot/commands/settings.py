"""`settings [KEY VALUE]`: the keys a server can set, and each value checked and normalised."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

from bot.commands.model import FLAG_THRESHOLD_RANGE, MAX_SPEND_CAP, CommandError, SettingsCmd
from bot.commands.words import number, shown
from bot.schedule import resolve_timezone
from digest.i18n import LANGUAGES, valid

SETTING_KEYS = (
    "flag-emoji",
    "default-depth",
    "spend-cap",
    "analyzer",
    "timezone",
    "quiet",
    "flag-threshold",
    "language",
)
_SETTING_ALIASES = {
    "emoji": "flag-emoji",
    "depth": "default-depth",
    "tz": "timezone",
    "lang": "language",
}
_SETTING_EXAMPLES = {
    "flag-emoji": "settings flag-emoji 🔍",
    "default-depth": "settings default-depth deep",
    "spend-cap": "settings spend-cap 2.50",
    "analyzer": "settings analyzer offline",
    "timezone": "settings timezone Europe/Berlin",
    "quiet": "settings quiet silent",
    "flag-threshold": "settings flag-threshold 2",
    "language": "settings language de",
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
                f"“{shown(value)}” is not a choice for {key}: use {listed}, like {sample}."
            )
        return value.lower()
    if key == "flag-emoji":
        emoji = _emoji(value)
        if emoji is None:
            raise CommandError(f"“{shown(value)}” is not an emoji: use one emoji, like {sample}.")
        return emoji
    if key == "spend-cap":
        cap = _spend_cap(value)
        if cap is None:
            raise CommandError(
                f"“{shown(value)}” is not an amount: use US$ per day from 0 (no LLM) to "
                f"{MAX_SPEND_CAP:,}, like {sample}."
            )
        return cap
    if key == "timezone":
        return resolve_timezone(value)
    if key == "language":
        return language(value)
    threshold = number(value, "a number of people", *FLAG_THRESHOLD_RANGE, sample)
    return str(threshold)


def language(value: str) -> str:
    """A catalogue language's code ("de"; "DE", "de-AT" and "de_DE" too), or a CommandError
    listing them."""
    code = valid(value)
    if code is None:
        listed = ", ".join(LANGUAGES[:-1]) + " or " + LANGUAGES[-1]
        raise CommandError(
            f"“{shown(value)}” is not a language redigest writes: use {listed}, "
            f"like {_SETTING_EXAMPLES['language']}."
        )
    return code


def parse_settings(words: list[str], default_tz: str) -> SettingsCmd:
    if not words:
        return SettingsCmd(None, None)
    typed = words[0].strip().lower().replace("_", "-")
    key = _SETTING_ALIASES.get(typed, typed)
    if key not in SETTING_KEYS:
        raise CommandError(
            f"“{shown(words[0])}” is not a setting: use {', '.join(SETTING_KEYS[:-1])} or "
            f"{SETTING_KEYS[-1]}, like {_SETTING_EXAMPLES['timezone']}."
        )
    sample = _SETTING_EXAMPLES[key]
    if len(words) == 1 or not words[1].strip():
        raise CommandError(f"Give a value for {key}, like {sample}.")
    if len(words) > 2:
        raise CommandError(
            f"“{key}” takes one value, not “{shown(' '.join(words[1:]))}”, like {sample}."
        )
    return SettingsCmd(key, _setting_value(key, words[1].strip()))
