"""The deep report's document: ten sections, from the post's details to other observations.

Built on digest.render.document's pieces (spans, quote lines, the title line and footer); every
fixed phrase comes in the report's language (digest.i18n).
"""

from __future__ import annotations

from datetime import datetime

from digest.i18n import EN, N_, Words, words
from digest.render.document import (
    Block,
    Document,
    Line,
    Section,
    Span,
    bullets,
    english_only,
    focus,
    footer,
    note_line,
    para,
    quote_line,
    quote_span,
    scored,
    title_line,
    who,
)
from digest.report import Report
from digest.source import REDDIT, Origin
from digest.stats import Link, LinkCategory


def _when(t: datetime) -> str:
    return f"{t:%Y-%m-%d %H:%M} UTC"


_CATEGORY_ORDER = list(LinkCategory)
# Each category's name (its value), marked for the catalogues.
_CATEGORY_NAMES = {
    LinkCategory.PAPER: N_("papers"),
    LinkCategory.CODE: N_("code"),
    LinkCategory.MODEL: N_("models and datasets"),
    LinkCategory.NEWS: N_("news and blogs"),
    LinkCategory.REDDIT: N_("reddit"),
    LinkCategory.MEDIA: N_("images and video"),
    LinkCategory.OTHER: N_("other"),
}
_STATES = (N_("deleted"), N_("removed"))  # a post's state, when it is not present


def link_line(link: Link, note: str | None = None, origin: Origin = REDDIT, w: Words = EN) -> Line:
    """The link, what it is (the analyser's note, when it wrote one) and who shared it."""
    first = link.found_in[0]
    more = len(link.found_in) - 1
    if first.comment_id is None:
        shared = (
            w.tr("shared by the post and {n} more", n=f"{more:,}")
            if more
            else w.tr("shared by the post")
        )
    else:
        where = f"{who(first.author, origin, w)}{scored(first.score, origin, w=w)}"
        shared = (
            w.tr("shared by {who} and {n} more", who=where, n=f"{more:,}")
            if more
            else w.tr("shared by {who}", who=where)
        )
    said = (Span(f" — {note}"),) if note else ()
    return (Span.link(link.url), *said, Span(f" — {shared}", "muted"))


def _grouped_links(report: Report, limit_per_group: int, w: Words) -> list[Block]:
    blocks: list[Block] = []
    for category in _CATEGORY_ORDER:
        links = [lk for lk in report.stats.links if lk.category is category]
        if not links:
            continue
        origin = report.thread.origin
        lines = [
            link_line(lk, report.link_notes.get(lk.url), origin, w)
            for lk in links[:limit_per_group]
        ]
        if len(links) > limit_per_group:
            more = f"{len(links) - limit_per_group:,}"
            lines.append((Span(w.tr("… and {n} more", n=more), "muted"),))
        blocks.append(para(Span(w.cap(_CATEGORY_NAMES[category]), "strong")))
        blocks.append(bullets(lines))
    return blocks


def _summary_blocks(report: Report, w: Words) -> list[Block]:
    lines: list[Line] = []
    for p in report.summary:
        if p.quote is None:
            lines.append((Span(p.text),))
        else:
            lines.append((Span(p.text + " "), quote_span(p.quote)))
    if not lines:
        return [para(w.tr("No summary could be written: the thread has no text to work from."))]
    return [bullets(lines)]


def _themes_blocks(report: Report, deep: bool, w: Words) -> list[Block]:
    if not report.themes:
        return [para(w.tr("No theme was shared by enough comments to stand out."))]
    lines: list[Line] = []
    for theme in report.themes:
        line = [Span(theme.name, "strong"), Span(f" — {theme.summary}")]
        if deep:
            for i, q in enumerate(theme.examples):
                sep = " " + w.tr("For example,") + " " if i == 0 else "; "
                o = report.thread.origin
                said = f"{who(q.author, o, w)}{scored(q.score, o, w=w)}"
                line += [Span(f"{sep}{said}: "), quote_span(q)]
        lines.append(tuple(line))
    return [bullets(lines)]


def _sentiment_blocks(report: Report, deep: bool, w: Words) -> list[Block]:
    s = report.sentiment
    blocks = [para(report.sentiment_reading)]
    o = report.thread.origin
    # A flat chat thread (Slack's) has no branches: each "branch" would be one message.
    flat = o.is_chat and all(b.comments <= 1 for b in s.branches)
    if deep and s.branches and not flat:
        lines = []
        for b in s.branches:
            over = w.ntr(
                "{label}, {compound} over {n} comment",
                "{label}, {compound} over {n} comments",
                b.comments,
                label=w.mood(b.label),
                compound=f"{b.compound:+.2f}",
            )
            lines.append(
                (
                    Span(w.tr("{who}'s thread", who=who(b.author, o, w)), "strong"),
                    Span(f"{scored(b.score, o, w=w)}: {over}"),
                )
            )
        which = (
            w.tr("the top-level comments with the highest scores")
            if o.scored
            else w.tr("the largest branches")
        )
        blocks.append(para(Span(w.tr("By branch ({which}):", which=which))))
        blocks.append(bullets(lines))
    return blocks


def _post_details(report: Report) -> Block:
    t = report.thread
    w = words(report.lang, report.thread.origin.context)
    labels: list[str] = []
    lines: list[Line] = []

    def field(label: str, *spans: Span) -> None:
        labels.append(w.tr(label))
        lines.append(tuple(spans))

    o = t.origin
    field(N_("Subreddit") if o.is_reddit else N_("Where"), Span(t.place))
    field(N_("Title"), Span(t.title))
    field(N_("Author"), Span(who(t.author, o, w)))
    field(N_("Posted"), Span(_when(t.created)))
    if o.is_reddit:
        pct = f"{t.upvote_ratio:.0%}"
        ratio = " (" + w.tr("{pct} upvoted", pct=pct) + ")" if t.upvote_ratio is not None else ""
        field(N_("Score"), Span(f"{t.score:,}{ratio}"))
    elif o.post_score(t.score):
        field(N_("Score"), Span(o.post_score(t.score, w)))
    st = report.stats
    field(
        N_("Comments"),
        Span(
            w.tr(
                "{reported} reported · {fetched} fetched · {analysed} analysed",
                reported=f"{t.num_comments:,}",
                fetched=f"{st.comments_present:,}",
                analysed=f"{report.coverage.analyzed:,}",
            )
        ),
    )
    if t.flair:
        field(N_("Flair"), Span(t.flair))
    flags = [
        name
        for name, on in (
            (w.tr("NSFW"), t.nsfw),
            (w.tr("spoiler"), t.spoiler),
            (w.tr("locked"), t.locked),
            (w.tr("post {state}", state=w.tr(t.state.value)), t.state.value != "present"),
        )
        if on
    ]
    if t.crosspost_from:
        flags.append(w.tr("crosspost from {place}", place=t.crosspost_from))
    if t.gallery_size:
        flags.append(w.tr("gallery of {n}", n=t.gallery_size))
    if flags:
        field(N_("Flags"), Span(", ".join(flags)))
    if not t.is_self and t.url != t.permalink:
        field(N_("Links to"), Span.link(t.url))
    field(N_("Thread"), Span.link(t.permalink))
    return Block("fields", tuple(lines), tuple(labels))


def _comment_analysis(report: Report, w: Words) -> list[Block]:
    st = report.stats
    depth = (
        w.ntr("up to {n} level deep", "up to {n} levels deep", st.max_depth)
        if st.max_depth > 1
        else w.tr("no reply chains")
    )
    o = report.thread.origin
    if st.op_comments is None or report.thread.author is None:
        op = (
            w.tr("how many {op} wrote is unknown (their account is deleted)", op=w.tr(o.op))
            if o.is_reddit
            else w.tr("how many {op} wrote is unknown (their name is not known)", op=w.tr(o.op))
        )
    else:
        op = w.tr("{op} wrote {n}", op=w.tr(o.op), n=f"{st.op_comments:,}")
    counts = bullets(
        [
            (Span(w.ntr("{n} comment fetched of {reported} reported; {analysed} analysed.",
                        "{n} comments fetched of {reported} reported; {analysed} analysed.",
                        st.comments_present, reported=f"{st.num_comments:,}",
                        analysed=f"{report.coverage.analyzed:,}")),),
            (Span(w.tr("{top_level}, {replies}, {depth}.",
                       top_level=w.ntr("{n} top-level comment", "{n} top-level comments",
                                       st.top_level_comments),
                       replies=w.ntr("{n} reply", "{n} replies", st.replies), depth=depth)),),
            (Span(w.tr("{authors}; {op}.", op=op,
                       authors=w.ntr("{n} distinct author", "{n} distinct authors",
                                     st.unique_authors))),),
            (Span(w.tr("{deleted} deleted and {removed} removed; {edited} edited.",
                       deleted=f"{st.deleted_comments:,}", removed=f"{st.removed_comments:,}",
                       edited=f"{st.edited_comments:,}")),),
        ]
    )  # fmt: skip
    blocks = [counts]
    if report.top_comments:
        by = (
            w.tr("by {what}", what=w.tr(o.ranked_by))
            if o.ranked_by
            else w.tr("in the thread's order")
        )
        blocks.append(para(Span(w.tr("Top-level comments {by}", by=by), "strong")))
        blocks.append(bullets([note_line(n, o, w) for n in report.top_comments]))
    else:
        blocks.append(para(w.tr("There are no top-level comments with text.")))
    if report.notable_replies:
        blocks.append(para(Span(w.tr("Notable replies"), "strong")))
        blocks.append(bullets([note_line(n, o, w, reason=True) for n in report.notable_replies]))
    return blocks


def decision_blocks(report: Report, takeaways: list[Block], w: Words) -> list[Block]:
    """A chat thread's ninth section: one line of what was decided and is open, the decisions
    and open questions in the writers' words, then the takeaways (when there are any)."""
    d, o = report.decisions, report.thread.origin
    if d is None:
        return takeaways
    decided, still_open = d.decided_total, d.open_total
    if not decided and not still_open:
        said = w.tr("No decision was stated, and no question was left open.")
    elif not still_open:
        said = w.ntr(
            "{n} decision was stated; no question was left open.",
            "{n} decisions were stated; no question was left open.",
            decided,
        )
    elif not decided:
        said = w.ntr(
            "No decision was stated; {n} question is still open.",
            "No decision was stated; {n} questions are still open.",
            still_open,
        )
    else:
        said = w.tr("{decisions}; {questions}.",
                    decisions=w.ntr("{n} decision was stated", "{n} decisions were stated",
                                    decided),
                    questions=w.ntr("{n} question is still open", "{n} questions are still open",
                                    still_open))  # fmt: skip
    lines = [quote_line(q, w.tr("Decided:"), origin=o, w=w) for q in d.decided]
    lines += [quote_line(q, w.tr("Open:"), origin=o, w=w) for q in d.open_questions]
    blocks = [para(said), *([bullets(lines)] if lines else [])]
    if report.takeaways:
        blocks += [para(Span(w.tr("Actionable takeaways"), "strong")), *takeaways]
    return blocks


def deep_document(report: Report) -> Document:
    w = words(report.lang, report.thread.origin.context)
    links = _grouped_links(report, 8, w) or [
        para(w.tr("No links were shared in the post or its fetched comments."))
    ]
    notable = (
        [bullets([note_line(n, report.thread.origin, w, stance=False, reason=True)
                  for n in report.notable])]
        if report.notable
        else [para(w.tr("No comment stood out from the rest."))]
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
        else [para(w.tr("No comment recommended, warned or instructed anything concrete."))]
    )
    observations = (
        [bullets([(Span(o),) for o in report.observations])]
        if report.observations
        else [
            para(
                w.tr("Nothing unusual stood out: no heavy deletions, no divisive voting.")
                if report.thread.origin.has_downvotes
                else w.tr("Nothing unusual stood out: no heavy deletions.")
            )
        ]
    )
    engagement = (bullets([(Span(e),) for e in report.engagement]),)
    ninth = (N_("Actionable takeaways"), tuple(takeaways))
    if report.decisions is not None:  # a chat thread: what was decided and is still open
        ninth = (N_("Decisions and open questions"), tuple(decision_blocks(report, takeaways, w)))
    sections = (
        (N_("Post details"), (_post_details(report),)),
        (N_("Summary"), (*english_only(report), *focus(report), *_summary_blocks(report, w))),
        (N_("Key themes"), tuple(_themes_blocks(report, True, w))),
        (N_("Sentiment"), tuple(_sentiment_blocks(report, True, w))),
        (N_("Comment analysis"), tuple(_comment_analysis(report, w))),
        (N_("Links and references"), tuple(links)),
        (N_("Notable comments"), tuple(notable)),
        (N_("Engagement insights"), engagement),
        ninth,
        (N_("Other observations"), tuple(observations)),
    )
    numbered = tuple(
        Section(f"{i}. {w.tr(title)}", blocks) for i, (title, blocks) in enumerate(sections, 1)
    )
    return Document(title_line(report), numbered, footer(report))
