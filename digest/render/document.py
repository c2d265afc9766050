"""A report laid out as a platform-neutral document: sections of blocks of styled spans.

Renderers (Markdown, plain text, and later Discord embeds and Slack blocks) only translate this
structure, so every output says the same thing and escapes untrusted text in one way per format.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from digest.report import CommentNote, Depth, Quote, Report
from digest.source import REDDIT, Origin
from digest.stats import Link, LinkCategory
from digest.text import plural


@dataclass(frozen=True, slots=True)
class Span:
    text: str
    style: str = "plain"  # plain | strong | quote | link | muted

    @classmethod
    def link(cls, url: str) -> Span:
        return cls(url, "link")


Line = tuple[Span, ...]


@dataclass(frozen=True, slots=True)
class Block:
    kind: str  # paragraph | bullets | fields
    lines: tuple[Line, ...]  # a paragraph has one line; bullets one per item
    labels: tuple[str, ...] = ()  # for fields: one label per line


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True, slots=True)
class Document:
    title: Line
    sections: tuple[Section, ...]
    footer: tuple[str, ...]


def para(*spans: Span | str) -> Block:
    return Block("paragraph", (tuple(s if isinstance(s, Span) else Span(s) for s in spans),))


def bullets(lines: Sequence[Line]) -> Block:
    return Block("bullets", tuple(lines))


def who(author: str | None, origin: Origin = REDDIT) -> str:
    return origin.who(author)


def scored(score: int, origin: Origin = REDDIT, extra: str = "") -> str:
    """` (12 points, 3 replies)` after a name: the comment's score as its source counts it, then
    `extra` (", …"); without a score (Hacker News comments) only `extra`, or nothing at all."""
    return origin.paren(score, extra)


def quote_span(q: Quote) -> Span:
    """The quoted words; " / " marks where the writer broke the line (a short comment quoted
    whole keeps its shape: "New model / Look inside / Lobotomized"); "…" says the writer's
    sentence went on."""
    lines = (line.strip() for line in q.text.splitlines())
    return Span(" / ".join(line for line in lines if line) + ("…" if q.cut else ""), "quote")


def quote_line(q: Quote, lead: str = "", extra: str = "", origin: Origin = REDDIT) -> Line:
    spans = [Span(lead + " ")] if lead else []
    spans += [Span(who(q.author, origin), "strong"), Span(f"{scored(q.score, origin, extra)}: ")]
    spans.append(quote_span(q))
    return tuple(spans)


def _when(t: datetime) -> str:
    return f"{t:%Y-%m-%d %H:%M} UTC"


_CATEGORY_ORDER = list(LinkCategory)


def link_line(link: Link, note: str | None = None, origin: Origin = REDDIT) -> Line:
    """The link, what it is (the analyser's note, when it wrote one) and who shared it."""
    first = link.found_in[0]
    where = (
        "the post"
        if first.comment_id is None
        else f"{who(first.author, origin)}{scored(first.score, origin)}"
    )
    more = f" and {len(link.found_in) - 1:,} more" if len(link.found_in) > 1 else ""
    said = (Span(f" — {note}"),) if note else ()
    return (Span.link(link.url), *said, Span(f" — shared by {where}{more}", "muted"))


def _grouped_links(report: Report, limit_per_group: int) -> list[Block]:
    blocks: list[Block] = []
    for category in _CATEGORY_ORDER:
        links = [lk for lk in report.stats.links if lk.category is category]
        if not links:
            continue
        origin = report.thread.origin
        lines = [
            link_line(lk, report.link_notes.get(lk.url), origin) for lk in links[:limit_per_group]
        ]
        if len(links) > limit_per_group:
            lines.append((Span(f"… and {len(links) - limit_per_group:,} more", "muted"),))
        blocks.append(para(Span(category.value.capitalize(), "strong")))
        blocks.append(bullets(lines))
    return blocks


def title_line(report: Report) -> Line:
    t = report.thread
    o = t.origin
    ratio = (
        f" · {t.upvote_ratio:.0%} upvoted"
        if t.upvote_ratio is not None and o.has_upvote_ratio
        else ""
    )
    score = o.post_score(t.score)
    score = f"{score}{ratio} · " if score else ""
    return (
        Span(t.place, "strong"),
        Span(" · "),
        Span(t.title, "strong"),
        Span(f" · {score}{plural(t.num_comments, 'comment')} · ", "muted"),
        Span.link(t.permalink),
    )


def _note_line(
    n: CommentNote, origin: Origin, *, stance: bool = True, reason: bool = False
) -> Line:
    bits = []
    if stance and n.stance:
        bits.append(n.stance)
    if n.replies:
        bits.append(plural(n.replies, "reply", "replies"))
    extra = (", " + ", ".join(bits)) if bits else ""
    lead = (n.reason[0].upper() + n.reason[1:] + " —") if reason and n.reason else ""
    return quote_line(n.quote, lead, extra, origin)


def _footer(report: Report) -> tuple[str, ...]:
    lines = [f"Coverage: {report.coverage.describe()}.", f"Analyser: {report.analyzer}."]
    if report.usage.cost_usd:
        lines.append(f"Cost: ≈ ${report.usage.cost_usd:.4f}.")
    lines += list(report.notes)
    return tuple(lines)


def _focus(report: Report) -> list[Block]:
    if report.focus_comment_id is None:
        return []
    return [para(Span(f"Focused on the sub-thread of comment {report.focus_comment_id}.", "muted"))]


def _summary_blocks(report: Report) -> list[Block]:
    lines: list[Line] = []
    for p in report.summary:
        if p.quote is None:
            lines.append((Span(p.text),))
        else:
            lines.append((Span(p.text + " "), quote_span(p.quote)))
    if not lines:
        return [para("No summary could be written: the thread has no text to work from.")]
    return [bullets(lines)]


def _themes_blocks(report: Report, deep: bool) -> list[Block]:
    if not report.themes:
        return [para("No theme was shared by enough comments to stand out.")]
    lines: list[Line] = []
    for theme in report.themes:
        line = [Span(theme.name, "strong"), Span(f" — {theme.summary}")]
        if deep:
            for i, q in enumerate(theme.examples):
                sep = " For example, " if i == 0 else "; "
                o = report.thread.origin
                line += [Span(f"{sep}{who(q.author, o)}{scored(q.score, o)}: "), quote_span(q)]
        lines.append(tuple(line))
    return [bullets(lines)]


def _sentiment_blocks(report: Report, deep: bool) -> list[Block]:
    s = report.sentiment
    blocks = [para(report.sentiment_reading)]
    if deep and s.branches:
        lines = []
        o = report.thread.origin
        for b in s.branches:
            lines.append(
                (
                    Span(f"{who(b.author, o)}'s thread", "strong"),
                    Span(
                        f"{scored(b.score, o)}: {b.label}, {b.compound:+.2f} over "
                        f"{plural(b.comments, 'comment')}"
                    ),
                )
            )
        which = (
            "the top-level comments with the highest scores" if o.scored else "the largest branches"
        )
        blocks.append(para(Span(f"By branch ({which}):")))
        blocks.append(bullets(lines))
    return blocks


def brief_document(report: Report) -> Document:
    """The brief as a chat message (digest.render.brief): a TL;DR first, about 1,200 characters
    of Markdown at most, no comment quoted twice."""
    # Imported here: both modules build on this one.
    from digest.render.brief import brief
    from digest.render.markdown import markdown_of

    return brief(report, _footer(report), lambda doc: len(markdown_of(doc)))


def _post_details(report: Report) -> Block:
    t = report.thread
    labels: list[str] = []
    lines: list[Line] = []

    def field(label: str, *spans: Span) -> None:
        labels.append(label)
        lines.append(tuple(spans))

    o = t.origin
    field("Subreddit" if o.is_reddit else "Where", Span(t.place))
    field("Title", Span(t.title))
    field("Author", Span(who(t.author, o)))
    field("Posted", Span(_when(t.created)))
    if o.is_reddit:
        ratio = f" ({t.upvote_ratio:.0%} upvoted)" if t.upvote_ratio is not None else ""
        field("Score", Span(f"{t.score:,}{ratio}"))
    elif o.post_score(t.score):
        field("Score", Span(o.post_score(t.score)))
    st = report.stats
    field(
        "Comments",
        Span(
            f"{t.num_comments:,} reported · {st.comments_present:,} fetched · "
            f"{report.coverage.analyzed:,} analysed"
        ),
    )
    if t.flair:
        field("Flair", Span(t.flair))
    flags = [
        name
        for name, on in (
            ("NSFW", t.nsfw),
            ("spoiler", t.spoiler),
            ("locked", t.locked),
            (f"post {t.state.value}", t.state.value != "present"),
        )
        if on
    ]
    if t.crosspost_from:
        flags.append(f"crosspost from {t.crosspost_from}")
    if t.gallery_size:
        flags.append(f"gallery of {t.gallery_size}")
    if flags:
        field("Flags", Span(", ".join(flags)))
    if not t.is_self and t.url != t.permalink:
        field("Links to", Span.link(t.url))
    field("Thread", Span.link(t.permalink))
    return Block("fields", tuple(lines), tuple(labels))


def _comment_analysis(report: Report) -> list[Block]:
    st = report.stats
    depth = f"up to {plural(st.max_depth, 'level')} deep" if st.max_depth > 1 else "no reply chains"
    o = report.thread.origin
    op = (
        f"how many {o.op} wrote is unknown ("
        + ("their account is deleted)" if o.is_reddit else "their name is not known)")
        if st.op_comments is None or report.thread.author is None
        else f"{o.op} wrote {st.op_comments:,}"
    )
    counts = bullets(
        [
            (Span(f"{plural(st.comments_present, 'comment')} fetched of {st.num_comments:,} "
                  f"reported; {report.coverage.analyzed:,} analysed."),),
            (Span(f"{plural(st.top_level_comments, 'top-level comment')}, "
                  f"{plural(st.replies, 'reply', 'replies')}, {depth}."),),
            (Span(f"{plural(st.unique_authors, 'distinct author')}; {op}."),),
            (Span(f"{st.deleted_comments:,} deleted and {st.removed_comments:,} removed; "
                  f"{st.edited_comments:,} edited."),),
        ]
    )  # fmt: skip
    blocks = [counts]
    if report.top_comments:
        by = f"by {o.ranked_by}" if o.ranked_by else "in the thread's order"
        blocks.append(para(Span(f"Top-level comments {by}", "strong")))
        blocks.append(bullets([_note_line(n, o) for n in report.top_comments]))
    else:
        blocks.append(para("There are no top-level comments with text."))
    if report.notable_replies:
        blocks.append(para(Span("Notable replies", "strong")))
        blocks.append(bullets([_note_line(n, o, reason=True) for n in report.notable_replies]))
    return blocks


def deep_document(report: Report) -> Document:
    links = _grouped_links(report, 8) or [
        para("No links were shared in the post or its fetched comments.")
    ]
    notable = (
        [bullets([_note_line(n, report.thread.origin, stance=False, reason=True)
                  for n in report.notable])]
        if report.notable
        else [para("No comment stood out from the rest.")]
    )  # fmt: skip
    takeaways = (
        [
            bullets(
                [
                    (Span(t.text + " "), quote_span(t.quote)) if t.quote else (Span(t.text),)
                    for t in report.takeaways
                ]
            )
        ]
        if report.takeaways
        else [para("No comment recommended, warned or instructed anything concrete.")]
    )
    observations = (
        [bullets([(Span(o),) for o in report.observations])]
        if report.observations
        else [
            para(
                "Nothing unusual stood out: no heavy deletions, no divisive voting."
                if report.thread.origin.has_downvotes
                else "Nothing unusual stood out: no heavy deletions."
            )
        ]
    )
    sections = (
        Section("1. Post details", (_post_details(report),)),
        Section("2. Summary", (*_focus(report), *_summary_blocks(report))),
        Section("3. Key themes", tuple(_themes_blocks(report, True))),
        Section("4. Sentiment", tuple(_sentiment_blocks(report, True))),
        Section("5. Comment analysis", tuple(_comment_analysis(report))),
        Section("6. Links and references", tuple(links)),
        Section("7. Notable comments", tuple(notable)),
        Section("8. Engagement insights", (bullets([(Span(e),) for e in report.engagement]),)),
        Section("9. Actionable takeaways", tuple(takeaways)),
        Section("10. Other observations", tuple(observations)),
    )
    return Document(title_line(report), sections, _footer(report))


def document(report: Report) -> Document:
    return deep_document(report) if report.depth is Depth.DEEP else brief_document(report)


def condensed_lines(report: Report) -> list[Line]:
    """One thread in a few lines: its title line, the gist, and the best comment."""
    lines: list[Line] = [title_line(report)]
    gist = next((p for p in report.summary if p.quote is not None and p.quote.comment_id), None)
    first = report.summary[0] if report.summary else None
    if first is not None and first.quote is not None:
        lines.append((Span(first.text + " "), quote_span(first.quote)))
    elif first is not None:
        lines.append((Span(first.text),))
    if gist is not None and gist is not first and gist.quote is not None:
        lines.append(quote_line(gist.quote, "Top comment:", origin=report.thread.origin))
    mood = report.sentiment.label
    lines.append((Span(f"Mood: {mood} · {report.coverage.describe()}", "muted"),))
    return lines


def bundle_document(
    title: str, reports: Sequence[Report], note: str | None = None, empty_text: str | None = None
) -> Document:
    """A scheduled digest: each thread condensed, in one post."""
    sections: list[Section] = []
    if note:
        sections.append(Section("Note", (para(Span(note, "muted")),)))
    if not reports:
        sections.append(Section("Nothing new", (para(empty_text or "No thread qualified."),)))
    for i, report in enumerate(reports, 1):
        sections.append(Section(f"{i}. {report.thread.title}", (bullets(condensed_lines(report)),)))
    footer = tuple(dict.fromkeys(n for r in reports for n in r.notes))
    return Document((Span(title, "strong"),), tuple(sections), footer)
