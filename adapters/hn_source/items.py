"""HN items (Firebase `item/{id}.json`, or Algolia's `items/{id}` tree) → the digest model.

An HN story becomes a Post whose id is `hn:ID` (the namespace tells every part of the bot the
thread is Hacker News's, and keeps HN ids apart from Reddit's), its permalink
https://news.ycombinator.com/item?id=ID, its score the story's points and its comment count
HN's `descendants`. Comments carry no score on HN: each is 0 with `score_hidden`, and the
thread's origin is digest.source.HACKER_NEWS (no comment scores, no OP, no r/ or u/). A deleted
item (`deleted: true`, or Algolia's item with neither author nor text) is a DELETED comment; a
dead one (`dead: true`: killed by flags or moderators) is REMOVED, its text not kept — as
Reddit's removed comments are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from adapters.hn_source.text import html_to_text
from digest.model import Comment, ContentState, MoreStub, Post

PREFIX = "hn:"
SITE = "https://news.ycombinator.com"
PLACE = "hn"  # what an HN post carries as its "subreddit": watches follow it by this name

JSON = Mapping[str, Any]


def permalink(item_id: int | str) -> str:
    return f"{SITE}/item?id={item_id}"


def post_id(item_id: int | str) -> str:
    return f"{PREFIX}{item_id}"


def item_number(post_id_or_number: str) -> int:
    return int(post_id_or_number.removeprefix(PREFIX))


def _when(seconds: Any) -> datetime:
    return datetime.fromtimestamp(int(seconds or 0), UTC)


def _state(item: JSON) -> ContentState:
    if item.get("deleted"):
        return ContentState.DELETED
    if item.get("dead"):
        return ContentState.REMOVED
    return ContentState.PRESENT


def post_from_item(item: JSON, *, descendants: int | None = None) -> Post:
    """A Firebase story (or job, poll) item → Post."""
    number = item["id"]
    state = _state(item)
    url = item.get("url") or ""
    link = permalink(number)
    present = state is ContentState.PRESENT
    return Post(
        id=post_id(number),
        subreddit=PLACE,
        title=html_to_text(item.get("title")) or "(untitled)",
        author=item.get("by") if present else None,
        url=url or link,
        permalink=link,
        body=html_to_text(item.get("text")) if present else "",
        score=int(item.get("score") or 0),
        upvote_ratio=None,
        num_comments=int(descendants if descendants is not None else item.get("descendants") or 0),
        created=_when(item.get("time")),
        is_self=not url,
        domain=(urlsplit(url).hostname or "").removeprefix("www.") if url else "",
        state=state,
    )


def comment_from_item(item: JSON, story_id: int, depth: int, op: str | None) -> Comment:
    """A Firebase comment item → Comment (the parent is None when it answers the story)."""
    state = _state(item)
    present = state is ContentState.PRESENT
    author = item.get("by") if present else None
    parent = item.get("parent")
    return Comment(
        id=str(item["id"]),
        parent_id=None if parent in (None, story_id) else str(parent),
        author=author,
        body=html_to_text(item.get("text")) if present else "",
        score=0,
        score_hidden=True,
        created=_when(item.get("time")),
        depth=depth,
        is_submitter=author is not None and author == op,
        state=state,
    )


def firebase_item_of_algolia(node: JSON) -> dict[str, Any]:
    """An Algolia tree node in Firebase's shape (so one converter reads both). Algolia keeps
    deleted comments as nodes with neither author nor text, and leaves dead ones out."""
    author, text = node.get("author"), node.get("text")
    item: dict[str, Any] = {
        "id": node["id"],
        "type": node.get("type") or "comment",
        "by": author,
        "text": text,
        "time": node.get("created_at_i") or _iso_seconds(node.get("created_at")),
        "parent": node.get("parent_id"),
        "title": node.get("title"),
        "url": node.get("url"),
        "score": node.get("points"),
    }
    if node.get("type", "comment") == "comment" and author is None and text is None:
        item["deleted"] = True
    return item


def _iso_seconds(text: Any) -> int:
    if not isinstance(text, str):
        return 0
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def count_algolia(node: JSON) -> int:
    """Comments under an Algolia node (deleted ones included), iteratively."""
    total, stack = 0, list(node.get("children") or ())
    while stack:
        child = stack.pop()
        total += 1
        stack.extend(child.get("children") or ())
    return total


def comments_of_algolia(
    root: JSON, story_id: int, op: str | None, ranked: Sequence[int] = ()
) -> list[Comment]:
    """The tree under an Algolia story, pre-order (parents first): the top-level comments in
    HN's rank order (`ranked`: the story's `kids`; others after them), replies in Algolia's."""
    rank = {int(k): i for i, k in enumerate(ranked)}
    top = sorted(root.get("children") or (), key=lambda c: rank.get(int(c["id"]), len(rank)))
    out: list[Comment] = []
    stack: list[tuple[JSON, int]] = [(c, 1) for c in reversed(top)]
    while stack:
        node, depth = stack.pop()
        item = firebase_item_of_algolia(node)
        out.append(comment_from_item(item, story_id, depth, op))
        stack.extend((c, depth + 1) for c in reversed(node.get("children") or ()))
    return out


def stub(parent: str | None, kids: list[int], depth: int) -> MoreStub:
    """Comments HN named (a parent's `kids`) that the request budget left unfetched."""
    return MoreStub(
        id=f"more-{parent or 'story'}-{kids[0]}",
        parent_id=parent,
        count=len(kids),
        children=tuple(str(k) for k in kids),
        depth=depth,
    )
