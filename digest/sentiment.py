"""Sentiment numbers, computed locally with VADER (tuned for social media text).

The numbers are data, whichever analyser writes the narrative around them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from digest.model import Comment, Thread

POSITIVE = 0.05  # VADER's conventional thresholds on the compound score
NEGATIVE = -0.05
SHIFT_THRESHOLD = 0.1
MIN_FOR_SHIFT = 6
MAX_BRANCHES = 5


class PolarityScorer(Protocol):
    def polarity_scores(self, text: str) -> dict[str, float]: ...


def label(compound: float) -> str:
    if compound >= POSITIVE:
        return "positive"
    if compound <= NEGATIVE:
        return "negative"
    return "neutral"


@dataclass(frozen=True, slots=True)
class BranchSentiment:
    comment_id: str  # the top-level comment that starts the branch
    author: str | None
    score: int
    comments: int
    compound: float

    @property
    def label(self) -> str:
        return label(self.compound)


@dataclass(frozen=True, slots=True)
class SentimentStats:
    compound: float  # score-weighted mean over the analysed comments, -1..1
    label: str  # positive | negative | neutral | mixed
    positive: int
    neutral: int
    negative: int
    early: float | None  # mean of the earlier half of the analysed comments (by time)
    late: float | None
    shift: str  # steady | more positive | more negative | too few comments to tell
    branches: tuple[BranchSentiment, ...]
    per_comment: dict[str, float]

    @property
    def analysed(self) -> int:
        return self.positive + self.neutral + self.negative


def make_scorer() -> PolarityScorer:
    """VADER's analyser (loads its bundled lexicon; build one per analyser, not per call)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    scorer: PolarityScorer = SentimentIntensityAnalyzer()
    return scorer


def _weight(c: Comment) -> float:
    return math.log2(max(c.score, 0) + 2)


def measure(thread: Thread, comments: Sequence[Comment], scorer: PolarityScorer) -> SentimentStats:
    scored = [c for c in comments if c.has_text]
    per = {c.id: float(scorer.polarity_scores(c.body)["compound"]) for c in scored}
    weights = sum(_weight(c) for c in scored)
    compound = sum(per[c.id] * _weight(c) for c in scored) / weights if weights else 0.0
    labels = [label(per[c.id]) for c in scored]
    pos, neg, neu = labels.count("positive"), labels.count("negative"), labels.count("neutral")
    overall = label(compound)
    if scored and pos / len(scored) >= 0.3 and neg / len(scored) >= 0.3:
        overall = "mixed"
    early = late = None
    shift = "too few comments to tell"
    if len(scored) >= MIN_FOR_SHIFT:
        by_time = sorted(scored, key=lambda c: (c.created, c.id))
        half = len(by_time) // 2
        early = sum(per[c.id] for c in by_time[:half]) / half
        late = sum(per[c.id] for c in by_time[half:]) / (len(by_time) - half)
        delta = late - early
        shift = (
            "steady"
            if abs(delta) < SHIFT_THRESHOLD
            else ("more positive" if delta > 0 else "more negative")
        )
    branch_scores: dict[str, list[float]] = {}
    for c in scored:
        branch_scores.setdefault(thread.top_level_of(c.id), []).append(per[c.id])
    by_id = thread.by_id
    top_branches = sorted(
        (b for b in branch_scores if b in by_id),
        key=lambda b: (-by_id[b].score, b),
    )[:MAX_BRANCHES]
    branches = tuple(
        BranchSentiment(
            b,
            by_id[b].author,
            by_id[b].score,
            len(branch_scores[b]),
            round(sum(branch_scores[b]) / len(branch_scores[b]), 4),
        )
        for b in top_branches
    )
    return SentimentStats(
        compound=round(compound, 4),
        label=overall,
        positive=pos,
        neutral=neu,
        negative=neg,
        early=None if early is None else round(early, 4),
        late=None if late is None else round(late, 4),
        shift=shift,
        branches=branches,
        per_comment=per,
    )
