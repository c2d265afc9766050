"""How a thread is written into a prompt: one JSON object per line inside a delimited block.

Selection prices comments in this form, so a prompt's size is known before it is built.
JSON strings cannot hold a raw newline, and "</" is written "<\\/", so nothing in a comment can
end the data block or start a line of its own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from digest.model import Comment, Thread
from digest.text import estimate_tokens

MAX_COMMENT_TOKENS = 600  # longer comments are cut to this in prompts (quotes stay substrings)
OPEN, CLOSE = "<thread_data>", "</thread_data>"
_PLACEHOLDER_ID = "c00000"  # as long as any short id a prompt will use


def encode(obj: Mapping[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False).replace("</", "<\\/")


def truncate(text: str, max_tokens: int) -> str:
    """A prefix within `max_tokens` (a quote of it is still a verbatim part of the full text)."""
    if estimate_tokens(text) <= max_tokens:
        return text
    cut = len(text)
    while cut > 0 and estimate_tokens(text[:cut]) > max_tokens:
        cut = int(cut * 0.9)
    return text[:cut]


def comment_line(c: Comment, short_id: str, parent_short: str | None) -> str:
    return encode(
        {
            "id": short_id,
            "author": c.author or "[deleted]",
            "score": c.score,
            "depth": c.depth,
            "parent": parent_short,
            "op": c.is_submitter or None,
            "body": truncate(c.body, MAX_COMMENT_TOKENS) if c.has_text else f"[{c.state.value}]",
        }
    )


def post_line(thread: Thread, body_tokens: int) -> str:
    p = thread.post
    return encode(
        {
            "id": "post",
            "subreddit": p.subreddit,
            "title": p.title,
            "author": p.author or "[deleted]",
            "body": truncate(p.body, body_tokens),
            "state": p.state.value,
        }
    )


def comment_tokens(c: Comment) -> int:
    """What one comment costs in a prompt (its line and the newline after it)."""
    parent = _PLACEHOLDER_ID if c.parent_id else None
    return estimate_tokens(comment_line(c, _PLACEHOLDER_ID, parent)) + 1


def post_tokens(thread: Thread, body_tokens: int) -> int:
    return estimate_tokens(OPEN + "\n" + post_line(thread, body_tokens)) + 1
