"""A fake Hacker News: the official (Firebase) API and Algolia's items endpoint, on 127.0.0.1.

    async with FakeHN() as fake:
        fake.add_items(items)                  # Firebase-shaped items (story, comments…)
        fake.lists["top"] = [story_id, …]
        HnConfig(api_url=fake.api_url, search_url=fake.search_url)

Served, shaped as the real APIs answer:

* ``GET /v0/item/{id}.json``: the item, or JSON ``null`` for an unknown id (as Firebase does).
* ``GET /v0/{top,best,new,ask,show}stories.json``: the list of ids.
* ``GET /algolia/items/{id}``: Algolia's tree — the item with ``children`` nested, ``points``
  null for comments, ``created_at``/``created_at_i``, ``parent_id``/``story_id``, ``options``;
  a deleted comment as a node with ``author`` and ``text`` null; dead comments left out
  (as Algolia does); 404 ``{"error":"Not found"}`` for an unknown id. Children come in id
  (time) order, not in HN's rank order: HN's rank is only in the official items' ``kids``.

Knobs: ``latency`` (seconds every answer waits: a realistic round trip for benchmarks),
``algolia_down`` (every Algolia answer is a 503), ``requests`` (every path asked, in order) and
``peak_in_flight``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.fakes.local_server import LocalServer

JSONDict = dict[str, Any]


class FakeHN(LocalServer):
    def __init__(self, *, latency: float = 0.0) -> None:
        self.items: dict[int, JSONDict] = {}
        self.lists: dict[str, list[int]] = {k: [] for k in ("top", "best", "new", "ask", "show")}
        self.latency = latency
        self.algolia_down = False
        self.requests: list[str] = []
        self.peak_in_flight = 0
        self._in_flight = 0

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/v0"

    @property
    def search_url(self) -> str:
        return f"{self.base_url}/algolia"

    def add_items(self, items: Iterable[Mapping[str, Any]]) -> None:
        for item in items:
            self.items[int(item["id"])] = dict(item)

    def firebase_requests(self) -> int:
        return sum(1 for p in self.requests if p.startswith("/v0/"))

    def algolia_requests(self) -> int:
        return sum(1 for p in self.requests if p.startswith("/algolia/"))

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_get("/v0/item/{id}.json", self._item)
        app.router.add_get("/v0/{kind}stories.json", self._list)
        app.router.add_get("/algolia/items/{id}", self._algolia)
        app.router.add_get("/algolia/search", self._search)

    async def _enter(self, request: web.Request) -> None:
        self.requests.append(request.path)
        self._in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
        if self.latency:
            await asyncio.sleep(self.latency)

    async def _item(self, request: web.Request) -> web.Response:
        await self._enter(request)
        try:
            item = self.items.get(int(request.match_info["id"]))
            return web.json_response(item)  # None → null, as Firebase answers
        finally:
            self._in_flight -= 1

    async def _list(self, request: web.Request) -> web.Response:
        await self._enter(request)
        try:
            kind = request.match_info["kind"]
            if kind not in self.lists:
                return web.json_response({"error": "Permission denied"}, status=401)
            return web.json_response(self.lists[kind])
        finally:
            self._in_flight -= 1

    async def _algolia(self, request: web.Request) -> web.Response:
        await self._enter(request)
        try:
            if self.algolia_down:
                return web.json_response({"error": "unavailable"}, status=503)
            item = self.items.get(int(request.match_info["id"]))
            if item is None or item.get("dead"):
                return web.json_response({"error": "Not found"}, status=404)
            return web.Response(
                text=json.dumps(self.algolia_tree(item)), content_type="application/json"
            )
        finally:
            self._in_flight -= 1

    async def _search(self, request: web.Request) -> web.Response:
        """Algolia's `search` as the listing asks it: `tags=story`, `numericFilters=
        created_at_i>T`, `hitsPerPage`; hits by points, most first (its ranking for an empty
        query), each with `objectID`, `points`, `created_at_i`."""
        await self._enter(request)
        try:
            if self.algolia_down:
                return web.json_response({"error": "unavailable"}, status=503)
            q = request.query
            since = int(q.get("numericFilters", "created_at_i>0").split(">", 1)[1])
            stories = [
                i
                for i in self.items.values()
                if i.get("type") == "story" and not i.get("dead") and not i.get("deleted")
                if int(i.get("time", 0)) > since
            ]
            stories.sort(key=lambda i: -int(i.get("score", 0)))
            hits = [
                {"objectID": str(i["id"]), "points": i.get("score", 0), "created_at_i": i["time"]}
                for i in stories[: int(q.get("hitsPerPage", "20"))]
            ]
            return web.json_response({"hits": hits, "nbHits": len(stories)})
        finally:
            self._in_flight -= 1

    def _story_of(self, item: Mapping[str, Any]) -> int:
        seen = 0
        while item.get("type") == "comment" and seen < 10_000:
            item = self.items[int(item["parent"])]
            seen += 1
        return int(item["id"])

    def algolia_tree(self, root: Mapping[str, Any]) -> JSONDict:
        """Algolia's nested shape of `root` and everything under it (built iteratively)."""
        story_id = self._story_of(root)
        top = self._node(root, story_id)
        stack = [(top, root)]
        while stack:
            node, item = stack.pop()
            for kid in sorted(item.get("kids") or ()):
                child = self.items.get(int(kid))
                if child is None or child.get("dead"):
                    continue
                child_node = self._node(child, story_id)
                node["children"].append(child_node)
                stack.append((child_node, child))
        return top

    @staticmethod
    def _node(item: Mapping[str, Any], story_id: int) -> JSONDict:
        when = int(item.get("time") or 0)
        deleted = bool(item.get("deleted"))
        is_comment = item.get("type") == "comment"
        return {
            "id": int(item["id"]),
            "created_at": datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "created_at_i": when,
            "type": item.get("type"),
            "author": None if deleted else item.get("by"),
            "title": item.get("title"),
            "url": item.get("url"),
            "text": None if deleted else item.get("text"),
            "points": None if is_comment else item.get("score"),
            "parent_id": item.get("parent"),
            "story_id": story_id,
            "options": [],
            "children": [],
        }


def synthetic_story(
    story_id: int,
    comments: int,
    *,
    fanout: int = 4,
    by: str = "storyteller",
    seed: int = 0,
    base: int = 1_700_000_000,
) -> list[JSONDict]:
    """A SYNTHETIC story with `comments` comments (not recorded data): HN-shaped items whose
    text is HTML as HN writes it, every seventh comment a reply chain, a few deleted and dead."""
    import random

    rng = random.Random(seed)
    topics = ["SQLite", "Postgres", "Rust", "backups", "latency", "the licence", "pricing"]
    items: list[JSONDict] = []
    story: JSONDict = {
        "id": story_id, "type": "story", "by": by, "time": base, "score": 512,
        "title": f"Show HN: A synthetic story with {comments} comments",
        "url": "https://example.com/launch", "kids": [], "descendants": 0,
    }  # fmt: skip
    items.append(story)
    parents: list[JSONDict] = [story]
    for n in range(comments):
        parent = story if n < fanout * 8 or rng.random() < 0.25 else rng.choice(parents[1:])
        cid = story_id + 1 + n
        topic = rng.choice(topics)
        text = (
            f"I&#x27;ve used {topic} for years.<p>Comment {n}: it works well for us, see "
            f'<a href="https://example.com/notes/{n}" rel="nofollow">https://example.com/notes/{n}</a>'
            f" and <i>measure</i> before you switch.<p>What about {topic} at scale?"
        )
        comment: JSONDict = {
            "id": cid, "type": "comment", "by": f"user{rng.randrange(200)}",
            "time": base + 60 * (n + 1), "parent": parent["id"], "text": text,
        }  # fmt: skip
        if n % 53 == 7:
            comment = {"id": cid, "type": "comment", "deleted": True, "time": comment["time"],
                       "parent": parent["id"]}  # fmt: skip
        elif n % 61 == 11:
            comment["dead"] = True
        parent.setdefault("kids", []).append(cid)
        items.append(comment)
        parents.append(comment)
    story["descendants"] = sum(1 for i in items[1:] if not i.get("dead"))
    return items
