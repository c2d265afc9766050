"""Which comments an analyser reads, within a token budget.

Favours score, keeps each picked comment's ancestors (a reply means little without what it answers),
spreads across top-level branches, and keeps the OP's replies. Deterministic and local.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

from digest.i18n import EN, Words
from digest.model import Comment, Thread
from digest.prompt_format import MAX_COMMENT_TOKENS, comment_tokens, post_tokens
from digest.text import estimate_tokens

MIN_COMMENT_TOKENS = 16  # below this much room, no comment can fit
MAX_POST_SHARE = 0.25  # the post's body may take at most this share of the budget
BRANCH_SPREAD = 0.35  # how strongly each pick in a branch lowers the next one's priority
OP_BONUS = 1.5


@dataclass(frozen=True, slots=True)
class Coverage:
    analyzed: int  # comments the analyser read
    fetched: int  # comments in hand
    reported: int  # Reddit's count for the thread
    branches_analyzed: int
    branches_fetched: int
    # What the comments were ranked by: "score" (Reddit's points), "reactions", or "" where
    # comments have no scores (Hacker News: the thread's own order, spread across branches).
    ranked_by: str = "score"
    # No comment answers another (a flat chat thread): none was chosen for being a parent.
    flat: bool = False

    def describe(self, w: Words = EN) -> str:
        """One line a person can trust: what was read, of how much, chosen how."""
        total = max(self.reported, self.fetched)
        text = w.ntr(
            "analysed {analysed} of {n} comment",
            "analysed {analysed} of {n} comments",
            total,
            analysed=f"{self.analyzed:,}",
        )
        if self.analyzed == 0:
            return text
        if self.analyzed < total:
            if self.flat:
                how = (
                    w.tr("the top by {what}", what=w.tr(self.ranked_by))
                    if self.ranked_by
                    else w.tr("the first in the thread's order")
                )
            elif self.ranked_by:
                how = w.tr(
                    "the top by {what}, with their parent comments", what=w.tr(self.ranked_by)
                )
            else:
                how = w.tr(
                    "the first in the thread's order across its branches, with their parents"
                )
            if self.fetched < total:
                how += w.ntr("; {n} was fetched", "; {n} were fetched", self.fetched)
            text = w.tr("{text} ({how})", text=text, how=how)
        return text


@dataclass(frozen=True, slots=True)
class Selection:
    comment_ids: tuple[str, ...]  # in thread order
    truncated_ids: frozenset[str]  # comments whose text is cut to MAX_COMMENT_TOKENS in prompts
    post_tokens: int
    tokens_used: int  # post included
    budget: int
    coverage: Coverage

    def comments(self, thread: Thread) -> list[Comment]:
        by_id = thread.by_id
        return [by_id[i] for i in self.comment_ids]


def comment_cost(comment: Comment) -> int:
    """Tokens the comment takes in a prompt (see digest.prompt_format)."""
    return comment_tokens(comment)


def post_body_cap(budget: int) -> int:
    return max(int(budget * MAX_POST_SHARE), 0)


def post_cost(thread: Thread, budget: int) -> int:
    return post_tokens(thread, post_body_cap(budget))


def _priority(c: Comment, picked_in_branch: int) -> float:
    base = math.log2(max(c.score, 0) + 2)
    if c.is_submitter:
        base *= OP_BONUS
    return base / (1.0 + BRANCH_SPREAD * picked_in_branch)


def select_comments(thread: Thread, budget: int, must_include: tuple[str, ...] = ()) -> Selection:
    """Choose comments within `budget` tokens (the post's share counted first).

    `must_include` (e.g. a smaller selection this one extends) is taken first, with ancestors.
    """
    budget = max(budget, 0)
    post_tokens = post_cost(thread, budget)
    remaining = budget - post_tokens
    by_id = thread.by_id
    branch_of = {c.id: thread.top_level_of(c.id) for c in thread.comments}
    costs: dict[str, int] = {}

    def cost_of(c: Comment) -> int:
        # Priced once each: every candidate deep in a long chain counts all its unchosen
        # ancestors, which would otherwise be priced again for each candidate.
        cost = costs.get(c.id)
        if cost is None:
            cost = costs[c.id] = comment_cost(c)
        return cost

    picked_per_branch: dict[str, int] = {}
    chosen: set[str] = set()
    truncated: set[str] = set()
    used = 0
    # Lazy greedy: a popped entry whose priority went down since it was pushed is pushed back.
    heap = [(-_priority(c, 0), i, c.id, 0) for i, c in enumerate(thread.comments) if c.has_text]
    heapq.heapify(heap)
    for cid in must_include:
        if cid in by_id and cid not in chosen:
            needed = [by_id[cid], *(a for a in thread.ancestors(cid) if a.id not in chosen)]
            cost = sum(map(cost_of, needed))
            if used + cost > remaining:
                continue
            used += cost
            for c in needed:
                chosen.add(c.id)
                if estimate_tokens(c.body) > MAX_COMMENT_TOKENS:
                    truncated.add(c.id)
            branch = branch_of[cid]
            picked_per_branch[branch] = picked_per_branch.get(branch, 0) + 1
    misses = 0
    while heap and remaining - used > MIN_COMMENT_TOKENS and misses < 256:
        _, order, cid, seen_picks = heapq.heappop(heap)
        if cid in chosen:
            continue
        comment = by_id[cid]
        branch = branch_of[cid]
        picks = picked_per_branch.get(branch, 0)
        if picks != seen_picks:
            heapq.heappush(heap, (-_priority(comment, picks), order, cid, picks))
            continue
        needed = [comment, *(a for a in thread.ancestors(cid) if a.id not in chosen)]
        cost = sum(map(cost_of, needed))
        if used + cost > remaining:
            misses += 1  # something smaller may still fit; give up after many misses
            continue
        misses = 0
        used += cost
        for c in needed:
            chosen.add(c.id)
            if estimate_tokens(c.body) > MAX_COMMENT_TOKENS:
                truncated.add(c.id)
        picked_per_branch[branch] = picks + 1
    ordered = tuple(c.id for c in thread.comments if c.id in chosen)
    roots = {branch_of[c.id] for c in thread.comments}
    return Selection(
        comment_ids=ordered,
        truncated_ids=frozenset(truncated),
        post_tokens=post_tokens,
        tokens_used=post_tokens + used,
        budget=budget,
        coverage=Coverage(
            analyzed=len(ordered),
            fetched=len(thread.comments),
            reported=thread.post.num_comments,
            branches_analyzed=len({branch_of[i] for i in ordered}),
            branches_fetched=len(roots),
            ranked_by=thread.origin.ranked_by,
            flat=all(c.parent_id is None for c in thread.comments),
        ),
    )
