"""Slack, through slack-bolt: slash commands, a message shortcut and reactions in; Block Kit out.

This module only translates. Slack payloads become the core's `Request`s and `Reaction`s; the
core's `Delivery`s become Block Kit messages. It holds no business rules beyond what Slack itself
imposes: the 3-second ack, Block Kit limits, mrkdwn escaping, message pacing and metadata.

    async with SlackChat(SlackConfig(bot_token=..., app_token=...)) as chat:
        await chat.run(Inbox(core.handle_request, core.handle_reaction))  # until cancelled

Transport: Socket Mode when an app token (`xapp-…`) is configured, otherwise HTTP mode serving
`POST /slack/events` on REDIGEST_SLACK_HOST (127.0.0.1 by default: a reverse proxy fronts it).
In HTTP mode nothing reads a request's body before its v0 signature and 5-minute window are
checked (over the raw bytes, at most 1 MiB of them); a request that fails is answered 401 and
counted in a log line at most once a minute. Only a signed body is parsed, a replay of one is
acknowledged without doing anything again, and one that is not a Slack payload is answered 400.
Start-up checks the bot token (auth.test) and, in Socket Mode, the app token
(apps.connections.open) once, within a time limit: a bad token or an unreachable Slack stops
start-up with one sentence naming the setting to fix.

Untrusted text (everything that came from Reddit, and anything a person typed) is escaped for
mrkdwn (`&`, `<`, `>`), broadcast words are defused and stray formatting markers are neutralised,
so a thread can neither ping (`<!channel>`, `<@U…>`) nor link (`<#C…>`) nor break our formatting.
Reddit markdown in quotes (bold, italic, strike, code, links) becomes mrkdwn; a link is rendered
as `<url|label>` only when the report itself lists that URL (so it comes from the thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import hmac
import logging
import os
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, TypeVar

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.chat import (
    Bundle,
    ChannelTarget,
    Delivery,
    EphemeralTarget,
    Inbox,
    LookupUnavailable,
    MessageRef,
    MessageText,
    PostRefused,
    Reaction,
    Request,
    Target,
    ThreadTarget,
)
from bot.replies import SOMETHING_WENT_WRONG, acknowledgement
from digest.errors import DigestError
from digest.render.document import Block, Document, Line, bundle_document, document
from digest.report import Depth, Report
from digest.stats import link_key
from digest.text import plural, points, unescape_markdown

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)


class _TokenFromEnvironment(logging.Filter):
    """bolt warns that SLACK_BOT_TOKEN in the environment goes unused when it is given a client:
    that is on purpose here (our client and `authorize` carry the configured token)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


bolt_log = logging.getLogger(f"{__name__}.bolt")  # slack-bolt logs through this one
bolt_log.addFilter(_TokenFromEnvironment())

PLATFORM: Final = "slack"
EVENTS_PATH: Final = "/slack/events"
METADATA_EVENT: Final = "redigest_post"
DEFAULT_API_URL: Final = "https://slack.com/api/"
DEFAULT_HOST: Final = "127.0.0.1"  # HTTP mode: a reverse proxy (TLS, a public name) fronts it

# HTTP mode: what a request must be before its body is read, parsed or handed to bolt.
MAX_BODY_BYTES: Final = 1024 * 1024  # Slack's payloads are a few KiB; larger is refused (413)
SIGNATURE_WINDOW: Final = 300  # seconds a signed request stays valid (Slack's 5 minutes)
REJECTED_LOG_SECONDS: Final = 60.0  # refused requests are counted in one line this often
REPLAYS_REMEMBERED: Final = 65_536  # signatures kept (for SIGNATURE_WINDOW) to spot replays

# Slack's Block Kit limits (https://docs.slack.dev/reference/block-kit/blocks), and our margins.
MAX_BLOCKS: Final = 50
MAX_SECTION_TEXT: Final = 3000
MAX_HEADER_TEXT: Final = 150
MAX_CONTEXT_ELEMENTS: Final = 10
MESSAGE_CHARS: Final = 12_000  # what we put in one message, blocks and fallback together
SECTION_CHARS: Final = 2_900  # a little under 3000: room for a continuation mark
CONTEXT_ELEMENT_CHARS: Final = 1_000
FALLBACK_CHARS: Final = 300
PLAIN_TEXT_CHARS: Final = 3_000  # a text-only answer longer than this goes into blocks

# Errors after which posting again cannot help: the user is told at once, in one sentence.
_PERMANENT_POST_ERRORS: Final = {
    "not_in_channel": "I can't post in this channel: invite me with /invite @redigest, then try again.",
    "channel_not_found": (
        "I can't see this channel (a private channel or a conversation I'm not in): "
        "invite me with /invite @redigest, then try again."
    ),
    "is_archived": "This channel is archived, so I can't post in it.",
    "restricted_action": "This workspace doesn't let me post in this channel.",
    "restricted_action_read_only_channel": "This channel is read-only, so I can't post in it.",
    "restricted_action_thread_only_channel": "This channel only allows replies in threads.",
    "restricted_action_non_threadable_channel": "This channel doesn't allow threads.",
    "ekm_access_denied": "This workspace's key management doesn't let me post here.",
    "thread_not_found": "The message to answer under is gone, so there is no thread to post in.",
    "message_not_found": "The message to answer under is gone, so there is no thread to post in.",
    "missing_scope": "I'm missing a Slack permission for this; an admin should reinstall the app.",
    "msg_too_long": "The digest came out too long for Slack; this has been logged.",
    "invalid_blocks": "The digest could not be laid out for Slack; this has been logged.",
    "invalid_blocks_format": "The digest could not be laid out for Slack; this has been logged.",
}
_BUG_ERRORS: Final = {"msg_too_long", "invalid_blocks", "invalid_blocks_format", "missing_scope"}


class SlackConfigError(DigestError, ValueError):
    """A Slack setting is missing or wrong; the message names the setting and the fix (one
    sentence, like every DigestError, so the CLI shows it as it shows a bad setting)."""


class SlackPostError(DigestError):
    """Slack refused a post for a reason retrying cannot fix; user_message says what to do."""

    def __init__(self, user_message: str, slack_error: str) -> None:
        super().__init__(user_message)
        self.slack_error = slack_error


class SlackPostRefused(SlackPostError, PostRefused):
    """…and a workspace admin can fix it (invite the bot, unarchive the channel)."""


# =============================================================================== configuration


@dataclass(frozen=True, slots=True)
class SlackConfig:
    """How to reach Slack. Secrets are kept out of repr() (and so out of logs and tracebacks)."""

    bot_token: str = field(repr=False)
    app_token: str | None = field(default=None, repr=False)  # xapp-…: Socket Mode
    signing_secret: str | None = field(default=None, repr=False)  # HTTP mode
    port: int = 3000
    host: str = DEFAULT_HOST  # REDIGEST_SLACK_HOST: where HTTP mode listens
    api_url: str | None = None  # REDIGEST_SLACK_API_URL: another Web API base (tests, proxies)
    admin_group: str | None = None  # a user group (S…) whose members may manage the bot
    flag_emoji: str = "mag"  # 🔍, as Slack names it
    shortcut_callback_id: str = "deep_analysis"
    post_interval: float = 1.0  # seconds between chat.postMessage calls in one channel
    rate_limit_retries: int = 2  # 429s retried (after Retry-After) per Web API call
    admin_cache_seconds: float = 300.0
    history_scan: int = 1000  # messages find_posted reads back in a channel at most
    concurrency: int = 8  # commands, reactions and shortcuts worked on at once (after the ack)
    startup_timeout: float = 15.0  # seconds for the token checks at start-up, all together

    def __post_init__(self) -> None:
        if not self.bot_token.strip():
            raise SlackConfigError("SLACK_BOT_TOKEN is empty: copy the bot token (xoxb-…).")
        if not self.app_token and not self.signing_secret:
            raise SlackConfigError(
                "Slack needs SLACK_APP_TOKEN (Socket Mode, no public URL needed) or "
                "SLACK_SIGNING_SECRET (HTTP mode): set one in .env (see .env.example)."
            )
        if self.app_token and not self.app_token.startswith("xapp-"):
            raise SlackConfigError(
                "SLACK_APP_TOKEN must be an app-level token starting with xapp- "
                "(Basic Information → App-Level Tokens, scope connections:write)."
            )
        if self.api_url and not self.api_url.startswith(("http://", "https://")):
            raise SlackConfigError(
                "REDIGEST_SLACK_API_URL must be an http(s) URL, like https://slack.com/api/"
            )
        if not self.host.strip():
            raise SlackConfigError(
                "REDIGEST_SLACK_HOST is empty: set the address HTTP mode listens on, like "
                "127.0.0.1 behind a reverse proxy."
            )

    @property
    def socket_mode(self) -> bool:
        return bool(self.app_token)

    @property
    def web_api_url(self) -> str:
        base = self.api_url or DEFAULT_API_URL
        return base if base.endswith("/") else base + "/"

    @classmethod
    def from_settings(cls, settings: Settings) -> SlackConfig | None:
        """The Slack part of the settings; None when no bot token is configured."""
        if settings.slack_bot_token is None:
            return None
        secret = settings.slack_signing_secret
        app_token = settings.slack_app_token
        return cls(
            bot_token=settings.slack_bot_token.get_secret_value(),
            app_token=app_token.get_secret_value() if app_token else None,
            signing_secret=secret.get_secret_value() if secret else None,
            port=settings.slack_port,
            host=settings.slack_host,
            api_url=settings.slack_api_url,
            admin_group=settings.slack_admin_group,
        )


# =============================================================================== mrkdwn

ZWSP: Final = "\u200b"
_WS = re.compile(r"\s+")
_BROADCAST = re.compile(r"@(channel|here|everyone)", re.IGNORECASE)  # also glued to a link
# Formatting markers a piece of text could use to start bold/italic/strike/code of its own; a
# marker that is not inside a word is replaced by a look-alike that Slack does not interpret.
_MARKER_LOOKALIKES: Final = {"*": "∗", "_": "ˍ", "~": "∼", "`": "ˋ"}
_ESCAPABLE: Final = set("\\`*_{}[]()#+-.!|~>^")
_URL = re.compile(r"https?://[^\s<>\[\]\"'`|{}^]+", re.IGNORECASE)
_LINK = re.compile(
    r"\[(?P<label>[^\[\]\n]{1,300})\]\(\s*<?(?P<url>https?://[^\s<>]+?)>?"
    r"(?:\s+\"[^\"\n]*\")?\s*\)",
    re.IGNORECASE,
)
_URL_TRAILING: Final = ".,;:!?*_~'\""


def _escape_entities(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def defuse_broadcasts(text: str) -> str:
    """`@channel`, `@here`, `@everyone` shown but never parsed as a mention."""
    return _BROADCAST.sub(lambda m: "@" + ZWSP + m.group(1), text)


def _neutralise_markers(text: str) -> str:
    if not any(ch in text for ch in _MARKER_LOOKALIKES):
        return text
    out = []
    last = len(text) - 1
    for i, ch in enumerate(text):
        lookalike = _MARKER_LOOKALIKES.get(ch)
        if lookalike is not None and not (
            0 < i < last and text[i - 1].isalnum() and text[i + 1].isalnum()
        ):
            out.append(lookalike)  # snake_case and 5*3 stay; anything that could pair changes
        else:
            out.append(ch)
    return "".join(out)


def escape_mrkdwn(text: str) -> str:
    """Untrusted text as inert, one-line mrkdwn: no mentions, links or formatting of its own."""
    return _neutralise_markers(defuse_broadcasts(_escape_entities(_WS.sub(" ", text))))


def escape_answer(text: str) -> str:
    """The core's own answers (they may echo what someone typed): escaped, newlines and the
    core's backtick code kept."""
    return defuse_broadcasts(_escape_entities(text))


def _plain_text(text: str, limit: int) -> str:
    """For plain_text objects: nothing is parsed there, but keep angle brackets out anyway."""
    flat = _WS.sub(" ", text).strip().replace("<", "‹").replace(">", "›")
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def clip_mrkdwn(text: str, limit: int) -> str:
    """At most `limit` characters, cut where no entity (`&amp;`) or link (`<…>`) is split."""
    if len(text) <= limit:
        return text
    cut = limit - 1
    amp = text.rfind("&", max(0, cut - 6), cut)
    if amp != -1 and ";" not in text[amp:cut]:
        cut = amp
    lt = text.rfind("<", 0, cut)
    if lt != -1 and ">" not in text[lt:cut]:
        cut = lt
    return text[:cut].rstrip() + "…"


def _wrap(marker: str, text: str) -> str:
    """`text` in a formatting marker, whitespace kept outside (Slack ignores `* x *`)."""
    core = text.strip()
    if not core:
        return text
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    return f"{lead}{marker}{core}{marker}{trail}"


def _url_for_link(url: str) -> str:
    return (
        url.replace("&", "&amp;")
        .replace("<", "%3C")
        .replace(">", "%3E")
        .replace("|", "%7C")
        .replace(" ", "%20")
    )


def short_url(url: str, limit: int = 70) -> str:
    """A readable label for a link: no scheme, no www., at most `limit` characters."""
    label = re.sub(r"^https?://(www\.)?", "", url, flags=re.IGNORECASE).rstrip("/")
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _link_label(label: str) -> str:
    return escape_mrkdwn(label).replace("|", "¦").strip() or "link"


def is_listed(url: str, allowed: frozenset[str]) -> bool:
    """Whether the report lists this URL (`allowed` holds link_key()s)."""
    return link_key(url) in allowed


def link_mrkdwn(url: str, label: str | None, allowed: frozenset[str]) -> str:
    """`<url|label>` for a URL the report lists; escaped text for anything else."""
    if is_listed(url, allowed):
        return f"<{_url_for_link(url)}|{_link_label(label or short_url(url))}>"
    if label and label.strip() != url:
        return f"{escape_mrkdwn(label)} ({escape_mrkdwn(url)})"
    return escape_mrkdwn(url)


def _trim_url(url: str) -> str:
    while url:
        unbalanced = url[-1] == ")" and url.count(")") > url.count("(")
        if url[-1] not in _URL_TRAILING and not unbalanced:
            break
        url = url[:-1]
    return url


def _boundary(text: str, start: int, end: int) -> bool:
    """A construct at text[start:end] can be formatted: no letter or digit right outside it."""
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    return not before.isalnum() and not after.isalnum()


def _find_closer(text: str, delim: str, start: int) -> int:
    """Where `delim` closes an emphasis whose inner text starts at `start`; -1 when none does.

    The inner text is not empty and does not end in a space; a single `*` or `_` that is half
    of a double one is not a closer.
    """
    j = text.find(delim, start + 1)
    while j != -1:
        if len(delim) == 2:
            while text[j + 2 : j + 3] == delim[0]:
                j += 1  # `***both***`: the bold closes on the last two of the run
            if not text[j - 1].isspace():
                return j
        elif not text[j - 1].isspace() and delim not in (text[j + 1 : j + 2], text[j - 1]):
            return j
        j = text.find(delim, j + 1)
    return -1


_DOUBLE_DELIMS: Final = (("**", "*", "bold"), ("__", "*", "bold"), ("~~", "~", "strike"))


def reddit_to_mrkdwn(
    text: str, allowed: frozenset[str], _styles: frozenset[str] = frozenset()
) -> str:
    """Reddit markdown (one paragraph) as mrkdwn: **bold**, *italic*/_italic_, ~~strike~~,
    `code` and [label](url) keep their meaning; everything else is escaped text."""
    out: list[str] = []
    plain: list[str] = []
    n = len(text)

    def flush() -> None:
        if plain:
            out.append(escape_mrkdwn("".join(plain)))
            plain.clear()

    def styled(marker: str, style: str, start: int, inner: str, end: int) -> int:
        rendered = reddit_to_mrkdwn(inner, allowed, _styles | {style})
        flush()
        if style in _styles or not _boundary(text, start, end):
            out.append(rendered)  # Slack would not format it here: keep the words, drop marks
        else:
            out.append(_wrap(marker, rendered))
        return end

    def code(i: int) -> int | None:
        run = len(text[i:]) - len(text[i:].lstrip("`"))
        close = text.find("`" * run, i + run)
        if close == -1:
            return None
        inner = _WS.sub(" ", text[i + run : close]).strip().replace("`", "ˋ")
        flush()
        if inner:
            out.append(f"`{defuse_broadcasts(_escape_entities(inner))}`")  # never pings
        return close + run

    def link(i: int) -> int | None:
        m = _LINK.match(text, i)
        if m is None:
            return None
        url = unescape_markdown(m.group("url"))
        flush()
        if is_listed(url, allowed) and "link" not in _styles:
            out.append(f"<{_url_for_link(url)}|{_link_label(unescape_markdown(m.group('label')))}>")
        else:
            label = reddit_to_mrkdwn(m.group("label"), frozenset(), _styles | {"link"})
            out.append(f"{label} ({escape_mrkdwn(url)})")
        return m.end()

    def bare_url(i: int) -> int | None:
        m = _URL.match(text, i) if i == 0 or not text[i - 1].isalnum() else None
        if m is None:
            return None
        raw = _trim_url(m.group(0))
        url = unescape_markdown(raw)
        flush()
        if is_listed(url, allowed) and "link" not in _styles:
            out.append(f"<{_url_for_link(url)}|{_link_label(short_url(url))}>")
        else:
            out.append(escape_mrkdwn(url))
        return i + len(raw)

    def emphasis(i: int) -> int | None:
        for delim, marker, style in _DOUBLE_DELIMS:
            if text.startswith(delim, i):
                if i + 2 < n and not text[i + 2].isspace():
                    close = _find_closer(text, delim, i + 2)
                    if close != -1:
                        return styled(marker, style, i, text[i + 2 : close], close + 2)
                return None
        ch = text[i]
        if ch in "*_" and i + 1 < n and not text[i + 1].isspace():
            close = _find_closer(text, ch, i + 1)
            if close != -1 and (ch == "*" or _boundary(text, i, close + 1)):
                return styled("_", "italic", i, text[i + 1 : close], close + 1)
        return None

    def spoiler(i: int) -> int | None:
        close = text.find("!<", i + 2) if text.startswith(">!", i) else -1
        if close == -1:
            return None
        plain.append(text[i + 2 : close])  # a Reddit spoiler: shown as plain words
        return close + 2

    i = 0
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n and text[i + 1] in _ESCAPABLE:
            plain.append(text[i + 1])
            i += 2
            continue
        after: int | None = None
        if ch == "`":
            after = code(i)
        elif ch == "[":
            after = link(i)
        elif ch in "hH":
            after = bare_url(i)
        elif ch in "*_~":
            after = emphasis(i)
        elif ch == ">":
            after = spoiler(i)
        if after is None:
            plain.append(ch)
            i += 1
        else:
            i = after
    flush()
    return "".join(out)


# =============================================================================== Block Kit


@dataclass(frozen=True, slots=True)
class SlackMessage:
    """One chat message: a plain fallback `text` (always) and Block Kit `blocks` (maybe)."""

    text: str
    blocks: tuple[dict[str, Any], ...] | None = None

    @property
    def chars(self) -> int:
        return len(self.text) + sum(block_chars(b) for b in self.blocks or ())


def _mrkdwn(text: str) -> dict[str, Any]:
    # verbatim: Slack must not auto-link URLs or channel names, nor parse mentions, in our text.
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(text)}


def header(text: str) -> dict[str, Any]:
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": _plain_text(text, MAX_HEADER_TEXT) or "redigest"},
    }


def context(texts: Sequence[str]) -> dict[str, Any]:
    return {"type": "context", "elements": [_mrkdwn(t) for t in texts[:MAX_CONTEXT_ELEMENTS]]}


def block_chars(block: Mapping[str, Any]) -> int:
    """The characters of text a block carries."""
    total = 0
    text = block.get("text")
    if isinstance(text, Mapping):
        total += len(str(text.get("text", "")))
    for element in block.get("elements", ()) or ():
        if isinstance(element, Mapping):
            total += len(str(element.get("text", "")))
    for f in block.get("fields", ()) or ():
        if isinstance(f, Mapping):
            total += len(str(f.get("text", "")))
    return total


def line_mrkdwn(line: Line, allowed: frozenset[str]) -> str:
    parts: list[str] = []
    for span in line:
        if span.style == "link":
            parts.append(link_mrkdwn(span.text, None, allowed))
        elif span.style == "strong":
            parts.append(_wrap("*", escape_mrkdwn(span.text)))
        elif span.style == "muted":
            parts.append(_wrap("_", escape_mrkdwn(span.text)))
        elif span.style == "quote":
            parts.append("“" + reddit_to_mrkdwn(_WS.sub(" ", span.text).strip(), allowed) + "”")
        else:
            parts.append(escape_mrkdwn(span.text))
    text = "".join(parts).strip()
    return ZWSP + text if text.startswith("&gt;") else text  # never a block quote of its own


def _line_plain(line: Line) -> str:
    return "".join(escape_mrkdwn(span.text) for span in line).strip()


def _split_words(text: str, limit: int) -> list[str]:
    """Escaped, marker-free text cut at spaces (or anywhere, entity-safe) into ≤ limit pieces."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind(" ", 0, limit)
        if cut <= limit // 2:
            cut = limit
            amp = rest.rfind("&", max(0, cut - 6), cut)
            if amp > 0 and ";" not in rest[amp:cut]:
                cut = amp
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def _block_lines(block: Block, allowed: frozenset[str]) -> list[tuple[str, Line]]:
    """(mrkdwn, the line it came from) for every line of a document block."""
    out: list[tuple[str, Line]] = []
    if block.kind == "fields":
        for label, line in zip(block.labels, block.lines, strict=True):
            out.append((f"*{escape_mrkdwn(label)}:* {line_mrkdwn(line, allowed)}", line))
    elif block.kind == "bullets":
        out += [(f"• {line_mrkdwn(line, allowed)}", line) for line in block.lines]
    else:
        out += [(line_mrkdwn(line, allowed), line) for line in block.lines]
    return out


def _sections(lines: Iterable[tuple[str, Line | None]]) -> list[dict[str, Any]]:
    """Lines packed into section blocks of at most SECTION_CHARS characters each."""
    blocks: list[dict[str, Any]] = []
    current: list[str] = []
    size = 0
    for text, source in lines:
        pieces = [text]
        if len(text) > SECTION_CHARS:
            # Too long for one section: the words alone, split where it is safe.
            plain = _line_plain(source) if source is not None else text
            pieces = _split_words(plain, SECTION_CHARS)
        for piece in pieces:
            if current and size + 1 + len(piece) > SECTION_CHARS:
                blocks.append(section("\n".join(current)))
                current, size = [], 0
            current.append(piece)
            size += len(piece) + (1 if size else 0)
    if current:
        blocks.append(section("\n".join(current)))
    return blocks


def _footer_blocks(lines: Sequence[str]) -> list[dict[str, Any]]:
    texts = [clip_mrkdwn(escape_mrkdwn(t), CONTEXT_ELEMENT_CHARS) for t in lines if t.strip()]
    return [
        context(texts[i : i + MAX_CONTEXT_ELEMENTS])
        for i in range(0, len(texts), MAX_CONTEXT_ELEMENTS)
    ]


def paginate(
    first: Sequence[dict[str, Any]],
    body: Sequence[dict[str, Any]],
    *,
    fallback: str,
    continued: str,
) -> list[SlackMessage]:
    """Blocks spread over as few messages as Slack's limits allow, in order.

    The first message starts with `first`; later ones with a context line "`continued` · part
    k of n". Each stays within MAX_BLOCKS blocks and MESSAGE_CHARS characters.
    """
    reserve_chars = len(fallback) + len(continued) + 40
    budget = MESSAGE_CHARS - reserve_chars
    pages: list[list[dict[str, Any]]] = [list(first)]
    size = sum(block_chars(b) for b in first)
    for block in body:
        chars = block_chars(block)
        if pages[-1] and (len(pages[-1]) >= MAX_BLOCKS - 1 or size + chars > budget):
            pages.append([])
            size = 0
        pages[-1].append(block)
        size += chars
    total = len(pages)
    messages = []
    for k, page in enumerate(pages, 1):
        if k == 1:
            messages.append(SlackMessage(fallback, tuple(page)))
            continue
        mark = f"{continued} · part {k} of {total}"
        messages.append(
            SlackMessage(
                clip_mrkdwn(f"{fallback} (part {k} of {total})", FALLBACK_CHARS + 40),
                (context([mark]), *page),
            )
        )
    return messages


def allowed_links(reports: Iterable[Report]) -> frozenset[str]:
    """What a message may link (as link_key()s): the threads' own URLs and every link the
    reports list, which were all found in the threads."""
    urls: set[str] = set()
    for r in reports:
        urls.update((r.thread.permalink, r.thread.url))
        urls.update(link.url for link in r.stats.links)
    return frozenset(link_key(u) for u in urls if u)


def report_fallback(report: Report) -> str:
    t = report.thread
    depth = "Deep analysis" if report.depth is Depth.DEEP else "Digest"
    text = f"{depth} of r/{t.subreddit}: {t.title} · {points(t.score)} · {plural(t.num_comments, 'comment')}"
    return clip_mrkdwn(escape_mrkdwn(text), FALLBACK_CHARS)


def _document_messages(
    doc: Document,
    allowed: frozenset[str],
    *,
    heading: str,
    intro: str | None,
    fallback: str,
    continued: str,
) -> list[SlackMessage]:
    first: list[dict[str, Any]] = [header(heading)]
    if intro:
        first.append(context([clip_mrkdwn(escape_mrkdwn(intro), CONTEXT_ELEMENT_CHARS)]))
    title = line_mrkdwn(doc.title, allowed)
    if title:
        first += _sections([(title, doc.title)])
    body: list[dict[str, Any]] = []
    for sec in doc.sections:
        lines: list[tuple[str, Line | None]] = [(f"*{escape_mrkdwn(sec.title)}*", None)]
        for block in sec.blocks:
            lines += _block_lines(block, allowed)
        body += _sections(lines)
    body += _footer_blocks(doc.footer)
    return paginate(first, body, fallback=fallback, continued=continued)


def report_messages(report: Report, intro: str | None = None) -> list[SlackMessage]:
    """A brief or deep report as Block Kit messages (usually one for a brief digest)."""
    t = report.thread
    depth = "Deep analysis" if report.depth is Depth.DEEP else "Digest"
    return _document_messages(
        document(report),
        allowed_links([report]),
        heading=f"{depth} · r/{t.subreddit}",
        intro=intro,
        fallback=report_fallback(report),
        continued=clip_mrkdwn(escape_mrkdwn(f"{depth} of r/{t.subreddit}: {t.title}"), 200),
    )


def bundle_messages(bundle: Bundle, intro: str | None = None) -> list[SlackMessage]:
    """A scheduled digest (several threads, condensed) as one message, split if it must be."""
    doc = bundle_document(bundle.title, bundle.reports, bundle.note, bundle.empty_text)
    count = len(bundle.reports)
    fallback = clip_mrkdwn(
        escape_mrkdwn(f"{bundle.title}: {count} thread{'s' if count != 1 else ''}"),
        FALLBACK_CHARS,
    )
    return _document_messages(
        replace(doc, title=()),
        allowed_links(bundle.reports),
        heading=bundle.title,
        intro=intro,
        fallback=fallback,
        continued=clip_mrkdwn(escape_mrkdwn(bundle.title), 200),
    )


def text_messages(text: str) -> list[SlackMessage]:
    """An answer: plain text when short, otherwise sections split over messages."""
    escaped = escape_answer(text.strip()) or "(empty)"
    if len(escaped) <= PLAIN_TEXT_CHARS:
        return [SlackMessage(escaped)]
    first_line = escaped.split("\n", 1)[0]
    fallback = clip_mrkdwn(first_line, FALLBACK_CHARS)
    lines: list[tuple[str, Line | None]] = [(ln, None) for ln in escaped.split("\n")]
    return paginate([], _sections(lines), fallback=fallback, continued="continued")


def delivery_messages(delivery: Delivery) -> list[SlackMessage]:
    """Everything a Delivery becomes in Slack, in posting order (never empty)."""
    if delivery.report is not None:
        return report_messages(delivery.report, delivery.header)
    if delivery.bundle is not None:
        return bundle_messages(delivery.bundle, delivery.header)
    text = delivery.text or ""
    if delivery.header:
        text = f"{delivery.header}\n{text}"
    return text_messages(text)


# =============================================================================== payloads in

_SLACK_LINK = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")


def slack_to_plain(text: str) -> str:
    """Slack's encoded text as a person typed it: `<url|label>` → url, `<@U1|ann>` → @ann,
    `<#C1|general>` → #general, `<!here>` → @here; entities decoded."""

    def one(m: re.Match[str]) -> str:
        target, label = m.group(1), m.group(2)
        if target.startswith("@"):
            return "@" + (label or target[1:])
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            return "@" + (label or target[1:].split("^", 1)[0])
        return target  # a link: the URL itself, which is what a thread reference needs

    decoded = _SLACK_LINK.sub(one, text)
    return decoded.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def message_text(message: Mapping[str, Any]) -> str:
    """A Slack message's text plus the links in its attachments and rich-text blocks."""
    parts = [slack_to_plain(str(message.get("text") or ""))]
    for attachment in message.get("attachments") or ():
        if isinstance(attachment, Mapping):
            for key in ("original_url", "from_url", "title_link"):
                if isinstance(attachment.get(key), str):
                    parts.append(attachment[key])

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            if node.get("type") == "link" and isinstance(node.get("url"), str):
                parts.append(node["url"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(message.get("blocks") or [])
    return "\n".join(p for p in parts if p)


def _command_name(command: str) -> str:
    """`/digest` → digest; any other slash command is redigest's namespace (`/redigest help`),
    so an operator may rename it."""
    name = command.strip().lstrip("/").lower()
    return "digest" if name == "digest" else "redigest"


def request_from_command(
    command: Mapping[str, Any], *, can_manage: bool = False, reply_token: str | None = None
) -> Request:
    """A slash command's fields (HTTP form or Socket Mode payload) → a Request."""
    return Request(
        platform=PLATFORM,
        server_id=str(command.get("team_id") or command.get("enterprise_id") or ""),
        channel_id=str(command.get("channel_id") or ""),
        user_id=str(command.get("user_id") or ""),
        command=_command_name(str(command.get("command") or "")),
        text=slack_to_plain(str(command.get("text") or "")).strip(),
        can_manage=can_manage,
        reply_token=reply_token or str(command.get("trigger_id") or "") or uuid.uuid4().hex,
    )


def _base_emoji(name: str) -> str:
    return name.split("::", 1)[0]  # "thumbsup::skin-tone-2" → "thumbsup"


def reaction_from_event(body: Mapping[str, Any], *, bot_user_id: str | None) -> Reaction | None:
    """An Events API `reaction_added` body → a Reaction (None for anything but a message)."""
    event = body.get("event") or {}
    item = event.get("item") or {}
    if event.get("type") != "reaction_added" or item.get("type") != "message":
        return None
    user = str(event.get("user") or "")
    return Reaction(
        message=MessageRef(PLATFORM, str(item.get("channel") or ""), str(item.get("ts") or "")),
        emoji=_base_emoji(str(event.get("reaction") or "")),
        user_id=user,
        server_id=str(body.get("team_id") or body.get("enterprise_id") or ""),
        by_bot=bool(bot_user_id) and user == bot_user_id,
    )


def reaction_from_shortcut(
    payload: Mapping[str, Any], *, emoji: str, bot_user_id: str | None
) -> Reaction:
    """A message shortcut ("Deep analysis") → the Reaction the flag emoji would have been."""
    message = payload.get("message") or {}
    ts = str(message.get("ts") or payload.get("message_ts") or "")
    thread_ts = message.get("thread_ts")
    user = str((payload.get("user") or {}).get("id") or "")
    team = payload.get("team") or {}
    return Reaction(
        message=MessageRef(
            PLATFORM,
            str((payload.get("channel") or {}).get("id") or ""),
            ts,
            str(thread_ts) if thread_ts and thread_ts != ts else None,
        ),
        emoji=emoji,
        user_id=user,
        server_id=str(team.get("id") or team.get("enterprise_id") or ""),
        by_bot=bool(bot_user_id) and user == bot_user_id,
        message_text=message_text(message),
        requested=True,
    )


# =============================================================================== HTTP mode: the door

# The JSON payloads redigest takes at its request URL (besides slash commands and ssl_check,
# which are plain forms); Slack sends others only to apps that asked for them.
_PAYLOAD_TYPES: Final = frozenset(
    {"event_callback", "url_verification", "app_rate_limited", "message_action"}
)
_OBJECT_KEYS: Final = ("event", "message", "view", "container", "item", "previous_message")
_OBJECT_OR_TEXT_KEYS: Final = ("user", "channel", "team", "enterprise")
_TEXT_KEYS: Final = (
    "token", "team_id", "enterprise_id", "api_app_id", "callback_id", "trigger_id",
    "response_url", "message_ts", "action_ts", "challenge", "event_id",
)  # fmt: skip


_SLACK_TS: Final = re.compile(r"\d{1,12}\.\d{1,9}")  # a message's id in its channel


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _ts(value: Any) -> bool:
    return isinstance(value, str) and _SLACK_TS.fullmatch(value) is not None


def _shape_problem(obj: Mapping[str, Any]) -> str | None:
    for key in _OBJECT_KEYS:
        if obj.get(key) is not None and not isinstance(obj[key], dict):
            return f"{key} is not an object"
    for key in _OBJECT_OR_TEXT_KEYS:
        if obj.get(key) is not None and not isinstance(obj[key], dict | str):
            return f"{key} is neither an object nor text"
    for key in _TEXT_KEYS:
        if obj.get(key) is not None and not isinstance(obj[key], str):
            return f"{key} is not text"
    for key in ("authorizations", "actions", "attachments", "blocks"):
        value = obj.get(key)
        if value is not None and not (
            isinstance(value, list) and all(isinstance(v, dict) for v in value)
        ):
            return f"{key} is not a list of objects"
    return None


def payload_problem(body: Any) -> str | None:
    """Why a signed HTTP-mode body is not a payload Slack sends, in a few words; None when it
    is one. Checked before bolt and the listeners read it, so neither meets a surprise."""
    if not isinstance(body, dict) or not body:
        return "not an object"
    if "ssl_check" in body or "command" in body:  # plain forms: every field is text
        if not all(isinstance(v, str) for v in body.values()):
            return "a form field that is not text"
        if "ssl_check" in body:
            return None
        if not body["command"].startswith("/"):
            return "a command without a slash"
        missing = [k for k in ("team_id", "channel_id", "user_id") if not body.get(k)]
        return f"a command without {', '.join(missing)}" if missing else None
    kind = body.get("type")
    if not isinstance(kind, str) or kind not in _PAYLOAD_TYPES:
        return "no payload type redigest takes"
    problem = _shape_problem(body)
    if problem is not None:
        return problem
    if kind == "url_verification" and not _text(body.get("challenge")):
        return "url_verification without a challenge"
    if kind == "event_callback":
        event = body.get("event")
        if not isinstance(event, dict) or not _text(event.get("type")):
            return "an event without a type"
        problem = _shape_problem(event)
        if problem is not None:
            return f"event: {problem}"
        if event["type"] == "reaction_added":
            item = event.get("item")
            if not (isinstance(item, dict) and _text(item.get("channel")) and _ts(item.get("ts"))
                    and _text(event.get("user")) and _text(event.get("reaction"))):  # fmt: skip
                return "reaction_added without user, reaction or item"
    if kind == "message_action":
        channel, user, message = body.get("channel"), body.get("user"), body.get("message")
        if not (_text(body.get("callback_id"))
                and isinstance(channel, dict) and _text(channel.get("id"))
                and isinstance(user, dict) and _text(user.get("id"))
                and isinstance(message, dict) and _ts(message.get("ts"))
                and isinstance(body.get("team") or {}, dict)):  # fmt: skip
            return "message_action without channel, user, team or message"
        problem = _shape_problem(message)
        if problem is not None:
            return f"message: {problem}"
    return None


def timestamp_problem(timestamp: str, now: float) -> str | None:
    """Why X-Slack-Request-Timestamp rules a request out; None when it is within the window."""
    if not timestamp:
        return "no X-Slack-Request-Timestamp"
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        return "a malformed X-Slack-Request-Timestamp"
    if abs(now - int(timestamp)) > SIGNATURE_WINDOW:
        return "a timestamp outside the 5-minute window"
    return None


def signature_matches(secret: bytes, timestamp: str, body: bytes, signature: str) -> bool:
    """Slack's v0 signature over the raw body, compared in constant time."""
    base = b"v0:" + timestamp.encode("ascii") + b":" + body
    expected = "v0=" + hmac.new(secret, base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))


class _CountedLog:
    """A log line at most every `seconds`, counting what happened in between: a flood of bad
    requests costs one line a minute, never one a request."""

    def __init__(self, message: str, seconds: float = REJECTED_LOG_SECONDS) -> None:
        self.message = message  # %d: how many since the last line, %s: the latest reason
        self.seconds = seconds
        self.count = 0
        self._next = 0.0

    def note(self, reason: str) -> None:
        self.count += 1
        now = time.monotonic()
        if now < self._next:
            return
        log.warning(self.message, self.count, reason)
        self.count = 0
        self._next = now + self.seconds


def _text_response(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text)


# =============================================================================== the adapter

T = TypeVar("T")


@dataclass
class _ResponseUrl:
    url: str
    expires: float
    uses: int = 0


class _TTLCache:
    """A small bounded mapping whose entries expire (admin checks, user groups)."""

    def __init__(self, seconds: float, size: int = 4096) -> None:
        self.seconds = seconds
        self.size = size
        self._items: OrderedDict[str, tuple[float, Any]] = OrderedDict()

    def get(self, key: str) -> Any:
        hit = self._items.get(key)
        if hit is None or hit[0] < time.monotonic():
            self._items.pop(key, None)
            return None
        return hit[1]

    def put(self, key: str, value: Any) -> None:
        self._items[key] = (time.monotonic() + self.seconds, value)
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)


class SlackChat:
    """The Slack side of redigest: a ChatPort for the core, and a bolt app feeding an Inbox."""

    platform = PLATFORM

    def __init__(self, config: SlackConfig) -> None:
        self.config = config
        self.bot_user_id: str | None = None
        self.bot_id: str | None = None
        self.team_id: str | None = None
        self._session: aiohttp.ClientSession | None = None
        self._web: AsyncWebClient | None = None
        self._app: AsyncApp | None = None
        self._inbox: Inbox | None = None
        self._runner: web.AppRunner | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._ready = asyncio.Event()
        self._http_port: int | None = None
        self._inflight: set[asyncio.Task[Any]] = set()
        self._work_slots = asyncio.Semaphore(config.concurrency)
        self._channel_locks: dict[str, asyncio.Lock] = {}
        self._last_post: dict[str, float] = {}
        self._response_urls: OrderedDict[str, _ResponseUrl] = OrderedDict()
        self._admins = _TTLCache(config.admin_cache_seconds)
        self._posted: OrderedDict[str, list[MessageRef]] = OrderedDict()  # key → refs, this run
        self._partial: dict[str, dict[int, MessageRef]] = {}  # key → parts found after a crash
        # HTTP mode's door: the signing key, signatures already seen (→ when they expire) and
        # the counted log lines about what was turned away.
        self._signing_key = (config.signing_secret or "").encode()
        self._seen_signatures: OrderedDict[str, float] = OrderedDict()
        self._refused = _CountedLog(
            f"Slack: refused %d request(s) to {EVENTS_PATH} since the last such line (the "
            "latest had %s); if Slack's own requests are refused, check SLACK_SIGNING_SECRET "
            "and this host's clock."
        )
        self._malformed = _CountedLog(
            "Slack: answered 400 to %d signed request(s) that are not Slack payloads since the "
            "last such line (the latest: %s)."
        )
        self._rate_limited = _CountedLog(
            "Slack: %d event delivery(ies) said Slack is dropping events to this app for a "
            "while (app_rate_limited, minute %s): it answers too slowly or gets too many."
        )
        self._bolt_failed = _CountedLog(
            "Slack: %d request(s) failed inside slack-bolt since the last such line (the "
            "latest: %s)."
        )

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> SlackChat:
        cfg = self.config
        self._session = aiohttp.ClientSession()
        self._web = AsyncWebClient(
            token=cfg.bot_token,
            base_url=cfg.web_api_url,
            session=self._session,
            retry_handlers=self._retry_handlers(),
            timeout=30,
        )
        try:
            auth = await self._check_tokens()
        except BaseException:
            await self._close_session()
            raise
        self.bot_user_id = auth.get("user_id")
        self.bot_id = auth.get("bot_id")
        self.team_id = auth.get("team_id")
        # bolt gets its own token-less client (same session and retries): it takes the token
        # from `authorize`, which answers from the auth.test above instead of calling it lazily
        # on the first request, before that request's ack.
        bolt_client = AsyncWebClient(
            base_url=cfg.web_api_url,
            session=self._session,
            retry_handlers=self._retry_handlers(),
            timeout=30,
        )
        self._app = AsyncApp(
            logger=bolt_log,
            name="redigest",
            client=bolt_client,
            signing_secret=cfg.signing_secret or "",
            request_verification_enabled=not cfg.socket_mode,
            authorize=self._authorize_function(),
            process_before_response=True,
        )
        self._register(self._app)
        return self

    async def _check_tokens(self) -> Mapping[str, Any]:
        """auth.test with the bot token and, in Socket Mode, apps.connections.open with the app
        token: once, within `startup_timeout`. Whatever fails is one sentence (SlackConfigError)
        naming the setting, not a retry loop or a traceback. Returns auth.test's answer."""
        cfg = self.config
        web_client = self.web
        step = "auth.test"
        try:
            async with asyncio.timeout(cfg.startup_timeout):
                auth = await web_client.auth_test()
                if cfg.socket_mode:
                    step = "apps.connections.open"
                    # The URL it answers is left unused: the socket handler asks for its own.
                    await web_client.apps_connections_open(app_token=cfg.app_token or "")
        except SlackApiError as exc:
            error = slack_error(exc)
            if step == "auth.test":
                raise SlackConfigError(
                    f"Slack refused the bot token ({error}): check SLACK_BOT_TOKEN "
                    "(OAuth & Permissions → Bot User OAuth Token, xoxb-…)."
                ) from None
            raise SlackConfigError(
                f"Slack refused the app token ({error}): check SLACK_APP_TOKEN (Basic "
                "Information → App-Level Tokens, an xapp- token with connections:write) and "
                "that Socket Mode is enabled for the app."
            ) from None
        except (aiohttp.ClientError, OSError) as exc:  # TimeoutError is an OSError
            if isinstance(exc, TimeoutError):
                reason = f"no answer to {step} within {cfg.startup_timeout:g} s"
            else:
                reason = f"{_connection_reason(exc)} on {step}"
            raise SlackConfigError(
                f"Slack's Web API at {cfg.web_api_url} cannot be reached ({reason}): check the "
                "network, or REDIGEST_SLACK_API_URL if it is set."
            ) from None
        return auth.data if isinstance(auth.data, dict) else {}

    def _retry_handlers(self) -> list[AsyncRetryHandler]:
        # A 429 is retried after its Retry-After; anything else is the caller's to handle.
        return [AsyncRateLimitErrorRetryHandler(max_retry_count=self.config.rate_limit_retries)]

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stop_transport()
        if self._inflight:
            _, pending = await asyncio.wait(self._inflight, timeout=5.0)
            for task in pending:
                task.cancel()
        await self._close_session()

    async def _close_session(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def run(self, inbox: Inbox) -> None:
        """Receive commands, shortcuts and reactions until cancelled."""
        if self._app is None:
            raise RuntimeError("use `async with SlackChat(config) as chat:` before chat.run()")
        self._inbox = inbox
        try:
            await self._start_transport()
            self._ready.set()
            await asyncio.Event().wait()
        finally:
            self._ready.clear()
            self._inbox = None
            await self._stop_transport()

    async def wait_ready(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Until run() is connected (Socket Mode) or listening (HTTP mode)."""
        await asyncio.wait_for(self._ready.wait(), timeout)

    @property
    def http_port(self) -> int | None:
        """The port HTTP mode listens on (the configured one, or the one picked for port 0)."""
        return self._http_port

    async def _start_transport(self) -> None:
        assert self._app is not None
        if self.config.socket_mode:
            assert self.config.app_token is not None
            self._socket = AsyncSocketModeHandler(self._app, self.config.app_token)
            await self._socket.connect_async()  # type: ignore[no-untyped-call]
            log.info("Slack: connected in Socket Mode as %s", self.bot_user_id)
            return
        # Our own handler, not bolt's web_app(): bolt parses a body before checking its
        # signature. A body larger than MAX_BODY_BYTES is refused while it is read.
        http_app = web.Application(client_max_size=MAX_BODY_BYTES)
        http_app.router.add_post(EVENTS_PATH, self._handle_http)
        runner = web.AppRunner(
            http_app, access_log=None, handle_signals=False, shutdown_timeout=2.0
        )
        await runner.setup()
        # A burst of commands opens many connections at once; aiohttp's default backlog (128)
        # drops the rest, and their retried SYN costs a second of Slack's three.
        site = web.TCPSite(runner, self.config.host, self.config.port, backlog=1024)
        await site.start()
        self._runner = runner
        address = runner.addresses[0] if runner.addresses else None
        self._http_port = int(address[1]) if isinstance(address, tuple) else self.config.port
        log.info("Slack: HTTP mode on %s:%s%s", self.config.host, self._http_port, EVENTS_PATH)

    @property
    def http_host(self) -> str | None:
        """The address HTTP mode listens on (None before it listens)."""
        address = self._runner.addresses[0] if self._runner and self._runner.addresses else None
        return str(address[0]) if isinstance(address, tuple) else None

    async def _handle_http(self, request: web.Request) -> web.StreamResponse:
        """POST /slack/events: the signature over the raw bytes first, then the body.

        401 for a missing, stale or wrong signature (nothing is parsed), 413 for a body over
        MAX_BODY_BYTES, 200 and nothing else for a replay of a request already handled, 400
        for a signed body that is not a Slack payload; bolt sees only what passed.
        """
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        problem = timestamp_problem(timestamp, time.time())
        if problem is None and not signature.startswith("v0="):
            problem = "no v0 X-Slack-Signature"
        if problem is not None:
            self._refused.note(problem)
            return _text_response(401, "invalid request signature")
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            self._refused.note("a body over the size limit")
            return _text_response(413, "request body too large")
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            self._refused.note("a body over the size limit")
            return _text_response(413, "request body too large")
        if not signature_matches(self._signing_key, timestamp, raw, signature):
            self._refused.note("a signature that does not match its body")
            return _text_response(401, "invalid request signature")
        if self._replayed(signature, int(timestamp)):
            log.debug("Slack: a replayed request was acknowledged and ignored")
            return web.Response(status=200)
        bolt_request = self._bolt_request(raw, request)
        if bolt_request is None:
            return _text_response(400, "not a Slack payload")
        body = bolt_request.body
        if body.get("type") == "app_rate_limited":
            self._rate_limited.note(str(body.get("minute_rate_limited") or "?"))
            return web.Response(status=200)
        if body.get("type") == "event_callback" and body["event"]["type"] != "reaction_added":
            return web.Response(status=200)  # not subscribed to (by the manifest): acknowledged
        if (
            body.get("type") == "message_action"
            and body["callback_id"] != self.config.shortcut_callback_id
        ):
            self._malformed.note("a shortcut redigest does not have")
            return _text_response(400, "unknown shortcut")
        assert self._app is not None
        return await to_aiohttp_response(await self._app.async_dispatch(bolt_request))

    def _replayed(self, signature: str, timestamp: int) -> bool:
        """Whether this exact signed request came before (within its window): remembered
        until the window closes, at most REPLAYS_REMEMBERED of them."""
        seen = self._seen_signatures
        now = time.time()
        while seen and (next(iter(seen.values())) < now or len(seen) >= REPLAYS_REMEMBERED):
            seen.popitem(last=False)
        if signature in seen:
            return True
        seen[signature] = timestamp + SIGNATURE_WINDOW
        return False

    def _bolt_request(self, raw: bytes, request: web.Request) -> AsyncBoltRequest | None:
        """The signed body as bolt reads it; None (counted in a log line) when it is not a
        payload Slack sends."""
        headers: dict[str, str | Sequence[str]] = dict(request.headers.items())
        try:
            bolt_request = AsyncBoltRequest(
                body=raw.decode("utf-8"), query=request.query_string, headers=headers
            )
        except Exception as exc:  # whatever bolt's parser trips on is junk
            self._malformed.note(f"a body that does not parse ({type(exc).__name__})")
            return None
        problem = payload_problem(bolt_request.body)
        if problem is not None:
            self._malformed.note(problem)
            return None
        return bolt_request

    async def _stop_transport(self) -> None:
        if self._socket is not None:
            socket, self._socket = self._socket, None
            with contextlib.suppress(Exception):
                await socket.close_async()  # type: ignore[no-untyped-call]
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    @property
    def web(self) -> AsyncWebClient:
        if self._web is None:
            raise RuntimeError("use `async with SlackChat(config) as chat:` first")
        return self._web

    # ------------------------------------------------------------------ bolt wiring

    def _authorize_function(self) -> Callable[..., Awaitable[AuthorizeResult]]:
        token = self.config.bot_token

        async def authorize(
            enterprise_id: str | None, team_id: str | None, user_id: str | None
        ) -> AuthorizeResult:
            return AuthorizeResult(
                enterprise_id=enterprise_id,
                team_id=team_id or self.team_id,
                bot_token=token,
                bot_id=self.bot_id,
                bot_user_id=self.bot_user_id,
                user_id=user_id,
            )

        return authorize

    def _register(self, app: AsyncApp) -> None:
        # Each listener acks, hands its work to a task and returns: with process_before_response
        # bolt answers Slack as soon as the listener returns (no polling for the ack), and no
        # I/O ever sits between a request and its ack. bolt reads parameter names: closures.

        async def on_command(ack: Any, command: dict[str, Any]) -> None:
            request = request_from_command(command)  # no I/O: the core says what the ack says
            await ack(text=acknowledgement(request.command, request.text))
            self._spawn(functools.partial(self._on_command, command))

        async def on_reaction(body: dict[str, Any]) -> None:
            self._spawn(functools.partial(self._on_reaction, body))  # bolt acks events itself

        async def on_shortcut(ack: Any, shortcut: dict[str, Any]) -> None:
            await ack()
            self._spawn(functools.partial(self._on_shortcut, shortcut))

        async def on_error(error: Exception) -> BoltResponse:
            # One counted line, no traceback: what reaches bolt has passed payload_problem(),
            # so this is a payload shape it did not foresee (or a bug in an ack).
            self._bolt_failed.note(f"{type(error).__name__}: {str(error)[:200]}")
            return BoltResponse(status=400, body="")

        app.command(re.compile(r"^/"))(on_command)
        app.event("reaction_added")(on_reaction)
        app.message_shortcut(self.config.shortcut_callback_id)(on_shortcut)
        app.error(on_error)

    def _spawn(self, work: Callable[[], Awaitable[None]]) -> None:
        task = asyncio.get_running_loop().create_task(self._run_work(work))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _run_work(self, work: Callable[[], Awaitable[None]]) -> None:
        # A few at a time: a burst of commands is acked first, then worked through.
        async with self._work_slots:
            try:
                await work()
            except Exception:  # each handler logs its own; this is the last line of defence
                log.exception("Slack: unexpected error in %r", work)

    # ------------------------------------------------------------------ inbound

    async def _on_command(self, command: Mapping[str, Any]) -> None:
        request = request_from_command(command)
        response_url = command.get("response_url")
        try:
            if request.command == "redigest":
                request = replace(request, can_manage=await self.can_manage(request.user_id))
            inbox = self._inbox
            if inbox is None:
                raise RuntimeError("a command arrived while the adapter was not running")
            reply = await inbox.on_request(request)
            if reply is None:  # the answer comes later (a digest's failure): keep the way back
                self._remember_response_url(request.reply_token, response_url)
            else:
                await self._reply_now(request.channel_id, request.user_id, response_url,
                                      reply.text)  # fmt: skip
        except Exception:
            log.exception(
                "Slack command %s %r from %s in %s failed",
                command.get("command"),
                request.text[:200],
                request.user_id,
                request.channel_id,
            )
            await self._reply_now(request.channel_id, request.user_id, response_url,
                                  SOMETHING_WENT_WRONG)  # fmt: skip

    async def _on_reaction(self, body: Mapping[str, Any]) -> None:
        """Every reaction goes to the core, which decides whether it flags (and reads the
        message through `read_message` only when it needs to)."""
        reaction = reaction_from_event(body, bot_user_id=self.bot_user_id)
        inbox = self._inbox
        if reaction is None or inbox is None:
            return
        try:
            await inbox.on_reaction(reaction)
        except Exception:
            log.exception("Slack reaction %s by %s on %s failed", reaction.emoji,
                          reaction.user_id, reaction.message.key)  # fmt: skip

    async def _on_shortcut(self, payload: Mapping[str, Any]) -> None:
        reaction = reaction_from_shortcut(
            payload, emoji=self.config.flag_emoji, bot_user_id=self.bot_user_id
        )
        channel, user = reaction.message.channel_id, reaction.user_id
        response_url = payload.get("response_url")
        try:
            if self._inbox is None:
                raise RuntimeError("a shortcut arrived while the adapter was not running")
            answer = await self._inbox.on_reaction(reaction)
            if answer:
                await self._reply_now(channel, user, response_url, answer)
        except Exception:
            log.exception("Slack shortcut by %s on %s failed", user, reaction.message.key)
            await self._reply_now(channel, user, response_url, SOMETHING_WENT_WRONG)

    async def read_message(self, ref: MessageRef) -> MessageText | None:
        """A message's text (links in attachments and blocks included), with the thread it
        sits in; None when it cannot be read."""
        found = await self._read_message(ref.channel_id, ref.message_id)
        if found is None:
            return None
        thread_ts = found.get("thread_ts")
        if thread_ts and thread_ts != ref.message_id:
            ref = replace(ref, thread_id=str(thread_ts))
        return MessageText(ref, message_text(found))

    async def _read_message(self, channel: str, ts: str) -> Mapping[str, Any] | None:
        """The message at `ts`, top-level or a thread reply; None when it cannot be read."""
        try:
            history = await self.web.conversations_history(
                channel=channel, latest=ts, oldest=ts, inclusive=True, limit=1
            )
            for m in history.get("messages") or ():
                if m.get("ts") == ts:
                    return dict(m)
            cursor: str | None = None
            for _ in range(5):  # a reply: look in its thread
                replies = await self.web.conversations_replies(
                    channel=channel, ts=ts, oldest=ts, inclusive=True, limit=200, cursor=cursor
                )
                for m in replies.get("messages") or ():
                    if m.get("ts") == ts:
                        return dict(m)
                cursor = (replies.get("response_metadata") or {}).get("next_cursor") or None
                if not cursor:
                    break
        except SlackApiError as exc:
            log.info("Slack: cannot read message %s in %s: %s", ts, channel,
                     slack_error(exc))  # fmt: skip
        return None

    async def can_manage(self, user_id: str) -> bool:
        """Workspace admins and owners, and members of the configured user group."""
        cached = self._admins.get(user_id)
        if cached is not None:
            return bool(cached)
        allowed = False
        try:
            info = await self.web.users_info(user=user_id)
            user = info.get("user") or {}
            allowed = not user.get("deleted") and any(
                user.get(k) for k in ("is_admin", "is_owner", "is_primary_owner")
            )
            if not allowed and self.config.admin_group:
                allowed = user_id in await self._group_members(self.config.admin_group)
        except SlackApiError as exc:
            log.warning("Slack: cannot check whether %s may manage the bot: %s", user_id,
                        slack_error(exc))  # fmt: skip
            return False
        self._admins.put(user_id, allowed)
        return allowed

    async def _group_members(self, group: str) -> frozenset[str]:
        key = f"group:{group}"
        cached = self._admins.get(key)
        if cached is not None:
            return frozenset(cached)
        members = frozenset(
            str(u)
            for u in (await self.web.usergroups_users_list(usergroup=group)).get("users") or ()
        )
        self._admins.put(key, members)
        return members

    # ------------------------------------------------------------------ outbound

    async def post(
        self, target: Target, delivery: Delivery, *, idempotency_key: str | None = None
    ) -> list[MessageRef]:
        messages = delivery_messages(delivery)
        if isinstance(target, EphemeralTarget):
            return await self._post_ephemeral(target, messages)
        if isinstance(target, ThreadTarget):
            channel = target.parent.channel_id
            thread_ts: str | None = target.parent.thread_id or target.parent.message_id
        else:
            channel, thread_ts = target.channel_id, None
        done = self._partial.pop(idempotency_key, {}) if idempotency_key else {}
        refs: list[MessageRef] = []
        for part, message in enumerate(messages):
            if part in done:
                refs.append(done[part])  # posted before a crash: not again
                continue
            metadata = None
            if idempotency_key is not None:
                payload = {"key": idempotency_key, "part": part, "parts": len(messages)}
                metadata = {"event_type": METADATA_EVENT, "event_payload": payload}
            response = await self._paced(
                channel, functools.partial(self._send, channel, message, thread_ts, metadata)
            )
            ts = str(response["ts"])
            refs.append(MessageRef(PLATFORM, str(response.get("channel") or channel), ts,
                                   thread_ts))  # fmt: skip
        if idempotency_key is not None:
            self._posted[idempotency_key] = refs
            while len(self._posted) > 4096:
                self._posted.popitem(last=False)
        return refs

    async def _send(
        self,
        channel: str,
        message: SlackMessage,
        thread_ts: str | None,
        metadata: dict[str, Any] | None,
    ) -> Any:
        try:
            return await self.web.chat_postMessage(
                channel=channel,
                text=message.text,
                blocks=list(message.blocks) if message.blocks else None,
                thread_ts=thread_ts,
                metadata=metadata,
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            error = self._post_error(exc, channel)
            if error is exc:
                raise
            raise error from exc

    def _post_error(self, exc: SlackApiError, channel: str) -> Exception:
        error = slack_error(exc)
        message = _PERMANENT_POST_ERRORS.get(error)
        if message is None:
            return exc  # rate limits after retries, outages: the core retries later
        if error in _BUG_ERRORS:
            log.error("Slack rejected a post to %s: %s %s", channel, error,
                      exc.response.get("response_metadata") or exc.response.get("errors"))  # fmt: skip
            return SlackPostError(message, error)
        return SlackPostRefused(message, error)

    async def _paced(self, channel: str, call: Callable[[], Awaitable[T]]) -> T:
        """Slack allows about one message per second per channel: keep to it."""
        loop = asyncio.get_running_loop()
        lock = self._channel_locks.setdefault(channel, asyncio.Lock())
        async with lock:
            wait = self._last_post.get(channel, -1e9) + self.config.post_interval - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                return await call()
            finally:
                self._last_post[channel] = loop.time()
                if len(self._last_post) > 2048:
                    self._forget_idle_channels(loop.time())

    def _forget_idle_channels(self, now: float) -> None:
        for channel, at in list(self._last_post.items()):
            lock = self._channel_locks.get(channel)
            if now - at > self.config.post_interval and (lock is None or not lock.locked()):
                self._last_post.pop(channel, None)
                self._channel_locks.pop(channel, None)

    async def _post_ephemeral(
        self, target: EphemeralTarget, messages: Sequence[SlackMessage]
    ) -> list[MessageRef]:
        refs: list[MessageRef] = []
        for message in messages:
            if await self._respond(target.reply_token, message):
                refs.append(MessageRef(PLATFORM, target.channel_id, "ephemeral"))
                continue
            try:
                response = await self.web.chat_postEphemeral(
                    channel=target.channel_id,
                    user=target.user_id,
                    text=message.text,
                    blocks=list(message.blocks) if message.blocks else None,
                )
            except SlackApiError as exc:
                error = self._post_error(exc, target.channel_id)
                if error is exc:
                    raise
                raise error from exc
            refs.append(MessageRef(PLATFORM, target.channel_id, str(response.get("message_ts"))))
        return refs

    @staticmethod
    def _usable_url(url: Any) -> str | None:
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            return None
        return url

    def _remember_response_url(self, token: str | None, url: Any) -> None:
        """Only requests whose answer comes late are remembered (for `post` to find)."""
        usable = self._usable_url(url)
        if not token or usable is None:
            return
        # Slack accepts up to 5 replies within 30 minutes on a response_url.
        self._response_urls[token] = _ResponseUrl(usable, time.monotonic() + 29 * 60)
        while len(self._response_urls) > 4096:
            self._response_urls.popitem(last=False)

    async def _respond(self, token: str | None, message: SlackMessage) -> bool:
        """A late answer through the request's response_url; False when there is none (or it
        failed)."""
        entry = self._response_urls.get(token) if token else None
        if entry is None or entry.expires < time.monotonic() or entry.uses >= 5:
            return False
        entry.uses += 1
        return await self._send_response(entry.url, message)

    async def _send_response(self, url: str, message: SlackMessage) -> bool:
        try:
            client = AsyncWebhookClient(url, session=self._session, timeout=10)
            response = await client.send(
                text=message.text,
                blocks=list(message.blocks) if message.blocks else None,
                response_type="ephemeral",
                replace_original=False,
            )
        except Exception as exc:
            log.info(
                "Slack: response_url failed (%s); using chat.postEphemeral", type(exc).__name__
            )
            return False
        if response.status_code != 200:
            log.info("Slack: response_url answered %s; using chat.postEphemeral",
                     response.status_code)  # fmt: skip
            return False
        return True

    async def _reply_now(self, channel: str, user: str, response_url: Any, text: str) -> None:
        """An immediate answer to one person: through the request's own response_url, else
        chat.postEphemeral. Failures are logged, never raised."""
        try:
            url = self._usable_url(response_url)
            for message in text_messages(text):
                if url is None or not await self._send_response(url, message):
                    await self._post_ephemeral(EphemeralTarget(channel, user), [message])
        except Exception:
            log.exception("Slack: could not tell %s in %s: %s", user, channel, text)

    # ------------------------------------------------------------------ after a crash

    async def find_posted(self, target: Target, idempotency_key: str) -> list[MessageRef] | None:
        """The messages posted with this key (their metadata carries it), or None.

        When only some parts of a multi-message post went out, returns None and remembers the
        parts, so the next `post` with this key sends only the missing ones.
        """
        known = self._posted.get(idempotency_key)
        if known:
            return list(known)
        if isinstance(target, EphemeralTarget):
            return None
        try:
            return await self._look_for(target, idempotency_key)
        except SlackApiError as exc:
            error = slack_error(exc)
            if error == "channel_not_found":
                return None  # gone, or private without us: nothing of ours can be there
            if error == "not_in_channel" and await self._join(target):
                try:
                    return await self._look_for(target, idempotency_key)
                except SlackApiError as again:
                    error = slack_error(again)
            log.warning("Slack: cannot look for %s: %s", idempotency_key, error)
            # Not "not posted": with chat:write.public a post can be there while its history
            # cannot be read. The core retries the lookup later instead of posting again.
            raise LookupUnavailable(
                "I can't read this channel's history to check whether the digest was already "
                "posted: invite me with /invite @redigest."
                if error == "not_in_channel"
                else f"I can't check this channel's history right now ({error}); I will try again."
            ) from None

    async def _join(self, target: Target) -> bool:
        """Join a public channel to read its history (needs channels:join); False if not."""
        channel = target.channel_id if isinstance(target, ChannelTarget | EphemeralTarget) else (
            target.parent.channel_id)  # fmt: skip
        try:
            await self.web.conversations_join(channel=channel)
        except SlackApiError as exc:
            log.info("Slack: cannot join %s to look for a post: %s", channel, slack_error(exc))
            return False
        return True

    async def _look_for(self, target: Target, idempotency_key: str) -> list[MessageRef] | None:
        if isinstance(target, EphemeralTarget):
            return None
        found: dict[int, MessageRef] = {}
        parts = 0
        async for m, thread_ts in self._recent_messages(target):
            meta = m.get("metadata") or {}
            payload = meta.get("event_payload") or {}
            if meta.get("event_type") != METADATA_EVENT or payload.get("key") != idempotency_key:
                continue
            if m.get("user") != self.bot_user_id and m.get("bot_id") != self.bot_id:
                continue
            part = int(payload.get("part", 0))
            parts = max(parts, int(payload.get("parts", 1)))
            channel = target.channel_id if isinstance(target, ChannelTarget) else (
                target.parent.channel_id)  # fmt: skip
            found[part] = MessageRef(PLATFORM, channel, str(m["ts"]), thread_ts)
        if not found:
            return None
        if len(found) < parts:
            self._partial[idempotency_key] = found
            return None
        return [found[i] for i in sorted(found)]

    async def _recent_messages(
        self, target: Target
    ) -> AsyncIterator[tuple[Mapping[str, Any], str | None]]:
        """(message, thread ts) of recent messages where `target` would have posted."""
        cursor: str | None = None
        seen = 0
        while seen < self.config.history_scan:
            if isinstance(target, ThreadTarget):
                root = target.parent.thread_id or target.parent.message_id
                page = await self.web.conversations_replies(
                    channel=target.parent.channel_id, ts=root, include_all_metadata=True,
                    limit=200, cursor=cursor,
                )  # fmt: skip
                thread_ts: str | None = root
            else:
                assert isinstance(target, ChannelTarget)
                page = await self.web.conversations_history(
                    channel=target.channel_id, include_all_metadata=True, limit=200,
                    cursor=cursor,
                )  # fmt: skip
                thread_ts = None
            messages = page.get("messages") or []
            for m in messages:
                if thread_ts is not None and m.get("ts") == thread_ts:
                    continue  # the parent itself
                yield m, thread_ts
            seen += len(messages)
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor or not messages:
                return


def slack_error(exc: SlackApiError) -> str:
    """Slack's error code (`not_in_channel`), or the HTTP status when the answer was not
    Slack's JSON (a proxy's error page, an outage)."""
    data = exc.response.data
    if isinstance(data, dict) and data.get("error"):
        return str(data["error"])
    return f"HTTP {exc.response.status_code}"


def _connection_reason(exc: BaseException) -> str:
    """Why a connection failed, in a few words (no traceback, no addresses twice)."""
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "its host name does not resolve"
    error = exc.os_error if isinstance(exc, aiohttp.ClientConnectorError) else exc
    if isinstance(error, OSError) and error.errno:
        return os.strerror(error.errno).lower()  # "connection refused", not asyncio's wording
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return type(error).__name__
