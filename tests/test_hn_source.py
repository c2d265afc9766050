"""The HN source on its own: HTML → text, dead and deleted items, references, routing, lists,
watch re-checks and new stories, and the base URLs taken from the settings (no network)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from adapters.hn_source import HnConfig, HnSource
from adapters.hn_source.items import comment_from_item, post_from_item
from adapters.hn_source.text import html_to_text
from bot.ports import (
    InvalidSubreddit,
    InvalidThreadUrl,
    ListingSort,
    ThreadNotFound,
    ThreadRef,
    TopPeriod,
)
from bot.routing import RoutedSource, hn_list, place_name
from bot.settings import Settings
from bot.thread_ref import find_thread_urls, parse_thread_text
from digest.model import ContentState
from digest.report import Depth
from tests.fakes.hn_server import FakeHN, synthetic_story


def _config(fake: FakeHN, **kw: Any) -> HnConfig:
    return HnConfig(api_url=fake.api_url, search_url=fake.search_url, **kw)


# -- HTML -----------------------------------------------------------------------------------


def test_hn_html_becomes_text_with_its_links() -> None:
    html = (
        "It&#x27;s &quot;fine&quot; &gt; ok.<p>See "
        '<a href="https:&#x2F;&#x2F;example.com&#x2F;a&#x2F;very&#x2F;long&#x2F;path" '
        'rel="nofollow">https:&#x2F;&#x2F;example.com&#x2F;a&#x2F;very...</a> and '
        '<a href="https://example.org/x">the docs</a>, <i>really</i>.'
        "<p><pre><code>  x = 1 &lt; 2\n  y = 3\n</code></pre>"
        '<p><a href="javascript:alert(1)">click</a>'
    )
    assert html_to_text(html) == (
        'It\'s "fine" > ok.\n\n'
        "See https://example.com/a/very/long/path and [the docs](https://example.org/x), "
        "*really*.\n\n"
        "```\n  x = 1 < 2\n  y = 3\n```\n\n"
        "click"
    )
    assert html_to_text(None) == ""
    assert html_to_text("") == ""


# -- dead and deleted -------------------------------------------------------------------------


def test_deleted_and_dead_comments_are_like_reddits_deleted_and_removed() -> None:
    deleted = comment_from_item(
        {"id": 2, "type": "comment", "deleted": True, "parent": 1, "time": 1}, 1, 1, "op"
    )
    dead = comment_from_item(
        {"id": 3, "type": "comment", "dead": True, "by": "x", "text": "[flagged] spam",
         "parent": 2, "time": 2},
        1, 2, "op",
    )  # fmt: skip
    alive = comment_from_item(
        {"id": 4, "type": "comment", "by": "op", "text": "hi", "parent": 1, "time": 3}, 1, 1, "op"
    )
    assert (deleted.state, deleted.author, deleted.body) == (ContentState.DELETED, None, "")
    assert (dead.state, dead.author, dead.body) == (ContentState.REMOVED, None, "")
    assert dead.parent_id == "2"
    assert alive.parent_id is None
    assert alive.is_submitter
    assert alive.score == 0
    assert alive.score_hidden
    post = post_from_item({"id": 1, "type": "story", "title": "Ask HN: x?", "by": "op",
                           "time": 5, "score": 7, "descendants": 3, "text": "<p>why</p>"})  # fmt: skip
    assert (post.id, post.is_self, post.url, post.num_comments) == (
        "hn:1",
        True,
        "https://news.ycombinator.com/item?id=1",
        3,
    )


async def test_dead_and_deleted_through_both_apis() -> None:
    items = [
        {"id": 1, "type": "story", "by": "op", "title": "T", "time": 1, "score": 3,
         "kids": [2, 3, 4], "descendants": 3},
        {"id": 2, "type": "comment", "deleted": True, "parent": 1, "time": 2},
        {"id": 3, "type": "comment", "dead": True, "by": "spam", "text": "buy", "parent": 1,
         "time": 3},
        {"id": 4, "type": "comment", "by": "a", "text": "real", "parent": 1, "time": 4},
    ]  # fmt: skip
    async with FakeHN() as fake:
        fake.add_items(items)
        async with HnSource(_config(fake)) as source:
            algolia = await source.fetch_thread(ThreadRef("hn:1"), Depth.BRIEF)
            fake.algolia_down = True
            official = await source.fetch_thread(ThreadRef("hn:1"), Depth.BRIEF)
    # Algolia keeps the deleted comment as an empty node and leaves the dead one out.
    assert [(c.id, c.state) for c in algolia.comments] == [
        ("2", ContentState.DELETED), ("4", ContentState.PRESENT)
    ]  # fmt: skip
    assert [(c.id, c.state) for c in official.comments] == [
        ("2", ContentState.DELETED), ("3", ContentState.REMOVED), ("4", ContentState.PRESENT)
    ]  # fmt: skip
    assert all(not c.body for c in official.comments if c.state is not ContentState.PRESENT)


# -- references and routing -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "https://news.ycombinator.com/item?id=8863",
        "news.ycombinator.com/item?id=8863",
        "http://news.ycombinator.com/item?id=8863&p=2",
        "<https://news.ycombinator.com/item?id=8863>",
        "hn:8863",
        "HN:8863",
    ],
)
def test_hn_references(text: str) -> None:
    assert parse_thread_text(text) == ThreadRef("hn:8863")


@pytest.mark.parametrize(
    "text", ["https://news.ycombinator.com/news", "https://news.ycombinator.com/item?id=x", "hn:"]
)
def test_not_hn_discussions(text: str) -> None:
    with pytest.raises(InvalidThreadUrl):
        parse_thread_text(text)


def test_hn_links_are_found_in_messages() -> None:
    text = "see https://news.ycombinator.com/item?id=42, and reddit.com/comments/abc123/x"
    assert find_thread_urls(text) == [
        "https://news.ycombinator.com/item?id=42",
        "reddit.com/comments/abc123/x",
    ]


def test_hn_list_names() -> None:
    assert [hn_list(n) for n in ("hn", "HN:Best", "hn:show")] == ["hn:top", "hn:best", "hn:show"]
    with pytest.raises(InvalidSubreddit):
        hn_list("hn:jobs")
    assert [place_name(n) for n in ("hn:top", "hn:ask", "hn", "selfhosted")] == [
        "Hacker News", "Ask HN", "Hacker News", "r/selfhosted"
    ]  # fmt: skip


class _Reddit:
    """A Reddit stand-in that records what it was asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def resolve(self, text: str) -> ThreadRef:
        self.asked.append(f"resolve {text}")
        return ThreadRef("abc123")

    async def fetch_thread(self, ref: ThreadRef, depth: Depth) -> Any:
        self.asked.append(f"fetch {ref.post_id}")
        return None

    async def listing(self, subreddit: str, sort: ListingSort, **kw: Any) -> list[Any]:
        self.asked.append(f"listing {subreddit}")
        return []

    async def posts(self, post_ids: Any) -> list[Any]:
        self.asked.append(f"posts {','.join(post_ids)}")
        return []

    def stream(self, subreddits: Any) -> Any:
        raise AssertionError("not Reddit's")

    def quota(self) -> Any:
        return None


async def test_the_routed_source_sends_hn_to_hn_and_the_rest_to_reddit() -> None:
    async with FakeHN() as fake:
        fake.add_items(synthetic_story(100, 5))
        fake.lists["best"] = [100]
        reddit = _Reddit()
        async with HnSource(_config(fake)) as hn:
            routed = RoutedSource(reddit, hn)
            assert await routed.resolve("hn:100") == ThreadRef("hn:100")
            assert await routed.resolve("https://redd.it/abc123") == ThreadRef("abc123")
            thread = await routed.fetch_thread(ThreadRef("hn:100"), Depth.BRIEF)
            await routed.fetch_thread(ThreadRef("abc123"), Depth.BRIEF)
            listed = await routed.listing("hn:best", ListingSort.TOP, period=TopPeriod.ALL)
            await routed.listing("selfhosted", ListingSort.TOP)
            posts = await routed.posts(["hn:100", "abc123"])
    assert thread.post.id == "hn:100"
    assert len(thread.comments) == 5
    assert [p.id for p in listed] == ["hn:100"]
    assert [p.id for p in posts] == ["hn:100"]
    assert reddit.asked == [
        "resolve https://redd.it/abc123", "fetch abc123", "listing selfhosted", "posts abc123"
    ]  # fmt: skip


# -- the HN source's other parts ---------------------------------------------------------------


async def test_a_comment_link_opens_its_story_focused_on_the_comment() -> None:
    async with FakeHN() as fake:
        items = synthetic_story(300, 50)
        fake.add_items(items)
        comment = next(i for i in items[40:] if i["parent"] != 300 and not i.get("deleted"))
        async with HnSource(_config(fake)) as source:
            via_algolia = await source.fetch_thread(ThreadRef(f"hn:{comment['id']}"), Depth.BRIEF)
            fake.algolia_down = True
            via_api = await source.fetch_thread(ThreadRef(f"hn:{comment['id']}"), Depth.BRIEF)
    for thread in (via_algolia, via_api):
        assert thread.post.id == "hn:300"
        assert thread.focus_comment_id == str(comment["id"])


async def test_an_unknown_item_is_not_found() -> None:
    async with FakeHN() as fake, HnSource(_config(fake)) as source:
        with pytest.raises(ThreadNotFound, match="no item 999"):
            await source.fetch_thread(ThreadRef("hn:999"), Depth.BRIEF)
    assert fake.requests == ["/algolia/items/999", "/v0/item/999.json"]


async def test_the_official_api_is_asked_concurrently_and_bounded() -> None:
    async with FakeHN(latency=0.02) as fake:
        fake.add_items(synthetic_story(500, 120))
        fake.algolia_down = True
        async with HnSource(_config(fake, in_flight=8, deep_requests=60)) as source:
            thread = await source.fetch_thread(ThreadRef("hn:500"), Depth.DEEP)
    assert fake.firebase_requests() == 60
    assert len(thread.comments) == 59
    assert fake.peak_in_flight == 8  # never more than the bound, and the bound was reached
    assert thread.extra["requests"] == "60"
    assert sum(m.count for m in thread.more) > 0  # what the budget left is named, not lost


async def test_new_stories_stream_skips_what_existed() -> None:
    slept: list[float] = []
    async with FakeHN() as fake:
        for sid in (1000, 2000, 3000):
            fake.add_items(synthetic_story(sid, 1))
        fake.lists["new"] = [1000]

        async def sleep(seconds: float) -> None:
            slept.append(seconds)
            fake.lists["new"] = [3000, 2000, 1000]
            await asyncio.sleep(0)

        async with HnSource(_config(fake), sleep=sleep) as source:
            stream = source.stream(["hn"])
            got = [await anext(stream), await anext(stream)]
            await stream.aclose()  # type: ignore[attr-defined]
    assert [p.id for p in got] == ["hn:2000", "hn:3000"]  # oldest first
    assert all(p.subreddit == "hn" for p in got)
    assert slept == [60.0]


def test_the_base_urls_and_budgets_come_from_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REDIGEST_HN_API_URL", "http://proxy.local/hn/v0/")
    monkeypatch.setenv("REDIGEST_HN_SEARCH_URL", "")
    monkeypatch.setenv("REDIGEST_HN_DEEP_REQUESTS", "250")
    config = HnConfig.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]
    assert config.api_url == "http://proxy.local/hn/v0"
    assert config.search_url is None  # Algolia off: the official API only
    assert config.budget(Depth.DEEP) == 250
    defaults = HnConfig.from_settings(
        Settings.model_construct(**{k: v.default for k, v in Settings.model_fields.items()})
    )
    assert defaults.api_url == "https://hacker-news.firebaseio.com/v0"
    assert defaults.search_url == "https://hn.algolia.com/api/v1"


async def test_algolia_off_uses_only_the_official_api() -> None:
    async with FakeHN() as fake:
        fake.add_items(synthetic_story(600, 10))
        async with HnSource(HnConfig(api_url=fake.api_url, search_url=None)) as source:
            thread = await source.fetch_thread(ThreadRef("hn:600"), Depth.BRIEF)
    assert fake.algolia_requests() == 0
    assert len(thread.comments) == 10


async def test_top_level_comments_come_in_hns_rank_order_with_algolias_tree() -> None:
    items = synthetic_story(700, 40, seed=2)
    story = items[0]
    story["kids"] = list(reversed(story["kids"]))  # HN's rank: not the order of the ids
    async with FakeHN() as fake:
        fake.add_items(items)
        async with HnSource(_config(fake)) as source:
            thread = await source.fetch_thread(ThreadRef("hn:700"), Depth.BRIEF)
    top = [int(c.id) for c in thread.comments if c.parent_id is None]
    ranked = [k for k in story["kids"] if not fake.items[k].get("dead")]
    assert top == ranked
    assert thread.extra == {"fetched_via": "algolia", "requests": "2"}
    assert thread.post.num_comments == story["descendants"]  # HN's own count


# -- a period's top stories ---------------------------------------------------------------------


def _story(sid: int, hours_ago: float, points: int, now: int) -> dict[str, Any]:
    [story] = synthetic_story(sid, 0)
    return {**story, "time": int(now - hours_ago * 3600), "score": points}


@pytest.mark.parametrize("algolia", [True, False])
async def test_top_daily_and_weekly_are_the_periods_most_pointed_stories(algolia: bool) -> None:
    """The subscription "hn top 3 weekly" is the week's best stories, not today's front page: HN's top list is
    ranked with time decay (here a fresh 40-point story leads it), so the period is asked of
    Algolia's search (or, without it, the list is kept to the period) and ranked by points."""
    now = 1_800_000_000
    stories = [
        _story(1, 2, 40, now),  # today, few points, first on the front page
        _story(2, 20, 300, now),  # today
        _story(3, 30, 900, now),  # yesterday
        _story(4, 100, 700, now),  # four days ago
        _story(5, 24 * 10, 5000, now),  # ten days ago
    ]
    async with FakeHN() as fake:
        fake.add_items(stories)
        fake.lists["top"] = [1, 2, 3, 4, 5]
        fake.algolia_down = not algolia
        async with HnSource(_config(fake), clock=lambda: float(now)) as source:
            daily = await source.listing("hn", ListingSort.TOP, period=TopPeriod.DAY, limit=3)
            weekly = await source.listing("hn", ListingSort.TOP, period=TopPeriod.WEEK, limit=3)
            ever = await source.listing("hn", ListingSort.TOP, period=TopPeriod.ALL, limit=3)
            new = await source.listing("hn:new", ListingSort.TOP, period=TopPeriod.DAY, limit=3)
        searched = [p for p in fake.requests if p.startswith("/algolia/search")]
    assert [p.id for p in daily] == ["hn:2", "hn:1"]
    assert [p.id for p in weekly] == ["hn:3", "hn:4", "hn:2"]
    assert [p.id for p in ever] == ["hn:1", "hn:2", "hn:3"]  # "all": HN's own list
    assert new == []  # new stories are HN's own order whatever the period (an empty list here)
    assert len(searched) == 2  # the day and the week (answered 503 when down); never "all" or "new"
