"""A fake Reddit API server that the real asyncpraw client can talk to.

It runs on ``127.0.0.1`` (random free port) with :mod:`aiohttp.web` and mimics the
parts of Reddit's OAuth API that redigest uses::

    async with FakeReddit() as server:
        server.add_full_thread(make_post("abc", subreddit="test"), comments)
        async with asyncpraw.Reddit(**server.reddit_kwargs()) as reddit:
            submission = await reddit.submission("abc")
            await submission.comments.replace_more(limit=None)

Endpoints (paths are matched with or without a trailing ``/`` or ``.json``):

* ``POST /api/v1/access_token``: OAuth token (client_credentials, password,
  installed_client, refresh_token grants).
* ``GET /comments/{id}``: ``[Listing t3, Listing t1|more]``; honours ``limit``
  (default 200, capped at 500), ``depth`` (capped at 10) and ``sort`` for full
  (synthetic) threads; recorded threads are served verbatim.
* ``GET /comments/{id}/_/{comment_id}``: "continue this thread" (and permalink) view.
* ``POST|GET /api/morechildren``: expands ``more`` stubs (at most 100 comments per
  answer, the rest behind new stubs).
* ``GET /r/{sub}/hot|new|top|rising|controversial`` (``limit``, ``after``, ``before``,
  ``t``), ``GET /r/{sub}/about``, ``GET /api/info``.

Every API answer carries ``X-Ratelimit-Remaining/Used/Reset`` headers. Faults are
injected with :meth:`FakeReddit.fail_next`; every request is kept in
:attr:`FakeReddit.requests`.

The same server is also ``www.reddit.com`` for anonymous clients: a request without an
``Authorization`` header whose path ends in ``.json`` (or ``.rss``) is served without a token,
counted against its own anonymous budget (``public_ratelimit_budget`` per
``public_ratelimit_window``, Reddit's ``x-ratelimit-*`` headers on every answer, 429 with
``Retry-After`` beyond it), and may be refused like Reddit refuses crawlers (``block_json`` /
``block_feeds``: 403 with the HTML "blocked by network security" page). Anonymous-only paths:

* ``GET /by_id/t3_a,t3_b.json``: the posts, in the order asked (unknown ids left out).
* ``GET /r/{sub}/new/.rss`` (also ``/r/{sub}/.rss``, ``/r/{sub}/top/.rss``): an Atom feed shaped
  like Reddit's (entry ``id`` ``t3_…``, ``title``, ``link``, ``author`` ``/u/NAME``,
  ``updated``/``published``, ``category`` term = subreddit).
* ``GET /r/{sub}/s/{code}``: share links, a 301 (or 302) to the thread, no token needed.

``/r/a+b+c/...`` listings (both kinds of client) merge the named subreddits' posts.
"""

from __future__ import annotations

import ast
import asyncio
import base64
import contextlib
import heapq
import http
import itertools
import json
import math
import random
import re
import time
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote

from aiohttp import web

from tests.fakes.local_server import LocalServer

JSONDict = dict[str, Any]

DEFAULT_COMMENT_LIMIT = 200
"""Comments Reddit inlines on ``GET /comments/{id}`` when no ``limit`` is sent."""
MAX_COMMENT_LIMIT = 500
"""Reddit's cap on ``limit`` for ``GET /comments/{id}`` (asyncpraw asks for 2048)."""
MAX_DEPTH = 10
"""Reddit's default and maximum comment depth; deeper replies get a continue stub."""
MORECHILDREN_BATCH = 100
"""Most comments one ``/api/morechildren`` answer returns."""
LISTING_DEFAULT_LIMIT = 25
LISTING_MAX_LIMIT = 100

SubredditState = Literal["public", "private", "quarantined", "gated", "gold_only", "banned"]
TokenFailure = Literal["unauthorized", "invalid_grant"]

_TIME_FILTERS: dict[str, float | None] = {
    "hour": 3600.0,
    "day": 86400.0,
    "week": 7 * 86400.0,
    "month": 30 * 86400.0,
    "year": 365 * 86400.0,
    "all": None,
}
_REDDIT_EPOCH = 1134028003


# --------------------------------------------------------------------------- helpers


def to_base36(number: int) -> str:
    """Return ``number`` in Reddit's id alphabet (lower-case base 36)."""
    if number < 0:
        raise ValueError("negative id")
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rem = divmod(number, 36)
        out = digits[rem] + out
        if number == 0:
            return out


def error_body(status: int, reason: str | None = None) -> JSONDict:
    """Return the JSON body Reddit sends with an error ``status``.

    ``reason`` selects the special subreddit variants: ``private``, ``quarantined``,
    ``gated`` and ``gold_only`` (403) and ``banned`` (404).
    """
    message = http.HTTPStatus(status).phrase
    body: JSONDict = {"message": message, "error": status}
    if reason is None:
        return body
    if reason == "quarantined":
        text = (
            "This community is quarantined. Its content may be offensive or upsetting;"
            " opt in on reddit.com to view it."
        )
        return {
            "quarantine_message_html": f'<!-- SC_OFF --><div class="md"><p>{text}</p>\n</div><!-- SC_ON -->',
            "reason": "quarantined",
            "quarantine_message": text,
            "message": message,
            "error": status,
        }
    if reason == "gated":
        text = "Content Advisory: this community may contain sensitive content."
        return {
            "interstitial_warning_message_html": f'<!-- SC_OFF --><div class="md"><p>{text}</p>\n</div><!-- SC_ON -->',
            "reason": "gated",
            "interstitial_warning_message": text,
            "message": message,
            "error": status,
        }
    return {"reason": reason, "message": message, "error": status}


def _subreddit_id(name: str) -> str:
    return to_base36(zlib.crc32(name.lower().encode()) & 0xFFFFFFF)


def make_subreddit_about(name: str, **extra: Any) -> JSONDict:
    """Return ``t5`` data as ``GET /r/{name}/about`` carries it."""
    sub_id = _subreddit_id(name)
    data: JSONDict = {
        "display_name": name,
        "display_name_prefixed": f"r/{name}",
        "id": sub_id,
        "name": f"t5_{sub_id}",
        "title": name,
        "public_description": "",
        "description": "",
        "subscribers": 1000,
        "active_user_count": 10,
        "over18": False,
        "subreddit_type": "public",
        "quarantine": False,
        "lang": "en",
        "created_utc": 1_200_000_000.0,
        "url": f"/r/{name}/",
        "user_is_banned": None,
        "user_is_moderator": None,
    }
    data.update(extra)
    return data


def make_post(
    post_id: str,
    *,
    subreddit: str = "test",
    title: str | None = None,
    author: str = "fake_author",
    score: int = 1,
    created_utc: float | None = None,
    num_comments: int = 0,
    selftext: str = "",
    **extra: Any,
) -> JSONDict:
    """Return ``t3`` data with the fields asyncpraw and redigest read.

    ``created_utc`` defaults to the current time; any other field may be given in
    ``extra``.
    """
    created = time.time() if created_utc is None else created_utc
    permalink = f"/r/{subreddit}/comments/{post_id}/post_{post_id}/"
    data: JSONDict = {
        "id": post_id,
        "name": f"t3_{post_id}",
        "title": title if title is not None else f"Post {post_id}",
        "selftext": selftext,
        "selftext_html": None,
        "author": author,
        "author_fullname": f"t2_{to_base36(zlib.crc32(author.encode()))}",
        "subreddit": subreddit,
        "subreddit_name_prefixed": f"r/{subreddit}",
        "subreddit_id": f"t5_{_subreddit_id(subreddit)}",
        "score": score,
        "ups": max(score, 0),
        "downs": 0,
        "upvote_ratio": 1.0,
        "num_comments": num_comments,
        "created": created,
        "created_utc": created,
        "permalink": permalink,
        "url": f"https://www.reddit.com{permalink}",
        "domain": f"self.{subreddit}",
        "is_self": True,
        "over_18": False,
        "spoiler": False,
        "stickied": False,
        "locked": False,
        "archived": False,
        "distinguished": None,
        "edited": False,
        "link_flair_text": None,
        "suggested_sort": None,
        "removed_by_category": None,
    }
    data.update(extra)
    return data


def make_comment(
    comment_id: str,
    *,
    post_id: str,
    parent_id: str | None = None,
    body: str | None = None,
    author: str = "fake_commenter",
    score: int = 1,
    created_utc: float = 1_700_000_000.0,
    subreddit: str = "test",
    **extra: Any,
) -> JSONDict:
    """Return ``t1`` data; ``parent_id`` defaults to the post (a top-level comment)."""
    text = body if body is not None else f"Comment {comment_id}"
    data: JSONDict = {
        "id": comment_id,
        "name": f"t1_{comment_id}",
        "parent_id": parent_id or f"t3_{post_id}",
        "link_id": f"t3_{post_id}",
        "body": text,
        "body_html": f'<div class="md"><p>{text}</p>\n</div>',
        "author": author,
        "author_fullname": f"t2_{to_base36(zlib.crc32(author.encode()))}",
        "score": score,
        "ups": score,
        "downs": 0,
        "controversiality": 0,
        "created": created_utc,
        "created_utc": created_utc,
        "subreddit": subreddit,
        "subreddit_id": f"t5_{_subreddit_id(subreddit)}",
        "permalink": f"/r/{subreddit}/comments/{post_id}/post_{post_id}/{comment_id}/",
        "distinguished": None,
        "stickied": False,
        "edited": False,
        "gilded": 0,
        "is_submitter": False,
        "score_hidden": False,
        "collapsed": False,
        "archived": False,
        "locked": False,
        "replies": "",
    }
    data.update(extra)
    return data


def generate_comment_tree(
    post_id: str,
    count: int,
    *,
    seed: int = 0,
    subreddit: str = "test",
    chain_depth: int = 14,
    base_time: float = 1_700_000_000.0,
    reply_decay: float | None = None,
) -> list[JSONDict]:
    """Return ``count`` synthetic ``t1`` comments forming one realistic tree.

    The first ``chain_depth`` comments are a single reply chain (so the tree is deeper
    than Reddit's depth cap); the rest attach to the post (about a quarter) or to a
    recent comment, with heavy-tailed scores. Deterministic for a given ``seed``.

    With ``reply_decay`` a reply usually scores below its parent (as on Reddit, where a
    reply is seen only by those who read its parent): about ``parent * U(0, reply_decay)``,
    and one reply in ten scores ``parent * U(0.5, 2)`` instead (the witty reply that
    outscores a visible parent). Without it, every score is independent of the tree: a
    harder, less realistic case where a 500-point reply can sit under 0-point parents.
    """
    rng = random.Random(seed)
    comments: list[JSONDict] = []
    words = ["reddit", "thread", "digest", "agree", "source", "lol", "actually", "this"]
    for index in range(count):
        comment_id = "c" + to_base36(36**4 + index)
        parent_id: str | None
        if index == 0:
            parent_id = None
        elif index < chain_depth:
            parent_id = comments[-1]["name"]
        elif rng.random() < 0.25:
            parent_id = None
        else:
            parent_id = rng.choice(comments[-60:])["name"]
        score = int(rng.paretovariate(1.1)) - 1 - (rng.random() < 0.1) * rng.randint(1, 5)
        if reply_decay is not None and parent_id is not None:
            parent_score = max(
                next(c["score"] for c in reversed(comments) if c["name"] == parent_id), 0
            )
            witty = rng.random() < 0.1
            factor = rng.uniform(0.5, 2.0) if witty else rng.uniform(0, reply_decay)
            score = int(parent_score * factor) + min(score, 3)
        body = " ".join(rng.choice(words) for _ in range(rng.randint(3, 12)))
        comments.append(
            make_comment(
                comment_id,
                post_id=post_id,
                parent_id=parent_id,
                body=f"#{index}: {body}",
                author=f"user{rng.randint(1, count // 3 + 1)}",
                score=score,
                created_utc=base_time + index * 7.0,
                subreddit=subreddit,
            )
        )
    return comments


def _parse_maybe_python(text: str) -> Any:
    """Parse JSON, or a Python ``repr`` of JSON (some recorded files store that)."""
    try:
        return json.loads(text)
    except ValueError:
        return ast.literal_eval(text)


def _form_from_body(body: Any) -> dict[str, str]:
    if body is None:
        return {}
    if isinstance(body, str):
        return dict(parse_qsl(body, keep_blank_values=True))
    if isinstance(body, Mapping):
        return {str(k): str(v) for k, v in body.items()}
    return {str(pair[0]): str(pair[1]) for pair in body}


def normalize_morechildren_pairs(raw: Any) -> list[JSONDict]:
    """Normalize recorded morechildren data to ``[{"request_body": dict, "response": dict}]``.

    Accepts the ``*_morechildren.json`` variants in /work/shared/data: a list of
    ``{"request_method", "request_uri", "request_body", "response"}`` pairs where the
    body is a query string or a list of ``[key, value]`` pairs and the response is
    parsed JSON, a JSON string or a Python ``repr``; or one bare response object
    (``{"json": {...}}``), which has no request and only feeds the lookup pool.
    """
    if isinstance(raw, Mapping):
        return [{"request_body": None, "response": dict(raw)}]
    pairs: list[JSONDict] = []
    for item in raw:
        response = item["response"]
        if isinstance(response, str):
            response = _parse_maybe_python(response)
        body = item.get("request_body")
        pairs.append(
            {
                "request_body": _form_from_body(body) if body is not None else None,
                "response": response,
            }
        )
    return pairs


def load_morechildren_pairs(path: Path) -> list[JSONDict]:
    """Load and normalize a ``*_morechildren.json`` file."""
    return normalize_morechildren_pairs(json.loads(path.read_text(encoding="utf-8")))


def _cassette_interactions(path: Path) -> list[JSONDict]:
    cassette = json.loads(path.read_text(encoding="utf-8"))
    interactions: list[JSONDict] = cassette["interactions"]
    return interactions


def _cassette_body(interaction: JSONDict) -> Any:
    body = interaction["response"]["body"]
    text = body.get("string")
    if text is None and "base64_string" in body:
        text = base64.b64decode(body["base64_string"]).decode("utf-8")
    return json.loads(text)


def load_cassette_continue_responses(path: Path, post_id: str) -> dict[str, Any]:
    """Return ``{comment_id: body}`` for recorded ``GET /comments/{post_id}/_/{id}``."""
    found: dict[str, Any] = {}
    pattern = re.compile(rf"/comments/{re.escape(post_id)}/_/([0-9a-z]+)")
    for interaction in _cassette_interactions(path):
        request = interaction["request"]
        match = pattern.search(request["uri"])
        if (
            request["method"] == "GET"
            and match
            and interaction["response"]["status"]["code"] == 200
        ):
            found[match.group(1)] = _cassette_body(interaction)
    return found


def load_cassette_morechildren_pairs(path: Path) -> list[JSONDict]:
    """Return the normalized morechildren pairs recorded in a betamax cassette."""
    pairs: list[JSONDict] = []
    for interaction in _cassette_interactions(path):
        request = interaction["request"]
        if request["method"] == "POST" and "/api/morechildren" in request["uri"]:
            body = request.get("body") or {}
            pairs.append(
                {
                    "request_body": _form_from_body(body.get("string", "")),
                    "response": _cassette_body(interaction),
                }
            )
    return pairs


def _listing(
    children: list[JSONDict], *, after: str | None = None, before: str | None = None
) -> JSONDict:
    return {
        "kind": "Listing",
        "data": {
            "after": after,
            "dist": len(children),
            "modhash": "",
            "geo_filter": "",
            "children": children,
            "before": before,
        },
    }


BLOCK_PAGE_HTML = """<!DOCTYPE html>
<html lang="en">
  <head><meta charset="utf-8"><title>Reddit - Blocked</title></head>
  <body>
    <main>
      <h1>You've been blocked by network security.</h1>
      <p>To continue, log in to your Reddit account or use your developer token</p>
      <p>If you think you've been blocked by mistake, file a ticket below and we'll look into it.</p>
      <a href="https://www.reddit.com/login/">Log in</a>
      <a href="https://support.reddithelp.com/hc/en-us/requests/new">File a ticket</a>
    </main>
  </body>
</html>
"""
"""What www.reddit.com answers (403, text/html) to clients it refuses anonymously."""


_FEED_TITLES = {"new": "newest submissions : {sub}", "top": "top scoring links : {sub}"}


def _atom_time(created: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(created))


def atom_feed(subreddit: str, posts: Sequence[JSONDict], *, base: str, kind: str = "new") -> str:
    """An Atom feed shaped like Reddit's ``/r/{subreddit}/{kind}/.rss`` for these posts."""

    def esc(value: Any) -> str:
        text = str(value if value is not None else "")
        return (
            text.replace("&", "&amp;")
            .replace("<", "&lt;")
            .replace(">", "&gt;")
            .replace('"', "&quot;")
        )

    entries = []
    for post in posts:
        sub = str(post.get("subreddit") or subreddit)
        author = str(post.get("author") or "[deleted]")
        created = float(post.get("created_utc") or 0)
        link = f"https://www.reddit.com{post.get('permalink') or ''}"
        body = str(post.get("selftext") or "")
        content = f'<!-- SC_OFF --><div class="md"><p>{esc(body)}</p></div><!-- SC_ON -->'
        content += f' &#32; submitted by &#32; <a href="https://www.reddit.com/user/{author}"> /u/{author} </a>'
        entries.append(
            "<entry>"
            f"<author><name>/u/{esc(author)}</name>"
            f"<uri>https://www.reddit.com/user/{esc(author)}</uri></author>"
            f'<category term="{esc(sub)}" label="r/{esc(sub)}"/>'
            f'<content type="html">{esc(content)}</content>'
            f"<id>t3_{esc(post['id'])}</id>"
            f'<link href="{esc(link)}" />'
            f"<updated>{_atom_time(created)}</updated>"
            f"<published>{_atom_time(created)}</published>"
            f"<title>{esc(post.get('title'))}</title>"
            "</entry>"
        )
    updated = _atom_time(max((float(p.get("created_utc") or 0) for p in posts), default=0))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/">'
        f'<category term="{esc(subreddit)}" label="r/{esc(subreddit)}"/>'
        f"<updated>{updated}</updated>"
        "<icon>https://www.redditstatic.com/icon.png/</icon>"
        f"<id>/r/{esc(subreddit)}/{kind}/.rss</id>"
        f'<link rel="self" href="{esc(base)}/r/{esc(subreddit)}/{kind}/.rss" type="application/atom+xml" />'
        f'<link rel="alternate" href="{esc(base)}/r/{esc(subreddit)}/{kind}/" type="text/html" />'
        f"<title>{esc(_FEED_TITLES.get(kind, '{sub}').format(sub=subreddit))}</title>"
        + "".join(entries)
        + "</feed>"
    )


def _int_param(value: str | None, default: int) -> int:
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        return default


# --------------------------------------------------------------------------- records


@dataclass
class RecordedRequest:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]
    status: int = 0
    served_from: str = ""
    """``synthetic``, ``recorded``, ``assembled``, ``fault``, ``error`` or ``token``."""
    anonymous: bool = False
    """Served as www.reddit.com serves a client without a token (``.json``/``.rss``)."""
    response_body: Any = None
    """The JSON answered (asyncprawcore releases an error response before a test
    could read it, so look here instead)."""


def _header(record: RecordedRequest, name: str) -> str:
    wanted = name.lower()
    return next((v for k, v in record.headers.items() if k.lower() == wanted), "")


@dataclass
class _Fault:
    pattern: re.Pattern[str]
    status: int | None
    headers: dict[str, str]
    body: Any
    remaining: int
    delay: float
    method: str | None


@dataclass
class _Answer:
    status: int
    body: Any
    served_from: str
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None  # None: JSON, or text/html for a str body


def _sort_key(sort: str) -> Callable[[JSONDict], tuple[float, ...]]:
    """Key where smaller means "shown first" for a comment ``sort``."""
    if sort == "new":
        return lambda c: (-float(c.get("created_utc") or 0),)
    if sort == "old":
        return lambda c: (float(c.get("created_utc") or 0),)
    if sort == "controversial":
        return lambda c: (
            -float(c.get("controversiality") or 0),
            abs(float(c.get("score") or 0)),
            float(c.get("created_utc") or 0),
        )
    # confidence, top, best, q&a, live, random: by score.
    return lambda c: (-float(c.get("score") or 0), float(c.get("created_utc") or 0))


# --------------------------------------------------------------------------- threads


class _FullThread:
    """A complete comment tree; the server decides what to inline and what to stub."""

    def __init__(self, post: JSONDict, comments: Iterable[JSONDict]) -> None:
        self.post = post
        self.comments: dict[str, JSONDict] = {}
        self.children: dict[str, list[str]] = {}
        self.depth: dict[str, int] = {}
        for comment in comments:
            self.add(comment)

    @property
    def fullname(self) -> str:
        return f"t3_{self.post['id']}"

    def add(self, raw: JSONDict) -> JSONDict:
        comment = dict(raw)
        comment_id = comment["id"]
        if comment_id in self.comments:
            raise ValueError(f"duplicate comment id {comment_id!r}")
        comment.setdefault("name", f"t1_{comment_id}")
        comment.setdefault("parent_id", self.fullname)
        comment.setdefault("link_id", self.fullname)
        comment.setdefault("subreddit", self.post.get("subreddit"))
        comment.setdefault("score", 1)
        comment.setdefault("created_utc", 0.0)
        comment.setdefault("body", "")
        comment.setdefault("author", "fake_commenter")
        comment["replies"] = ""
        parent_id: str = comment["parent_id"]
        if parent_id == self.fullname:
            depth = 0
        elif parent_id.startswith("t1_") and parent_id[3:] in self.comments:
            depth = self.depth[parent_id[3:]] + 1
        else:
            raise ValueError(
                f"comment {comment_id!r}: unknown parent {parent_id!r} (add parents first)"
            )
        self.comments[comment_id] = comment
        self.depth[comment_id] = depth
        self.children.setdefault(parent_id, []).append(comment_id)
        return comment

    def _subtree_sizes(self) -> dict[str, int]:
        sizes: dict[str, int] = {}
        for comment_id in sorted(self.comments, key=lambda c: -self.depth[c]):
            sizes[comment_id] = 1 + sum(sizes[k] for k in self.children.get(f"t1_{comment_id}", []))
        return sizes

    def _select(
        self,
        roots: Sequence[str],
        *,
        limit: int,
        key: Callable[[JSONDict], tuple[float, ...]],
        depth_cap: int | None,
        base_depth: int = 0,
    ) -> set[str]:
        """Pick up to ``limit`` comments best-first, a reply becoming eligible once its
        parent is picked (Reddit's comment builder)."""
        counter = itertools.count()
        heap: list[tuple[tuple[float, ...], int, str]] = []
        for root in roots:
            heapq.heappush(heap, (key(self.comments[root]), next(counter), root))
        selected: set[str] = set()
        while heap and len(selected) < limit:
            _, _, comment_id = heapq.heappop(heap)
            if comment_id in selected:
                continue
            selected.add(comment_id)
            if depth_cap is not None and self.depth[comment_id] + 1 - base_depth >= depth_cap:
                continue
            for child in self.children.get(f"t1_{comment_id}", []):
                heapq.heappush(heap, (key(self.comments[child]), next(counter), child))
        return selected

    def _more_stub(
        self, hidden: list[str], parent_id: str, depth: int, sizes: dict[str, int]
    ) -> JSONDict:
        return {
            "kind": "more",
            "data": {
                "count": sum(sizes[h] for h in hidden),
                "name": f"t1_{hidden[0]}",
                "id": hidden[0],
                "parent_id": parent_id,
                "depth": depth,
                "children": list(hidden),
            },
        }

    @staticmethod
    def _continue_stub(parent_id: str, depth: int) -> JSONDict:
        return {
            "kind": "more",
            "data": {
                "count": 0,
                "name": "t1__",
                "id": "_",
                "parent_id": parent_id,
                "depth": depth,
                "children": [],
            },
        }

    def _render_children(
        self,
        parent_id: str,
        child_depth: int,
        selected: set[str],
        key: Callable[[JSONDict], tuple[float, ...]],
        depth_cap: int,
        sizes: dict[str, int],
        base_depth: int,
    ) -> list[JSONDict]:
        kids = sorted(self.children.get(parent_id, []), key=lambda k: key(self.comments[k]))
        out = [
            self._render_nested(k, selected, key, depth_cap, sizes, base_depth)
            for k in kids
            if k in selected
        ]
        hidden = [k for k in kids if k not in selected]
        if hidden:
            if child_depth >= depth_cap:
                out.append(self._continue_stub(parent_id, child_depth))
            else:
                out.append(self._more_stub(hidden, parent_id, child_depth, sizes))
        return out

    def _render_nested(
        self,
        comment_id: str,
        selected: set[str],
        key: Callable[[JSONDict], tuple[float, ...]],
        depth_cap: int,
        sizes: dict[str, int],
        base_depth: int,
    ) -> JSONDict:
        data = dict(self.comments[comment_id])
        depth = self.depth[comment_id] - base_depth
        data["depth"] = depth
        replies = self._render_children(
            f"t1_{comment_id}", depth + 1, selected, key, depth_cap, sizes, base_depth
        )
        data["replies"] = _listing(replies) if replies else ""
        return {"kind": "t1", "data": data}

    def _post_listing(self) -> JSONDict:
        post = dict(self.post)
        return _listing([{"kind": "t3", "data": post}])

    def page(self, *, limit: int, depth: int, sort: str) -> list[JSONDict]:
        """``GET /comments/{id}``."""
        key = _sort_key(sort)
        sizes = self._subtree_sizes()
        roots = self.children.get(self.fullname, [])
        selected = self._select(roots, limit=limit, key=key, depth_cap=depth)
        comments = self._render_children(self.fullname, 0, selected, key, depth, sizes, 0)
        return [self._post_listing(), _listing(comments)]

    def continue_page(
        self, comment_id: str, *, limit: int, depth: int, sort: str
    ) -> list[JSONDict] | None:
        """``GET /comments/{id}/_/{comment_id}``: the comment and its replies, depth
        counted from the comment."""
        if comment_id not in self.comments:
            return None
        key = _sort_key(sort)
        sizes = self._subtree_sizes()
        base = self.depth[comment_id]
        selected = self._select(
            [comment_id], limit=max(limit, 1), key=key, depth_cap=depth, base_depth=base
        )
        focal = self._render_nested(comment_id, selected, key, depth, sizes, base)
        return [self._post_listing(), _listing([focal])]

    def more_children(self, ids: Sequence[str], *, sort: str, batch: int) -> list[JSONDict]:
        """``/api/morechildren``: flat, parents before children, at most ``batch``
        comments; unreturned replies and requested ids go behind new stubs."""
        key = _sort_key(sort)
        sizes = self._subtree_sizes()
        requested = list(dict.fromkeys(i for i in ids if i in self.comments))
        selected = self._select(requested, limit=batch, key=key, depth_cap=None)
        out: list[JSONDict] = []

        def emit(comment_id: str) -> None:
            data = dict(self.comments[comment_id])
            data["depth"] = self.depth[comment_id]
            data["replies"] = ""
            out.append({"kind": "t1", "data": data})
            fullname = f"t1_{comment_id}"
            kids = sorted(self.children.get(fullname, []), key=lambda k: key(self.comments[k]))
            for kid in kids:
                if kid in selected:
                    emit(kid)
            hidden = [k for k in kids if k not in selected]
            if hidden:
                out.append(self._more_stub(hidden, fullname, self.depth[comment_id] + 1, sizes))

        def parent_selected(comment_id: str) -> bool:
            parent: str = self.comments[comment_id]["parent_id"]
            return parent.startswith("t1_") and parent[3:] in selected

        roots = sorted(
            (r for r in requested if r in selected and not parent_selected(r)),
            key=lambda r: (self.depth[r], key(self.comments[r])),
        )
        for root in roots:
            emit(root)
        leftover: dict[str, list[str]] = {}
        for comment_id in sorted(requested, key=lambda r: key(self.comments[r])):
            if comment_id not in selected and not parent_selected(comment_id):
                leftover.setdefault(self.comments[comment_id]["parent_id"], []).append(comment_id)
        for parent_id, hidden in leftover.items():
            out.append(self._more_stub(hidden, parent_id, self.depth[hidden[0]], sizes))
        return out


class _RecordedThread:
    """A thread served from recorded Reddit answers."""

    def __init__(
        self,
        raw: list[Any],
        morechildren_pairs: list[JSONDict],
        continue_responses: Mapping[str, Any],
    ) -> None:
        self.raw = raw
        self.post: JSONDict = raw[0]["data"]["children"][0]["data"]
        self.exact: dict[frozenset[str], JSONDict] = {}
        self.pool: dict[str, JSONDict] = {}
        self.pool_order: list[str] = []
        self.stubs: list[JSONDict] = []
        for pair in morechildren_pairs:
            body = pair.get("request_body")
            response: JSONDict = pair["response"]
            if body and "children" in body:
                children = frozenset(c for c in body["children"].split(",") if c)
                self.exact.setdefault(children, response)
            for thing in response.get("json", {}).get("data", {}).get("things", []):
                if thing["kind"] == "t1":
                    thing_id = thing["data"]["id"]
                    if thing_id not in self.pool:
                        self.pool[thing_id] = thing
                        self.pool_order.append(thing_id)
                elif thing["kind"] == "more":
                    self.stubs.append(thing)
        self.continue_responses = dict(continue_responses)

    def more_children(self, ids: Sequence[str]) -> tuple[JSONDict, str]:
        wanted = frozenset(ids)
        if wanted in self.exact:
            return self.exact[wanted], "recorded"
        # Assemble: the requested comments found anywhere in the recordings, plus
        # their recorded descendants, parents before children.
        returned: list[str] = []
        returned_set: set[str] = set()
        frontier = {f"t1_{i}" for i in ids if i in self.pool}
        for thing_id in self.pool_order:
            if thing_id in wanted:
                returned.append(thing_id)
                returned_set.add(thing_id)
        changed = True
        while changed:
            changed = False
            for thing_id in self.pool_order:
                if thing_id in returned_set:
                    continue
                if self.pool[thing_id]["data"].get("parent_id") in frontier:
                    returned.append(thing_id)
                    returned_set.add(thing_id)
                    frontier.add(f"t1_{thing_id}")
                    changed = True
        # Depth-first, like Reddit: each comment followed by its returned replies.
        replies: dict[str, list[str]] = {}
        roots: list[str] = []
        for thing_id in self.pool_order:
            if thing_id not in returned_set:
                continue
            parent: str = self.pool[thing_id]["data"].get("parent_id", "")
            if parent.startswith("t1_") and parent[3:] in returned_set:
                replies.setdefault(parent[3:], []).append(thing_id)
            else:
                roots.append(thing_id)
        things: list[JSONDict] = []

        def emit(thing_id: str) -> None:
            things.append(self.pool[thing_id])
            for reply in replies.get(thing_id, []):
                emit(reply)

        for root in roots:
            emit(root)
        seen_stub_children: set[str] = set()
        seen_continues: set[str] = set()
        for stub in self.stubs:
            data = stub["data"]
            parent_id = str(data.get("parent_id"))
            if parent_id not in frontier:
                continue
            children = [c for c in data.get("children", []) if c not in returned_set]
            if not children:
                if data.get("count", 0) != 0 or parent_id in seen_continues:
                    continue
                seen_continues.add(parent_id)
            if seen_stub_children.intersection(children):
                continue
            seen_stub_children.update(children)
            things.append({"kind": "more", "data": {**data, "children": children}})
        return {"json": {"errors": [], "data": {"things": things}}}, "assembled"


@dataclass
class _Subreddit:
    about: JSONDict
    state: SubredditState = "public"
    posts: dict[str, tuple[int, JSONDict]] = field(default_factory=dict)


# --------------------------------------------------------------------------- server


class FakeReddit(LocalServer):
    """An aiohttp server on ``127.0.0.1`` that answers like Reddit's OAuth API.

    :param ratelimit_budget: requests allowed per window (Reddit: 600 or 1000).
        Beyond it the server answers 429. Note asyncprawcore paces itself from the
        headers to ``budget / window`` requests per second, so with Reddit's real
        600/600 s every request after the first waits about a second; tests that make
        many requests want a large budget (``FakeReddit(ratelimit_budget=100_000)``).
    :param ratelimit_window: window length in seconds.
    :param client_id: / ``client_secret``: when given, the token endpoint checks the
        HTTP basic credentials and answers 401 otherwise (as Reddit does).
    :param username: / ``password``: when given, a ``password`` grant with other
        credentials gets ``200 {"error": "invalid_grant"}`` (as Reddit does).
    :param morechildren_batch: most comments per ``/api/morechildren`` answer.
    :param clock: wall clock for ``created_utc`` defaults and ``t=`` filters.
    :param public_ratelimit_budget: anonymous requests (``.json``/``.rss`` without a token)
        allowed per ``public_ratelimit_window`` seconds (Reddit: 100 per 600 s, i.e. 10 a
        minute); beyond it 429 with ``Retry-After``.

    Knobs for anonymous clients: ``block_json`` / ``block_feeds`` refuse every anonymous
    ``.json`` / ``.rss`` request with Reddit's HTML block page (403, ``text/html``);
    :meth:`fail_next` injects 429s and 5xx on any path (``body=BLOCK_PAGE_HTML`` for one
    block page).
    """

    def __init__(
        self,
        *,
        ratelimit_budget: int = 600,
        ratelimit_window: int = 600,
        client_id: str | None = None,
        client_secret: str | None = None,
        username: str | None = None,
        password: str | None = None,
        token_expires_in: int = 86400,
        morechildren_batch: int = MORECHILDREN_BATCH,
        default_comment_limit: int = DEFAULT_COMMENT_LIMIT,
        max_comment_limit: int = MAX_COMMENT_LIMIT,
        max_depth: int = MAX_DEPTH,
        clock: Callable[[], float] = time.time,
        public_ratelimit_budget: int = 100,
        public_ratelimit_window: int = 600,
    ) -> None:
        self.ratelimit_budget = ratelimit_budget
        self.ratelimit_window = ratelimit_window
        self.client_id = client_id
        self.client_secret = client_secret
        self.username = username
        self.password = password
        self.token_expires_in = token_expires_in
        self.morechildren_batch = morechildren_batch
        self.default_comment_limit = default_comment_limit
        self.max_comment_limit = max_comment_limit
        self.max_depth = max_depth
        self.clock = clock
        self.public_ratelimit_budget = public_ratelimit_budget
        self.public_ratelimit_window = public_ratelimit_window
        self.block_json = False
        """Refuse anonymous ``.json`` requests with the HTML block page (403)."""
        self.block_feeds = False
        """Refuse anonymous ``.rss`` requests with the HTML block page (403)."""
        self.token_failure: TokenFailure | None = None
        """Force every token request to fail: ``"unauthorized"`` answers
        ``401 {"message": "Unauthorized", "error": 401}`` (bad client credentials,
        asyncprawcore raises ``ResponseException``); ``"invalid_grant"`` answers
        ``200 {"error": "invalid_grant"}`` (bad password, ``OAuthException``)."""
        self.requests: list[RecordedRequest] = []
        self.tokens_issued = 0
        self._valid_tokens: dict[str, float] = {}
        self._threads: dict[str, _FullThread | _RecordedThread] = {}
        self._share_links: dict[str, str] = {}
        self._share_status: dict[str, int] = {}
        self._subreddits: dict[str, _Subreddit] = {}
        self._faults: list[_Fault] = []
        self._seq = itertools.count()
        self._window_start = 0.0
        self._used = 0
        self._morechildren_in_flight = 0
        self._public_window_start = 0.0
        self._public_used = 0
        self._closing = asyncio.Event()

    # ----------------------------------------------------------------- lifecycle

    shutdown_timeout = 2.0

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._handle)

    async def _started(self) -> None:
        self._closing.clear()
        self._window_start = time.monotonic()
        self._public_window_start = self._window_start

    async def _stopping(self) -> None:
        """Pending delayed answers are released at once."""
        self._closing.set()

    def reddit_kwargs(self, **overrides: Any) -> dict[str, Any]:
        """Keyword arguments for ``asyncpraw.Reddit`` pointing at this server."""
        kwargs: dict[str, Any] = {
            "client_id": self.client_id or "fake-client-id",
            "client_secret": self.client_secret or "fake-client-secret",
            "user_agent": "redigest-tests/0.1 (fake reddit)",
            "oauth_url": self.base_url,
            "reddit_url": self.base_url,
            "short_url": self.base_url,
            "check_for_updates": False,
        }
        kwargs.update(overrides)
        return kwargs

    # ----------------------------------------------------------------- registry

    def add_subreddit(
        self, name: str, *, state: SubredditState = "public", **about: Any
    ) -> JSONDict:
        """Create (or update) a subreddit; ``about`` overrides ``t5`` fields."""
        key = name.lower()
        sub = self._subreddits.get(key)
        if sub is None:
            sub = _Subreddit(about=make_subreddit_about(name))
            self._subreddits[key] = sub
        sub.about.update(about)
        sub.state = state
        sub.about["subreddit_type"] = {"private": "private", "gold_only": "gold_restricted"}.get(
            state, sub.about.get("subreddit_type", "public")
        )
        sub.about["quarantine"] = state == "quarantined"
        return sub.about

    def set_subreddit_state(self, name: str, state: SubredditState) -> None:
        """Make ``/r/{name}/...`` and its threads answer like a private (403),
        quarantined (403), gated (403), gold-only (403) or banned (404) subreddit."""
        self.add_subreddit(name, state=state)

    def _list_post(self, post: JSONDict) -> None:
        name = str(post.get("subreddit") or "test")
        key = name.lower()
        if key not in self._subreddits:
            self.add_subreddit(name)
        self._subreddits[key].posts[post["id"]] = (next(self._seq), post)

    def add_submission(self, subreddit: str, post_data: JSONDict) -> JSONDict:
        """Add a post (``t3`` data; missing fields are filled) to ``r/subreddit``.

        It shows up in the listings (first in ``new``) on the next request, and
        ``GET /comments/{id}`` serves it with no comments.
        """
        post = make_post(post_data["id"], subreddit=subreddit)
        post.update(post_data)
        post["subreddit"] = subreddit
        existing = self._threads.get(post["id"])
        if isinstance(existing, _FullThread):
            existing.post = post
        else:
            self._threads[post["id"]] = _FullThread(post, [])
        self._list_post(post)
        return post

    def add_share_link(
        self, subreddit: str, code: str, location: str | None, *, status: int = 301
    ) -> str:
        """`/r/{subreddit}/s/{code}` answers `status` (301 or 302) to `location` (None: 404),
        without asking for a token. Returns its URL as a person would paste it."""
        if location is not None:
            self._share_links[f"/r/{subreddit}/s/{code}"] = location
            self._share_status[f"/r/{subreddit}/s/{code}"] = status
        return f"https://www.reddit.com/r/{subreddit}/s/{code}"

    def add_full_thread(self, post_data: JSONDict, comments: Iterable[JSONDict]) -> str:
        """Register a complete comment tree (``t1`` data dicts with ``id`` and
        ``parent_id``, parents before children); returns the post id.

        The server decides what ``GET /comments/{id}`` inlines (``limit``, ``depth``,
        ``sort``) and serves the rest through ``more`` stubs, ``/api/morechildren``
        and ``/comments/{id}/_/{comment_id}``.
        """
        subreddit = str(post_data.get("subreddit") or "test")
        post = make_post(post_data["id"], subreddit=subreddit)
        post.update(post_data)
        thread = _FullThread(post, comments)
        if "num_comments" not in post_data:
            post["num_comments"] = len(thread.comments)
        self._threads[post["id"]] = thread
        self._list_post(post)
        return str(post["id"])

    def add_comment(self, post_id: str, comment: JSONDict) -> JSONDict:
        """Add one comment to a full thread at runtime (its parent must exist)."""
        thread = self._threads[post_id]
        if not isinstance(thread, _FullThread):
            raise TypeError("add_comment needs a thread added with add_full_thread/add_submission")
        added = thread.add(comment)
        thread.post["num_comments"] = len(thread.comments)
        return added

    def add_thread(
        self,
        raw_json_list: list[Any],
        morechildren_pairs: Any = None,
        continue_responses: Mapping[str, Any] | None = None,
    ) -> str:
        """Register a recorded thread (``[Listing t3, Listing t1|more]``).

        ``morechildren_pairs``: recorded morechildren data in any shape
        :func:`normalize_morechildren_pairs` accepts. ``continue_responses``:
        ``{comment_id: recorded body}`` for ``/comments/{id}/_/{comment_id}`` (see
        :func:`load_cassette_continue_responses`). Returns the post id.
        """
        pairs = normalize_morechildren_pairs(morechildren_pairs) if morechildren_pairs else []
        thread = _RecordedThread(raw_json_list, pairs, continue_responses or {})
        post_id = str(thread.post["id"])
        self._threads[post_id] = thread
        self._list_post(thread.post)
        return post_id

    # ----------------------------------------------------------------- faults

    def fail_next(
        self,
        path_regex: str,
        status: int | None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        times: int = 1,
        *,
        delay: float = 0.0,
        method: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Answer the next ``times`` requests whose path matches ``path_regex``
        (``re.search``) with ``status``.

        ``body`` defaults to Reddit's error body for ``status`` (``reason`` picks
        the ``private``/``quarantined``/``gated``/``gold_only``/``banned`` variant).
        A 429 gets ``Retry-After`` and an exhausted ``X-Ratelimit-*`` set unless
        ``headers`` overrides them. ``delay`` sleeps before answering (use a client
        timeout to provoke one); with ``status=None`` the request is only delayed
        and then served normally.
        """
        fault_headers = dict(headers or {})
        if status == 429:
            defaults = {
                "Retry-After": "1",
                "X-Ratelimit-Remaining": "0.0",
                "X-Ratelimit-Used": str(self.ratelimit_budget),
                "X-Ratelimit-Reset": "1",
            }
            fault_headers = {**defaults, **fault_headers}
        if body is None and status is not None and status >= 400:
            body = error_body(status, reason)
        self._faults.append(
            _Fault(
                pattern=re.compile(path_regex),
                status=status,
                headers=fault_headers,
                body=body,
                remaining=times,
                delay=delay,
                method=method.upper() if method else None,
            )
        )

    def revoke_tokens(self) -> None:
        """Invalidate every issued access token (the next API call gets a 401 with
        ``www-authenticate: ... error="invalid_token"``)."""
        self._valid_tokens.clear()

    def clear_faults(self) -> None:
        self._faults.clear()

    # ----------------------------------------------------------------- inspection

    def calls(self, path_regex: str, method: str | None = None) -> list[RecordedRequest]:
        """Recorded requests whose path matches ``path_regex`` (``re.search``)."""
        pattern = re.compile(path_regex)
        return [
            r
            for r in self.requests
            if pattern.search(r.path) and (method is None or r.method == method.upper())
        ]

    @property
    def morechildren_calls(self) -> list[RecordedRequest]:
        return self.calls(r"^/api/morechildren")

    # ----------------------------------------------------------------- plumbing

    async def _sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        for fault in self._faults:
            method_ok = fault.method is None or fault.method == method
            if fault.remaining > 0 and method_ok and fault.pattern.search(path):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _public_ratelimit(self) -> tuple[dict[str, str], bool]:
        """Anonymous clients' budget, with Reddit's lower-case header names."""
        now = time.monotonic()
        window = self.public_ratelimit_window
        elapsed = now - self._public_window_start
        if elapsed >= window:
            self._public_window_start += (elapsed // window) * window
            self._public_used = 0
        self._public_used += 1
        budget = self.public_ratelimit_budget
        over = self._public_used > budget
        remaining = max(budget - self._public_used, 0)
        reset = max(math.ceil(self._public_window_start + window - now), 1)
        headers = {
            "x-ratelimit-remaining": f"{float(remaining):.1f}",
            "x-ratelimit-used": str(min(self._public_used, budget)),
            "x-ratelimit-reset": str(reset),
        }
        return headers, over

    def _ratelimit(self) -> tuple[dict[str, str], bool]:
        now = time.monotonic()
        elapsed = now - self._window_start
        if elapsed >= self.ratelimit_window:
            self._window_start += (elapsed // self.ratelimit_window) * self.ratelimit_window
            self._used = 0
        self._used += 1
        over = self._used > self.ratelimit_budget
        remaining = max(self.ratelimit_budget - self._used, 0)
        reset = max(math.ceil(self._window_start + self.ratelimit_window - now), 1)
        headers = {
            "X-Ratelimit-Remaining": f"{float(remaining):.1f}",
            "X-Ratelimit-Used": str(min(self._used, self.ratelimit_budget)),
            "X-Ratelimit-Reset": str(reset),
        }
        return headers, over

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        form: dict[str, str] = {}
        if request.method in {"POST", "PUT", "PATCH"} and request.can_read_body:
            posted = await request.post()
            form = {k: v for k, v in posted.items() if isinstance(v, str)}
        path = unquote(request.path)
        record = RecordedRequest(
            method=request.method,
            path=path,
            query=dict(request.query),
            form=form,
            headers=dict(request.headers),
        )
        self.requests.append(record)
        if self._is_anonymous(record):
            record.anonymous = True
            answer = await self._answer_anonymous(request.method, path, record)
        else:
            answer = await self._answer(request.method, path, record)
        record.status = answer.status
        record.served_from = answer.served_from
        record.response_body = answer.body
        if answer.status in {204, 304} or answer.body is None:
            return web.Response(status=answer.status, headers=answer.headers)
        if answer.content_type is not None:
            return web.Response(
                status=answer.status,
                text=answer.body if isinstance(answer.body, str) else json.dumps(answer.body),
                content_type=answer.content_type,
                charset="UTF-8",
                headers=answer.headers,
            )
        if isinstance(answer.body, str):
            return web.Response(
                status=answer.status,
                text=answer.body,
                content_type="text/html",
                headers=answer.headers,
            )
        return web.Response(
            status=answer.status,
            text=json.dumps(answer.body),
            content_type="application/json",
            charset="UTF-8",
            headers=answer.headers,
        )

    @staticmethod
    def _is_anonymous(record: RecordedRequest) -> bool:
        """What www.reddit.com serves without a token: `.json`/`.rss` paths, no Authorization."""
        if _header(record, "Authorization"):
            return False
        path = record.path.rstrip("/")
        return path.endswith((".json", ".rss")) or bool(re.fullmatch(r"/r/[^/]+/s/[^/]+", path))

    async def _answer_anonymous(self, method: str, path: str, record: RecordedRequest) -> _Answer:
        """www.reddit.com for a client without a token: the same data, its own budget, its
        block page, share-link redirects and Atom feeds."""
        headers, over = self._public_ratelimit()
        fault = self._take_fault(method, path)
        if fault is not None:
            await self._sleep(fault.delay)
            if self._closing.is_set():
                return _Answer(503, error_body(503), "fault", headers)
            if fault.status is not None:
                return _Answer(fault.status, fault.body, "fault", {**headers, **fault.headers})
        trimmed = path.rstrip("/")
        is_feed = trimmed.endswith(".rss")
        if (is_feed and self.block_feeds) or (trimmed.endswith(".json") and self.block_json):
            return _Answer(403, BLOCK_PAGE_HTML, "blocked", {}, "text/html")
        if over:
            return _Answer(
                429,
                error_body(429),
                "error",
                {**headers, "retry-after": headers["x-ratelimit-reset"]},
            )
        if re.fullmatch(r"/r/[^/]+/s/[A-Za-z0-9]+", trimmed):
            return self._share(trimmed)
        if is_feed:
            answer = self._feed(trimmed, record.query)
        else:
            norm = trimmed.removesuffix(".json").rstrip("/") or "/"
            match = re.fullmatch(r"/by_id/([A-Za-z0-9_,]+)", norm)
            if match and method == "GET":
                answer = self._by_id(match.group(1))
            else:
                answer = await self._route(method, norm, record)
        answer.headers = {**headers, **answer.headers}
        return answer

    def _share(self, norm: str) -> _Answer:
        location = self._share_links.get(norm)
        if location is None:
            return _Answer(404, error_body(404), "error")
        return _Answer(self._share_status.get(norm, 301), None, "share", {"Location": location})

    _FEED = re.compile(r"^/r/([^/]+?)(?:/(new|hot|top))?/?\.rss$")

    def _feed(self, path: str, query: Mapping[str, str]) -> _Answer:
        match = self._FEED.match(path)
        if match is None:
            return _Answer(404, error_body(404), "error")
        name, kind = match.group(1), match.group(2) or "hot"
        answer = self._subreddit(name, kind, query)
        if answer.status != 200:
            return answer
        posts = [c["data"] for c in answer.body["data"]["children"]]
        xml = atom_feed(name, posts, base=self.base_url, kind=kind)
        return _Answer(200, xml, "synthetic", {}, "application/atom+xml")

    def _by_id(self, fullnames: str) -> _Answer:
        children: list[JSONDict] = []
        for fullname in fullnames.split(","):
            kind, _, thing_id = fullname.partition("_")
            if kind == "t3" and thing_id in self._threads:
                post = self._threads[thing_id].post
                blocked = self._blocked(post.get("subreddit"))
                if blocked is None:
                    children.append({"kind": "t3", "data": dict(post)})
        return _Answer(200, _listing(children), "synthetic")

    async def _answer(self, method: str, path: str, record: RecordedRequest) -> _Answer:
        norm = path.rstrip("/")
        norm = norm.removesuffix(".json") or "/"
        is_token = norm in {"/api/v1/access_token", "/api/v1/revoke_token"}
        rl_headers: dict[str, str] = {}
        over_budget = False
        if not is_token:
            rl_headers, over_budget = self._ratelimit()
        fault = self._take_fault(method, path)
        if fault is not None:
            await self._sleep(fault.delay)
            if self._closing.is_set():
                return _Answer(503, error_body(503), "fault", rl_headers)
            if fault.status is not None:
                headers = {**rl_headers, **fault.headers}
                return _Answer(fault.status, fault.body, "fault", headers)
        if is_token:
            return self._token(norm, record)
        if re.fullmatch(r"/r/[^/]+/s/[A-Za-z0-9]+", norm):
            # Share links live on www.reddit.com and need no token.
            return self._share(norm)
        auth = _header(record, "Authorization")
        token = auth.split(" ", 1)[1] if auth.lower().startswith("bearer ") else ""
        expiry = self._valid_tokens.get(token)
        if expiry is None or expiry < time.monotonic():
            headers = {
                **rl_headers,
                "www-authenticate": 'Bearer realm="reddit", error="invalid_token"',
            }
            return _Answer(401, error_body(401), "error", headers)
        if over_budget:
            return _Answer(
                429,
                error_body(429),
                "error",
                {**rl_headers, "Retry-After": rl_headers["X-Ratelimit-Reset"]},
            )
        answer = await self._route(method, norm, record)
        answer.headers = {**rl_headers, **answer.headers}
        return answer

    def _token(self, norm: str, record: RecordedRequest) -> _Answer:
        if norm == "/api/v1/revoke_token":
            self._valid_tokens.pop(record.form.get("token", ""), None)
            return _Answer(204, None, "token")
        if self.token_failure == "unauthorized" or not self._basic_auth_ok(record):
            return _Answer(401, error_body(401), "token")
        grant = record.form.get("grant_type", "")
        if self.token_failure == "invalid_grant":
            return _Answer(200, {"error": "invalid_grant"}, "token")
        login = (record.form.get("username"), record.form.get("password"))
        if (
            grant == "password"
            and self.username is not None
            and login != (self.username, self.password)
        ):
            return _Answer(200, {"error": "invalid_grant"}, "token")
        if grant not in {
            "client_credentials",
            "password",
            "refresh_token",
            "authorization_code",
            "https://oauth.reddit.com/grants/installed_client",
        }:
            return _Answer(200, {"error": "unsupported_grant_type"}, "token")
        self.tokens_issued += 1
        token = f"fake-token-{self.tokens_issued}"
        self._valid_tokens[token] = time.monotonic() + self.token_expires_in
        payload: JSONDict = {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": self.token_expires_in,
            "scope": "*",
        }
        if grant == "authorization_code":
            payload["refresh_token"] = f"fake-refresh-{self.tokens_issued}"
        return _Answer(200, payload, "token")

    def _basic_auth_ok(self, record: RecordedRequest) -> bool:
        if self.client_id is None:
            return True
        auth = _header(record, "Authorization")
        if not auth.lower().startswith("basic "):
            return False
        try:
            user, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.client_id and (
            self.client_secret is None or secret == self.client_secret
        )

    # ----------------------------------------------------------------- routes

    _THREAD = re.compile(r"^(?:/r/[^/]+)?/comments/([0-9a-z]+)(?:/([^/]*)(?:/([0-9a-z_]+))?)?$")
    _SUBREDDIT = re.compile(r"^/r/([^/]+)(?:/(hot|new|top|rising|controversial|about))?$")

    async def _route(self, method: str, norm: str, record: RecordedRequest) -> _Answer:
        if norm == "/api/morechildren" and method in {"GET", "POST"}:
            return await self._morechildren(record)
        if method != "GET":
            return _Answer(404, error_body(404), "error")
        match = self._THREAD.match(norm)
        if match:
            return self._thread(match.group(1), match.group(3), record.query)
        match = self._SUBREDDIT.match(norm)
        if match:
            return self._subreddit(match.group(1), match.group(2) or "hot", record.query)
        if norm == "/api/info":
            return self._info(record.query)
        return _Answer(404, error_body(404), "error")

    def _blocked(self, subreddit: str | None) -> _Answer | None:
        sub = self._subreddits.get((subreddit or "").lower())
        if sub is None or sub.state == "public":
            return None
        if sub.state == "banned":
            return _Answer(404, error_body(404, "banned"), "error")
        return _Answer(403, error_body(403, sub.state), "error")

    def _thread(self, post_id: str, comment_id: str | None, query: Mapping[str, str]) -> _Answer:
        thread = self._threads.get(post_id)
        if thread is None:
            return _Answer(404, error_body(404), "error")
        blocked = self._blocked(thread.post.get("subreddit"))
        if blocked is not None:
            return blocked
        if isinstance(thread, _RecordedThread):
            if comment_id is None:
                return _Answer(200, thread.raw, "recorded")
            recorded = thread.continue_responses.get(comment_id)
            if recorded is None:
                return _Answer(404, error_body(404), "error")
            return _Answer(200, recorded, "recorded")
        limit = _int_param(query.get("limit"), self.default_comment_limit)
        limit = max(1, min(limit, self.max_comment_limit))
        depth = max(1, min(_int_param(query.get("depth"), self.max_depth), self.max_depth))
        sort = query.get("sort") or str(thread.post.get("suggested_sort") or "confidence")
        if comment_id is None:
            return _Answer(200, thread.page(limit=limit, depth=depth, sort=sort), "synthetic")
        page = thread.continue_page(comment_id, limit=limit, depth=depth, sort=sort)
        if page is None:
            return _Answer(404, error_body(404), "error")
        return _Answer(200, page, "synthetic")

    async def _morechildren(self, record: RecordedRequest) -> _Answer:
        params = {**record.query, **record.form}
        link_id = params.get("link_id", "")
        thread = self._threads.get(link_id.removeprefix("t3_"))
        if thread is None:
            return _Answer(200, {"json": {"errors": [], "data": {"things": []}}}, "error")
        if self._morechildren_in_flight:
            # Reddit allows one morechildren request at a time per client.
            return _Answer(429, error_body(429), "error")
        self._morechildren_in_flight += 1
        try:
            await asyncio.sleep(0)
            ids = [c for c in params.get("children", "").split(",") if c]
            if isinstance(thread, _RecordedThread):
                body, source = thread.more_children(ids)
                return _Answer(200, body, source)
            things = thread.more_children(
                ids, sort=params.get("sort") or "confidence", batch=self.morechildren_batch
            )
            return _Answer(200, {"json": {"errors": [], "data": {"things": things}}}, "synthetic")
        finally:
            self._morechildren_in_flight -= 1

    def _sorted_posts(self, sub: _Subreddit, sort: str, time_filter: str) -> list[JSONDict]:
        entries = list(sub.posts.values())
        if sort in {"top", "controversial"}:
            span = _TIME_FILTERS.get(time_filter)
            if span is not None:
                cutoff = self.clock() - span
                entries = [e for e in entries if float(e[1].get("created_utc") or 0) >= cutoff]
        if sort == "top":
            entries.sort(key=lambda e: (-float(e[1].get("score") or 0), -e[0]))
        elif sort == "controversial":
            entries.sort(key=lambda e: (float(e[1].get("upvote_ratio") or 1.0), -e[0]))
        elif sort == "hot":

            def hot(post: JSONDict) -> float:
                score = float(post.get("score") or 0)
                order = math.log10(max(abs(score), 1))
                sign = (score > 0) - (score < 0)
                return sign * order + (float(post.get("created_utc") or 0) - _REDDIT_EPOCH) / 45000

            entries.sort(key=lambda e: (not e[1].get("stickied"), -hot(e[1]), -e[0]))
        else:  # new, rising
            entries.sort(key=lambda e: (-float(e[1].get("created_utc") or 0), -e[0]))
        return [post for _, post in entries]

    def _subreddit(self, name: str, what: str, query: Mapping[str, str]) -> _Answer:
        if "+" in name and what != "about":
            return self._multi(name.split("+"), what, query)
        blocked = self._blocked(name)
        if blocked is not None:
            return blocked
        sub = self._subreddits.get(name.lower())
        if sub is None:
            if what == "about":
                return _Answer(404, error_body(404), "error")
            # Reddit redirects unknown subreddits to the search page.
            location = f"/subreddits/search.json?q={name}"
            return _Answer(302, {"message": "Found", "error": 302}, "error", {"Location": location})
        if what == "about":
            return _Answer(200, {"kind": "t5", "data": sub.about}, "synthetic")
        return self._listing_page(sub, what, query)

    def _multi(self, names: list[str], what: str, query: Mapping[str, str]) -> _Answer:
        """`/r/a+b+c/{sort}`: the named subreddits' posts merged (unknown names are skipped;
        a private, quarantined, gated or banned one refuses the whole listing)."""
        merged = _Subreddit(about=make_subreddit_about("+".join(names)))
        known = False
        for name in names:
            blocked = self._blocked(name)
            if blocked is not None:
                return blocked
            sub = self._subreddits.get(name.lower())
            if sub is not None:
                known = True
                merged.posts.update(sub.posts)
        if not known:
            location = f"/subreddits/search.json?q={'+'.join(names)}"
            return _Answer(302, {"message": "Found", "error": 302}, "error", {"Location": location})
        return self._listing_page(merged, what, query)

    def _listing_page(self, sub: _Subreddit, what: str, query: Mapping[str, str]) -> _Answer:
        limit = max(
            1, min(_int_param(query.get("limit"), LISTING_DEFAULT_LIMIT), LISTING_MAX_LIMIT)
        )
        posts = self._sorted_posts(sub, what, query.get("t", "day"))
        names = [p["name"] for p in posts]
        after, before = query.get("after"), query.get("before")
        if after:
            if after not in names:
                return _Answer(200, _listing([]), "synthetic")
            start = names.index(after) + 1
            end = start + limit
        elif before:
            if before not in names:
                return _Answer(200, _listing([]), "synthetic")
            end = names.index(before)
            start = max(0, end - limit)
        else:
            start, end = 0, limit
        page = posts[start:end]
        children = [{"kind": "t3", "data": dict(p)} for p in page]
        next_after = page[-1]["name"] if page and end < len(posts) else None
        prev_before = page[0]["name"] if page and start > 0 else None
        return _Answer(200, _listing(children, after=next_after, before=prev_before), "synthetic")

    def _info(self, query: Mapping[str, str]) -> _Answer:
        children: list[JSONDict] = []
        for fullname in query.get("id", "").split(","):
            kind, _, thing_id = fullname.partition("_")
            if kind == "t3" and thing_id in self._threads:
                children.append({"kind": "t3", "data": dict(self._threads[thing_id].post)})
            elif kind == "t1":
                for thread in self._threads.values():
                    if isinstance(thread, _FullThread) and thing_id in thread.comments:
                        data = dict(thread.comments[thing_id])
                        children.append({"kind": "t1", "data": data})
                        break
                    if isinstance(thread, _RecordedThread) and thing_id in thread.pool:
                        children.append(thread.pool[thing_id])
                        break
            elif kind == "t5":
                for sub in self._subreddits.values():
                    if sub.about.get("name") == fullname:
                        children.append({"kind": "t5", "data": dict(sub.about)})
        return _Answer(200, _listing(children), "synthetic")


__all__ = [
    "BLOCK_PAGE_HTML",
    "DEFAULT_COMMENT_LIMIT",
    "MAX_COMMENT_LIMIT",
    "MAX_DEPTH",
    "MORECHILDREN_BATCH",
    "FakeReddit",
    "RecordedRequest",
    "SubredditState",
    "TokenFailure",
    "atom_feed",
    "error_body",
    "generate_comment_tree",
    "load_cassette_continue_responses",
    "load_cassette_morechildren_pairs",
    "load_morechildren_pairs",
    "make_comment",
    "make_post",
    "make_subreddit_about",
    "normalize_morechildren_pairs",
    "to_base36",
]
