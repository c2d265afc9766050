"""One Reddit thing's data → the model: a post (t3) → Post, a comment (t1) → Comment, a `more`
stub → MoreStub. Reddit's data is untrusted and often incomplete: every field is optional here,
numbers are clamped and times checked.

Text fields go through a reader that undoes Reddit's HTML escaping when the dump was fetched
without raw_json=1 (`looks_escaped` tells, from all of a thread's texts at once).
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from digest.model import Comment, ContentState, CrosspostParent, MoreStub, Post

TextReader = Callable[[Any], str]

REDDIT = "https://www.reddit.com"
_DELETED = "[deleted]"
_REMOVED_BODIES = frozenset({"[removed]", "[ Removed by Reddit ]", "[ Removed by reddit ]"})

# Dumps fetched without raw_json=1 HTML-escape &, < and > in every text field. A raw dump shows
# a bare < or > or & somewhere in its text; an escaped one never does.
_ENTITY = re.compile(r"&(?:amp|lt|gt|quot|#39|#x27);")
_RAW_CHAR = re.compile(r"[<>]|&(?!(?:[a-zA-Z]+|#\d+|#x[0-9a-fA-F]+);)")
# Scores and counts beyond this are not Reddit's: clamped, so arithmetic on them stays finite.
_INT_LIMIT = 10**15


def looks_escaped(texts: Iterable[str]) -> bool:
    """Whether these texts were HTML-escaped by Reddit (all of them: one bare < or & says no)."""
    saw_entity = False
    for t in texts:
        if _RAW_CHAR.search(t):
            return False
        saw_entity = saw_entity or bool(_ENTITY.search(t))
    return saw_entity


def text_reader(escaped: bool) -> TextReader:
    """A text field's value as the model holds it: a str (anything else: ""), unescaped when
    the thread was escaped."""

    def text(value: Any) -> str:
        s = value if isinstance(value, str) else ""
        return html.unescape(s) if escaped else s

    return text


def _int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return max(-_INT_LIMIT, min(int(value), _INT_LIMIT))
    return default


def _ratio(value: Any) -> float | None:
    if not isinstance(value, int | float):
        return None
    try:
        ratio = float(value)
    except OverflowError:
        return None
    return ratio if math.isfinite(ratio) else None


def _time(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(float(value), tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None


_EPOCH = datetime.fromtimestamp(0, tz=UTC)


def _created(d: dict[str, Any]) -> datetime:
    return _time(d.get("created_utc")) or _time(d.get("created")) or _EPOCH


def _edited(d: dict[str, Any], created: datetime) -> datetime | None:
    value = d.get("edited")
    if value is True:  # very old data: edited at an unknown time
        return created
    return _time(value)


def _author(value: Any) -> str | None:
    if not isinstance(value, str) or not value or value == _DELETED:
        return None
    return value


def _absolute(link: Any) -> str:
    if not isinstance(link, str) or not link:
        return ""
    return REDDIT + link if link.startswith("/") else link


def _parent(fullname: Any, post_id: str) -> str | None:
    if not isinstance(fullname, str) or not fullname.startswith("t1_"):
        return None  # a t3_ parent (or none at all): top level
    return fullname[3:]


def to_post(d: dict[str, Any], text: TextReader) -> Post:
    """A t3's data (a thread's post, or one of a listing) as the model's Post."""
    body = text(d.get("selftext"))
    author = _author(d.get("author"))
    removed_by = (
        d.get("removed_by_category") if isinstance(d.get("removed_by_category"), str) else None
    )
    state = ContentState.PRESENT
    if body in _REMOVED_BODIES or (removed_by and removed_by != "deleted"):
        state = ContentState.REMOVED
    elif body == _DELETED or removed_by == "deleted":
        state = ContentState.DELETED
    if state is not ContentState.PRESENT:
        body = ""
    created = _created(d)
    permalink = _absolute(d.get("permalink"))
    url = _absolute(d.get("url")) or permalink
    crosspost = None
    parents = d.get("crosspost_parent_list")
    if isinstance(parents, list) and parents and isinstance(parents[0], dict):
        p = parents[0]
        crosspost = CrosspostParent(
            id=str(p.get("id", "")),
            subreddit=str(p.get("subreddit", "")),
            title=text(p.get("title")),
            author=_author(p.get("author")),
            permalink=_absolute(p.get("permalink")),
        )
    gallery = d.get("gallery_data")
    gallery_items = gallery.get("items") if isinstance(gallery, dict) else None
    flair = d.get("link_flair_text")
    return Post(
        id=str(d["id"]),
        subreddit=str(d.get("subreddit") or ""),
        title=text(d.get("title")),
        author=author,
        url=url,
        permalink=permalink,
        body=body,
        score=_int(d.get("score")),
        upvote_ratio=_ratio(d.get("upvote_ratio")),
        num_comments=_int(d.get("num_comments")),
        created=created,
        flair=text(flair) or None if isinstance(flair, str) else None,
        nsfw=bool(d.get("over_18")),
        spoiler=bool(d.get("spoiler")),
        locked=bool(d.get("locked")),
        stickied=bool(d.get("stickied")),
        is_self=bool(d.get("is_self")),
        domain=str(d.get("domain") or ""),
        state=state,
        removed_by_category=removed_by,
        crosspost_parent=crosspost,
        gallery_size=len(gallery_items) if isinstance(gallery_items, list) else 0,
        edited=_edited(d, created),
    )


def to_comment(
    d: dict[str, Any], walk_depth: int, text: TextReader, post_id: str
) -> Comment | None:
    """A t1's data as the model's Comment (None without an id); `walk_depth` where Reddit gives
    no depth."""
    cid = d.get("id")
    if not isinstance(cid, str) or not cid:
        return None
    raw_body = d.get("body")
    body = text(raw_body)
    author = _author(d.get("author"))
    state = ContentState.PRESENT
    if body in _REMOVED_BODIES:
        state = ContentState.REMOVED
    elif body == _DELETED:
        state = ContentState.DELETED
    if state is not ContentState.PRESENT:
        body = ""
    reddit_depth = d.get("depth")
    depth = reddit_depth + 1 if isinstance(reddit_depth, int) and reddit_depth >= 0 else walk_depth
    created = _created(d)
    distinguished = d.get("distinguished")
    return Comment(
        id=cid,
        parent_id=_parent(d.get("parent_id"), post_id),
        author=author,
        body=body,
        score=_int(d.get("score")),
        created=created,
        depth=depth,
        edited=_edited(d, created),
        stickied=bool(d.get("stickied")),
        distinguished=distinguished if isinstance(distinguished, str) else None,
        is_submitter=bool(d.get("is_submitter")),
        controversiality=_int(d.get("controversiality")),
        state=state,
        score_hidden=bool(d.get("score_hidden")),
    )


def to_more_stub(d: dict[str, Any], walk_depth: int, post_id: str) -> MoreStub:
    """A `more` stub's data as the model's MoreStub (the comments it stands for)."""
    children = d.get("children")
    ids = tuple(c for c in children if isinstance(c, str)) if isinstance(children, list) else ()
    reddit_depth = d.get("depth")
    depth = reddit_depth + 1 if isinstance(reddit_depth, int) and reddit_depth >= 0 else walk_depth
    return MoreStub(
        id=str(d.get("id") or "_"),
        parent_id=_parent(d.get("parent_id"), post_id),
        count=_int(d.get("count")),
        children=ids,
        depth=depth,
    )
