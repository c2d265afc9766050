"""The brief as a chat message: a one-line TL;DR first, then the few things worth a glance.

Scannable in seconds, so it is short (about 1,200 characters of Markdown at most, typically):
items are added by priority while they fit. No comment is quoted twice, a theme is shown only with
an example nobody else's section already quoted, and "Top links" leaves out image previews,
addresses on the writer's own machine and the post's own link (the title line has it).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from digest.i18n import N_, Words, words
from digest.observations import READER_NOTES
from digest.render.document import (
    Document,
    Line,
    Section,
    Span,
    bullets,
    english_only,
    focus_text,
    para,
    quote_span,
    scored,
    title_line,
    who,
)
from digest.report import Quote, Report
from digest.source import Origin
from digest.stats import Link, LinkCategory
from digest.summary import tldr

BUDGET = 1_200  # characters of Markdown a brief aims to stay within
THEMES, LINKS = 3, 3
# The brief's sections (English msgids; each heading is shown in the report's language).
SUMMARY, DECISIONS, THEMES_TITLE, NOTABLE, TOP_LINKS = (
    N_("Summary"),
    N_("Decisions and open questions"),
    N_("Key themes"),
    N_("Notable"),
    N_("Top links"),
)


def _local(host: str) -> bool:
    """An address on the writer's own machine or network: no use to anyone else."""
    host = host.lower().strip("[]")
    if host in ("localhost", "") or host.endswith((".local", ".localhost", ".internal")):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return ip.is_loopback or ip.is_private or ip.is_unspecified or ip.is_link_local


def shareable(report: Report, link: Link) -> bool:
    """A link worth listing in a brief: not an image or video preview, not a local address, not
    the post's own link or a link back to this thread."""
    t = report.thread
    if link.category is LinkCategory.MEDIA or link.url in (t.url, t.permalink):
        return False
    try:
        parts = urlsplit(link.url)
        host = parts.hostname or ""
    except ValueError:
        return False
    if _local(host):
        return False
    return not (link.category is LinkCategory.REDDIT and f"/{t.id}" in parts.path)


@dataclass(frozen=True, slots=True)
class _Item:
    section: str  # where it goes
    priority: int  # lower: kept longer when the brief must shrink
    line: Line
    order: int  # position within its section


def _quote_line(lead: str, q: Quote) -> Line:
    return (Span(f"{lead} "), quote_span(q))


def _position(lead: str, q: Quote, counter: bool, o: Origin, w: Words) -> Line:
    """A position in a few words: who and how many points (and "Against:" for the counterpoint)
    when the lead only says that; an analyser's own sentence is kept as written."""
    if lead.endswith(":") and who(q.author, o) in lead and o.comment_score(q.score) in lead:
        head = w.tr("Against:") + " " if counter else ""
        return (
            Span(head),
            Span(who(q.author, o, w), "strong"),
            Span(f"{scored(q.score, o, w=w)}: "),
            quote_span(q),
        )
    return _quote_line(lead, q)


def _items(report: Report) -> list[_Item]:
    items: list[_Item] = []
    o = report.thread.origin
    w = words(report.lang, report.thread.origin.context)
    used: set[str] = set()  # comments already quoted: each is quoted once

    def add(section: str, priority: int, line: Line, quoted: str | None = None) -> None:
        items.append(_Item(section, priority, line, len(items)))
        if quoted is not None:
            used.add(quoted)

    # A chat thread's first decision and first open question (before the summary's positions:
    # in a chat, what was decided and is still open is what a reader comes for).
    d = report.decisions
    for head, quotes, priority in (
        (w.tr("Decided:"), d.decided if d else (), 3),
        (w.tr("Open:"), d.open_questions if d else (), 4),
    ):
        q = next((q for q in quotes if q.comment_id not in used), None)
        if q is not None:
            said: Line = (
                Span(f"{head} "),
                Span(who(q.author, o, w), "strong"),
                Span(f"{scored(q.score, o, w=w)}: "),
                quote_span(q),
            )
            add(DECISIONS, priority, said, q.comment_id)
    # Summary: the claim only when it is the post's own words (the title is the title line),
    # then the positions and the counterpoint, in the analyser's order.
    positions = [p for p in report.summary if p.quote is not None and p.quote.comment_id]
    claim = report.summary[0] if report.summary else None
    for rank, p in enumerate(positions):
        q = p.quote
        if q is None or q.comment_id is None or q.comment_id in used:
            continue
        counter = p.text.startswith("The strongest counterpoint")
        # The first position shown stays (rank 0, unless a decision already quoted its comment).
        leading = not any(i.section == SUMMARY for i in items)
        priority = 1 if leading else 3 if counter else 5 + rank
        add(SUMMARY, priority, _position(p.text, q, counter, o, w), q.comment_id)
    if (
        claim is not None
        and claim.quote is not None
        and claim.quote.comment_id is None
        and claim.quote.text != report.thread.title
    ):
        add(SUMMARY, 9, _quote_line(claim.text, claim.quote))
    # Themes, each with an example no other section quotes.
    shown = 0
    for theme in report.themes:
        example = next((q for q in theme.examples if q.comment_id not in used), None)
        if example is None or example.comment_id is None or shown == THEMES:
            continue
        line: Line = (
            Span(theme.name, "strong"),
            Span(f" — {who(example.author, o, w)}{scored(example.score, o, w=w)}: "),
            quote_span(example),
        )
        add(THEMES_TITLE, 2 if shown == 0 else 4 + 2 * shown, line, example.comment_id)
        shown += 1
    # The one notable comment not already quoted (a downvoted OP, the most replied-to).
    for n in report.notable:
        if n.quote.comment_id in used or not n.reason:
            continue
        reason = n.reason[:1].upper() + n.reason[1:]
        line = (
            Span(f"{reason}: "),
            Span(who(n.quote.author, o, w), "strong"),
            Span(f"{scored(n.quote.score, o, w=w)}: "),
            quote_span(n.quote),
        )
        add(NOTABLE, 8, line, n.quote.comment_id)
        break
    links = [lk for lk in report.stats.links if shareable(report, lk)][:LINKS]
    for i, lk in enumerate(links):
        first = lk.found_in[0]
        by = w.tr("the post") if first.comment_id is None else who(first.author, o, w)
        if lk.mentions > 1:
            by = w.ntr("{who} and {n} other", "{who} and {n} others", lk.mentions - 1, who=by)
        note = report.link_notes.get(lk.url)
        said = (Span(f" — {note}"),) if note else ()
        add(TOP_LINKS, 7 + 3 * i, (Span.link(lk.url), *said, Span(f" — {by}", "muted")))
    return items


def _document(report: Report, items: list[_Item], footer: tuple[str, ...]) -> Document:
    notes = [o for o in report.observations if o.startswith(READER_NOTES)]
    tl = report.tldr or tldr(report.sentiment, report.themes, notes)
    w = words(report.lang, report.thread.origin.context)
    sections = [Section(w.tr("TL;DR"), (*english_only(report), para(tl)))]
    if report.focus_comment_id is not None:
        sections.append(Section(w.tr("Focus"), (para(Span(focus_text(report), "muted")),)))
    for title in (SUMMARY, DECISIONS, THEMES_TITLE, NOTABLE, TOP_LINKS):
        lines = [i.line for i in sorted(items, key=lambda i: i.order) if i.section == title]
        if lines:
            sections.append(Section(w.tr(title), (bullets(lines),)))
    return Document(title_line(report), tuple(sections), footer)


def brief(report: Report, footer: tuple[str, ...], measure: Callable[[Document], int]) -> Document:
    """The brief document: every item while it fits in BUDGET (as `measure` counts), dropping the
    least important first; the TL;DR, the mood and the first position and theme always stay."""
    items = _items(report)
    doc = _document(report, items, footer)
    while measure(doc) > BUDGET:
        droppable = [i for i in items if i.priority > 2]
        if not droppable:
            break
        items.remove(max(droppable, key=lambda i: (i.priority, i.order)))
        doc = _document(report, items, footer)
    return doc
