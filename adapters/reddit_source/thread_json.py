"""Reddit's thread JSON (`/comments/{id}` and `<thread url>.json`) → the thread model.

The live sources and saved files all go through `thread_from_json`, so the model never sees
Reddit's wire format. Here: the listings' shape and the comment tree (walked iteratively, of any
depth); one thing's fields in things.py; JSON text deeper than `json.loads` nests in deep_json.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from adapters.reddit_source.deep_json import MAX_NESTING, TooDeep, loads, loads_iterative
from adapters.reddit_source.things import (
    looks_escaped,
    text_reader,
    to_comment,
    to_more_stub,
    to_post,
)
from digest.errors import ThreadDataError
from digest.model import Comment, MoreStub, Post, Thread

__all__ = [
    "MAX_NESTING",
    "NOT_A_THREAD",
    "flatten",
    "loads_iterative",
    "nest",
    "post_from_data",
    "thread_from_json",
    "thread_from_json_text",
]

NOT_A_THREAD = (
    "is not a Reddit thread: expected the JSON that Reddit serves at "
    "https://www.reddit.com/r/SUB/comments/ID.json (a list of a post listing and a comment listing)"
)


def thread_from_json_text(text: str | bytes, *, source: str = "") -> Thread:
    """Parse JSON text; every failure is a ThreadDataError naming the source."""
    name = source or "the input"
    try:
        data = loads(text)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(exc.doc.rstrip()) or exc.msg.startswith("Unterminated string"):
            raise ThreadDataError(f"{name} is truncated: the JSON ends early.") from None
        raise ThreadDataError(
            f"{name} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})."
        ) from None
    except UnicodeDecodeError:
        raise ThreadDataError(f"{name} is not text: a thread file is UTF-8 JSON.") from None
    except TooDeep:
        raise ThreadDataError(
            f"{name} is nested too deeply: more than {MAX_NESTING:,} levels of JSON."
        ) from None
    except ValueError:  # an integer longer than Python converts (4,300 digits)
        raise ThreadDataError(f"{name} holds a number too long to read.") from None
    return thread_from_json(data, source=source)


def thread_from_json(data: Any, *, source: str = "") -> Thread:
    """Convert the parsed `[Listing t3, Listing t1|more]` structure into a Thread.

    Every walk here is iterative, so a thread of any depth converts; should anything still
    recurse too deeply, the input is refused as a ThreadDataError, never a RecursionError.
    """
    try:
        return _thread_from_json(data, source)
    except RecursionError:
        name = source or "the input"
        raise ThreadDataError(f"{name} is nested too deeply to read.") from None


def _thread_from_json(data: Any, source: str) -> Thread:
    name = source or "the input"
    listings = data if isinstance(data, list) else [data]
    post_data = _first_post(listings[0] if listings else None)
    if post_data is None:
        raise ThreadDataError(f"{name} {NOT_A_THREAD}.")
    comment_things: list[Any] = []
    if len(listings) > 1:
        second = listings[1]
        if not (isinstance(second, dict) and second.get("kind") == "Listing"):
            raise ThreadDataError(f"{name} {NOT_A_THREAD}: the second item is not a listing.")
        comment_things = _children(second)

    text = text_reader(looks_escaped(_texts(post_data, comment_things)))
    post = to_post(post_data, text)
    comments: list[Comment] = []
    more: list[MoreStub] = []
    seen: set[str] = set()
    for kind, d, walk_depth in _walk(comment_things):
        if kind == "t1":
            c = to_comment(d, walk_depth, text, post.id)
            if c is None or c.id in seen:
                continue
            seen.add(c.id)
            comments.append(c)
        elif kind == "more":
            more.append(to_more_stub(d, walk_depth, post.id))
    return Thread(post=post, comments=tuple(comments), more=tuple(more), source=source)


def post_from_data(data: dict[str, Any]) -> Post:
    """One post (a t3's data, as in listings and streams) into the model."""
    return to_post(data, text_reader(looks_escaped(_texts(data, []))))


def flatten(things: list[Any]) -> list[dict[str, Any]]:
    """A nested comment listing as a flat list of things (t1/more), parents first, each t1
    without its nested replies. The inverse of `nest`."""
    out: list[dict[str, Any]] = []
    for kind, data, _ in _walk(things):
        out.append({"kind": kind, "data": {k: v for k, v in data.items() if k != "replies"}})
    return out


def nest(things: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flat things (t1/more with parent_id) back into Reddit's nested shape, keeping their order.

    A thing whose parent is not among them stays at the top (its parent_id still names it).
    """
    nodes: dict[str, dict[str, Any]] = {}
    top: list[dict[str, Any]] = []
    for thing in things:
        data = dict(thing["data"])
        node = {"kind": thing["kind"], "data": data}
        parent = data.get("parent_id")
        holder = (
            nodes.get(parent[3:]) if isinstance(parent, str) and parent.startswith("t1_") else None
        )
        if holder is None:
            top.append(node)
        else:
            replies = holder["data"].get("replies")
            if not isinstance(replies, dict):
                replies = holder["data"]["replies"] = {"kind": "Listing", "data": {"children": []}}
            replies["data"]["children"].append(node)
        if thing["kind"] == "t1" and isinstance(data.get("id"), str):
            data["replies"] = ""
            nodes[data["id"]] = node
    return top


def _first_post(listing: Any) -> dict[str, Any] | None:
    if not (isinstance(listing, dict) and listing.get("kind") == "Listing"):
        return None
    for child in _children(listing):
        if (
            isinstance(child, dict)
            and child.get("kind") == "t3"
            and isinstance(child.get("data"), dict)
        ):
            data: dict[str, Any] = child["data"]
            if isinstance(data.get("id"), str):
                return data
    return None


def _children(listing: Any) -> list[Any]:
    if not isinstance(listing, dict):
        return []
    data = listing.get("data")
    if not isinstance(data, dict):
        return []
    children = data.get("children")
    return children if isinstance(children, list) else []


def _walk(things: list[Any]) -> Iterator[tuple[str, dict[str, Any], int]]:
    """Pre-order walk of a comment listing (iterative: Reddit trees can be deep)."""
    stack: list[tuple[Any, int]] = [(t, 1) for t in reversed(things)]
    while stack:
        thing, depth = stack.pop()
        if not isinstance(thing, dict) or not isinstance(thing.get("data"), dict):
            continue
        kind, data = thing.get("kind"), thing["data"]
        if kind not in ("t1", "more"):
            continue
        yield kind, data, depth
        if kind == "t1":
            stack.extend((t, depth + 1) for t in reversed(_children(data.get("replies"))))


def _texts(post: dict[str, Any], things: list[Any]) -> Iterator[str]:
    for key in ("title", "selftext"):
        if isinstance(post.get(key), str):
            yield post[key]
    for kind, d, _ in _walk(things):
        if kind == "t1" and isinstance(d.get("body"), str):
            yield d["body"]
