"""From a thread to a grounded report: stats → selection → sentiment → narrative → checks."""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass, replace

from digest import cpu, decisions, facts
from digest.analysis import AnalysisInput, Analyzer, AnalyzerUnavailable, NarrativeResult
from digest.chart_data import ChartData, chart_data
from digest.i18n import CHAT, words
from digest.model import Thread
from digest.narrative_ground import ground
from digest.offline import OfflineAnalyzer
from digest.pricing import PricedAnalyzer
from digest.quotes import mark_cut, quote_about, quote_of
from digest.report import CommentNote, Depth, LinkNote, Narrative, Report, ThreadInfo
from digest.select import select_comments
from digest.sentiment import PolarityScorer, label, make_scorer, measure
from digest.source import Origin
from digest.stats import Link, compute_stats, link_key

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

    def cost_ceiling(self, depth: Depth) -> float:
        """The most one analysis at `depth` costs in one call (the whole prompt budget in, the
        output cap out), US$: what a spend cap reserves before it starts; 0 when it is free."""
        ceiling = getattr(self._analyzer, "cost_ceiling", None)
        return float(ceiling(depth, self.budgets.for_depth(depth))) if ceiling else 0.0

    def prepare(
        self, thread: Thread, depth: Depth, budget: int | None = None, lang: str = "en"
    ) -> AnalysisInput:
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
        return AnalysisInput(thread, depth, stats, selection, sentiment, shared, lang)

    async def digest(
        self, thread: Thread, depth: Depth, budget: int | None = None, lang: str = "en"
    ) -> Report:
        """The report on `thread`, its fixed phrases in `lang` (and an LLM's narrative too)."""
        if self._lane is not None and self._analyzer is self._offline:
            return await self._lane.run(offline_digest, thread, depth, budget, self.budgets, lang)
        inp = await cpu.run(self.prepare, thread, depth, budget, lang)
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
                words(lang).tr(
                    "The {name} analyser was unavailable ({error}); "
                    "the offline analyser wrote this.",
                    name=name,
                    error=exc,
                ),
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

    def digest_sync(
        self, thread: Thread, depth: Depth, budget: int | None = None, lang: str = "en"
    ) -> Report:
        """The offline path without an event loop (benchmarks, scripts)."""
        inp = self.prepare(thread, depth, budget, lang)
        return assemble(inp, NarrativeResult(self._offline.narrate_sync(inp)), self._offline.name)


@functools.cache
def _lane_scorer() -> PolarityScorer:
    return make_scorer()


def warm_lane() -> None:
    """A process lane's start: the lexicon loaded before the first digest comes."""
    _lane_scorer()


def offline_digest(
    thread: Thread, depth: Depth, budget: int | None, budgets: Budgets, lang: str = "en"
) -> Report:
    """`DigestEngine(budgets=budgets).digest_sync(...)` in a process lane, the lexicon kept."""
    engine = DigestEngine(budgets=budgets, scorer=_lane_scorer())
    return engine.digest_sync(thread, depth, budget, lang)


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


def _in_chat_words(narrative: Narrative, origin: Origin) -> Narrative:
    """The offline analyser's English narrative in a chat thread's words ("the most reacted-to
    message", "the first message") for a report in another language, whose fixed phrases say
    messages in it (an English report's narrative gets them as it is rendered: in_words_of).
    Quotes, theme names (the thread's own words) and links stay as they are."""
    say = origin.say
    return replace(
        narrative,
        summary=tuple(replace(p, text=say(p.text)) for p in narrative.summary),
        themes=tuple(replace(t, summary=say(t.summary)) for t in narrative.themes),
        sentiment_reading=say(narrative.sentiment_reading),
        notable=tuple(replace(n, reason=n.reason and say(n.reason)) for n in narrative.notable),
        takeaways=tuple(replace(t, text=say(t.text)) for t in narrative.takeaways),
        observations=tuple(say(o) for o in narrative.observations),
        tldr=say(narrative.tldr),
        links=tuple(replace(n, note=say(n.note)) for n in narrative.links),
    )


def assemble(
    inp: AnalysisInput, result: NarrativeResult, analyzer: str, notes: tuple[str, ...] = ()
) -> Report:
    thread, stats, depth = inp.thread, inp.stats, inp.depth
    w = words(inp.lang, thread.origin.context)
    narrative, problems = ground(thread, result.narrative)
    if analyzer == OfflineAnalyzer.name and w.context == CHAT:  # English, in other words
        narrative = _in_chat_words(narrative, thread.origin)
    if problems:
        log.info("grounding dropped %d item(s) for %s: %s", len(problems), thread.post.id, problems)
        notes = (
            *notes,
            w.ntr("{n} item of the analysis did not match the thread and was left out.",
                  "{n} items of the analysis did not match the thread and were left out.",
                  len(problems)),
        )  # fmt: skip
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
                thread.origin.who(parent.author, w)
                if parent is not None and parent.author
                else w.tr("a deleted comment")
            )
            replies.append(note(c.id, w.tr("a reply to {who}", who=to)))
    observations = (
        *facts.observations(thread, stats, inp.selection.coverage, w),
        *narrative.observations,
    )
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
        engagement=facts.engagement(thread, stats, w),
        takeaways=narrative.takeaways,
        observations=observations,
        tldr=narrative.tldr,
        link_notes=_link_notes(stats.links, narrative.links),
        focus_comment_id=thread.focus_comment_id,
        notes=(*notes, *result.notes),
        usage=result.usage,
        chart=(
            replace(chart_data(thread, inp.sentiment.per_comment), lang=w.lang)
            if depth is Depth.DEEP
            else None
        ),
        lang=w.lang,
        # Computed, whatever the analyser: grounded by construction, never asked of a model.
        decisions=decisions.find_decisions(thread) if thread.origin.is_chat else None,
    )
    return report.with_quotes(lambda q: mark_cut(thread, q))
