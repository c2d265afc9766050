"""Labels that single a comment out, true by construction.

"The most upvoted comment" is said of one comment only when no other has as many points (a tie
is said as a tie); "reply" only of a reply to a comment (a top-level comment answers the post);
"widely shared" only of a comment many people upvoted. Every claim is over the comments that
were fetched, deleted ones included (their points still count).
"""

from __future__ import annotations

import math

from digest.model import Comment, Thread
from digest.text import plural

_ORDINALS = ("", "", "second ", "third ", "fourth ", "fifth ")
# "Widely shared": at least this many points, and among the top tenth of the thread's comments.
WIDELY_SHARED_MIN = 10
WIDELY_SHARED_TOP = 0.1


def _ordinal(rank: int) -> str:
    """`""` for the first, `"second "` … `"fifth "`, then `"6th "`, `"11th "`, `"22nd "`."""
    if rank < len(_ORDINALS):
        return _ORDINALS[rank]
    suffix = "th" if 10 <= rank % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(rank % 10, "th")
    return f"{rank}{suffix} "


def _rank(comment: Comment, others: list[Comment]) -> tuple[int, int]:
    """(1 + how many score higher, how many score the same, this one included)."""
    higher = sum(1 for c in others if c.score > comment.score)
    same = sum(1 for c in others if c.score == comment.score and c.id != comment.id)
    return higher + 1, same + 1


def upvote_rank(thread: Thread, comment_id: str) -> str:
    """Where a comment stands by points, ties said as ties:

    `the most upvoted comment`, `one of 2 comments tied for most upvoted`,
    `the second most upvoted comment`, `one of 3 comments tied for third most upvoted`.
    """
    comment = thread.by_id[comment_id]
    rank, tied = _rank(comment, list(thread.comments))
    most = thread.origin.most_voted  # "most upvoted" on Reddit
    if tied > 1:
        return f"one of {tied} comments tied for {_ordinal(rank)}{most}"
    return f"the {_ordinal(rank)}{most} comment"


def is_most_upvoted(thread: Thread, comment_id: str) -> bool:
    """True when no fetched comment has more points (it may share the top with others)."""
    score = thread.by_id[comment_id].score
    return all(c.score <= score for c in thread.comments)


def _op_comments(thread: Thread) -> list[Comment]:
    op = thread.post.author
    return [c for c in thread.comments if c.is_submitter or (op is not None and c.author == op)]


def op_best(thread: Thread, comment_id: str) -> str:
    """How the OP's best comment is named: `the OP's most upvoted reply` for a reply to a comment,
    `the OP's most upvoted comment` for a top-level one, and `one of the OP's 2 comments tied for
    most upvoted` for a tie (`second`, `third` … when it is not their best)."""
    comment = thread.by_id[comment_id]
    rank, tied = _rank(comment, _op_comments(thread))
    o = thread.origin
    if tied > 1:
        return f"one of {o.op_possessive()} {tied} comments tied for {_ordinal(rank)}{o.most_voted}"
    noun = "comment" if comment.parent_id is None else "reply"
    return f"{o.op_possessive()} {_ordinal(rank)}{o.most_voted} {noun}"


def most_replies(thread: Thread, comment_id: str, direct_replies: dict[str, int]) -> str:
    """`drew the most direct replies (5)`, or `tied for the most direct replies (5, with 1
    other comment)` (`direct_replies` as in ThreadStats)."""
    n = direct_replies.get(comment_id, 0)
    others = sum(1 for cid, k in direct_replies.items() if k == n and cid != comment_id)
    higher = sum(1 for k in direct_replies.values() if k > n)
    what = "the most" if not higher else f"the {_ordinal(higher + 1)}most"
    if others:
        return f"tied for {what} direct replies ({n:,}, with {plural(others, 'other comment')})"
    return f"drew {what} direct replies ({n:,})"


def is_widely_shared(thread: Thread, comment_id: str) -> bool:
    """Many people upvoted it: at least WIDELY_SHARED_MIN points, and no more than a tenth of
    the fetched comments have more."""
    score = thread.by_id[comment_id].score
    if score < WIDELY_SHARED_MIN:
        return False
    higher = sum(1 for c in thread.comments if c.score > score)
    return higher < max(1, math.ceil(len(thread.comments) * WIDELY_SHARED_TOP))


def point_lead(thread: Thread, comment_id: str) -> str:
    """The lead of a summary line quoting a top-level comment: `A widely shared point` only when
    it is (`is_widely_shared`), else `Another point`."""
    return "A widely shared point" if is_widely_shared(thread, comment_id) else "Another point"


def capitalized(label: str) -> str:
    """`the most upvoted comment` → `The most upvoted comment` (for the start of a sentence)."""
    return label[:1].upper() + label[1:]
