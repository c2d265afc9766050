"""A chat's own message links, turned into a ChatThreadRef (no network here), and built back.

Accepted, as `/digest` text: Slack permalinks (`https://WS.slack.com/archives/C…/p1234567890123456`,
with `?thread_ts=…` on a reply: the thread is the one it names), Discord message links
(`https://discord.com/channels/GUILD/CHANNEL/MESSAGE`, also ptb., canary. and discordapp.com) and,
at the console only, its message references (`m12`). A "Digest this thread" menu or shortcut on a
message is the adapter building the same link (`slack_permalink`, `discord_link`) into a digest
Request, so every way in meets the same checks.

A link to another platform than the asker's is refused in one sentence: the bot reads only the
threads of the chat it is asked in.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from bot.chat_threads import ChatThreadRef
from bot.ports import InvalidThreadUrl

PLATFORM_NAMES = {"slack": "Slack", "discord": "Discord", "console": "console"}
_SLACK_HOST = re.compile(r"^(?:[a-z0-9-]+\.)*slack\.com$")
_SLACK_PATH = re.compile(r"^/archives/(?P<channel>[CGD][A-Z0-9]{2,})/p(?P<ts>[0-9]{16})/?$")
_SLACK_TS = re.compile(r"^[0-9]{10}\.[0-9]{6}$")
_DISCORD_HOST = re.compile(r"^(?:(?:ptb|canary|www)\.)?discord(?:app)?\.com$")
_DISCORD_PATH = re.compile(
    r"^/channels/(?P<guild>[0-9]{15,21}|@me)/(?P<channel>[0-9]{15,21})/(?P<message>[0-9]{15,21})/?$"
)
_CONSOLE_REF = re.compile(r"^m[0-9]{1,9}$")


def _link_platform(host: str) -> str | None:
    if _SLACK_HOST.match(host):
        return "slack"
    if _DISCORD_HOST.match(host):
        return "discord"
    return None


def chat_link_platform(text: str) -> str | None:
    """ "slack" or "discord" when `text` is a link to one of their messages, "console" for a
    console reference (`m12`), else None (a Reddit or HN link, a typo)."""
    raw = _bare(text)
    if _CONSOLE_REF.match(raw):
        return "console"
    if (
        "://" not in raw
        and not raw.lower().startswith(("discord", "ptb.", "canary."))
        and (".slack.com/" not in raw.lower())
    ):
        return None
    try:
        parts = urlsplit(raw if "://" in raw else "https://" + raw)
    except ValueError:
        return None
    return _link_platform((parts.hostname or "").lower())


def _bare(text: str) -> str:
    """The link as typed: Slack's `<url|label>` form and surrounding spaces removed."""
    return text.strip().strip("<>").split("|", 1)[0].strip()


def chat_thread_ref(
    text: str, *, platform: str, server_id: str, user_id: str = "", channel_id: str = ""
) -> ChatThreadRef | None:
    """The thread a chat link names, for a request made on `platform` in `channel_id` (None:
    not a chat link; a console reference names a message of the asker's channel).

    Raises InvalidThreadUrl (one sentence) for a link to another platform's message, or a link
    of this platform that names no message."""
    kind = chat_link_platform(text)
    if kind is None:
        return None
    if kind != platform:
        if kind == "console":
            return None  # `m12` outside the console is no reference: the Reddit parser says
        here = PLATFORM_NAMES.get(platform, platform)
        raise InvalidThreadUrl(
            f"That is a {PLATFORM_NAMES[kind]} link: I can only digest threads of the "
            f"{here} I am asked in."
        )
    raw = _bare(text)
    if kind == "console":
        return ChatThreadRef("console", server_id, channel_id, raw, asker_id=user_id)
    parts = urlsplit(raw if "://" in raw else "https://" + raw)
    path = re.sub(r"/{2,}", "/", parts.path or "/")
    if kind == "slack":
        m = _SLACK_PATH.match(path)
        if m is None:
            raise InvalidThreadUrl(
                "That Slack link names no message: use a message's “Copy link”, like "
                "https://yours.slack.com/archives/C0123456789/p1712345678123456"
            )
        ts = f"{m.group('ts')[:10]}.{m.group('ts')[10:]}"
        root = (parse_qs(parts.query).get("thread_ts") or [""])[0]
        # A reply's link names its thread: the digest is of (and posted in) that thread.
        return ChatThreadRef("slack", server_id, m.group("channel"),
                             root if _SLACK_TS.match(root) else ts, asker_id=user_id)  # fmt: skip
    m = _DISCORD_PATH.match(path)
    if m is None:
        raise InvalidThreadUrl(
            "That Discord link names no message: use a message's “Copy Message Link”, like "
            "https://discord.com/channels/111111111111111111/222222222222222222/333333333333333333"
        )
    guild = m.group("guild")
    return ChatThreadRef("discord", "" if guild == "@me" else guild, m.group("channel"),
                         m.group("message"), asker_id=user_id)  # fmt: skip


def slack_permalink(domain: str, channel_id: str, ts: str, thread_ts: str | None = None) -> str:
    """A Slack message's permalink as Slack writes it (for the shortcut's digest Request)."""
    link = f"https://{domain}.slack.com/archives/{channel_id}/p{ts.replace('.', '')}"
    if thread_ts and thread_ts != ts:
        link += f"?thread_ts={thread_ts}&cid={channel_id}"
    return link


def discord_link(guild_id: str | None, channel_id: str, message_id: str) -> str:
    """A Discord message link (for the message menu's digest Request)."""
    return f"https://discord.com/channels/{guild_id or '@me'}/{channel_id}/{message_id}"
