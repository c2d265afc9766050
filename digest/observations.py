"""What a reader of the thread would notice about how people voted and answered: the OP voted
down, a correction that outscored what it corrected, a pile-on. Every sentence is computed from
scores and reply structure; none quotes anyone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from digest.model import Comment, Thread

DOWNVOTED = -3  # at or below this, a comment was voted down, not just ignored
CORRECTION_MIN = 5  # a correction needs this many points to count as the crowd's answer
PILE_ON_REPLIES = 3


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


# How the sentences of `notice` start: a TL;DR composed from a report's observations uses these.
READER_NOTES = (
    "The OP was voted down",
    "A correction outscored",
    "A pile-on",
    "Most of the top-level comments",
    "Readers voted the post",
)


def _pushes_back(c: Comment, stances: Mapping[str, str], polarity: Mapping[str, float]) -> bool:
    return stances.get(c.id) == "critical" or polarity.get(c.id, 0.0) <= -0.3


def notice(
    thread: Thread,
    comments: Sequence[Comment],
    stances: Mapping[str, str],
    polarity: Mapping[str, float],
    limit: int = 3,
) -> tuple[str, ...]:
    """Up to `limit` observations, the most telling first."""
    by_id = thread.by_id
    o = thread.origin
    _who, points = o.who, o.count
    out: list[str] = []
    top_score = max((c.score for c in thread.comments), default=0)
    most_upvoted = [c.id for c in thread.comments if c.score == top_score]

    op_down = sorted(
        (c for c in comments if c.is_submitter and c.score <= DOWNVOTED and o.has_downvotes),
        key=lambda c: c.score,
    )
    if op_down:
        worst = op_down[0]
        parent = by_id.get(worst.parent_id) if worst.parent_id else None
        where = f"their reply to {_who(parent.author)}" if parent is not None else "their comment"
        more = f" ({len(op_down):,} of their comments are this low)" if len(op_down) > 1 else ""
        out.append(f"The OP was voted down: {where} is at {points(worst.score)}{more}.")

    corrections = []
    for c in comments:
        parent = by_id.get(c.parent_id) if c.parent_id else None
        if (
            parent is None
            or not o.scored
            or c.score < CORRECTION_MIN
            or c.score < parent.score + max(5, abs(parent.score))
            or not _pushes_back(c, stances, polarity)
            or not (parent.is_submitter or 4 * c.score >= top_score)
        ):
            continue
        corrections.append((c.score - parent.score, c, parent))
    corrections.sort(key=lambda t: (-t[0], t[1].id))
    for _, c, parent in corrections[:1]:
        top = f", the {o.most_voted} comment in the thread" if most_upvoted == [c.id] else ""
        whose = o.op if parent.is_submitter else _who(parent.author)
        out.append(
            f"A correction outscored the claim: {_who(c.author)} pushed back on {whose} and "
            f"got {points(c.score)}{top}, against {points(parent.score)} for what it answered."
        )

    piles = []
    for c in comments:
        replies = thread.children.get(c.id, ())
        if len(replies) < PILE_ON_REPLIES:
            continue
        against = sum(1 for r in replies if _pushes_back(r, stances, polarity))
        if against >= PILE_ON_REPLIES and against >= 0.6 * len(replies):
            piles.append((against, c, len(replies)))
    piles.sort(key=lambda t: (-t[0], t[1].id))
    for against, c, n in piles[:1]:
        whose = f"{o.op_possessive()} comment" if c.is_submitter else f"{_who(c.author)}'s comment"
        out.append(f"A pile-on: {against:,} of the {n:,} replies to {whose} push back on it.")

    top_level = sorted(
        (c for c in comments if c.parent_id is None and c.has_text), key=lambda c: -c.score
    )[:10]
    critical = sum(1 for c in top_level if _pushes_back(c, stances, polarity))
    if len(top_level) >= 5 and critical >= 0.6 * len(top_level):
        which = "highest-voted" if o.is_reddit else o.most_voted if o.scored else "first"
        out.append(
            f"Most of the top-level comments push back on the post: {critical:,} of the "
            f"{len(top_level):,} {which}."
        )
    if thread.post.score <= 0 and o.has_downvotes:
        out.append(f"Readers voted the post itself down, to {points(thread.post.score)}.")
    return tuple(out[:limit])
