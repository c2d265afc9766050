"""Sentiment numbers, computed locally: VADER's polarity of each sentence, read the way Reddit
writes (see digest.mood), and a thread mood led by the highest-voted voices.

The numbers are data, whichever analyser writes the narrative around them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from digest.model import Comment, Thread
from digest.mood import LEAN, PolarityScorer, Tone, thread_mood, tone
from digest.sentences import thread_text

POSITIVE = LEAN  # a comment's polarity from here on reads as an opinion
NEGATIVE = -LEAN
SHIFT_THRESHOLD = 0.1
MIN_FOR_SHIFT = 6
MAX_BRANCHES = 5

__all__ = ["PolarityScorer", "SentimentStats", "label", "make_scorer", "measure"]


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
    compound: float  # the thread's lean, -1..1, led by its highest-voted voices (digest.mood)
    label: str  # positive | negative | neutral | mixed
    positive: int
    neutral: int
    negative: int
    early: float | None  # mean of the earlier half of the analysed comments (by time)
    late: float | None
    shift: str  # steady | more positive | more negative | too few comments to tell
    branches: tuple[BranchSentiment, ...]
    per_comment: dict[str, float]  # each comment's polarity, as digest.mood reads it
    questions: int = 0  # comments that ask rather than judge (counted as neutral)
    stances: dict[str, str] = field(default_factory=dict)  # comment id → stance (digest.mood)
    lead_ids: tuple[str, ...] = ()  # the top voices that led the mood, highest-voted first
    split: bool = False  # those voices disagree among themselves

    @property
    def analysed(self) -> int:
        return self.positive + self.neutral + self.negative


# Words VADER's lexicon scores as a general English reader would, not as this community writes
# them: laughter is not praise, "insane" about a model is praise, and some criticisms are missing.
_REDDIT_LEXICON = {
    "lol": 0.0, "lmao": 0.0, "lmfao": 0.0, "rofl": 0.0, "haha": 0.0, "hahaha": 0.0,
    "hehe": 0.0, "kek": 0.0, "xd": 0.0, "insane": 0.8, "insanely": 0.5, "killer": 0.5,
    "unusable": -2.3, "garbage": -2.0, "lobotomized": -2.3, "lobotomised": -2.3,
    "refuses": -1.2, "censored": -1.4, "overhyped": -1.6, "gibberish": -1.5, "slop": -1.2,
    "bloated": -1.2, "meh": -0.8, "impossible": -1.0,
    # Said of models, "safety" mostly means refusals; "courtesy of" is a credit, not a compliment.
    "safety": 0.0, "safe": 0.0, "courtesy": 0.0,
}  # fmt: skip


def make_scorer() -> PolarityScorer:
    """VADER's analyser (loads its bundled lexicon; build one per analyser, not per call), with
    the words Reddit uses differently re-scored. Its scores are VADER's, read faster (digest.vader)."""
    from digest.vader import Analyzer

    analyzer = Analyzer()
    analyzer.lexicon.update(_REDDIT_LEXICON)
    scorer: PolarityScorer = analyzer
    return scorer


def measure(thread: Thread, comments: Sequence[Comment], scorer: PolarityScorer) -> SentimentStats:
    scored = [c for c in comments if c.has_text]
    texts = thread_text(thread)  # the analysis reads the same sentences: split once
    tones: dict[str, Tone] = {c.id: tone(texts.of(c).flat, scorer) for c in scored}
    per = {cid: round(t.polarity, 4) for cid, t in tones.items()}
    mood = thread_mood(scored, tones)
    compound = mood.score
    labels = [label(per[c.id]) for c in scored]
    pos, neg, neu = labels.count("positive"), labels.count("negative"), labels.count("neutral")
    overall = mood.label
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
    # The highest-scored branches; where comments have no scores (Hacker News), the largest.
    ranked = thread.origin.scored
    top_branches = sorted(
        (b for b in branch_scores if b in by_id),
        key=lambda b: (-by_id[b].score if ranked else -len(branch_scores[b]), b),
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
        questions=sum(1 for t in tones.values() if t.stance == "question"),
        stances={cid: t.stance for cid, t in tones.items()},
        lead_ids=mood.lead,
        split=mood.split,
    )
