"""How a thread is written into a prompt: one JSON object per line inside a delimited block.

The model sees what a reader sees: the post's type (self, link, image, video, gallery), its link
and domain, flair, score, upvote ratio and comment count; each comment's author, score, parent and
time after the post ("+3h"), so it can tell how the mood shifts. Selection prices comments in
this form (with digest.llm_tokens' calibrated count), so a prompt's size is known before it is
built. JSON strings cannot hold a raw newline, and "</" is written "<\\/", so nothing in a
comment can end the data block or start a line of its own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from digest.llm_tokens import count_tokens, fits
from digest.model import Comment, Thread
from digest.source import REDDIT, Origin

MAX_COMMENT_TOKENS = 600  # longer comments are cut to this in prompts (quotes stay substrings)
OPEN, CLOSE = "<thread_data>", "</thread_data>"
_PLACEHOLDER_ID = "c00000"  # as long as any short id a prompt will use
_PLACEHOLDER_AGE = "+999d"  # as long as any age a prompt will show

_IMAGE_HOSTS = {"i.redd.it", "i.imgur.com", "imgur.com", "preview.redd.it", "i.reddituploads.com"}
_VIDEO_HOSTS = {
    "v.redd.it",
    "youtube.com",
    "www.youtube.com",
    "m.youtube.com",
    "youtu.be",
    "streamable.com",
    "vimeo.com",
    "gfycat.com",
    "redgifs.com",
}
_IMAGE_EXT = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".svg", ".avif", ".heic")
_VIDEO_EXT = (".mp4", ".webm", ".mov", ".gifv", ".mkv", ".m3u8")


def encode(obj: Mapping[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False).replace("</", "<\\/")


def truncate(text: str, max_tokens: int) -> str:
    """A prefix within `max_tokens` (a quote of it is still a verbatim part of the full text)."""
    if fits(text, max_tokens):
        return text
    cut = len(text)
    while cut > 0 and not fits(text[:cut], max_tokens):
        cut = int(cut * 0.9)
    return text[:cut]


def post_type(thread: Thread) -> str:
    """self, link, image, video or gallery: what a reader sees when they open the post."""
    p = thread.post
    host = (urlsplit(p.url).hostname or "").lower() if p.url else ""
    path = urlsplit(p.url).path.lower() if p.url else ""
    if p.gallery_size or "/gallery/" in path:
        return "gallery"
    if p.is_self:
        return "self"
    if host in _VIDEO_HOSTS or path.endswith(_VIDEO_EXT):
        return "video"
    if host in _IMAGE_HOSTS or path.endswith(_IMAGE_EXT):
        return "image"
    return "link"


def age(when: datetime, since: datetime) -> str:
    """How long after the post: "+40m", "+5h", "+3d" (whole units, rounded down)."""
    minutes = max(int((when - since).total_seconds() // 60), 0)
    if minutes < 60:
        return f"+{minutes}m"
    if minutes < 48 * 60:
        return f"+{minutes // 60}h"
    return f"+{minutes // (24 * 60)}d"


def comment_line(
    c: Comment, short_id: str, parent_short: str | None, when: str, origin: Origin = REDDIT
) -> str:
    """One comment; keys that would say nothing (no parent, not the OP) are left out. Off Reddit
    the thread's starter is "starter" (not "op"), and comments without scores show none."""
    obj: dict[str, Any] = {"id": short_id, "author": c.author or "[deleted]"}
    if origin.has_comment_scores:
        obj["score"] = "hidden" if c.score_hidden else c.score
    obj["t"] = when
    if parent_short is not None:
        obj["parent"] = parent_short
    if c.is_submitter:
        obj["op" if origin.is_reddit else "starter"] = True
    if c.distinguished:
        obj["role"] = c.distinguished
    obj["body"] = truncate(c.body, MAX_COMMENT_TOKENS) if c.has_text else f"[{c.state.value}]"
    return encode(obj)


def post_line(thread: Thread, body_tokens: int) -> str:
    p, o = thread.post, thread.origin
    kind = post_type(thread)
    obj: dict[str, Any] = {
        "id": "post",
        **({"subreddit": p.subreddit} if o.is_reddit else {"where": thread.place}),
        "title": p.title,
        "author": p.author or "[deleted]",
        "type": kind,
    }
    if kind != "self":
        obj["link"] = p.url
        obj["domain"] = p.domain or (urlsplit(p.url).hostname or "")
    if kind == "gallery" and p.gallery_size:
        obj["images"] = p.gallery_size
    if p.crosspost_parent is not None:
        obj["crosspost_from"] = f"r/{p.crosspost_parent.subreddit}"
    if p.flair:
        obj["flair"] = p.flair
    if o.has_post_score and o.score_unit is not None:
        obj["score"] = p.score
    if p.upvote_ratio is not None and o.has_upvote_ratio:
        obj["upvote_ratio"] = p.upvote_ratio
    obj["comments"] = p.num_comments
    if p.state.value != "present":
        obj["state"] = p.state.value
    for flag in ("locked", "nsfw", "spoiler"):
        if getattr(p, flag):
            obj[flag] = True
    obj["body"] = truncate(p.body, body_tokens)
    return encode(obj)


def comment_tokens(c: Comment) -> int:
    """What one comment costs in a prompt (its line and the newline after it)."""
    parent = _PLACEHOLDER_ID if c.parent_id else None
    return count_tokens(comment_line(c, _PLACEHOLDER_ID, parent, _PLACEHOLDER_AGE)) + 1


def post_tokens(thread: Thread, body_tokens: int) -> int:
    return count_tokens(OPEN + "\n" + post_line(thread, body_tokens)) + 1
