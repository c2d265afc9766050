"""Layout and paging: a Delivery as Discord messages. A brief report is a card, a deep one pages of
embeds, a bundle one embed per thread, an answer plain content; every message within Discord's
limits (content, embeds per message, characters per embed and in all), sent with no mentions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from adapters.discord_chat.escape import (
    _WS,
    _cut,
    _heading,
    channel_mentions,
    escape,
    neutralise,
    plain,
    render_line,
    safe_url,
    ulen,
)
from adapters.discord_chat.limits import (
    DOC_FOOTER_MAX,
    INLINE_MAX,
    MARKER_ROOM,
    MAX_CONTENT,
    MAX_DESCRIPTION,
    MAX_EMBED_TOTAL,
    MAX_EMBEDS,
    MAX_FIELD_NAME,
    MAX_FIELD_VALUE,
    MAX_FIELDS,
    MAX_FOOTER,
    MAX_THREAD_NAME,
    MAX_TITLE,
)
from adapters.discord_chat.markers import _stamp
from adapters.discord_chat.picker import MenuOption, components, menu_options, menu_view
from adapters.discord_chat.sdk import discord
from bot.chat import Bundle, Delivery
from digest.i18n import words
from digest.render.document import Document, Line, Section, Span, bundle_document, document
from digest.render.packing import pack, pack_lines
from digest.report import Depth, Report

NO_MENTIONS = discord.AllowedMentions.none()


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
    menu: tuple[MenuOption, ...] = ()  # a bundle's "Deep analysis of…" menu (picker.py)

    def discord_embeds(self) -> list[discord.Embed]:
        return [e.to_embed() for e in self.embeds]

    def discord_view(self) -> discord.ui.View | None:
        return menu_view(self.menu) if self.menu else None

    def payload(self) -> dict[str, Any]:
        """The JSON body Discord would get (for checks; discord.py builds the real one)."""
        body: dict[str, Any] = {"allowed_mentions": NO_MENTIONS.to_dict()}
        if self.content:
            body["content"] = self.content
        if self.embeds:
            body["embeds"] = [e.to_dict() for e in self.discord_embeds()]
        if self.menu:
            body["components"] = components(self.menu)
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

    def rendered(prefix: str, line: Line) -> str:
        text = prefix + render_line(line)
        return text if ulen(text) <= limit else prefix + render_line(line, limit - ulen(prefix))

    return pack_lines((rendered(p, line) for p, line in items), limit, measure=ulen)


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
    return pack(embeds, size=EmbedPart.size, budget=budget, most=MAX_EMBEDS)


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


def render_text(
    text: str, key: str | None = None, channels: Sequence[str] = ()
) -> list[OutMessage]:
    """Plain text (the core's answers) in messages of at most 2000 characters, mentions defused;
    `#ID` for each of `channels` (ids the core vouches for) becomes that channel's mention."""
    lines = channel_mentions(neutralise(text), channels).splitlines() or [""]
    room = MAX_CONTENT - (MARKER_ROOM if key else 0)
    chunks = pack_lines((_cut(line, room) for line in lines), room, measure=ulen)
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
    when it fits (each thread's embed is shortened to make it fit); with several threads, the
    "Deep analysis of…" menu under it."""
    doc = bundle_document(bundle.title, bundle.reports, bundle.note, bundle.empty_text, bundle.lang)
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
    first, *rest = _embed_messages(embeds, footer, key, content)
    # The menu under the first message: where a 🔍 lands, and the bundle's own.
    return [OutMessage(first.content, first.embeds, menu_options(bundle)), *rest]


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
        name = f"{words(delivery.report.lang).tr('Deep analysis')}: {title}"
    elif delivery.bundle is not None:
        name = plain((Span(delivery.bundle.title),))
    else:
        name = "redigest"
    return _cut(name, MAX_THREAD_NAME) or "redigest"
