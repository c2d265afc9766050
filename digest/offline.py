"""The offline analyser: no network, no key, deterministic.

It writes the narrative parts of a report from the thread alone, reading it the way a Reddit
regular would (the pieces live in their own modules):
- digest.summary: the post's claim, the main positions (centrality and MMR over sentences, by
  votes) and the strongest counterpoint; and the one-line TL;DR;
- digest.themes: topics found by grouping comments, each with a representative sentence;
- digest.mood (through digest.sentiment): the mood, led by the highest-voted voices;
- digest.takeaways: advice, warnings and recipes;
- digest.observations: what a reader would notice about the votes (a downvoted OP, a pile-on);
- here: the notable comments, with reasons that are true (ties said as ties).
"""

from __future__ import annotations

import bisect
import math

from digest import cpu
from digest.analysis import AnalysisInput, NarrativeResult
from digest.labels import (
    WIDELY_SHARED_MIN,
    WIDELY_SHARED_TOP,
    capitalized,
    most_replies,
    op_best,
    upvote_rank,
)
from digest.model import Comment, Thread
from digest.observations import DOWNVOTED, notice
from digest.quotes import quote_of
from digest.report import CommentNote, Depth, Narrative, Theme
from digest.sentences import forget
from digest.sentiment import SentimentStats, label
from digest.summary import summarize, tldr
from digest.takeaways import find_takeaways
from digest.text import plural, points
from digest.themes import find_themes as _find_themes

BRIEF_THEMES, DEEP_THEMES = 4, 6
BRIEF_TAKEAWAYS, DEEP_TAKEAWAYS = 3, 5
BRIEF_POSITIONS, DEEP_POSITIONS = 2, 4


def find_themes(thread: Thread, comments: list[Comment], limit: int) -> tuple[Theme, ...]:
    """Themes without stances (the analyser passes the sentiment's; see digest.themes)."""
    return _find_themes(thread, comments, limit)


def _summary_labels(thread: Thread, comments: list[Comment]) -> dict[str, str]:
    """True leads for the summary: the most upvoted comment (a tie said as a tie), and "a widely
    shared point" only for a top-level comment many people upvoted.

    As digest.labels' is_most_upvoted and is_widely_shared say, from the thread's scores sorted
    once (each of those reads every comment: for every comment of a big thread, too slow).
    None where comments have no scores (Hacker News): every comment would tie."""
    if not thread.origin.scored:
        return {}
    scores = sorted(c.score for c in thread.comments)
    room = max(1, math.ceil(len(scores) * WIDELY_SHARED_TOP))  # comments that may score higher
    ranks: dict[int, str] = {}  # a comment's rank depends on its score only
    out = {}
    for c in comments:
        if not c.has_text:
            continue
        score = thread.by_id[c.id].score
        if score >= scores[-1]:  # no comment has more points
            if score not in ranks:
                ranks[score] = capitalized(upvote_rank(thread, c.id))
            out[c.id] = ranks[score]
        elif (
            c.parent_id is None
            and score >= WIDELY_SHARED_MIN
            and len(scores) - bisect.bisect_right(scores, score) < room
        ):
            out[c.id] = "A widely shared point"
    return out


def _notable(inp: AnalysisInput, comments: list[Comment]) -> tuple[CommentNote, ...]:
    thread, stats = inp.thread, inp.stats
    by_id = thread.by_id
    allowed = {c.id for c in comments if c.has_text}
    picks: list[tuple[str, str]] = []

    def add(cid: str | None, reason: str) -> None:
        if cid is not None and cid in allowed and all(cid != p for p, _ in picks):
            picks.append((cid, reason))

    o = thread.origin
    top = [i for i in stats.top_comment_ids if i in allowed] if o.scored else []
    if top:
        add(top[0], upvote_rank(thread, top[0]))
    replied = [i for i in stats.most_replied_ids if i in allowed]
    if replied:
        add(replied[0], most_replies(thread, replied[0], stats.direct_replies))
    contro = [i for i in stats.controversial_ids if i in allowed]
    if contro and o.is_reddit:
        add(contro[0], "marked controversial by Reddit: many votes both ways")
    ops = sorted((c for c in comments if c.is_submitter and c.has_text), key=lambda c: -c.score)
    if ops and ops[0].score > 0 and o.scored:
        add(ops[0].id, op_best(thread, ops[0].id))
    if ops and ops[-1].score <= DOWNVOTED and o.has_downvotes:
        add(ops[-1].id, f"the OP, voted down to {points(ops[-1].score)}")
    if inp.depth is Depth.DEEP:
        rated = sorted((c for c in comments if c.has_text), key=lambda c: (-c.score, c.id))
        quarter = rated[: max(1, len(rated) // 4)] if o.scored else rated
        if quarter:
            longest = max(quarter, key=lambda c: (len(c.body), c.id))
            words = len(longest.body.split())
            if words >= 60:
                which = "the well-rated comments" if o.scored else "the comments"
                add(longest.id, f"the most detailed of {which} ({words:,} words)")
        mods = [c for c in rated if c.distinguished]
        if mods:
            add(mods[0].id, f"posted as {mods[0].distinguished}")
        if len(top) > 1:
            add(top[1], upvote_rank(thread, top[1]))
    limit = 3 if inp.depth is Depth.BRIEF else 6
    return tuple(
        CommentNote(
            quote_of(thread, by_id[cid]),
            stance=inp.sentiment.stances.get(cid),
            reason=reason,
            depth=by_id[cid].depth,
            replies=stats.direct_replies.get(cid, 0),
        )
        for cid, reason in picks[:limit]
    )


_MOOD_WORD = {
    "positive": "Positive",
    "negative": "Negative",
    "mixed": "Mixed",
    "neutral": "Neutral",
}


def reading(thread: Thread, s: SentimentStats) -> str:
    """The mood, who leads it, and the counts behind it, in plain words."""
    if not s.analysed:
        return "There were no comments with text to read the mood from."
    by_id, o = thread.by_id, thread.origin
    voices = [by_id[i] for i in s.lead_ids if i in by_id][:4]
    top = "highest-voted" if o.is_reddit else o.most_voted if o.scored else "leading"

    def named(cs: list[Comment]) -> str:
        names = [f"{o.who(c.author)}{o.paren(c.score)}" for c in cs[:2]]
        return " and ".join(names)

    pro = [c for c in voices if s.per_comment.get(c.id, 0.0) > 0]
    con = [c for c in voices if s.per_comment.get(c.id, 0.0) < 0]
    word = _MOOD_WORD.get(s.label, s.label.capitalize())
    if s.split and pro and con:
        text = (
            f"{word}: the {top} comments split — {named(pro)} "
            f"{'approves' if len(pro[:2]) == 1 else 'approve'}, {named(con)} "
            f"{'criticises' if len(con[:2]) == 1 else 'criticise'}."
        )
    elif s.label in ("positive", "negative") and (pro if s.label == "positive" else con):
        lead = pro if s.label == "positive" else con
        stance = "approving" if s.label == "positive" else "critical"
        text = (
            f"{word}, led by the {top} voices: {named(lead)} "
            f"{'is' if len(lead[:2]) == 1 else 'are'} {stance}."
        )
    elif voices:
        sides = ", ".join(
            f"{o.who(c.author)}"
            f"{o.paren(c.score, ', approving' if s.per_comment.get(c.id, 0.0) > 0 else ', critical')}"
            for c in voices[:2]
        )
        text = f"{word}: most comments inform or ask rather than judge; the top opinions: {sides}."
    else:
        text = f"{word}: no comment takes a clear side."
    questions = f" ({s.questions:,} of them questions)" if s.questions else ""
    text += (
        f" Across {plural(s.analysed, 'comment')}: {s.positive:,} positive, "
        f"{s.neutral:,} neutral{questions}, {s.negative:,} negative."
    )
    if s.early is not None and s.late is not None:
        if s.shift == "steady":
            text += " The tone holds steady from the early comments to the late ones."
        else:
            text += f" It turns {s.shift} as the thread goes on."
    return text


class OfflineAnalyzer:
    """The analyser used when no LLM is configured, and the fallback when one fails."""

    name = "offline"

    def overhead_tokens(self, depth: Depth) -> int:
        return 0

    async def narrate(self, inp: AnalysisInput) -> NarrativeResult:
        # CPU-bound on big threads: off the event loop, so acknowledgements stay fast.
        return NarrativeResult(await cpu.run(self.narrate_sync, inp))

    def narrate_sync(self, inp: AnalysisInput) -> Narrative:
        try:
            return self._narrate(inp)
        finally:
            forget(inp.thread)  # the comments' sentences, kept since the sentiment read them

    def _narrate(self, inp: AnalysisInput) -> Narrative:
        thread, comments, s = inp.thread, inp.comments, inp.sentiment
        brief = inp.depth is Depth.BRIEF
        stances = {
            c.id: s.stances.get(c.id) or label(s.per_comment.get(c.id, 0.0))
            for c in comments
            if c.has_text
        }
        themes = _find_themes(thread, comments, BRIEF_THEMES if brief else DEEP_THEMES, stances)
        observations = notice(thread, comments, stances, s.per_comment)
        summary = summarize(
            thread,
            comments,
            positions=BRIEF_POSITIONS if brief else DEEP_POSITIONS,
            mood_score=s.compound,
            polarity=s.per_comment,
            labels=_summary_labels(thread, comments),
        )
        return Narrative(
            summary=summary,
            themes=themes,
            sentiment_reading=reading(thread, s),
            stances=stances,
            notable=_notable(inp, comments),
            takeaways=find_takeaways(
                thread, comments, BRIEF_TAKEAWAYS if brief else DEEP_TAKEAWAYS, stances
            ),
            observations=observations,
            tldr=tldr(s, themes, observations),
        )
