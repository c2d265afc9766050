"""Block Kit layout and paging: a Delivery (report, bundle or answer) as Slack messages, within
Slack's limits (blocks per message, characters per section, header and context sizes)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from adapters.slack_chat.escape import (
    _WS,
    ZWSP,
    _plain_text,
    _wrap,
    channel_mentions,
    clip_mrkdwn,
    escape_answer,
    escape_mrkdwn,
    link_mrkdwn,
    reddit_to_mrkdwn,
)
from adapters.slack_chat.picker import pick_button
from bot.chat import Bundle, Delivery
from digest.i18n import words
from digest.render.document import (
    Block,
    Document,
    Line,
    bundle_document,
    depth_name,
    document,
    headline,
)
from digest.report import Report
from digest.stats import link_key

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
    w, o = words(report.lang, t.origin.context), t.origin
    # Reddit's points, a story's points, a chat thread's reactions (none where there are none).
    score = o.post_score(t.score, w) if o.score_unit is not None else ""
    comments = w.ntr("{n} comment", "{n} comments", t.num_comments)
    if report.lang == "en":
        comments = o.say(comments)  # a chat thread's messages
    text = " · ".join(p for p in (headline(report, t.place), score, comments) if p)
    return clip_mrkdwn(escape_mrkdwn(text), FALLBACK_CHARS)


def _document_messages(
    doc: Document,
    allowed: frozenset[str],
    *,
    heading: str,
    intro: str | None,
    fallback: str,
    continued: str,
    accessories: Sequence[dict[str, Any] | None] = (),
) -> list[SlackMessage]:
    """`accessories[i]`, when given, sits beside the start of the document's section i."""
    first: list[dict[str, Any]] = [header(heading)]
    if intro:
        first.append(context([clip_mrkdwn(escape_mrkdwn(intro), CONTEXT_ELEMENT_CHARS)]))
    title = line_mrkdwn(doc.title, allowed)
    if title:
        first += _sections([(title, doc.title)])
    body: list[dict[str, Any]] = []
    for i, sec in enumerate(doc.sections):
        lines: list[tuple[str, Line | None]] = [(f"*{escape_mrkdwn(sec.title)}*", None)]
        for block in sec.blocks:
            lines += _block_lines(block, allowed)
        blocks = _sections(lines)
        accessory = accessories[i] if i < len(accessories) else None
        if accessory is not None and blocks:
            blocks[0] = {**blocks[0], "accessory": accessory}
        body += blocks
    body += _footer_blocks(doc.footer)
    return paginate(first, body, fallback=fallback, continued=continued)


def report_messages(report: Report, intro: str | None = None) -> list[SlackMessage]:
    """A brief or deep report as Block Kit messages (usually one for a brief digest)."""
    t = report.thread
    return _document_messages(
        document(report),
        allowed_links([report]),
        heading=f"{depth_name(report)} · {t.place}",
        intro=intro,
        fallback=report_fallback(report),
        continued=clip_mrkdwn(escape_mrkdwn(headline(report, t.place)), 200),
    )


def bundle_messages(
    bundle: Bundle, intro: str | None = None, *, pickable: bool = True
) -> list[SlackMessage]:
    """A scheduled digest (several threads, condensed) as one message, split if it must be;
    with several threads, a "Deep analysis" button beside each (picker.py) when `pickable`
    (not in a message only one person sees: no thread can open under it)."""
    doc = bundle_document(bundle.title, bundle.reports, bundle.note, bundle.empty_text, bundle.lang)
    count = len(bundle.reports)
    buttons: list[dict[str, Any] | None] = [None] * (len(doc.sections) - count)  # note, …
    if count > 1 and pickable:  # the threads' sections come last, in order
        buttons += [pick_button(i, r.thread.id) for i, r in enumerate(bundle.reports, 1)]
    said = words(bundle.lang).ntr("{title}: {n} thread", "{title}: {n} threads", count,
                                  title=bundle.title, n=count)  # fmt: skip
    fallback = clip_mrkdwn(escape_mrkdwn(said), FALLBACK_CHARS)
    return _document_messages(
        replace(doc, title=()),
        allowed_links(bundle.reports),
        heading=bundle.title,
        intro=intro,
        fallback=fallback,
        continued=clip_mrkdwn(escape_mrkdwn(bundle.title), 200),
        accessories=buttons,
    )


def text_messages(text: str, channels: Sequence[str] = ()) -> list[SlackMessage]:
    """An answer: plain text when short, otherwise sections split over messages; `#ID` for each
    of `channels` (ids the core vouches for) becomes that channel's mention."""
    escaped = channel_mentions(escape_answer(text.strip()), channels) or "(empty)"
    if len(escaped) <= PLAIN_TEXT_CHARS:
        return [SlackMessage(escaped)]
    first_line = escaped.split("\n", 1)[0]
    fallback = clip_mrkdwn(first_line, FALLBACK_CHARS)
    lines: list[tuple[str, Line | None]] = [(ln, None) for ln in escaped.split("\n")]
    return paginate([], _sections(lines), fallback=fallback, continued="continued")


def delivery_messages(delivery: Delivery, *, pickable: bool = True) -> list[SlackMessage]:
    """Everything a Delivery becomes in Slack, in posting order (never empty); a bundle's
    buttons only when `pickable` (see bundle_messages)."""
    if delivery.report is not None:
        return report_messages(delivery.report, delivery.header)
    if delivery.bundle is not None:
        return bundle_messages(delivery.bundle, delivery.header, pickable=pickable)
    text = delivery.text or ""
    if delivery.header:
        text = f"{delivery.header}\n{text}"
    return text_messages(text)
