"""A report laid out as a platform-neutral document: sections of blocks of styled spans.

Renderers (Markdown, plain text, and later Discord embeds and Slack blocks) only translate this
structure, so every output says the same thing and escapes untrusted text in one way per format.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from digest.i18n import EN, Words, words
from digest.report import CommentNote, Depth, Quote, Report
from digest.source import REDDIT, Origin


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


def who(author: str | None, origin: Origin = REDDIT, w: Words = EN) -> str:
    return origin.who(author, w)


def scored(score: int, origin: Origin = REDDIT, extra: str = "", w: Words = EN) -> str:
    """` (12 points, 3 replies)` after a name: the comment's score as its source counts it, then
    `extra` (", …"); without a score (Hacker News comments) only `extra`, or nothing at all."""
    return origin.paren(score, extra, w)


def quote_span(q: Quote) -> Span:
    """The quoted words; " / " marks where the writer broke the line (a short comment quoted
    whole keeps its shape: "New model / Look inside / Lobotomized"); "…" says the writer's
    sentence went on."""
    lines = (line.strip() for line in q.text.splitlines())
    return Span(" / ".join(line for line in lines if line) + ("…" if q.cut else ""), "quote")


def quote_line(
    q: Quote, lead: str = "", extra: str = "", origin: Origin = REDDIT, w: Words = EN
) -> Line:
    spans = [Span(lead + " ")] if lead else []
    spans += [
        Span(who(q.author, origin, w), "strong"),
        Span(f"{scored(q.score, origin, extra, w)}: "),
    ]
    spans.append(quote_span(q))
    return tuple(spans)


def title_line(report: Report) -> Line:
    t = report.thread
    o = t.origin
    w = words(report.lang, report.thread.origin.context)
    ratio = (
        " · " + w.tr("{pct} upvoted", pct=f"{t.upvote_ratio:.0%}")
        if t.upvote_ratio is not None and o.has_upvote_ratio
        else ""
    )
    score = o.post_score(t.score, w)
    score = f"{score}{ratio} · " if score else ""
    comments = w.ntr("{n} comment", "{n} comments", t.num_comments)
    return (
        Span(t.place, "strong"),
        Span(" · "),
        Span(t.title, "strong"),
        Span(f" · {score}{comments} · ", "muted"),
        Span.link(t.permalink),
    )


def note_line(
    n: CommentNote, origin: Origin, w: Words, *, stance: bool = True, reason: bool = False
) -> Line:
    bits = []
    if stance and n.stance:
        bits.append(w.mood(n.stance))
    if n.replies:
        bits.append(w.ntr("{n} reply", "{n} replies", n.replies))
    extra = (w.comma + w.comma.join(bits)) if bits else ""
    lead = (_capital(n.reason, w) + " —") if reason and n.reason else ""
    return quote_line(n.quote, lead, extra, origin, w)


def _capital(text: str, w: Words) -> str:
    """`text` capitalised to start a line; a translation that starts with a name (`u/x への返信`)
    keeps the name as written."""
    if not w.english and text.startswith(("u/", "r/")):
        return text
    return text[0].upper() + text[1:]


def footer(report: Report) -> tuple[str, ...]:
    w = words(report.lang, report.thread.origin.context)
    lines = [
        w.tr("Coverage: {text}.", text=report.coverage.describe(w)),
        w.tr("Analyser: {name}.", name=report.analyzer),
    ]
    if report.usage.cost_usd:
        lines.append(w.tr("Cost: ≈ ${cost}.", cost=f"{report.usage.cost_usd:.4f}"))
    lines += list(report.notes)
    return tuple(lines)


def focus_text(report: Report) -> str:
    return words(report.lang, report.thread.origin.context).tr(
        "Focused on the sub-thread of comment {id}.", id=report.focus_comment_id
    )


OFFLINE = "offline"  # the offline analyser's name (digest.offline.OfflineAnalyzer)


def english_only(report: Report) -> list[Block]:
    """In a report not in English that the offline analyser wrote: that its narrative (summary,
    themes, mood reading, takeaways) is in English, said in the report's language."""
    if report.lang == "en" or report.analyzer != OFFLINE:
        return []
    w = words(report.lang, report.thread.origin.context)
    return [
        para(
            Span(
                w.tr("The summary is only available in English (without a language model)."),
                "muted",
            )
        )
    ]


def focus(report: Report) -> list[Block]:
    if report.focus_comment_id is None:
        return []
    return [para(Span(focus_text(report), "muted"))]


def brief_document(report: Report) -> Document:
    """The brief as a chat message (digest.render.brief): a TL;DR first, about 1,200 characters
    of Markdown at most, no comment quoted twice."""
    # Imported here: both modules build on this one.
    from digest.render.brief import brief
    from digest.render.markdown import markdown_of

    o, lang = report.thread.origin, report.lang
    doc = brief(report, footer(report), lambda d: len(markdown_of(in_words_of(d, o, lang))))
    return in_words_of(doc, o, lang)


def deep_document(report: Report) -> Document:
    """The deep report (digest.render.deep): ten sections."""
    from digest.render.deep import deep_document as deep  # it builds on this module

    return in_words_of(deep(report), report.thread.origin, report.lang)


def _said(spans: Line, origin: Origin) -> Line:
    return tuple(s if s.style in ("quote", "link") else Span(origin.say(s.text), s.style)
                 for s in spans)  # fmt: skip


def in_words_of(doc: Document, origin: Origin, lang: str = "en") -> Document:
    """The document in its source's words (an English report on a chat thread says "messages"
    and "the first message", not "comments" and "the post"): everything the report says itself;
    quotes and links stay verbatim. As is for Reddit and Hacker News, and in other languages
    (their catalogues' words for a comment are kept)."""
    if lang != "en" or origin.say("comment") == "comment":
        return doc
    sections = tuple(
        Section(
            origin.say(sec.title),
            tuple(
                Block(
                    b.kind,
                    tuple(_said(ln, origin) for ln in b.lines),
                    tuple(origin.say(lb) for lb in b.labels),
                )
                for b in sec.blocks
            ),
        )
        for sec in doc.sections
    )
    return Document(_said(doc.title, origin), sections, tuple(origin.say(f) for f in doc.footer))


def depth_name(report: Report) -> str:
    """What a chat calls the report: "Deep analysis" or "Digest", in the report's language."""
    w = words(report.lang, report.thread.origin.context)
    return w.tr("Deep analysis") if report.depth is Depth.DEEP else w.tr("Digest")


def headline(report: Report, where: str) -> str:
    """`Deep analysis of r/sub: Title` (a chat's notification text)."""
    return words(report.lang, report.thread.origin.context).tr(
        "{what} of {where}: {title}",
        what=depth_name(report),
        where=where,
        title=report.thread.title,
    )


def document(report: Report) -> Document:
    return deep_document(report) if report.depth is Depth.DEEP else brief_document(report)


def condensed_lines(report: Report) -> list[Line]:
    """One thread in a few lines: its title line, the gist, and the best comment."""
    w = words(report.lang, report.thread.origin.context)
    lines: list[Line] = [title_line(report)]
    gist = next((p for p in report.summary if p.quote is not None and p.quote.comment_id), None)
    first = report.summary[0] if report.summary else None
    if first is not None and first.quote is not None:
        lines.append((Span(first.text + " "), quote_span(first.quote)))
    elif first is not None:
        lines.append((Span(first.text),))
    if gist is not None and gist is not first and gist.quote is not None:
        lines.append(quote_line(gist.quote, w.tr("Top comment:"), origin=report.thread.origin, w=w))
    mood = w.tr("Mood: {mood}", mood=w.mood(report.sentiment.label))
    lines.append((Span(f"{mood} · {report.coverage.describe(w)}", "muted"),))
    if report.lang != "en":
        return lines
    return [_said(line, report.thread.origin) for line in lines]


def bundle_document(
    title: str,
    reports: Sequence[Report],
    note: str | None = None,
    empty_text: str | None = None,
    lang: str | None = None,
) -> Document:
    """A scheduled digest: each thread condensed, in one post (in `lang`; by default the
    reports' language)."""
    w = words(lang or (reports[0].lang if reports else None))
    sections: list[Section] = []
    if note:
        sections.append(Section(w.tr("Note"), (para(Span(note, "muted")),)))
    if not reports:
        empty = empty_text or w.tr("No thread qualified.")
        sections.append(Section(w.tr("Nothing new"), (para(empty),)))
    for i, report in enumerate(reports, 1):
        sections.append(Section(f"{i}. {report.thread.title}", (bullets(condensed_lines(report)),)))
    footer = tuple(dict.fromkeys(n for r in reports for n in r.notes))
    return Document((Span(title, "strong"),), tuple(sections), footer)
