"""Discord for the bot core, through discord.py: slash commands, the "Deep analysis" message menu
and reactions in; reports, bundles and answers out as embeds, threads and ephemeral follow-ups.

It only translates. Commands become the same text a person would type (`bot.commands` parses
it), reactions become `Reaction`s, and a `Delivery` becomes messages within Discord's limits.
Reddit text is untrusted: everything rendered from a report is escaped so it cannot add
formatting, masked links or mentions, and every message is sent with `AllowedMentions.none()`.

    async with DiscordChat(config) as chat:   # logs in, syncs the commands (or raises one line)
        await chat.run(inbox)                  # the gateway, until cancelled

Interactions are answered within Discord's 3 seconds by deferring before anything else (from
the gateway event itself, before discord.py builds the interaction: see `ack.py`); the core
returns its answer (`Reply`), which replaces the deferred response. Only a digest is answered
late: "Posted: …" or its failure arrives through `post` with the request's reply token, and
edits the deferred response (or follows it up). A digest itself is posted as a normal channel message, so
the bot can later open a thread under it. Each post carries a short hash of its idempotency key
in the embed footer (and as an enforced `nonce`), so `find_posted` can find it after a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import secrets
import time
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, TypeAlias

import aiohttp
import yarl

from adapters.discord_chat.ack import EarlyAcks
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
from bot.commands import SETTING_KEYS
from bot.ports import ThreadRef
from bot.replies import SOMETHING_WENT_WRONG
from bot.thread_ref import parse_thread_text
from digest.errors import DigestError
from digest.render.document import Document, Line, Section, Span, bundle_document, document
from digest.render.markdown import ZWSP, defuse_mentions
from digest.report import Depth, Report

with warnings.catch_warnings():
    # discord.py 2.7 imports the stdlib audioop (voice), deprecated since 3.11: not our code.
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord
    import discord.gateway
    import discord.http
    from discord import app_commands

log = logging.getLogger(__name__)

PLATFORM = "discord"
API_VERSION = 10

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits)
MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_TOTAL = 6000
MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_FIELDS = 25
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_FOOTER = 2048
MAX_THREAD_NAME = 100
MAX_CHOICES = 25
INLINE_MAX = 40  # a field this short sits beside others; longer ones get a row of their own

DOC_FOOTER_MAX = 1200  # coverage, analyser and notes; the rest of the footer is the marker
MARKER_ROOM = 48  # " · page 12/12 · ref 0123456789ab"
HISTORY_LIMIT = 100  # how far back find_posted looks, per channel or thread
INTERACTION_TTL = 14.5 * 60  # interaction tokens live 15 minutes
TEXT_CACHE = 512  # reacted messages whose text we keep (several people flag the same one)
INTERACTION_ACKNOWLEDGED = 40060  # Discord's code: "Interaction has already been acknowledged."
ALREADY_HAS_THREAD = 160004  # Discord's code: "a thread has already been created for this message"

INVITE_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    embed_links=True,
    create_public_threads=True,
    send_messages_in_threads=True,
    read_message_history=True,
    add_reactions=True,
)
INVITE_SCOPES = ("bot", "applications.commands")
NO_MENTIONS = discord.AllowedMentions.none()

BAD_TOKEN = (
    "Discord rejected the bot token: set DISCORD_TOKEN to the token shown under Bot → Reset "
    "Token at https://discord.com/developers/applications."
)
NO_INTENT = (
    "Discord refused the Message Content intent: turn on “Message Content Intent” under Bot → "
    "Privileged Gateway Intents at https://discord.com/developers/applications, or set "
    "REDIGEST_DISCORD_MESSAGE_CONTENT=0."
)

Sendable: TypeAlias = (
    discord.TextChannel | discord.Thread | discord.VoiceChannel | discord.StageChannel
)


class DiscordStartupError(DigestError):
    """Discord refused to start the bot; the message names the setting to fix."""


class DiscordPostError(PostRefused):
    """Discord refused a post for a reason a server admin can fix (a permission, a deleted
    channel): not worth retrying; the message says what to do."""


NO_POST_PERMISSION = (
    "I can't post in this channel: give redigest the View Channel, Send Messages and Embed Links "
    "permissions here, then try again."
)
NO_THREAD_PERMISSION = (
    "I can't open a thread under that message: give redigest the Create Public Threads and Send "
    "Messages in Threads permissions in this channel, then try again."
)
GONE = "That channel or message no longer exists, so there is nowhere to post."


@dataclass(frozen=True, slots=True)
class DiscordConfig:
    """How to reach Discord. `token` is a secret: it never appears in a repr or a log line."""

    token: str = field(repr=False)
    api_base: str | None = None  # REDIGEST_DISCORD_API_BASE: unset is Discord itself
    gateway_url: str | None = None  # REDIGEST_DISCORD_GATEWAY_URL
    guild_ids: tuple[int, ...] = ()  # sync commands to these guilds only (instant)
    message_content: bool = False  # read users' messages when they are flagged (privileged)
    flag_emoji: str = "🔍"  # what "Deep analysis" reports as the emoji of its flag
    react_with_flag: bool = True  # put the flag under each brief digest: one click asks for depth
    guild_ready_timeout: float = 2.0  # discord.py's wait for GUILD_CREATEs after READY


# ====================================================================== rendering

_WS = re.compile(r"\s+")
_SPECIAL = re.compile(r"([\\*_~`|\[\]#>])")  # what could start formatting or a masked link
# <@1>, <@&1>, <#1>, </x:1>, <:e:1>, <a:e:1>, <t:1>, <id:customize> (a server navigation link)
_MENTION_LIKE = re.compile(r"<(?=[@#/:]|a:|t:|id:)", re.IGNORECASE)
_LINE_START = re.compile(r"^(?:[-+]|\d+[.)])(?=\s|$)")  # list items a line could start
_URL = re.compile(r"https?://[^\s<>]+", re.IGNORECASE)
_URL_TRAIL = ".,;:!?)]}'\"*_~"
_URL_UNSAFE = re.compile(r"[<>\"\\`|{}^]|@(?=everyone|here)", re.IGNORECASE)


def ulen(text: str) -> int:
    """Length as Discord counts it, at worst (UTF-16 code units; never less than code points)."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _cut(text: str, limit: int, ellipsis: str = "…") -> str:
    """`text` within `limit` (UTF-16 units), ending with an ellipsis when cut."""
    if ulen(text) <= limit:
        return text
    room = limit - ulen(ellipsis)
    out: list[str] = []
    used = 0
    for ch in text:
        size = 2 if ord(ch) > 0xFFFF else 1
        if used + size > room:
            break
        out.append(ch)
        used += size
    kept = "".join(out).rstrip()
    if kept.endswith("\\") and not kept.endswith("\\\\"):
        kept = kept[:-1]  # a lone escape would swallow what follows
    return kept + ellipsis


def neutralise(text: str) -> str:
    """Mentions shown, never live: `@everyone`/`@here` and `<@1>`, `<@&1>`, `<#1>` get a ZWSP."""
    return _MENTION_LIKE.sub("<" + ZWSP, defuse_mentions(text))


def safe_url(url: str) -> str | None:
    """An http(s) URL that cannot close its `<…>` or carry markup; None if it is not one."""
    url = url.strip()
    if not re.match(r"https?://[^\s/]", url, re.IGNORECASE) or any(c.isspace() for c in url):
        return None
    return _URL_UNSAFE.sub(lambda m: f"%{ord(m.group(0)[0]):02X}", url)


def _escape_words(text: str) -> str:
    return neutralise(_SPECIAL.sub(r"\\\1", text))


def escape(text: str) -> str:
    """Untrusted text as inert Discord markdown, on one line. URLs stay links (as `<url>`)."""
    flat = _WS.sub(" ", text)
    out: list[str] = []
    pos = 0
    for match in _URL.finditer(flat):
        url = match.group(0)
        trail = len(url) - len(url.rstrip(_URL_TRAIL))
        if trail:
            url = url[:-trail]
        safe = safe_url(url)
        if safe is None:
            continue
        out.append(_escape_words(flat[pos : match.start()]))
        out.append(f"<{safe}>")
        pos = match.start() + len(url)
    out.append(_escape_words(flat[pos:]))
    return "".join(out)


def _wrap(text: str, mark: str, close: str | None = None) -> str:
    """`mark` + text + `close`, with the text's outer spaces kept outside the marks."""
    inner = text.strip()
    if not inner:
        return text
    lead = " " if text[:1].isspace() else ""
    tail = " " if text[-1:].isspace() else ""
    return f"{lead}{mark}{inner}{mark if close is None else close}{tail}"


def _span(span: Span) -> str:
    if span.style == "link":
        url = safe_url(span.text)
        return f"<{url}>" if url else escape(span.text)
    text = escape(span.text)
    if span.style == "strong":
        return _wrap(text, "**")
    if span.style == "quote":
        return _wrap(text, "“", "”")
    if span.style == "muted":
        return _wrap(text, "*")
    return text


def _guard_start(line: str) -> str:
    """A rendered line may not begin a list, heading or quote of its own."""
    return "\\" + line if _LINE_START.match(line) else line


def render_line(line: Line, limit: int = MAX_DESCRIPTION, *, guard: bool = True) -> str:
    """One line of a document, within `limit`; a span that does not fit is cut (links dropped).
    `guard=False` for titles and field names, where lists and headings do not render."""
    limit -= 1  # room for _guard_start
    parts: list[str] = []
    used = 0
    for span in line:
        piece = _span(span)
        size = ulen(piece)
        if used + size <= limit:
            parts.append(piece)
            used += size
            continue
        room = limit - used - 1
        if span.style != "link" and room > 8:
            parts.append(_cut_span(span, room))
        parts.append("…")
        break
    text = "".join(parts).strip()
    return _guard_start(text) if guard else text


def _heading(text: str, limit: int) -> str:
    return render_line((Span(text),), limit, guard=False)


def _cut_span(span: Span, room: int) -> str:
    """The longest prefix of the span's text that renders within `room`."""
    text = _WS.sub(" ", span.text)
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ulen(_span(Span(text[:mid].rstrip(), span.style))) <= room:
            lo = mid
        else:
            hi = mid - 1
    return _span(Span(text[:lo].rstrip(), span.style)) if lo else ""


def plain(line: Line) -> str:
    """A line as plain text (thread names, where nothing renders): flat, mentions defused."""
    return neutralise(_WS.sub(" ", "".join(s.text for s in line)).strip())


@dataclass
class EmbedPart:
    """An embed under construction (sizes in UTF-16 units, as Discord counts)."""

    title: str = ""
    url: str | None = None
    description: str = ""
    fields: list[tuple[str, str, bool]] = field(default_factory=list)
    footer: str = ""

    def size(self) -> int:
        return (
            ulen(self.title)
            + ulen(self.description)
            + sum(ulen(n) + ulen(v) for n, v, _ in self.fields)
            + ulen(self.footer)
        )

    def to_embed(self) -> discord.Embed:
        embed = discord.Embed(
            title=self.title or None, url=self.url, description=self.description or None
        )
        for name, value, inline in self.fields:
            embed.add_field(name=name, value=value, inline=inline)
        if self.footer:
            embed.set_footer(text=self.footer)
        return embed


@dataclass(frozen=True, slots=True)
class OutMessage:
    """One message to send: content (≤ 2000) and embeds (≤ 10, ≤ 6000 characters in all)."""

    content: str | None
    embeds: tuple[EmbedPart, ...] = ()

    def discord_embeds(self) -> list[discord.Embed]:
        return [e.to_embed() for e in self.embeds]

    def payload(self) -> dict[str, Any]:
        """The JSON body Discord would get (for checks; discord.py builds the real one)."""
        body: dict[str, Any] = {"allowed_mentions": NO_MENTIONS.to_dict()}
        if self.content:
            body["content"] = self.content
        if self.embeds:
            body["embeds"] = [e.to_dict() for e in self.discord_embeds()]
        return body


_Item = tuple[str, Line]  # (prefix already rendered, the line)


def _section_items(section: Section) -> tuple[list[_Item], list[tuple[str, Line]]]:
    """A section as description lines, plus `fields` blocks as (label, line) pairs."""
    items: list[_Item] = []
    pairs: list[tuple[str, Line]] = []
    for block in section.blocks:
        if block.kind == "fields":
            pairs += list(zip(block.labels, block.lines, strict=True))
        elif block.kind == "bullets":
            items += [("• ", line) for line in block.lines]
        else:
            items += [("", line) for line in block.lines]
    return items, pairs


def _fill(items: Sequence[_Item], limit: int) -> list[str]:
    """Lines packed into chunks of at most `limit`; a line too long for a chunk of its own is cut."""
    chunks: list[str] = []
    current = ""
    for prefix, line in items:
        text = prefix + render_line(line)
        if ulen(text) > limit:
            text = prefix + render_line(line, limit - ulen(prefix))
        candidate = f"{current}\n{text}" if current else text
        if ulen(candidate) <= limit:
            current = candidate
        else:
            chunks.append(current)
            current = text
    if current:
        chunks.append(current)
    return chunks


def _title_parts(title: Line) -> tuple[str, str | None, str]:
    """A document title line → (embed title, its link, the rest as a description line)."""
    strong = tuple(Span(s.text) for s in title if s.style == "strong")
    heading = render_line(_joined(strong, " · "), MAX_TITLE, guard=False) if strong else ""
    url = next((safe_url(s.text) for s in title if s.style == "link"), None)
    rest = tuple(s for s in title if s.style not in ("strong", "link") and s.text.strip(" ·"))
    meta = render_line(tuple(Span(s.text.strip(" ·"), s.style) for s in rest)) if rest else ""
    return heading, url, meta


def _joined(spans: Sequence[Span], sep: str) -> Line:
    out: list[Span] = []
    for i, span in enumerate(spans):
        if i:
            out.append(Span(sep))
        out.append(span)
    return tuple(out)


def _field_chunks(name: str, items: Sequence[_Item]) -> list[tuple[str, str, bool]]:
    chunks = _fill(items, MAX_FIELD_VALUE)
    heading = _heading(name, MAX_FIELD_NAME - 10)
    return [(heading if i == 0 else f"{heading} (cont.)", c, False) for i, c in enumerate(chunks)]


def _section_embeds(section: Section, budget: int) -> list[EmbedPart]:
    """A section as embeds titled with it: description lines, `fields` blocks as inline fields."""
    items, pairs = _section_items(section)
    title = _heading(section.title, MAX_TITLE - 10)
    chunks = _fill(items, min(MAX_DESCRIPTION, budget - ulen(title) - 10)) if items else []
    embeds = [EmbedPart(title=title, description=c) for c in chunks] or [EmbedPart(title=title)]
    for label, line in pairs:
        name = _heading(label, MAX_FIELD_NAME)
        value = render_line(line, MAX_FIELD_VALUE) or "—"
        last = embeds[-1]
        if len(last.fields) >= MAX_FIELDS or last.size() + ulen(name) + ulen(value) > budget:
            last = EmbedPart(title=title)
            embeds.append(last)
        last.fields.append((name, value, ulen(value) <= INLINE_MAX))
    for embed in embeds[1:]:
        embed.title = f"{title} (cont.)"
    return embeds


def _card(doc: Document, budget: int) -> list[EmbedPart]:
    """A brief report: one card (title, numbers and the first section; the rest as fields),
    continued in further embeds only when Discord's limits demand it."""
    heading, url, meta = _title_parts(doc.title)
    first, *others = doc.sections or (Section("", ()),)
    items, _pairs = _section_items(first)
    lead = [meta] if meta else []
    if first.title and items:
        lead.append(f"**{escape(first.title)}**")
    room = min(MAX_DESCRIPTION, budget - ulen(heading)) - sum(ulen(x) + 1 for x in lead)
    chunks = _fill(items, room) if items else []
    card = EmbedPart(title=heading, url=url, description="\n".join([*lead, *chunks[:1]]))
    embeds = [card]
    fields = [(f"{escape(first.title)} (cont.)", c, False) for c in chunks[1:]]
    for section in others:
        sec_items, sec_pairs = _section_items(section)
        sec_items += [("", (Span(f"{label}: ", "strong"), *line)) for label, line in sec_pairs]
        fields += _field_chunks(section.title, sec_items)
    for name, value, inline in fields:
        last = embeds[-1]
        if len(last.fields) >= MAX_FIELDS or last.size() + ulen(name) + ulen(value) > budget:
            last = EmbedPart()
            embeds.append(last)
        last.fields.append((name, value, inline))
    return embeds


def _pages(doc: Document, budget: int) -> list[EmbedPart]:
    """A deep report: a heading embed, then one embed per section (more when a section is long)."""
    heading, url, meta = _title_parts(doc.title)
    head = EmbedPart(title=heading, url=url, description=meta)
    sections = list(doc.sections)
    if sections and all(b.kind == "fields" for b in sections[0].blocks):
        # Post details are short fields: they share the heading's embed.
        details = _section_embeds(sections.pop(0), budget)
        head.description = "\n".join(x for x in (meta, f"**{escape(details[0].title)}**") if x)
        head.fields = details[0].fields
        embeds = [head, *details[1:]]
    else:
        embeds = [head]
    for section in sections:
        embeds += _section_embeds(section, budget)
    return embeds


def _doc_footer(doc: Document) -> str:
    return _cut(neutralise(" · ".join(_WS.sub(" ", f).strip() for f in doc.footer)), DOC_FOOTER_MAX)


def _pack(embeds: Sequence[EmbedPart], budget: int) -> list[list[EmbedPart]]:
    """Embeds grouped into messages: at most 10 each and `budget` characters in all."""
    messages: list[list[EmbedPart]] = []
    current: list[EmbedPart] = []
    used = 0
    for embed in embeds:
        size = embed.size()
        if current and (len(current) >= MAX_EMBEDS or used + size > budget):
            messages.append(current)
            current, used = [], 0
        current.append(embed)
        used += size
    if current:
        messages.append(current)
    return messages


def marker(key: str) -> str:
    """The short, stable mark of an idempotency key (in footers and nonces)."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def nonce(key: str, part: int) -> str:
    return f"rd{marker(key)}{part:03d}"  # ≤ 25 characters, as Discord wants


_MARK = re.compile(r"(?:page (\d+)/(\d+) · )?ref ([0-9a-f]{12})$")


def _stamp(text: str, part: int, parts: int, key: str | None) -> str:
    bits = [text] if text else []
    if parts > 1:
        bits.append(f"page {part}/{parts}")
    if key is not None:
        bits.append(f"ref {marker(key)}")
    return " · ".join(bits)


def read_marker(message: discord.Message) -> tuple[str, int, int] | None:
    """(marker, part, parts) of a message this adapter posted with a key, else None."""
    texts = [e.footer.text or "" for e in message.embeds]
    texts += [line.removeprefix("-# ") for line in message.content.splitlines()[-1:]]
    for text in texts:
        match = _MARK.search(text)
        if match:
            part, parts = int(match.group(1) or 1), int(match.group(2) or 1)
            return match.group(3), part, parts
    return None


def _embed_messages(
    embeds: list[EmbedPart], doc_footer: str, key: str | None, content: str | None = None
) -> list[OutMessage]:
    reserve = ulen(doc_footer) + MARKER_ROOM
    groups = _pack(embeds, MAX_EMBED_TOTAL - reserve)
    out: list[OutMessage] = []
    for i, group in enumerate(groups, 1):
        last = group[-1]
        text = doc_footer if i == len(groups) else ""
        last.footer = _cut(_stamp(text, i, len(groups), key), MAX_FOOTER)
        out.append(OutMessage(content if i == 1 else None, tuple(group)))
    return out


def render_text(text: str, key: str | None = None) -> list[OutMessage]:
    """Plain text (the core's answers) in messages of at most 2000 characters, mentions defused."""
    lines = neutralise(text).splitlines() or [""]
    room = MAX_CONTENT - (MARKER_ROOM if key else 0)
    chunks: list[str] = []
    current = ""
    for line in lines:
        line = _cut(line, room)
        candidate = f"{current}\n{line}" if current else line
        if ulen(candidate) <= room:
            current = candidate
        else:
            chunks.append(current)
            current = line
    chunks.append(current)
    chunks = [c for c in chunks if c.strip()] or ["…"]
    if key is not None:
        n = len(chunks)
        chunks = [f"{c}\n-# {_stamp('', i, n, key)}" for i, c in enumerate(chunks, 1)]
    return [OutMessage(c) for c in chunks]


def render_report(report: Report, key: str | None = None) -> list[OutMessage]:
    """A brief report as a card; a deep one as pages (one message each), within every limit."""
    doc = document(report)
    footer = _doc_footer(doc)
    budget = MAX_EMBED_TOTAL - ulen(footer) - MARKER_ROOM
    embeds = _pages(doc, budget) if report.depth is Depth.DEEP else _card(doc, budget)
    return _embed_messages(embeds, footer, key)


def render_bundle(
    bundle: Bundle, key: str | None = None, header: str | None = None
) -> list[OutMessage]:
    """A scheduled digest: its title (and note) as content, one embed per thread, in one message
    when it fits (each thread's embed is shortened to make it fit)."""
    doc = bundle_document(bundle.title, bundle.reports, bundle.note, bundle.empty_text)
    footer = _doc_footer(doc)
    lines = [header] if header else []
    lines.append(f"**{escape(''.join(s.text for s in doc.title))}**")
    threads: list[Section] = []
    for section in doc.sections:
        if all(b.kind == "paragraph" for b in section.blocks):  # the note, "nothing new"
            items, _ = _section_items(section)
            lines += [render_line(line, MAX_CONTENT // 2) for _, line in items]
        else:
            threads.append(section)
    content = _cut("\n".join(lines), MAX_CONTENT)
    budget = MAX_EMBED_TOTAL - ulen(footer) - MARKER_ROOM
    each = budget // max(len(threads), 1)
    embeds: list[EmbedPart] = []
    for section in threads:
        items, _ = _section_items(section)
        url = next((safe_url(s.text) for _, ln in items for s in ln if s.style == "link"), None)
        title = _heading(section.title, MAX_TITLE)
        room = max(min(MAX_DESCRIPTION, each - ulen(title)), 64) - 2
        chunks = _fill(items, room) or [""]
        more = "\n…" if len(chunks) > 1 else ""  # shortened to keep the bundle in one message
        embeds.append(EmbedPart(title=title, url=url, description=chunks[0] + more))
    if not embeds:
        text = content + (f"\n-# {_cut(footer, 400)}" if footer else "")
        return render_text(text, key)
    return _embed_messages(embeds, footer, key, content)


def render(delivery: Delivery, key: str | None = None) -> list[OutMessage]:
    """What to send for a delivery: the header line first (as the first message's content),
    then the report, bundle or text."""
    header = _cut(escape(delivery.header), MAX_CONTENT // 2) if delivery.header else None
    if delivery.report is not None:
        first, *rest = render_report(delivery.report, key)
        return [OutMessage(header, first.embeds), *rest] if header else [first, *rest]
    if delivery.bundle is not None:
        return render_bundle(delivery.bundle, key, header)
    text = delivery.text or ""
    return render_text(f"{header}\n{text}" if header else text, key)


def thread_name(delivery: Delivery) -> str:
    """A thread's name for a deep report: the thread's title, plain (names do not render)."""
    if delivery.report is not None:
        doc = document(delivery.report)
        title = plain(tuple(s for s in doc.title if s.style == "strong")[1:] or doc.title)
        name = f"Deep analysis: {title}"
    elif delivery.bundle is not None:
        name = plain((Span(delivery.bundle.title),))
    else:
        name = "redigest"
    return _cut(name, MAX_THREAD_NAME) or "redigest"


def message_text(message: discord.Message) -> str:
    """Everything readable in a message (content and embeds), for finding thread links."""
    parts = [message.content]
    for embed in message.embeds:
        parts += [embed.title or "", embed.url or "", embed.description or ""]
        parts += [f.value or "" for f in embed.fields]
    return "\n".join(p for p in parts if p)


# ====================================================================== the adapter


@dataclass
class _Pending:
    """A deferred interaction the core may still answer (through its reply token)."""

    interaction: discord.Interaction[Any]
    channel_id: int
    post_id: str | None = None  # for /digest: the Reddit post asked for, when the link says it
    created: float = field(default_factory=time.monotonic)
    open: bool = True  # the deferred response still shows "thinking…"
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def _mark_deferred(interaction: discord.Interaction[Any]) -> None:
    """Tell discord.py the response is done, as its own defer() would have."""
    interaction.response._response_type = discord.InteractionResponseType.deferred_channel_message


def _nsfw(channel: object) -> bool:
    if isinstance(
        channel,
        discord.TextChannel
        | discord.VoiceChannel
        | discord.StageChannel
        | discord.ForumChannel
        | discord.CategoryChannel
        | discord.Thread,
    ):
        return channel.is_nsfw()
    return False


def _post_id(url: str) -> str | None:
    """The post a /digest link names (None for share links and anything unreadable)."""
    try:
        ref = parse_thread_text(url)
    except DigestError:
        return None
    return ref.post_id if isinstance(ref, ThreadRef) else None


def _words(*parts: tuple[str, object] | str) -> str:
    """Options back into the command's text: `("top", 5)` → `top 5`, values with spaces quoted."""
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            if part.strip():
                out.append(part.strip())
            continue
        name, value = part
        if value is None or value is False:
            continue
        if value is True:
            out.append(name)
            continue
        text = str(value).strip()
        if any(c.isspace() for c in text):
            quote = next((q for q in ('"', "“", "'", "`") if q not in text), '"')
            text = f"{quote}{text}{'”' if quote == '“' else quote}"
        out.append(f"{name} {text}".strip())
    return " ".join(out)


class _Client(discord.Client):
    def __init__(self, chat: DiscordChat, **options: Any) -> None:
        super().__init__(**options)
        self.chat = chat
        self.tree: app_commands.CommandTree[_Client] = app_commands.CommandTree(self)

    async def setup_hook(self) -> None:
        await self.chat._sync_commands()

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self.chat._on_reaction(payload)


Interaction: TypeAlias = discord.Interaction[_Client]


class DiscordChat:
    """The Discord side of redigest (implements `bot.chat.ChatPort`)."""

    platform = PLATFORM

    def __init__(self, config: DiscordConfig) -> None:
        self.config = config
        intents = discord.Intents.none()
        intents.guilds = True
        intents.guild_reactions = True
        intents.message_content = config.message_content
        self.client = _Client(
            self,
            intents=intents,
            allowed_mentions=NO_MENTIONS,
            max_messages=None,  # nothing here reads the message cache
            guild_ready_timeout=config.guild_ready_timeout,
        )
        self.invite_url: str | None = None
        self._inbox: Inbox | None = None
        self._pending: dict[str, _Pending] = {}
        self._resume: dict[str, dict[int, MessageRef]] = {}
        self._texts: OrderedDict[tuple[int, int], str] = OrderedDict()
        # Reacted messages the bot may read without the Message Content intent (its own), as
        # the reaction event said: read_message reads only these, unless the intent is on.
        self._own: OrderedDict[int, None] = OrderedDict()
        self._saved: tuple[str, yarl.URL] | None = None
        self._acks = EarlyAcks(
            base_url=lambda: discord.http.Route.BASE, user_agent=self.client.http.user_agent
        )
        self._register_commands()

    def __repr__(self) -> str:
        return f"DiscordChat({self.config!r})"

    # ------------------------------------------------------------------ lifecycle

    def _apply_overrides(self) -> None:
        route, gateway = discord.http.Route, discord.gateway.DiscordWebSocket
        self._saved = (route.BASE, gateway.DEFAULT_GATEWAY)
        if self.config.api_base:
            base = self.config.api_base.rstrip("/")
            if not re.search(r"/api/v\d+$", base):
                base += f"/api/v{API_VERSION}"
            route.BASE = base
        if self.config.gateway_url:
            gateway.DEFAULT_GATEWAY = yarl.URL(self.config.gateway_url)

    def _restore_overrides(self) -> None:
        if self._saved is not None:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = self._saved
            self._saved = None

    async def __aenter__(self) -> DiscordChat:
        """Log in and sync the commands; raises DiscordStartupError with one line if Discord
        refuses (bad token, commands not allowed) or cannot be reached."""
        self._apply_overrides()
        base = discord.http.Route.BASE
        try:
            await self.client.__aenter__()
            await self.client.login(self.config.token)
            await self._acks.open()
        except BaseException as exc:
            await self._shutdown()
            if isinstance(exc, discord.LoginFailure):
                raise DiscordStartupError(BAD_TOKEN) from None
            if isinstance(exc, aiohttp.ClientError | OSError):
                raise DiscordStartupError(
                    f"Discord's API at {base} cannot be reached "
                    f"({type(exc).__name__}): check the network or REDIGEST_DISCORD_API_BASE."
                ) from None
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._shutdown()

    async def _shutdown(self) -> None:
        with contextlib.suppress(Exception):
            await self.client.close()
        with contextlib.suppress(Exception):
            await self._acks.close()
        self._restore_overrides()

    async def run(self, inbox: Inbox) -> None:
        """Connect to the gateway and hand commands and reactions to `inbox` until cancelled.
        discord.py reconnects and resumes by itself, and waits out rate limits."""
        self._inbox = inbox
        # Every command defers first: acknowledge them from the gateway event (see ack.py).
        self._acks.install(
            getattr(self.client._connection, "parsers", None),
            {command.name for command in self.client.tree.get_commands()},
        )
        try:
            await self.client.connect(reconnect=True)
        except discord.PrivilegedIntentsRequired:
            raise DiscordStartupError(NO_INTENT) from None
        except discord.ConnectionClosed as exc:
            if exc.code == 4004:
                raise DiscordStartupError(BAD_TOKEN) from None
            if exc.code in (4013, 4014):
                raise DiscordStartupError(NO_INTENT) from None
            raise DiscordStartupError(
                f"Discord closed the connection (code {exc.code}: {exc.reason or 'no reason'}); "
                "check DISCORD_TOKEN and the bot's settings in the developer portal."
            ) from None

    async def wait_until_ready(self) -> None:
        await self.client.wait_until_ready()

    async def _sync_commands(self) -> None:
        """Once, at login: to the configured guilds (instant) or globally."""
        app_id = self.client.application_id
        if app_id is not None:
            self.invite_url = discord.utils.oauth_url(
                app_id, permissions=INVITE_PERMISSIONS, scopes=INVITE_SCOPES
            )
            log.info("invite redigest to a server with: %s", self.invite_url)
        tree = self.client.tree
        try:
            if self.config.guild_ids:
                for gid in self.config.guild_ids:
                    guild = discord.Object(id=gid)
                    tree.copy_global_to(guild=guild)
                    await tree.sync(guild=guild)
            else:
                await tree.sync()
        except discord.HTTPException as exc:
            where = "REDIGEST_DISCORD_GUILD_IDS" if self.config.guild_ids else "the application"
            raise DiscordStartupError(
                f"Discord refused redigest's slash commands ({exc.status} {exc.text or ''}): "
                f"check {where} and invite the bot with the applications.commands scope"
                f"{': ' + self.invite_url if self.invite_url else ''}."
            ) from None
        log.info(
            "synced %d commands %s",
            len(tree.get_commands()),
            f"to guilds {list(self.config.guild_ids)}" if self.config.guild_ids else "globally",
        )

    # ------------------------------------------------------------------ commands

    def _register_commands(self) -> None:
        tree = self.client.tree
        manage = discord.Permissions(manage_guild=True)

        @tree.command(name="digest", description="Digest a Reddit thread in this channel")
        @app_commands.describe(
            url="The thread's link (any reddit.com or redd.it form) or its id",
            depth="brief (default): the gist here; deep: the full ten-section analysis",
        )
        @app_commands.guild_only()
        async def digest(
            interaction: Interaction, url: str, depth: Literal["brief", "deep"] | None = None
        ) -> None:
            await self._command(interaction, "digest", _words(url, depth or ""), _post_id(url))

        @tree.command(name="subscribe", description="Post the top threads of subreddits here")
        @app_commands.describe(
            subreddits="One or more subreddits, comma-separated: r/LocalLLaMA, r/selfhosted",
            schedule='When: hourly, daily 09:00, weekly mon 09:00 or cron "0 9 * * 1", '
            "optionally a timezone",
            top="How many threads each time (1-10, default 5)",
            min_score="Only threads with at least this score",
            flair="Only threads with these flairs (comma-separated)",
            exclude_flair="Skip threads with these flairs (comma-separated)",
            keywords="Only threads mentioning one of these words (comma-separated)",
            nsfw="Include NSFW threads (only in NSFW channels)",
        )
        @app_commands.guild_only()
        @app_commands.default_permissions(manage_guild=True)
        async def subscribe(
            interaction: Interaction,
            subreddits: str,
            schedule: str,
            top: app_commands.Range[int, 1, 10] | None = None,
            min_score: app_commands.Range[int, 0, 10_000_000] | None = None,
            flair: str | None = None,
            exclude_flair: str | None = None,
            keywords: str | None = None,
            nsfw: bool | None = None,
        ) -> None:
            text = _words(
                subreddits,
                schedule,
                ("top", top),
                ("min-score", min_score),
                ("flair", flair),
                ("exclude-flair", exclude_flair),
                ("keywords", keywords),
                ("nsfw", bool(nsfw)),
            )
            await self._command(interaction, "subscribe", text)

        @tree.command(name="watch", description="Post new threads of a subreddit once they score")
        @app_commands.describe(
            subreddit="The subreddit to watch: r/LocalLLaMA",
            min_score="The score a new thread must reach",
            within_hours="How long a new thread may take to get there (1-168 hours, default 24)",
        )
        @app_commands.guild_only()
        @app_commands.default_permissions(manage_guild=True)
        async def watch(
            interaction: Interaction,
            subreddit: str,
            min_score: app_commands.Range[int, 0, 10_000_000],
            within_hours: app_commands.Range[int, 1, 168] | None = None,
        ) -> None:
            text = _words(subreddit, ("min-score", min_score), ("within", within_hours))
            await self._command(interaction, "watch", text)

        @tree.command(name="unsubscribe", description="Remove a subscription or a watch")
        @app_commands.describe(id="The subscription (start typing to pick one)")
        @app_commands.guild_only()
        @app_commands.default_permissions(manage_guild=True)
        async def unsubscribe(
            interaction: Interaction, id: app_commands.Range[int, 1, 999_999_999]
        ) -> None:
            await self._command(interaction, "unsubscribe", str(id))

        @unsubscribe.autocomplete("id")
        async def subscription_choices(
            interaction: Interaction, current: str
        ) -> list[app_commands.Choice[int]]:
            return await self._subscription_choices(interaction, current)

        @tree.command(name="subscriptions", description="List this server's subscriptions")
        @app_commands.guild_only()
        @app_commands.default_permissions(manage_guild=True)
        async def subscriptions(interaction: Interaction) -> None:
            await self._command(interaction, "subscriptions", "")

        group = app_commands.Group(
            name="redigest",
            description="redigest's settings and help",
            guild_only=True,
            allowed_contexts=app_commands.AppCommandContext(guild=True),
            default_permissions=manage,
        )

        @group.command(name="settings", description="Show the settings, or change one")
        @app_commands.describe(key="The setting to change", value="Its new value")
        @app_commands.choices(key=[app_commands.Choice(name=k, value=k) for k in SETTING_KEYS])
        async def settings(
            interaction: Interaction,
            key: app_commands.Choice[str] | None = None,
            value: str | None = None,
        ) -> None:
            text = _words(key.value if key else "", ("", value))
            await self._command(interaction, "settings", text)

        @group.command(name="help", description="What redigest can do, with examples")
        async def help_(interaction: Interaction) -> None:
            await self._command(interaction, "help", "")

        tree.add_command(group)

        @app_commands.context_menu(name="Deep analysis")
        @app_commands.guild_only()
        async def deep_analysis(interaction: Interaction, message: discord.Message) -> None:
            await self._deep_analysis(interaction, message)

        tree.add_command(deep_analysis)
        tree.error(self._on_tree_error)

    def _remember(self, token: str, pending: _Pending) -> None:
        """Keep an interaction whose answer comes late (a digest: "Posted: …" or its failure)
        while it can still be answered; immediate answers need no bookkeeping."""
        now = time.monotonic()
        while self._pending:  # oldest first (insertion order): drop the expired ones
            oldest = next(iter(self._pending))
            if now - self._pending[oldest].created <= INTERACTION_TTL:
                break
            del self._pending[oldest]
        self._pending[token] = pending

    def _claim_ack(self, interaction: Interaction) -> bool:
        """True when the gateway hook already deferred this interaction (ack.py)."""
        if not self._acks.claim(interaction.id):
            return False
        _mark_deferred(interaction)
        return True

    async def _defer(self, interaction: Interaction) -> bool:
        """Acknowledge at once (ephemeral "thinking"): nothing else happens before this.
        Usually done already, straight from the gateway event (see `adapters.discord_chat.ack`)."""
        if self._claim_ack(interaction):
            return True
        try:
            await interaction.response.defer(ephemeral=True, thinking=True)
        except discord.HTTPException as exc:
            if exc.code == INTERACTION_ACKNOWLEDGED:  # the early one got there after all
                _mark_deferred(interaction)
                return True
            log.warning(
                "could not acknowledge interaction %s (%s) in time: %s",
                interaction.id,
                interaction.command.name if interaction.command else "?",
                exc,
            )
            return False
        return True

    def _request(self, interaction: Interaction, command: str, text: str, token: str) -> Request:
        return Request(
            platform=PLATFORM,
            server_id=str(interaction.guild_id or ""),
            channel_id=str(interaction.channel_id or ""),
            user_id=str(interaction.user.id),
            command=command,
            text=text,
            can_manage=interaction.permissions.manage_guild,
            channel_nsfw=_nsfw(interaction.channel),
            reply_token=token,
        )

    async def _command(
        self, interaction: Interaction, command: str, text: str, post_id: str | None = None
    ) -> None:
        if not await self._defer(interaction):
            return
        token = secrets.token_hex(8)
        pending = _Pending(interaction, interaction.channel_id or 0, post_id)
        try:
            reply = await self._require_inbox().on_request(
                self._request(interaction, command, text, token)
            )
        except Exception:
            log.exception(
                "/%s %r by %s in channel %s failed",
                command,
                text[:200],
                interaction.user.id,
                interaction.channel_id,
            )
            await self._answer(pending, [OutMessage(SOMETHING_WENT_WRONG)])
            return
        if reply is not None:  # answered now: it replaces "thinking…"
            await self._answer(pending, render_text(reply.text))
        else:  # "thinking…" until the digest is posted (a link to it) or fails (why)
            self._remember(token, pending)

    async def _deep_analysis(self, interaction: Interaction, message: discord.Message) -> None:
        if not await self._defer(interaction):
            return
        pending = _Pending(interaction, interaction.channel_id or 0)
        try:
            channel = message.channel
            reaction = Reaction(
                message=self._ref(message.id, channel),
                emoji=self.config.flag_emoji,
                user_id=str(interaction.user.id),
                server_id=str(interaction.guild_id or ""),
                message_text=message_text(message) or None,
                channel_nsfw=_nsfw(channel) or _nsfw(interaction.channel),
                requested=True,  # asked for by name: the server's flag-emoji does not matter
            )
            answer = await self._require_inbox().on_reaction(reaction)
        except Exception:
            log.exception(
                "Deep analysis of message %s by %s failed", message.id, interaction.user.id
            )
            await self._answer(pending, [OutMessage(SOMETHING_WENT_WRONG)])
            return
        if answer:
            await self._answer(pending, render_text(answer))

    async def _subscription_choices(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[int]]:
        inbox = self._inbox
        if inbox is None or inbox.list_subscriptions is None or interaction.guild_id is None:
            return []
        try:
            found = await asyncio.wait_for(
                inbox.list_subscriptions(
                    PLATFORM, str(interaction.guild_id), str(interaction.channel_id or "")
                ),
                timeout=2.0,  # an autocomplete cannot be deferred
            )
        except Exception:
            log.exception("subscription choices for guild %s failed", interaction.guild_id)
            return []
        typed = current.strip().lstrip("#").lower()
        return [
            app_commands.Choice(name=_cut(plain((Span(label),)), 100) or f"#{sub_id}", value=sub_id)
            for sub_id, label in found
            if not typed or typed in label.lower() or typed == str(sub_id)
        ][:MAX_CHOICES]

    async def _on_tree_error(
        self, interaction: Interaction, error: app_commands.AppCommandError
    ) -> None:
        name = interaction.command.name if interaction.command else "?"
        log.error(
            "command %s by %s in channel %s failed",
            name,
            interaction.user.id,
            interaction.channel_id,
            exc_info=error,
        )
        text = (
            "This command changed since your Discord loaded it; try again in a minute."
            if isinstance(
                error, app_commands.CommandSignatureMismatch | app_commands.CommandNotFound
            )
            else SOMETHING_WENT_WRONG
        )
        with contextlib.suppress(discord.HTTPException):
            if self._claim_ack(interaction):  # "thinking…" since the gateway event: replace it
                await interaction.edit_original_response(content=text, allowed_mentions=NO_MENTIONS)
            elif interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
            else:
                await interaction.response.send_message(
                    text, ephemeral=True, allowed_mentions=NO_MENTIONS
                )

    def _require_inbox(self) -> Inbox:
        if self._inbox is None:
            raise RuntimeError("DiscordChat.run(inbox) has not been called")
        return self._inbox

    # ------------------------------------------------------------------ reactions

    async def _on_reaction(self, payload: discord.RawReactionActionEvent) -> None:
        """Every reaction goes to the core, which decides whether it flags (and reads the
        message through `read_message` only when it needs to)."""
        try:
            inbox = self._inbox
            me = self.client.user
            if inbox is None or me is None or payload.guild_id is None:
                return
            by_bot = payload.user_id == me.id
            emoji = payload.emoji
            name = (emoji.name or "") if emoji.is_unicode_emoji() else str(emoji)
            channel = await self._channel(payload.channel_id, fetch=not by_bot)
            if payload.message_author_id == me.id:  # readable without the privileged intent
                self._own[payload.message_id] = None
                self._own.move_to_end(payload.message_id)
                while len(self._own) > TEXT_CACHE:
                    self._own.popitem(last=False)
            await inbox.on_reaction(
                Reaction(
                    message=self._ref(payload.message_id, channel or payload.channel_id),
                    emoji=name,
                    user_id=str(payload.user_id),
                    server_id=str(payload.guild_id),
                    by_bot=by_bot,
                    channel_nsfw=_nsfw(channel),
                )
            )
        except Exception:
            log.exception(
                "reaction %s by %s on message %s in channel %s failed",
                payload.emoji,
                payload.user_id,
                payload.message_id,
                payload.channel_id,
            )

    async def read_message(self, ref: MessageRef) -> MessageText | None:
        """Everything readable in a message (content and embeds). Someone else's message only
        with the Message Content intent (without it Discord sends its text empty: no request)."""
        message_id = int(ref.message_id)
        if not (self.config.message_content or message_id in self._own):
            return None
        channel_id = int(ref.thread_id or ref.channel_id)
        key = (channel_id, message_id)
        if key in self._texts:
            self._texts.move_to_end(key)
            return MessageText(ref, self._texts[key])
        channel = await self._channel(channel_id)
        if not isinstance(channel, Sendable):
            return None
        try:
            message = await channel.fetch_message(message_id)
        except discord.HTTPException as exc:
            log.info("cannot read message %s in %s: %s", message_id, channel_id, exc)
            return None
        text = message_text(message)
        self._texts[key] = text
        while len(self._texts) > TEXT_CACHE:
            self._texts.popitem(last=False)
        return MessageText(ref, text)

    # ------------------------------------------------------------------ channels and refs

    async def _channel(self, channel_id: int, *, fetch: bool = True) -> Any:
        channel: Any = self.client.get_channel(channel_id)
        if channel is None and fetch:
            channel = await self.client.fetch_channel(channel_id)
        return channel

    async def _sendable(self, channel_id: int) -> Sendable:
        channel = await self._channel(channel_id)
        if not isinstance(channel, Sendable):
            raise DigestError(f"redigest cannot post in channel {channel_id} (not a text channel).")
        return channel

    @staticmethod
    def _ref(message_id: int, channel: object) -> MessageRef:
        """A message in a thread is (parent channel, message, thread), like a Slack reply."""
        if isinstance(channel, discord.Thread) and channel.parent_id is not None:
            return MessageRef(PLATFORM, str(channel.parent_id), str(message_id), str(channel.id))
        channel_id = channel if isinstance(channel, int) else getattr(channel, "id", channel)
        return MessageRef(PLATFORM, str(channel_id), str(message_id))

    async def _thread(self, parent: MessageRef, name: str, *, create: bool) -> Sendable | None:
        """The thread under `parent` (Discord gives it the message's id), created when asked.
        A message that sits in a thread already gets its answer in that thread."""
        if parent.thread_id is not None:
            return await self._sendable(int(parent.thread_id))
        thread_id = int(parent.message_id)
        existing = self.client.get_channel(thread_id)
        if isinstance(existing, discord.Thread):
            return existing
        if create:
            channel = await self._sendable(int(parent.channel_id))
            if isinstance(channel, discord.TextChannel):
                try:
                    return await channel.get_partial_message(thread_id).create_thread(
                        name=name, auto_archive_duration=1440
                    )
                except discord.HTTPException as exc:
                    if exc.code != ALREADY_HAS_THREAD:
                        raise
            else:  # no threads here (voice chat, a thread): answer beside the message
                return channel
        try:
            found = await self.client.fetch_channel(thread_id)
        except discord.NotFound:
            return None
        return found if isinstance(found, discord.Thread) else None

    # ------------------------------------------------------------------ posting (ChatPort)

    async def post(
        self, target: Target, delivery: Delivery, *, idempotency_key: str | None = None
    ) -> list[MessageRef]:
        """Send a delivery; returns a reference per message created, the main one first."""
        messages = render(delivery, idempotency_key)
        if isinstance(target, EphemeralTarget):
            return await self._post_ephemeral(target, messages)
        try:
            return await self._post_public(target, delivery, messages, idempotency_key)
        except (discord.Forbidden, discord.NotFound) as exc:
            refused = (
                NO_THREAD_PERMISSION if isinstance(target, ThreadTarget) else NO_POST_PERMISSION
            )
            reason = GONE if isinstance(exc, discord.NotFound) else refused
            where = (
                f"under message {target.parent.message_id} in channel {target.parent.channel_id}"
                if isinstance(target, ThreadTarget)
                else f"in channel {target.channel_id}"
            )
            log.warning(
                "Discord refused a post %s (%s %s): %s", where, exc.status, exc.code, reason
            )
            raise DiscordPostError(reason) from None

    async def _post_public(
        self,
        target: ChannelTarget | ThreadTarget,
        delivery: Delivery,
        messages: list[OutMessage],
        idempotency_key: str | None,
    ) -> list[MessageRef]:
        dest: Sendable | None
        if isinstance(target, ThreadTarget):
            dest = await self._thread(target.parent, thread_name(delivery), create=True)
            if dest is None:
                raise DiscordPostError(GONE)
        else:
            dest = await self._sendable(int(target.channel_id))
        done = self._resume.pop(idempotency_key, {}) if idempotency_key else {}
        refs: list[MessageRef] = []
        sent_first: discord.Message | None = None
        for part, message in enumerate(messages, 1):
            if part in done:  # posted before a crash (find_posted saw it)
                refs.append(done[part])
                continue
            if idempotency_key is not None:
                # An enforced nonce: a retry within minutes returns the message instead of a twin.
                sent = await dest.send(
                    content=message.content,
                    embeds=message.discord_embeds(),
                    allowed_mentions=NO_MENTIONS,
                    nonce=nonce(idempotency_key, part),
                )
            else:
                sent = await dest.send(
                    content=message.content,
                    embeds=message.discord_embeds(),
                    allowed_mentions=NO_MENTIONS,
                )
            sent_first = sent_first or (sent if part == 1 else None)
            refs.append(self._ref(sent.id, dest))
        if isinstance(target, ChannelTarget):
            await self._after_channel_post(target, delivery, sent_first)
        return refs

    async def _after_channel_post(
        self,
        target: ChannelTarget,
        delivery: Delivery,
        first: discord.Message | None,
    ) -> None:
        """Offer the flag under a brief digest; tell the person who asked where it went."""
        if first is None:
            return
        report = delivery.report
        offer = delivery.offer_emoji
        if self.config.react_with_flag and offer:  # the server's flag, as the core said
            try:
                await first.add_reaction(offer)
            except discord.HTTPException as exc:
                log.info("cannot add %s under %s: %s", offer, first.id, exc)
        # Which /digest this answers: the target names its reply token; failing that, the
        # oldest open /digest here that asked for this thread.
        here = [(t, p) for t, p in self._pending.items() if str(p.channel_id) == target.channel_id]
        found = next((t for t, _ in here if t == target.reply_token), None)
        if found is None and report is not None:
            found = next((t for t, p in here if p.open and p.post_id == report.thread.id), None)
        pending = self._pending.pop(found, None) if found is not None else None
        if pending is None:
            return
        try:
            await self._answer(pending, [OutMessage(f"Posted: {first.jump_url}")])
        except discord.HTTPException as exc:
            log.info("cannot tell %s where the digest went: %s", pending.interaction.id, exc)

    async def _post_ephemeral(
        self, target: EphemeralTarget, messages: list[OutMessage]
    ) -> list[MessageRef]:
        token = target.reply_token
        pending = self._pending.get(token) if token else None
        if (
            token is not None
            and pending is not None
            and not pending.interaction.is_expired()
            and time.monotonic() - pending.created < INTERACTION_TTL
        ):
            return await self._answer(pending, messages)
        # The interaction is gone (a restart, or 15 minutes passed): say it in the channel,
        # addressed to the person (shown as a mention, never a ping).
        dest = await self._sendable(int(target.channel_id))
        refs: list[MessageRef] = []
        for i, message in enumerate(messages):
            content = message.content
            if i == 0 and target.user_id.isdigit():
                content = f"<@{target.user_id}> {content or ''}".strip()
            sent = await dest.send(
                content=_cut(content or "", MAX_CONTENT) or None,
                embeds=message.discord_embeds(),
                allowed_mentions=NO_MENTIONS,
            )
            refs.append(self._ref(sent.id, dest))
        return refs

    async def _answer(
        self,
        pending: _Pending,
        messages: list[OutMessage],
        *,
        only_if_open: bool = False,
    ) -> list[MessageRef]:
        """Answer through the interaction: the first message replaces the deferred response
        ("thinking…") while it is still open, the rest are ephemeral follow-ups."""
        interaction = pending.interaction
        refs: list[MessageRef] = []
        async with pending.lock:
            if only_if_open and not pending.open:
                return refs
            for message in messages:
                embeds = message.discord_embeds()
                if pending.open:
                    sent: discord.Message = await interaction.edit_original_response(
                        content=message.content, embeds=embeds, allowed_mentions=NO_MENTIONS
                    )
                    pending.open = False
                else:
                    sent = await interaction.followup.send(
                        content=message.content or "",
                        embeds=embeds,
                        ephemeral=True,
                        allowed_mentions=NO_MENTIONS,
                        wait=True,
                    )
                refs.append(MessageRef(PLATFORM, str(pending.channel_id), str(sent.id)))
        return refs

    async def find_posted(self, target: Target, idempotency_key: str) -> list[MessageRef] | None:
        """The messages a post with this key created (found by the footer mark in the channel's
        or thread's recent history), or None. When only some parts of a multi-message post are
        there, returns None and remembers them, so the next `post` sends only the rest."""
        if isinstance(target, EphemeralTarget):
            return None
        me = self.client.user
        if me is None:
            return None
        try:
            if isinstance(target, ThreadTarget):
                dest = await self._thread(target.parent, "", create=False)
            else:
                dest = await self._sendable(int(target.channel_id))
            if dest is None:
                return None
            wanted = marker(idempotency_key)
            found: dict[int, MessageRef] = {}
            parts = 0
            async for message in dest.history(limit=HISTORY_LIMIT):
                if message.author.id != me.id:
                    continue
                mark = read_marker(message)
                if mark is not None and mark[0] == wanted:
                    found[mark[1]] = self._ref(message.id, dest)
                    parts = mark[2]
        except discord.NotFound:
            return None  # the channel or thread is gone: nothing of ours can be there
        except discord.Forbidden as exc:
            # Not "not posted": the post may be there. The core retries the lookup later.
            log.warning("cannot look for post %s: %s", idempotency_key, exc)
            raise LookupUnavailable(
                "I can't read this channel's history to check whether the digest was already "
                "posted: give redigest the Read Message History permission here."
            ) from None
        if not found:
            return None
        if len(found) >= parts:
            return [found[p] for p in sorted(found)]
        self._resume[idempotency_key] = found
        return None
