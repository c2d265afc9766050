"""The fake HN API against what the real one answers: HN's own recorded items (tests/data/hn,
from the API's documentation) served back verbatim, Firebase's null for an unknown item, the
story lists, and Algolia's tree shape — read by our client into the same thread both ways."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp

from adapters.hn_source import HnConfig, HnSource
from adapters.hn_source.items import post_from_item
from bot.ports import ListingSort, ThreadRef, TopPeriod
from digest.model import ContentState
from digest.report import Depth
from tests.fakes.hn_server import FakeHN, synthetic_story

RECORDED = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "hn" / "firebase_items.json").read_text()
)


async def _get(url: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.json(content_type=None)


async def test_recorded_items_are_served_verbatim_and_unknown_ones_as_null() -> None:
    async with FakeHN() as fake:
        fake.add_items(RECORDED)
        for item in RECORDED:
            assert await _get(f"{fake.api_url}/item/{item['id']}.json") == (200, item)
        assert await _get(f"{fake.api_url}/item/1.json") == (200, None)
        fake.lists["top"] = [8863, 121003]
        assert await _get(f"{fake.api_url}/topstories.json") == (200, [8863, 121003])


async def test_recorded_items_read_into_posts() -> None:
    by_id = {i["id"]: i for i in RECORDED}
    story = post_from_item(by_id[8863])
    assert (story.id, story.score, story.num_comments, story.domain, story.is_self) == (
        "hn:8863", 111, 71, "getdropbox.com", False
    )  # fmt: skip
    ask = post_from_item(by_id[121003])
    assert ask.is_self
    assert ask.body.startswith("*or* HN: the Next Iteration\n\nI get the impression")
    job = post_from_item(by_id[192327])
    assert job.is_self  # HN sends url "" for a job without one
    assert "```\n    * Contribute to product design" in job.body
    assert "http://www.justin.tv/problems/bml" in job.body


async def test_the_algolia_tree_has_algolias_shape() -> None:
    async with FakeHN() as fake:
        fake.add_items(RECORDED)
        status, tree = await _get(f"{fake.search_url}/items/121003")
        assert status == 200
        assert {k: tree[k] for k in ("id", "type", "author", "points", "story_id", "children")} == {
            "id": 121003, "type": "story", "author": "tel", "points": 25, "story_id": 121003,
            "children": [],  # its comments are not recorded
        }  # fmt: skip
        assert tree["created_at"] == "2008-02-22T02:33:40.000Z"
        assert tree["created_at_i"] == 1203647620
        assert (await _get(f"{fake.search_url}/items/1"))[0] == 404


async def test_both_apis_give_the_same_thread() -> None:
    """A SYNTHETIC story read through Algolia and through the official API (whole budget):
    the same comments, parents, authors and text; the official API also has the dead ones."""
    async with FakeHN() as fake:
        fake.add_items(synthetic_story(100, 150, seed=9))
        config = HnConfig(api_url=fake.api_url, search_url=fake.search_url, brief_requests=1000)
        async with HnSource(config) as source:
            algolia = await source.fetch_thread(ThreadRef("hn:100"), Depth.BRIEF)
            fake.algolia_down = True
            official = await source.fetch_thread(ThreadRef("hn:100"), Depth.BRIEF)
            fake.lists["top"] = [100]
            listed = await source.listing("hn", ListingSort.TOP, period=TopPeriod.ALL)
    assert official.extra["fetched_via"] == "firebase"
    assert algolia.extra["fetched_via"] == "algolia"
    alive = {c.id: c for c in official.comments if c.state is not ContentState.REMOVED}
    dead_ids = {c.id for c in official.comments if c.state is ContentState.REMOVED}

    def shape(cs: Any) -> set[tuple[str, str | None, str | None, str, int]]:
        return {(c.id, c.parent_id, c.author, c.body, c.depth) for c in cs}

    kept = [c for c in alive.values() if not ({a.id for a in official.ancestors(c.id)} & dead_ids)]
    assert shape(algolia.comments) == shape(kept)
    # The same post; Algolia's count leaves out the dead comments (and what hangs under them).
    assert algolia.post == replace(official.post, num_comments=len(algolia.comments))
    assert official.post.num_comments == len(official.comments) - len(dead_ids)
    assert [p.id for p in listed] == ["hn:100"]
