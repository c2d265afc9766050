"""Which reactions ask for a deep analysis, and of which thread: decided here for every
platform. Adapters report every reaction as the platform names its emoji ("🔍" on Discord,
"mag" on Slack, "<:name:id>" for a Discord server's own emoji); a server picks its flag with
`settings flag-emoji`, typed as the emoji itself or as Slack's `:name:`."""

from __future__ import annotations

from typing import Final

from bot.ports import ThreadRef
from bot.thread_ref import ShareLink, find_thread_urls, parse_thread_text

# Each flag emoji with the names platforms give it (Slack names emoji; a typed 🔍 arrives in a
# Slack command as ":mag:").
EMOJI_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "🔍": ("🔍", "mag"),
    "🔎": ("🔎", "mag_right"),
    "👀": ("👀", "eyes"),
    "🧐": ("🧐", "face_with_monocle"),
    "🤔": ("🤔", "thinking_face"),
    "📖": ("📖", "book", "open_book"),
    "📚": ("📚", "books"),
    "🧵": ("🧵", "thread"),
    "💡": ("💡", "bulb"),
    "⭐": ("⭐", "star"),
    "👍": ("👍", "+1", "thumbsup"),
}
_BY_NAME: Final = {name: emoji for emoji, names in EMOJI_ALIASES.items() for name in names}
DEEP_NOT_POSSIBLE: Final = (
    "That message is not a digest and links no Reddit thread: nothing to analyse."
)


def flag_names(setting: str) -> frozenset[str]:
    """Every name a platform may report for the server's flag emoji `setting`."""
    emoji = _BY_NAME.get(setting.strip(":"), setting)
    return frozenset((setting, setting.strip(":"), *EMOJI_ALIASES.get(emoji, (emoji,))))


def is_flag(emoji: str, setting: str) -> bool:
    return emoji in flag_names(setting)


def offered_emoji(setting: str) -> str:
    """The flag as an emoji to put under a digest: the character where one is known (a setting
    typed as Slack's ":eyes:" is 👀), else the setting as typed (a Discord server's own)."""
    return _BY_NAME.get(setting.strip(":"), setting)


def flag_target(
    known: tuple[str, str | None] | None, text: str | None
) -> ThreadRef | ShareLink | None:
    """What a flag asks to analyse: the thread of a digest the bot posted (`known`: its post
    and focused comment), else the first Reddit thread the message links; None when neither."""
    if known is not None:
        post_id, focus = known
        return ThreadRef(post_id, focus)
    urls = find_thread_urls(text or "")
    return parse_thread_text(urls[0]) if urls else None
