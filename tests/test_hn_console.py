"""Hacker News in the console: /digest by link and by hn:N, a 500+ comment story within its
request budget (the official API, Algolia down), and /subscribe hn … + :run 1 — the real core,
the real HN source, against the fake HN API (no network)."""

from __future__ import annotations

import io
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.hn_source.items import count_algolia
from bot.cli import _console
from bot.settings import load_settings
from digest.source import HACKER_NEWS, foreign_words
from tests.fakes.hn_server import FakeHN, synthetic_story

EXAMPLE = Path(__file__).resolve().parents[1] / "examples"


async def _lines(*lines: str) -> AsyncIterator[str]:
    for line in lines:
        yield line + "\n"


def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fake: FakeHN) -> None:
    monkeypatch.setenv("REDIGEST_DATABASE_PATH", str(tmp_path / "console.sqlite3"))
    monkeypatch.setenv("REDIGEST_SAVED_THREADS", str(EXAMPLE))
    monkeypatch.setenv("REDIGEST_REDDIT_MODE", "saved")
    monkeypatch.setenv("REDIGEST_CPU_LANE", "thread")
    monkeypatch.setenv("REDIGEST_HN_API_URL", fake.api_url)
    monkeypatch.setenv("REDIGEST_HN_SEARCH_URL", fake.search_url)


async def _run(*lines: str) -> str:
    out = io.StringIO()
    await _console(load_settings(env_file=None), _lines(*lines), out)
    return out.getvalue()


async def test_digest_an_hn_link_and_hn_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeHN() as fake:
        fake.add_items(synthetic_story(4000, 40, seed=1))
        fake.add_items(synthetic_story(5000, 30, seed=2))
        _env(monkeypatch, tmp_path, fake)
        text = await _run("/digest https://news.ycombinator.com/item?id=4000", "/digest hn:5000")
    assert "Show HN: A synthetic story with 40 comments" in text
    assert "Show HN: A synthetic story with 30 comments" in text
    assert "https://news.ycombinator.com/item?id=4000" in text
    # Algolia answered each with its whole tree, the official API with the story item beside it.
    assert fake.algolia_requests() == 2
    assert fake.firebase_requests() == 2


async def test_a_500_comment_story_digests_within_its_request_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SYNTHETIC 600-comment story (no recorded HN thread of 500+ comments was available):
    Algolia down, the official API is asked within the brief budget (100 requests)."""
    items = synthetic_story(7000, 600, seed=3)
    descendants = items[0]["descendants"]
    async with FakeHN() as fake:
        fake.add_items(items)
        fake.algolia_down = True
        _env(monkeypatch, tmp_path, fake)
        monkeypatch.setenv("REDIGEST_HN_BRIEF_REQUESTS", "100")
        text = await _run("/digest hn:7000 brief")
    assert fake.algolia_requests() == 1  # tried once, 503
    assert fake.firebase_requests() == 100  # the story + 99 comments: exactly the budget
    assert len(set(fake.requests)) == len(fake.requests)  # no item asked twice
    m = re.search(r"analysed ([0-9,]+) of ([0-9,]+) comments \(([^)]*)\)", text)
    assert m is not None, text
    assert int(m.group(2).replace(",", "")) == descendants
    assert "99 were fetched" in m.group(3)


async def test_algolia_gives_the_whole_500_comment_tree_in_one_request_beside_the_story(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = synthetic_story(8000, 600, seed=4)
    async with FakeHN() as fake:
        fake.add_items(items)
        _env(monkeypatch, tmp_path, fake)
        text = await _run("/digest hn:8000 brief")
        in_tree = count_algolia(fake.algolia_tree(fake.items[8000]))
    assert sorted(fake.requests) == ["/algolia/items/8000", "/v0/item/8000.json"]
    # Every comment Algolia has (it leaves out dead ones and their replies) of HN's own count.
    descendants = items[0]["descendants"]
    assert 500 < in_tree < descendants
    m = re.search(r"analysed ([0-9,]+) of ([0-9,]+) comments \(([^)]*)\)", text)
    assert m is not None, text
    assert int(m.group(2).replace(",", "")) == descendants
    assert m.group(3).endswith(f"{in_tree} were fetched")


async def test_subscribe_hn_top_3_and_a_run_posts_one_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with FakeHN() as fake:
        for n, story in enumerate((10_000, 11_000, 12_000, 13_000, 14_000)):
            # Posted in the last hours: a daily run's top is the day's most-pointed stories.
            fake.add_items(synthetic_story(story, 20 + n, seed=n, base=int(time.time()) - 7200))
        fake.lists["top"] = [10_000, 11_000, 12_000, 13_000, 14_000]
        _env(monkeypatch, tmp_path, fake)
        text = await _run("/subscribe hn top 3 daily 09:00", ":run 1")
    assert "Subscribed #1: Hacker News, daily at 09:00" in text
    assert "does not read Reddit" not in text  # REDIGEST_REDDIT_MODE=saved is Reddit's alone
    bundles = re.findall(r"── \[m\d+\] #general ──\nTop of Hacker News", text)
    assert len(bundles) == 1
    for n in range(3):
        assert f"Show HN: A synthetic story with {20 + n} comments" in text
    assert "Show HN: A synthetic story with 23 comments" not in text
    assert fake.requests[0] == "/algolia/search"  # the day's most-pointed stories


async def test_hn_reports_never_speak_reddit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Brief and deep reports of an HN thread (through Algolia and through the official API):
    no upvotes, subreddits, karma, OP, r/ or u/ names (digest.source.foreign_words)."""
    items = synthetic_story(15_000, 120, seed=6, by="user7")  # the poster comments too
    async with FakeHN() as fake:
        fake.add_items(items)
        _env(monkeypatch, tmp_path, fake)
        via_algolia = await _run("/digest hn:15000 brief", "/digest hn:15000 deep")
        fake.algolia_down = True
        monkeypatch.setenv("REDIGEST_THREAD_CACHE_SECONDS", "0")
        via_api = await _run("/digest hn:15000 brief", "/digest hn:15000 deep")
    words = foreign_words(HACKER_NEWS)
    assert words is not None
    for text in (via_algolia, via_api):
        digests = text.split("── [m", 1)[1]
        assert "1. SUMMARY" in digests or "TL;DR" in digests
        assert words.search(digests) is None, words.search(digests)
        assert "Hacker News · Show HN" in digests


def test_the_cli_digests_an_hn_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`redigest digest hn:N` reads HN (it used to ask only Reddit, off in saved mode)."""
    import asyncio
    import threading

    from bot.cli import main

    ready, stop = threading.Event(), threading.Event()
    urls: dict[str, str] = {}

    def serve() -> None:
        async def run() -> None:
            async with FakeHN() as fake:
                fake.add_items(synthetic_story(4100, 12, seed=5))
                urls.update(api=fake.api_url, search=fake.search_url)
                ready.set()
                await asyncio.to_thread(stop.wait)

        asyncio.run(run())

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    assert ready.wait(30)
    try:
        monkeypatch.setenv("REDIGEST_REDDIT_MODE", "saved")
        monkeypatch.setenv("REDIGEST_HN_API_URL", urls["api"])
        monkeypatch.setenv("REDIGEST_HN_SEARCH_URL", urls["search"])
        monkeypatch.chdir(tmp_path)
        monkeypatch.setattr("sys.argv", ["redigest", "digest", "hn:4100"])
        with pytest.raises(SystemExit) as exited:
            main()
    finally:
        stop.set()
        server.join(30)
    assert exited.value.code in (0, None)
    out = capsys.readouterr().out
    assert "Show HN: A synthetic story with 12 comments" in out
    assert "upvote" not in out.lower()
