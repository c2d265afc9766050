"""The thread model: what a discussion is, as far as redigest is concerned.

Frozen dataclasses and nothing else: no I/O, no knowledge of any source's JSON or API. Adapters
convert whatever they read into these types at the border. The fields are Reddit's (it came
first); another source fills what it has (a post, comments with parent, author, time, a score when
there is one) and says what it has not through `Thread.origin` (digest.source), which is what a
report's words follow: Hacker News leaves comment scores at 0, a chat thread counts reactions as
scores and has no subreddit (`subreddit=""`) or upvote ratio (None).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cached_property

from digest.source import REDDIT, Origin


class ContentState(StrEnum):
    """Whether a post or comment still has its text."""

    PRESENT = "present"
    DELETED = "deleted"  # by its author
    REMOVED = "removed"  # by moderators, admins or Reddit's filters


@dataclass(frozen=True, slots=True)
class CrosspostParent:
    id: str
    subreddit: str
    title: str
    author: str | None
    permalink: str


@dataclass(frozen=True, slots=True)
class Post:
    id: str
    subreddit: str
    title: str
    author: str | None  # None when the account is deleted
    url: str  # the link target; equals the permalink for self posts
    permalink: str  # absolute https://www.reddit.com/... URL
    body: str  # self text, markdown, entities already decoded
    score: int
    upvote_ratio: float | None
    num_comments: int  # Reddit's own count, including what was not fetched
    created: datetime  # UTC
    flair: str | None = None
    nsfw: bool = False
    spoiler: bool = False
    locked: bool = False
    stickied: bool = False
    is_self: bool = True
    domain: str = ""
    state: ContentState = ContentState.PRESENT
    removed_by_category: str | None = None
    crosspost_parent: CrosspostParent | None = None
    gallery_size: int = 0
    edited: datetime | None = None


@dataclass(frozen=True, slots=True)
class Comment:
    id: str
    parent_id: str | None  # id of the parent comment; None for a top-level comment
    author: str | None  # None when the account is deleted
    body: str  # markdown, entities decoded; "" when deleted or removed
    score: int
    created: datetime  # UTC
    depth: int  # 1 for a top-level comment
    edited: datetime | None = None
    stickied: bool = False
    distinguished: str | None = None  # "moderator", "admin" or None
    is_submitter: bool = False
    controversiality: int = 0
    state: ContentState = ContentState.PRESENT
    score_hidden: bool = False

    @property
    def has_text(self) -> bool:
        return self.state is ContentState.PRESENT and bool(self.body.strip())


@dataclass(frozen=True, slots=True)
class MoreStub:
    """Comments Reddit did not send inline.

    `count` is Reddit's estimate of the comments behind the stub (replies included);
    `children` the ids it names. A continue-this-thread stub has no children and count 0.
    """

    id: str
    parent_id: str | None  # None when the stub hangs off the post itself
    count: int
    children: tuple[str, ...]
    depth: int

    @property
    def is_continue_thread(self) -> bool:
        return not self.children


@dataclass(frozen=True)
class Thread:
    """A post with the comments that were fetched, in Reddit's order (pre-order, parents first)."""

    post: Post
    comments: tuple[Comment, ...]
    more: tuple[MoreStub, ...] = ()
    focus_comment_id: str | None = None  # set when the thread was opened at one comment
    source: str = ""  # where it came from, for humans ("file:...", "reddit")
    extra: Mapping[str, str] = field(default_factory=dict)
    # Which source it is and the words a report may use for it (digest.source); Reddit's by
    # default, so a thread built the way it always was reads the way it always did.
    origin: Origin = REDDIT

    @property
    def place(self) -> str:
        """Where the thread lives, for humans: `r/sub` on Reddit, else the origin's place."""
        return self.origin.place or f"r/{self.post.subreddit}"

    @cached_property
    def by_id(self) -> dict[str, Comment]:
        return {c.id: c for c in self.comments}

    @cached_property
    def children(self) -> dict[str | None, tuple[Comment, ...]]:
        """Direct replies of each comment id (None: top-level comments), in thread order."""
        out: dict[str | None, list[Comment]] = {}
        for c in self.comments:
            out.setdefault(c.parent_id, []).append(c)
        return {k: tuple(v) for k, v in out.items()}

    def ancestors(self, comment_id: str) -> Iterator[Comment]:
        """The parents of a comment, nearest first, as far as they were fetched."""
        seen: set[str] = set()
        current = self.by_id.get(comment_id)
        while current is not None and current.parent_id is not None:
            if current.parent_id in seen:  # defensive: malformed input must not loop forever
                return
            seen.add(current.parent_id)
            parent = self.by_id.get(current.parent_id)
            if parent is None:
                return
            yield parent
            current = parent

    def top_level_of(self, comment_id: str) -> str:
        """The id of the top-level comment whose branch holds this comment: the last of its
        `ancestors`, or itself when it has none."""
        return self.top_levels.get(comment_id, comment_id)

    @cached_property
    def top_levels(self) -> dict[str, str]:
        """`top_level_of` for every comment, in one pass over the thread.

        Walking each comment's ancestors would cost its depth per comment (quadratic in a long
        chain of replies); here each parent chain is walked once and every comment on it shares
        the answer. Malformed input may give parent cycles: the answers are still exactly what
        `ancestors` gives. A comment on a cycle is its own top level (its ancestors go round to
        it); a comment leading into one ends at the cycle's comment whose parent is where it
        entered.
        """
        by_id = self.by_id
        out: dict[str, str] = {}
        # Comments on or leading into a cycle → the top level of a comment whose parent chain
        # reaches the cycle through them.
        cyclic: dict[str, str] = {}
        for start in by_id:
            if start in out or start in cyclic:
                continue
            path = [start]
            at = {start: 0}
            while True:
                parent = by_id[path[-1]].parent_id
                if parent is None or parent not in by_id:
                    for cid in path:
                        out[cid] = path[-1]
                    break
                if parent in cyclic:  # (checked first: those are in `out` too)
                    for cid in path:
                        out[cid] = cyclic[cid] = cyclic[parent]
                    break
                if parent in out:
                    for cid in path:
                        out[cid] = out[parent]
                    break
                if parent in at:  # a new cycle: path[at[parent]:] goes round
                    entry = at[parent]
                    for i, cid in enumerate(path):
                        if i < entry:  # leading into the cycle
                            out[cid] = cyclic[cid] = path[-1]
                        else:
                            out[cid] = cid
                            cyclic[cid] = path[i - 1] if i > entry else path[-1]
                    break
                at[parent] = len(path)
                path.append(parent)
        return out

    @property
    def hidden_comment_count(self) -> int:
        """Comments Reddit reported but that were not fetched (never negative)."""
        return max(self.post.num_comments - len(self.comments), 0)
