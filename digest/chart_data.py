"""What a deep report's chart shows, computed from the thread (pure, no plotting): comments per
hour since the post, the score-weighted mood over that time, and the top branches' share of the
comments. `digest.render.chart_png` draws it; `alt_text` says it in one paragraph.

The time axis is hours since the post (no time zone to pick). A thread's long tail (a few
comments weeks later) would squeeze its life into the first bar: the window ends at the comment
95% of the way through unless the rest follow closely, and the comments after it are counted in
`later`. More than `MAX_BINS` hours are grouped into wider bins (2, 3, 4, 6… hours).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from digest.chart_text import chart_text
from digest.model import Thread
from digest.mood import weight
from digest.sentiment import label

__all__ = [
    "MIN_COMMENTS",
    "MIN_SPAN_HOURS",
    "BranchShare",
    "ChartData",
    "alt_text",
    "chart_data",
]

MIN_COMMENTS = 20  # fewer comments than this: no chart
MIN_SPAN_HOURS = 2.0  # first to last comment in less time than this: no chart
MAX_BINS = 96
BIN_STEPS = (1, 2, 3, 4, 6, 8, 12, 24, 48, 72, 168, 336, 720)
WINDOW_SHARE = 0.95  # the window ends at this share of the comments…
TAIL_STRETCH = 1.5  # …unless the last comment comes within this factor of it (or 2 hours)
MOOD_POOL = 1  # a bin's mood pools the bins this far either side (a centred moving window)
MOOD_MIN_COMMENTS = 3  # fewer analysed comments in the pool: no mood for that bin
TOP_BRANCHES = 5


@dataclass(frozen=True, slots=True)
class BranchShare:
    """One top-level comment and its replies: who started it, how many comments, what share."""

    label: str  # who started it, as the report names people ("u/name")
    comments: int
    share: float  # of all the comments fetched, 0..1


@dataclass(frozen=True, slots=True)
class ChartData:
    place: str  # r/sub, or the origin's place
    comments: int  # every comment fetched (drawn or in `later`)
    span_hours: float  # from the first comment to the last
    bin_hours: int  # the width of one bar
    counts: tuple[int, ...]  # comments per bin; bin i starts i * bin_hours after the post
    # The score-weighted (digest.mood.weight) mean polarity of the analysed comments pooled over
    # each bin and its neighbours; None where fewer than MOOD_MIN_COMMENTS were analysed.
    mood: tuple[float | None, ...]
    branches: tuple[BranchShare, ...]  # the largest branches, largest first
    later: int = 0  # comments after the window (not drawn)
    lang: str = "en"  # the report's language: the chart's words and alt text are in it
    context: str = ""  # "chat": a chat thread's, whose words are messages (digest.i18n.Words)

    @property
    def too_small(self) -> bool:
        return self.comments < MIN_COMMENTS or self.span_hours < MIN_SPAN_HOURS

    @property
    def branches_share(self) -> float:
        return sum(b.share for b in self.branches)


def _bin_width(window_hours: float) -> int:
    for step in BIN_STEPS:
        if math.floor(window_hours / step) + 1 <= MAX_BINS:
            return step
    return BIN_STEPS[-1]


def _window_end(hours: list[float]) -> float:
    """Hours after the post where the chart stops (`hours` sorted, not empty)."""
    at = hours[max(math.ceil(WINDOW_SHARE * len(hours)) - 1, 0)]
    last = hours[-1]
    return last if last <= max(at * TAIL_STRETCH, at + 2.0) else at


def chart_data(thread: Thread, polarity: Mapping[str, float]) -> ChartData:
    """The chart of `thread`; `polarity`: each analysed comment's polarity (the report's
    `sentiment.per_comment`), the others have none."""
    posted = thread.post.created
    comments = thread.comments
    hours = [max((c.created - posted).total_seconds() / 3600, 0.0) for c in comments]
    ordered = sorted(hours)
    n = len(comments)
    end = _window_end(ordered) if ordered else 0.0
    width = _bin_width(end)
    bins = math.floor(end / width) + 1
    counts = [0] * bins
    mood_sum = [0.0] * bins
    mood_weight = [0.0] * bins
    mood_n = [0] * bins
    later = 0
    for c, h in zip(comments, hours, strict=True):
        i = int(h // width)
        if i >= bins:
            later += 1
            continue
        counts[i] += 1
        p = polarity.get(c.id)
        if p is not None:
            w = weight(c)
            mood_sum[i] += p * w
            mood_weight[i] += w
            mood_n[i] += 1
    mood: list[float | None] = []
    for i in range(bins):
        lo, hi = max(i - MOOD_POOL, 0), min(i + MOOD_POOL + 1, bins)
        pooled_n = sum(mood_n[lo:hi])
        pooled_w = sum(mood_weight[lo:hi])
        if pooled_n < MOOD_MIN_COMMENTS or pooled_w <= 0:
            mood.append(None)
        else:
            mood.append(round(sum(mood_sum[lo:hi]) / pooled_w, 4))
    sizes = Counter(thread.top_level_of(c.id) for c in comments)
    by_id = thread.by_id
    top = sorted(sizes, key=lambda b: (-sizes[b], b))[:TOP_BRANCHES]
    branches = tuple(
        BranchShare(
            thread.origin.who(by_id[b].author if b in by_id else None),
            sizes[b],
            round(sizes[b] / n, 4),
        )
        for b in top
    )
    return ChartData(
        place=thread.place,
        comments=n,
        span_hours=round(ordered[-1] - ordered[0], 4) if ordered else 0.0,
        bin_hours=width,
        counts=tuple(counts),
        mood=tuple(mood),
        branches=branches,
        later=later,
        context=thread.origin.context,
    )


def _signed(x: float) -> str:
    return f"{x:+.2f}"


def _t(data: ChartData, key: str, **values: object) -> str:
    return chart_text(key, data.lang, data.context, **values)


def alt_text(data: ChartData) -> str:
    """What the chart shows, with its numbers, for people who cannot see it."""
    w = data.bin_hours
    drawn_hours = len(data.counts) * w
    parts = [_t(data, "alt_start", comments=f"{data.comments:,}", place=data.place,
                        hours=f"{drawn_hours:,}")]  # fmt: skip
    if data.counts and max(data.counts) > 0:
        peak = data.counts.index(max(data.counts))
        key = "alt_peak" if w == 1 else "alt_peak_bins"
        parts.append(_t(data, key, hour=peak * w, end=(peak + 1) * w,
                                count=f"{data.counts[peak]:,}", hours=w))  # fmt: skip
    valued = [(i, m) for i, m in enumerate(data.mood) if m is not None]
    if not valued:
        parts.append(_t(data, "alt_mood_none"))
    else:
        start, end = valued[0][1], valued[-1][1]
        start_label, end_label = label(start), label(end)
        if start_label == end_label:
            parts.append(_t(data, "alt_mood_steady", label=_t(data, start_label),
                                    start=_signed(start), end=_signed(end)))  # fmt: skip
        else:
            # The first bin of the last run that reads as the end does.
            turn = valued[-1][0]
            for i, m in reversed(valued):
                if label(m) != end_label:
                    break
                turn = i
            parts.append(_t(data,
                "alt_mood_turn", start_label=_t(data, start_label), start=_signed(start),
                end_label=_t(data, end_label), end=_signed(end), turn=turn * w,
            ))  # fmt: skip
    if data.branches:
        parts.append(_t(data, "alt_branches", n=len(data.branches),
                                share=f"{data.branches_share:.0%}"))  # fmt: skip
    return " ".join(parts)
