"""Reddit's thread JSON (`/comments/{id}` and `<thread url>.json`) → the thread model.

The live source and saved files both go through `thread_from_json`, so the model never sees
Reddit's wire format. Reddit's data is untrusted and often incomplete: every field is optional here.
"""

from __future__ import annotations

import html
import json
import json.decoder
import math
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from digest.errors import ThreadDataError
from digest.model import Comment, ContentState, CrosspostParent, MoreStub, Post, Thread

REDDIT = "https://www.reddit.com"
_DELETED = "[deleted]"
_REMOVED_BODIES = frozenset({"[removed]", "[ Removed by Reddit ]", "[ Removed by reddit ]"})

# Dumps fetched without raw_json=1 HTML-escape &, < and > in every text field. A raw dump shows
# a bare < or > or & somewhere in its text; an escaped one never does.
_ENTITY = re.compile(r"&(?:amp|lt|gt|quot|#39|#x27);")
_RAW_CHAR = re.compile(r"[<>]|&(?!(?:[a-zA-Z]+|#\d+|#x[0-9a-fA-F]+);)")

# json.loads recurses once per nesting level and stops at the interpreter's recursion limit
# (about 1,000 levels); every reply level of a thread is five (thing, data, Listing, data,
# children), so a chain of ~200 replies is beyond it. Such files are parsed again iteratively, up
# to this many levels (20,000 replies).
MAX_NESTING = 100_000
# Scores and counts beyond this are not Reddit's: clamped, so arithmetic on them stays finite.
_INT_LIMIT = 10**15

NOT_A_THREAD = (
    "is not a Reddit thread: expected the JSON that Reddit serves at "
    "https://www.reddit.com/r/SUB/comments/ID.json (a list of a post listing and a comment listing)"
)


def thread_from_json_text(text: str | bytes, *, source: str = "") -> Thread:
    """Parse JSON text; every failure is a ThreadDataError naming the source."""
    name = source or "the input"
    try:
        data = _loads(text)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(exc.doc.rstrip()) or exc.msg.startswith("Unterminated string"):
            raise ThreadDataError(f"{name} is truncated: the JSON ends early.") from None
        raise ThreadDataError(
            f"{name} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})."
        ) from None
    except UnicodeDecodeError:
        raise ThreadDataError(f"{name} is not text: a thread file is UTF-8 JSON.") from None
    except _TooDeep:
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

    escaped = _looks_escaped(_texts(post_data, comment_things))

    def text(value: Any) -> str:
        s = value if isinstance(value, str) else ""
        return html.unescape(s) if escaped else s

    post = _post(post_data, text)
    comments: list[Comment] = []
    more: list[MoreStub] = []
    seen: set[str] = set()
    for kind, d, walk_depth in _walk(comment_things):
        if kind == "t1":
            c = _comment(d, walk_depth, text, post.id)
            if c is None or c.id in seen:
                continue
            seen.add(c.id)
            comments.append(c)
        elif kind == "more":
            more.append(_more(d, walk_depth, post.id))
    return Thread(post=post, comments=tuple(comments), more=tuple(more), source=source)


def post_from_data(data: dict[str, Any]) -> Post:
    """One post (a t3's data, as in listings and streams) into the model."""
    escaped = _looks_escaped(_texts(data, []))

    def text(value: Any) -> str:
        s = value if isinstance(value, str) else ""
        return html.unescape(s) if escaped else s

    return _post(data, text)


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


class _TooDeep(Exception):
    """The JSON nests more than MAX_NESTING levels."""


# The C string scanner json.loads uses (not in typeshed's json.decoder).
_scanstring: Callable[[str, int, bool], tuple[str, int]]
_scanstring = json.decoder.scanstring  # type: ignore[attr-defined]
_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"(-?(?:0|[1-9]\d*))(\.\d+)?([eE][-+]?\d+)?")
_CONSTANTS: tuple[tuple[str, Any], ...] = (
    ("null", None),
    ("true", True),
    ("false", False),
    ("NaN", math.nan),
    ("Infinity", math.inf),
    ("-Infinity", -math.inf),
)


def _loads(text: str | bytes) -> Any:
    """`json.loads`, for any depth: what the C parser cannot nest is parsed again iteratively."""
    try:
        return json.loads(text)
    except RecursionError:
        pass
    if isinstance(text, bytes):  # decoded as json.loads decodes bytes
        text = text.decode(json.detect_encoding(text), "surrogatepass")
    return loads_iterative(text)


def loads_iterative(s: str) -> Any:
    """What `json.loads(s)` returns (the same values, the same JSONDecodeErrors), parsed with an
    explicit stack of open containers instead of recursion, so any depth parses; beyond
    MAX_NESTING levels it gives up (with an exception that thread_from_json_text turns into a
    ThreadDataError). Slower than json.loads: only for what json.loads cannot nest."""
    if s.startswith("\ufeff"):
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", s, 0)
    ws = _skip_ws
    # Each open container with, for an object, the key its next value goes under.
    stack: list[tuple[list[Any] | dict[str, Any], str]] = []
    pos = ws(s, 0)
    while True:
        value: Any
        ch = s[pos : pos + 1]
        if ch == '"':
            value, pos = _scanstring(s, pos + 1, True)
        elif ch in ("{", "["):
            if len(stack) >= MAX_NESTING:
                raise _TooDeep
            pos = ws(s, pos + 1)
            if s[pos : pos + 1] == ("}" if ch == "{" else "]"):
                value, pos = ({} if ch == "{" else []), pos + 1
            elif ch == "{":
                key, pos = _object_key(s, pos)
                stack.append(({}, key))
                continue
            else:
                stack.append(([], ""))
                continue
        else:
            value, pos = _scalar(s, pos)
        # A value is complete: put it in its container; close the containers it completes.
        while True:
            if not stack:
                end = ws(s, pos)
                if end != len(s):
                    raise json.JSONDecodeError("Extra data", s, end)
                return value
            container, key = stack[-1]
            if isinstance(container, list):
                container.append(value)
            else:
                container[key] = value
            pos = ws(s, pos)
            ch = s[pos : pos + 1]
            if ch == ",":
                pos = ws(s, pos + 1)
                if isinstance(container, dict):
                    key, pos = _object_key(s, pos)
                    stack[-1] = (container, key)
                break
            if ch == ("]" if isinstance(container, list) else "}"):
                stack.pop()
                value, pos = container, pos + 1
                continue
            raise json.JSONDecodeError("Expecting ',' delimiter", s, pos)


def _object_key(s: str, pos: int) -> tuple[str, int]:
    """An object's `"key":` at pos; returns the key and where its value starts."""
    if s[pos : pos + 1] != '"':
        raise json.JSONDecodeError("Expecting property name enclosed in double quotes", s, pos)
    key, pos = _scanstring(s, pos + 1, True)
    pos = _skip_ws(s, pos)
    if s[pos : pos + 1] != ":":
        raise json.JSONDecodeError("Expecting ':' delimiter", s, pos)
    return key, _skip_ws(s, pos + 1)


def _skip_ws(s: str, pos: int) -> int:
    m = _WS.match(s, pos)
    return m.end() if m else pos


def _scalar(s: str, pos: int) -> tuple[Any, int]:
    """A number or a constant at pos, as json.loads reads it."""
    m = _NUMBER.match(s, pos)
    if m:
        integer, frac, exp = m.groups()
        if frac or exp:
            return float(integer + (frac or "") + (exp or "")), m.end()
        return int(integer), m.end()
    for word, value in _CONSTANTS:
        if s.startswith(word, pos):
            return value, pos + len(word)
    raise json.JSONDecodeError("Expecting value", s, pos)


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


def _looks_escaped(texts: Iterable[str]) -> bool:
    saw_entity = False
    for t in texts:
        if _RAW_CHAR.search(t):
            return False
        saw_entity = saw_entity or bool(_ENTITY.search(t))
    return saw_entity


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


def _post(d: dict[str, Any], text: Any) -> Post:
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


def _comment(d: dict[str, Any], walk_depth: int, text: Any, post_id: str) -> Comment | None:
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


def _more(d: dict[str, Any], walk_depth: int, post_id: str) -> MoreStub:
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
