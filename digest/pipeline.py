"""From a thread to a grounded report: stats → selection → sentiment → narrative → checks."""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass, replace

from digest import cpu
from digest.analysis import AnalysisInput, Analyzer, AnalyzerUnavailable, NarrativeResult
from digest.chart_data import ChartData, chart_data
from digest.model import ContentState, Thread
from digest.narrative_ground import ground
from digest.offline import OfflineAnalyzer
from digest.pricing import PricedAnalyzer
from digest.quotes import mark_cut, quote_about, quote_of
from digest.report import CommentNote, Depth, LinkNote, Report, ThreadInfo
from digest.select import select_comments
from digest.sentiment import PolarityScorer, label, make_scorer, measure
from digest.stats import Link, ThreadStats, compute_stats, link_key
from digest.text import plural

__all__ = [
    "Budgets",
    "DigestEngine",
    "assemble",
    "ground",
    "offline_digest",
    "warm_lane",
]

log = logging.getLogger(__name__)

DEFAULT_BRIEF_BUDGET = 8_000
DEFAULT_DEEP_BUDGET = 24_000
TOP_LEVEL_SHOWN = {Depth.BRIEF: 3, Depth.DEEP: 8}
REPLIES_SHOWN = {Depth.BRIEF: 0, Depth.DEEP: 5}


@dataclass(frozen=True, slots=True)
class Budgets:
    brief: int = DEFAULT_BRIEF_BUDGET
    deep: int = DEFAULT_DEEP_BUDGET

    def for_depth(self, depth: Depth) -> int:
        return self.brief if depth is Depth.BRIEF else self.deep


class DigestEngine:
    """Turns threads into reports. Build one per process (it holds the sentiment lexicon)."""

    def __init__(
        self,
        analyzer: Analyzer | None = None,
        *,
        budgets: Budgets | None = None,
        scorer: PolarityScorer | None = None,
        lane: cpu.ProcessLane | None = None,
    ) -> None:
        """`lane`: a process for offline digests, each done whole there (a thread in, a report
        out) by that process's own engine, which scores with `make_scorer()`; so it goes with no
        `scorer` of its own."""
        if lane is not None and scorer is not None:
            raise ValueError("an engine with a process lane scores there with make_scorer()")
        self._lane = lane
        self._scorer = scorer if scorer is not None else make_scorer()
        self._offline = OfflineAnalyzer()
        self._analyzer: Analyzer = analyzer if analyzer is not None else self._offline
        self.budgets = budgets or Budgets()

    @property
    def analyzer_name(self) -> str:
        return self._analyzer.name

    def unpriced_model(self, depth: Depth) -> str | None:
        """The model this engine's analyser writes with at `depth` when nothing prices it (its
        cost could not be counted: a spend cap must refuse it); None when priced or free."""
        analyzer = self._analyzer
        return analyzer.unpriced_model(depth) if isinstance(analyzer, PricedAnalyzer) else None

    def prepare(self, thread: Thread, depth: Depth, budget: int | None = None) -> AnalysisInput:
        """The CPU-bound part before any analyser runs (call it off the event loop).

        Budgets count the whole prompt: the analyser's own overhead is taken off first. A deep
        selection extends the brief one, so both prompts share a cacheable prefix.
        """
        stats = compute_stats(thread)
        total = budget or self.budgets.for_depth(depth)
        overhead = self._analyzer.overhead_tokens(depth)
        shared = None
        if depth is Depth.DEEP and self.budgets.brief < total:
            brief_room = self.budgets.brief - self._analyzer.overhead_tokens(Depth.BRIEF)
            shared = select_comments(thread, max(brief_room, 0))
        selection = select_comments(
            thread, max(total - overhead, 0), shared.comment_ids if shared else ()
        )
        sentiment = measure(thread, selection.comments(thread), self._scorer)
        return AnalysisInput(thread, depth, stats, selection, sentiment, shared)

    async def digest(self, thread: Thread, depth: Depth, budget: int | None = None) -> Report:
        if self._lane is not None and self._analyzer is self._offline:
            return await self._lane.run(offline_digest, thread, depth, budget, self.budgets)
        inp = await cpu.run(self.prepare, thread, depth, budget)
        name = self._analyzer.name
        notes: tuple[str, ...] = ()
        started = time.monotonic()
        try:
            result = await self._analyzer.narrate(inp)
        except AnalyzerUnavailable as exc:
            if self._analyzer is self._offline:
                raise
            log.warning("analyser %s unavailable for %s: %s", name, thread.post.id, exc)
            # What the failed attempt spent is still spent: the report carries it to the spend
            # cap and --show-usage, with the time it took.
            spent = exc.usage
            if not spent.latency_ms:
                spent = replace(spent, latency_ms=int((time.monotonic() - started) * 1000))
            result = replace(await self._offline.narrate(inp), usage=spent)
            notes = (
                f"The {name} analyser was unavailable ({exc}); the offline analyser wrote this.",
            )
            name = self._offline.name
        return await cpu.run(assemble, inp, result, name, notes)

    async def chart_png(self, data: ChartData) -> bytes:
        """A deep report's chart drawn (digest.render.chart_png) off the event loop: in this
        engine's worker process when it has one, else in the CPU lane."""
        from digest.render.chart_png import render_chart

        if self._lane is not None:
            return await self._lane.run(render_chart, data)
        return await cpu.run(render_chart, data)

    def digest_sync(self, thread: Thread, depth: Depth, budget: int | None = None) -> Report:
        """The offline path without an event loop (benchmarks, scripts)."""
        inp = self.prepare(thread, depth, budget)
        return assemble(inp, NarrativeResult(self._offline.narrate_sync(inp)), self._offline.name)


@functools.cache
def _lane_scorer() -> PolarityScorer:
    return make_scorer()


def warm_lane() -> None:
    """A process lane's start: the lexicon loaded before the first digest comes."""
    _lane_scorer()


def offline_digest(thread: Thread, depth: Depth, budget: int | None, budgets: Budgets) -> Report:
    """`DigestEngine(budgets=budgets).digest_sync(...)` in a process lane, the lexicon kept."""
    return DigestEngine(budgets=budgets, scorer=_lane_scorer()).digest_sync(thread, depth, budget)


def _are(n: int, what: str, one: str | None = None) -> str:
    """`1 is top-level`, `3 are top-level`; with `one`: `none are replies`, `1 is a reply`."""
    if one is None:
        return f"{n:,} {'is' if n == 1 else 'are'} {what}"
    if n == 0:
        return f"none are {what}"
    return f"1 is {one}" if n == 1 else f"{n:,} are {what}"


def _were(n: int) -> str:
    return "was" if n == 1 else "were"


def _engagement(thread: Thread, stats: ThreadStats) -> tuple[str, ...]:
    post, o = thread.post, thread.origin
    lines = []
    ratio = f", {post.upvote_ratio:.0%} upvoted" if post.upvote_ratio is not None else ""
    if o.is_reddit:
        lines.append(
            f"The post has a score of {post.score:,}{ratio}, and "
            f"{plural(post.num_comments, 'comment')}."
        )
    else:
        score = o.post_score(post.score)
        lines.append(f"The post has {score + ' and ' if score else ''}"
                     f"{plural(post.num_comments, 'comment')}.")  # fmt: skip
    if stats.comments_present:
        fetched = stats.comments_present
        depth = (
            "no comment has a reply"
            if stats.max_depth <= 1
            else f"the deepest reply chain is {plural(stats.max_depth, 'level')}"
        )
        lines.append(
            f"Of the {plural(fetched, 'comment')} fetched, "
            f"{_are(stats.top_level_comments, 'top-level')} and "
            f"{_are(stats.replies, 'replies', 'a reply')}; {depth}."
        )
        if o.is_reddit:
            lines.append(
                f"{plural(stats.unique_authors, 'different account')} commented; the top 10% of "
                f"comments hold {stats.top_decile_score_share:.0%} of the comment upvotes "
                f"(median comment score {stats.median_score:g})."
            )
        elif o.scored and o.score_unit is not None:
            lines.append(
                f"{plural(stats.unique_authors, 'different person', 'different people')} "
                f"commented; the top 10% of comments hold {stats.top_decile_score_share:.0%} of "
                f"the {o.score_unit[1]} on comments."
            )
        else:
            lines.append(f"{plural(stats.unique_authors, 'different person', 'different people')}"
                         " commented.")  # fmt: skip
    op = o.op[:1].upper() + o.op[1:]
    if post.author is None or stats.op_comments is None:
        lines.append(
            "The OP's account is deleted, so how many of the comments are theirs is unknown."
            if o.is_reddit
            else f"{op} is not known, so how many of the comments are theirs is unknown."
        )
    elif stats.op_comments:
        lines.append(f"{op}, {o.who(post.author)}, commented {plural(stats.op_comments, 'time')}.")
    else:
        lines.append(f"{op}, {o.who(post.author)}, did not comment in what was fetched.")
    if stats.busiest_hour is not None and stats.first_comment_at and stats.last_comment_at:
        lines.append(
            f"The busiest hour began {stats.busiest_hour:%Y-%m-%d %H:00} UTC "
            f"({plural(stats.busiest_hour_comments, 'comment')}); comments run from "
            f"{stats.first_comment_at:%Y-%m-%d %H:%M} to {stats.last_comment_at:%Y-%m-%d %H:%M} UTC."
        )
    return tuple(lines)


def _observations(thread: Thread, stats: ThreadStats, inp: AnalysisInput) -> list[str]:
    post, o = thread.post, thread.origin
    out = []
    if post.state is ContentState.REMOVED:
        by = f" ({post.removed_by_category})" if post.removed_by_category else ""
        out.append(f"The post was removed{by}; the comments are still there.")
    elif post.state is ContentState.DELETED:
        out.append("The post was deleted by its author; the comments are still there.")
    if post.locked:
        out.append("The thread is locked: no new comments can be added.")
    if post.nsfw:
        out.append("The post is marked NSFW.")
    if post.spoiler:
        out.append("The post is marked as a spoiler.")
    if post.crosspost_parent is not None:
        out.append(f"This is a crosspost from r/{post.crosspost_parent.subreddit}.")
    if stats.comments_present and stats.deleted_or_removed / stats.comments_present >= 0.1:
        out.append(
            f"Heavy deletions: {stats.deleted_or_removed:,} of "
            f"{plural(stats.comments_present, 'comment')} {_were(stats.deleted_or_removed)} "
            f"deleted ({stats.deleted_comments:,}) or removed ({stats.removed_comments:,})."
        )
    if post.upvote_ratio is not None and post.upvote_ratio < 0.7 and o.has_upvote_ratio:
        out.append(f"Divisive post: only {post.upvote_ratio:.0%} of votes on it are upvotes.")
    if post.author is not None and stats.comments_present >= 10 and not stats.op_comments:
        out.append(f"{o.op[:1].upper()}{o.op[1:]} did not take part in the discussion.")
    if stats.controversial_ids and o.is_reddit:
        out.append(
            f"Reddit marks {plural(len(stats.controversial_ids), 'comment')} as controversial."
        )
    if stats.distinguished_comments:
        out.append(
            f"{plural(stats.distinguished_comments, 'comment')} "
            f"{_were(stats.distinguished_comments)} posted by moderators or admins "
            "speaking officially."
        )
    if stats.top_decile_score_share >= 0.8 and stats.comments_present >= 20 and o.scored:
        took = "upvotes" if o.is_reddit else o.score_unit[1] if o.score_unit else ""
        out.append(f"Attention is concentrated: a few comments took most of the {took}.")
    cov = inp.selection.coverage
    if cov.fetched < post.num_comments * 0.5:
        out.append(
            f"Only {cov.fetched:,} of {plural(post.num_comments, 'comment')} "
            f"{_were(cov.fetched)} fetched; "
            "the rest may change the picture."
        )
    return out


def _link_notes(links: tuple[Link, ...], notes: tuple[LinkNote, ...]) -> dict[str, str]:
    """Each note under the URL of the listed link it is about (the same page, written the same
    or another equivalent way); a note on a URL that is not listed (the thread's own permalink,
    a part of a longer URL) has nowhere to be shown."""
    by_key = {link_key(link.url): link.url for link in links}
    out: dict[str, str] = {}
    for n in notes:
        url = by_key.get(link_key(n.url))
        if url is not None:
            out.setdefault(url, n.note)
    return out


def assemble(
    inp: AnalysisInput, result: NarrativeResult, analyzer: str, notes: tuple[str, ...] = ()
) -> Report:
    thread, stats, depth = inp.thread, inp.stats, inp.depth
    narrative, problems = ground(thread, result.narrative)
    if problems:
        log.info("grounding dropped %d item(s) for %s: %s", len(problems), thread.post.id, problems)
        notes = (
            *notes,
            f"{plural(len(problems), 'item')} of the analysis did not match the thread and "
            f"{_were(len(problems))} left out.",
        )
    selected = inp.comments
    per = inp.sentiment.per_comment

    def note(cid: str, reason: str | None = None) -> CommentNote:
        c = thread.by_id[cid]
        stance = narrative.stances.get(cid) or label(per.get(cid, 0.0))
        return CommentNote(
            quote_of(thread, c),
            stance=stance,
            reason=reason,
            depth=c.depth,
            replies=stats.direct_replies.get(cid, 0),
        )

    by_score = [c for c in selected if c.has_text]  # without scores: the thread's own order
    if thread.origin.scored:
        by_score.sort(key=lambda c: (-c.score, c.id))
    top_level = [c.id for c in by_score if c.parent_id is None][: TOP_LEVEL_SHOWN[depth]]
    replies: list[CommentNote] = []
    for c in by_score:
        if c.parent_id is not None and len(replies) < REPLIES_SHOWN[depth]:
            parent = thread.by_id.get(c.parent_id)
            to = (
                thread.origin.who(parent.author)
                if parent is not None and parent.author
                else "a deleted comment"
            )
            replies.append(note(c.id, f"a reply to {to}"))
    observations = (*_observations(thread, stats, inp), *narrative.observations)
    themes = tuple(
        replace(
            t,
            examples=tuple(
                quote_about(thread, thread.by_id[i], t.name, 140) for i in t.comment_ids[:2]
            ),
        )
        for t in narrative.themes
    )
    # The label sits over the reading: the analyser's when it wrote one (an LLM's "broadly
    # positive" reading is not headed "mixed"); the computed label stays in `computed_mood`.
    sentiment, computed = inp.sentiment, ""
    if narrative.mood is not None and narrative.mood != sentiment.label:
        sentiment, computed = replace(sentiment, label=narrative.mood), sentiment.label
    report = Report(
        depth=depth,
        analyzer=analyzer,
        thread=ThreadInfo.of(thread),
        stats=stats,
        sentiment=sentiment,
        computed_mood=computed,
        coverage=inp.selection.coverage,
        summary=narrative.summary,
        themes=themes,
        sentiment_reading=narrative.sentiment_reading,
        top_comments=tuple(note(i) for i in top_level),
        notable_replies=tuple(replies),
        notable=narrative.notable,
        engagement=_engagement(thread, stats),
        takeaways=narrative.takeaways,
        observations=observations,
        tldr=narrative.tldr,
        link_notes=_link_notes(stats.links, narrative.links),
        focus_comment_id=thread.focus_comment_id,
        notes=(*notes, *result.notes),
        usage=result.usage,
        chart=chart_data(thread, inp.sentiment.per_comment) if depth is Depth.DEEP else None,
    )
    return report.with_quotes(lambda q: mark_cut(thread, q))
