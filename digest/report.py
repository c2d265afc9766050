"""The report: one neutral structure for both depths, rendered per platform elsewhere.

Numbers come from `stats` and `sentiment`; an analyser contributes only the `Narrative`, and every
quote in it names a comment that exists and is a verbatim (whitespace-normalised) part of it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from digest.chart_data import ChartData
from digest.model import ContentState, Thread
from digest.select import Coverage
from digest.sentiment import SentimentStats
from digest.source import REDDIT, Origin
from digest.stats import ThreadStats


class Depth(StrEnum):
    BRIEF = "brief"
    DEEP = "deep"


# A thread's mood label, whoever reads it (the computed one, or an analyser's).
MOODS = ("positive", "negative", "neutral", "mixed")
MAX_LINK_NOTE_CHARS = 200


@dataclass(frozen=True, slots=True)
class Quote:
    """Verbatim words from the post (comment_id None) or a comment, with who wrote them."""

    comment_id: str | None
    author: str | None
    score: int
    text: str
    cut: bool = False  # the writer's sentence goes on after these words (renderers add "…")


@dataclass(frozen=True, slots=True)
class Passage:
    """A sentence of narrative, optionally backed by a quote."""

    text: str
    quote: Quote | None = None


@dataclass(frozen=True, slots=True)
class Theme:
    name: str
    summary: str
    comment_ids: tuple[str, ...]  # representative comments, best first
    examples: tuple[Quote, ...] = ()  # quotes of the first of them, attached by the pipeline


@dataclass(frozen=True, slots=True)
class CommentNote:
    """A comment singled out, with a quote and why (a stance, a reason, or both)."""

    quote: Quote
    stance: str | None = None
    reason: str | None = None
    depth: int = 1
    replies: int = 0


@dataclass(frozen=True, slots=True)
class Takeaway:
    text: str
    quote: Quote | None = None


@dataclass(frozen=True, slots=True)
class Decisions:
    """A chat thread's decisions and its questions nobody answered (digest.decisions): verbatim
    sentences of its messages, the best few of each, and how many were found in all."""

    decided: tuple[Quote, ...] = ()
    open_questions: tuple[Quote, ...] = ()
    decided_total: int = 0
    open_total: int = 0


@dataclass(frozen=True, slots=True)
class LinkNote:
    """What a link of the thread is, in one line an analyser wrote from the thread's words."""

    url: str
    note: str


@dataclass(frozen=True, slots=True)
class Narrative:
    """What an analyser writes. Everything else in a report is computed."""

    summary: tuple[Passage, ...]
    themes: tuple[Theme, ...]
    sentiment_reading: str
    stances: Mapping[str, str]  # comment id → stance of that comment
    notable: tuple[CommentNote, ...]
    takeaways: tuple[Takeaway, ...]
    observations: tuple[str, ...] = ()
    # One line, shown first in a brief: how the thread took the post and what it talked about.
    # Empty when the analyser wrote none (older cached reports; renderers then compose one).
    tldr: str = ""
    # The label (one of MOODS) that `sentiment_reading` argues for; None: the computed label
    # stands (the offline analyser's reading is written from it).
    mood: str | None = None
    links: tuple[LinkNote, ...] = ()  # notes on links of the thread, in the analyser's order


@dataclass(frozen=True, slots=True)
class ThreadInfo:
    id: str
    subreddit: str
    title: str
    author: str | None
    url: str
    permalink: str
    score: int
    upvote_ratio: float | None
    num_comments: int
    created: datetime
    flair: str | None
    nsfw: bool
    spoiler: bool
    locked: bool
    state: ContentState
    is_self: bool
    domain: str
    crosspost_from: str | None  # "r/sub" of the original post
    gallery_size: int
    origin: Origin = REDDIT  # the thread's source and the words a report may use for it

    @property
    def place(self) -> str:
        """Where the thread lives, for humans (`r/sub` on Reddit)."""
        return self.origin.place or f"r/{self.subreddit}"

    @classmethod
    def of(cls, thread: Thread) -> ThreadInfo:
        p = thread.post
        return cls(
            id=p.id,
            subreddit=p.subreddit,
            title=p.title,
            author=p.author,
            url=p.url,
            permalink=p.permalink,
            score=p.score,
            upvote_ratio=p.upvote_ratio,
            num_comments=p.num_comments,
            created=p.created,
            flair=p.flair,
            nsfw=p.nsfw,
            spoiler=p.spoiler,
            locked=p.locked,
            state=p.state,
            is_self=p.is_self,
            domain=p.domain,
            crosspost_from=(
                f"r/{p.crosspost_parent.subreddit}" if p.crosspost_parent is not None else None
            ),
            gallery_size=p.gallery_size,
            origin=thread.origin,
        )


@dataclass(frozen=True, slots=True)
class Usage:
    """What producing the report cost (zero for the offline analyser)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    model: str | None = None
    latency_ms: int = 0
    cost_usd: float = 0.0


@dataclass(frozen=True, slots=True)
class Report:
    depth: Depth
    analyzer: str
    thread: ThreadInfo
    stats: ThreadStats
    sentiment: SentimentStats
    coverage: Coverage
    summary: tuple[Passage, ...]
    themes: tuple[Theme, ...]
    sentiment_reading: str
    top_comments: tuple[CommentNote, ...]  # top-level comments by score, with stance
    notable_replies: tuple[CommentNote, ...]
    notable: tuple[CommentNote, ...]  # with the reason each was singled out
    engagement: tuple[str, ...]
    takeaways: tuple[Takeaway, ...]
    observations: tuple[str, ...]
    focus_comment_id: str | None = None
    notes: tuple[str, ...] = ()  # fallbacks, repairs, anything the reader should know
    usage: Usage = field(default_factory=Usage)
    tldr: str = ""  # the analyser's one-line TL;DR (Narrative.tldr); "" when it wrote none
    # stats.links[].url → what that link is (Narrative.links, grounded); shown with the link.
    link_notes: Mapping[str, str] = field(default_factory=dict)
    # The computed (VADER) label when the analyser's mood replaced it in `sentiment.label`, so
    # the label sits over the reading that argues for it; "" when `sentiment.label` is computed.
    computed_mood: str = ""
    # What a deep report's chart shows (digest.chart_data); None for a brief one (and a deep
    # report cached before charts were made).
    chart: ChartData | None = None
    # The language of its fixed phrases and of an LLM's narrative (digest.i18n.LANGUAGES);
    # quotes stay in the thread's own language.
    lang: str = "en"
    # A chat thread's decisions and open questions (digest.decisions), computed whatever the
    # analyser; None for other sources (their reports are what they always were).
    decisions: Decisions | None = None

    def with_quotes(self, mark: Callable[[Quote], Quote]) -> Report:
        """The same report with `mark` applied to every quote, wherever it sits."""

        def note(n: CommentNote) -> CommentNote:
            return replace(n, quote=mark(n.quote))

        return replace(
            self,
            summary=tuple(replace(p, quote=p.quote and mark(p.quote)) for p in self.summary),
            top_comments=tuple(map(note, self.top_comments)),
            notable_replies=tuple(map(note, self.notable_replies)),
            notable=tuple(map(note, self.notable)),
            takeaways=tuple(replace(t, quote=t.quote and mark(t.quote)) for t in self.takeaways),
            themes=tuple(replace(t, examples=tuple(map(mark, t.examples))) for t in self.themes),
            decisions=self.decisions
            and replace(
                self.decisions,
                decided=tuple(map(mark, self.decisions.decided)),
                open_questions=tuple(map(mark, self.decisions.open_questions)),
            ),
        )

    def quotes(self) -> list[Quote]:
        """Every quote the report carries, wherever it sits."""
        out: list[Quote] = []

        def collect(q: Quote) -> Quote:
            out.append(q)
            return q

        self.with_quotes(collect)
        return out
