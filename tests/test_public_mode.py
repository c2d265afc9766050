"""Live Reddit with no Reddit settings at all: the CLI and the console read the public endpoints
(here the fake, through REDIGEST_REDDIT_PUBLIC_URL), within Reddit's anonymous budget, and every
refusal is one sentence."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from adapters.reddit_source.public import PublicConfig, PublicRedditSource
from bot.chat import Request
from bot.cli import _console, app
from bot.core import Core, CoreConfig, Engines
from bot.settings import load_settings
from bot.storage import Storage
from digest.pipeline import DigestEngine
from digest.sentiment import make_scorer
from tests.conftest import NO_DATA_REASON, REDDIT_DATA, REPO
from tests.fakes.reddit_server import FakeReddit, generate_comment_tree, make_post
from tests.support.fake_chat import FakeChat
from tests.support.harness import Clock

LOCALLLAMA = REDDIT_DATA / "localllama" / "localllama_1mfuiri.json"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeReddit]:
    """The fake runs on its own loop in a thread: the CLI runs its own asyncio.run()."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = FakeReddit()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
    monkeypatch.setenv("REDIGEST_REDDIT_MODE", "auto")  # no credentials: public
    monkeypatch.setenv("REDIGEST_REDDIT_PUBLIC_URL", server.base_url)
    monkeypatch.setenv("REDIGEST_THREAD_CACHE_SECONDS", "0")
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def _fetched_ids(fake: FakeReddit) -> set[str]:
    """Every comment id in the fake's answers: what the bot was given."""
    found: set[str] = set()
    for r in fake.requests:
        body = r.response_body
        try:
            stack = [json.loads(body if isinstance(body, str) else json.dumps(body))]
        except (TypeError, ValueError):
            continue
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                if node.get("kind") == "t1":
                    found.add(node["data"]["id"])
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)
    return found


@pytest.mark.parametrize(
    "url",
    [
        "https://www.reddit.com/r/LocalLLaMA/comments/1mfuiri/qwen_code/",
        "https://old.reddit.com/r/LocalLLaMA/comments/1mfuiri/",
        "https://redd.it/1mfuiri",
        "1mfuiri",
        "t3_1mfuiri",
    ],
)
@pytest.mark.parametrize(("depth", "most"), [("brief", 1), ("deep", 4)])
def test_a_digest_in_public_mode_costs_1_or_at_most_4_requests(
    fake: FakeReddit, url: str, depth: str, most: int
) -> None:
    if not LOCALLLAMA.exists():
        pytest.skip(NO_DATA_REASON)
    fake.add_thread(json.loads(LOCALLLAMA.read_text(encoding="utf-8")))
    result = CliRunner().invoke(app, ["digest", url, "--depth", depth, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["thread"]["id"] == "1mfuiri"
    assert 1 <= len(fake.requests) <= most
    assert all("authorization" not in {k.lower() for k in r.headers} for r in fake.requests)
    fetched = _fetched_ids(fake)
    assert report["stats"]["comments_fetched"] == len(fetched)
    assert report["coverage"]["fetched"] == len(fetched)


def test_a_large_synthetic_thread_deep_spends_its_4_requests(fake: FakeReddit) -> None:
    fake.add_full_thread(
        make_post("big01", num_comments=3000), generate_comment_tree("big01", 3000)
    )
    result = CliRunner().invoke(app, ["digest", "big01", "--depth", "deep", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert len(fake.requests) == 4
    assert report["stats"]["comments_fetched"] == len(_fetched_ids(fake))
    assert "of 3,000 comments" in json.dumps(report) or report["coverage"]["total"] == 3000


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ({"block": True}, "REDDIT_CLIENT_ID"),
        ({"status": 429, "times": 50}, "again"),
        ({"status": 503, "times": 50}, "Reddit"),
    ],
    ids=["block-page", "429-storm", "5xx"],
)
def test_refusals_are_one_line_exit_2(fake: FakeReddit, fault: dict[str, Any], words: str) -> None:
    fake.add_full_thread(make_post("abc12", num_comments=5), generate_comment_tree("abc12", 5))
    if fault.pop("block", False):
        fake.block_json = True
    else:
        fake.fail_next(r"^/comments/", **fault)
    result = CliRunner().invoke(app, ["digest", "https://redd.it/abc12"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert words in lines[0]
    assert "Traceback" not in result.stderr


async def _lines(*lines: str) -> AsyncIterator[str]:
    for line in lines:
        yield line + "\n"


async def test_the_console_subscribes_to_a_real_listing(
    fake: FakeReddit, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("REDIGEST_DATABASE_PATH", str(tmp_path / "console.sqlite3"))
    for i, score in enumerate((900, 500, 40)):
        post = make_post(f"sel0{i}", subreddit="selfhosted", score=score, num_comments=12)
        post["title"] = f"Self-hosting question number {i}"
        fake.add_full_thread(post, generate_comment_tree(f"sel0{i}", 12))
    out = io.StringIO()
    await _console(
        load_settings(env_file=None),
        _lines("/subscribe r/selfhosted daily 09:00 top 2 min-score 100", ":run 1"),
        out,
    )
    text = out.getvalue()
    assert "Top of r/selfhosted today" in text
    bundle = text.split("Top of r/selfhosted today", 1)[1]
    assert "Self-hosting question number 0" in bundle
    assert "Self-hosting question number 1" in bundle
    assert "Self-hosting question number 2" not in bundle  # under min-score
    listings = [r for r in fake.requests if re.search(r"/r/selfhosted/top\.json$", r.path)]
    assert len(listings) == 1


def test_a_refusal_is_the_only_line_a_real_process_prints(fake: FakeReddit) -> None:
    """The operator's warning is the same news: a one-off run at the terminal shows it once."""
    fake.add_full_thread(make_post("abc12", num_comments=5), generate_comment_tree("abc12", 5))
    fake.block_json = True
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDDIT_", "REDIGEST_"))}
    env |= {"REDIGEST_REDDIT_PUBLIC_URL": fake.base_url}
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from bot.cli import main; main()",
            "digest",
            "https://redd.it/abc12",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "blocked by network security" in lines[0]


async def test_a_watch_picks_up_a_new_post_from_the_public_listing_once(
    fake: FakeReddit, tmp_path: Any
) -> None:
    fake.add_subreddit("selfhosted")
    config = PublicConfig(base_url=fake.base_url, requests_per_minute=600, poll_floor_seconds=0.05)
    clock = Clock()
    chat = FakeChat()
    async with PublicRedditSource(config) as source, Storage(tmp_path / "w.sqlite3") as db:
        core = Core(
            storage=db,
            source=source,
            engines=Engines({"offline": DigestEngine(scorer=make_scorer())}),
            chats={"fake": chat},
            clock=clock,
            config=CoreConfig(workers=1),
        )
        await core.handle_request(
            Request("fake", "S1", "C1", "U1", "watch", "r/selfhosted min-score 100", True)
        )
        await core.start()
        try:
            post = make_post("new001", subreddit="selfhosted", score=5, num_comments=3)
            post["created_utc"] = clock().timestamp()
            fake.add_submission("selfhosted", post)
            for _ in range(400):  # the shared poller finds it
                if await db.due_candidates(clock() + timedelta(days=1)):
                    break
                await asyncio.sleep(0.01)
            [candidate] = await db.due_candidates(clock() + timedelta(days=1))
            assert candidate.post_id == "new001"
            fake.add_submission("selfhosted", {**post, "score": 250})  # it takes off
            clock.advance(minutes=11)
            assert await core.watch_tick() == 1
            assert await core.drain(30)
            await asyncio.sleep(0.2)  # a few more polls see the same post again
            clock.advance(hours=3)
            assert await core.watch_tick() == 0
        finally:
            await core.stop()
    [posted] = chat.public()
    assert posted.delivery.report is not None
    assert posted.delivery.report.thread.id == "new001"
    assert await_count(fake, r"/r/selfhosted/new\.json$") >= 2


def await_count(fake: FakeReddit, pattern: str) -> int:
    return len(fake.calls(pattern))


async def test_a_watch_that_reddit_refuses_says_so_once(fake: FakeReddit, tmp_path: Any) -> None:
    fake.add_subreddit("selfhosted")
    fake.block_json = fake.block_feeds = True  # every anonymous way is refused
    config = PublicConfig(base_url=fake.base_url, requests_per_minute=600, poll_floor_seconds=0.02)
    chat = FakeChat()
    async with PublicRedditSource(config) as source, Storage(tmp_path / "w.sqlite3") as db:
        core = Core(
            storage=db,
            source=source,
            engines=Engines({"offline": DigestEngine(scorer=make_scorer())}),
            chats={"fake": chat},
            clock=Clock(),
            config=CoreConfig(workers=1, stream_retry_seconds=0.02),
        )
        await core.handle_request(
            Request("fake", "S1", "C1", "U1", "watch", "r/selfhosted min-score 100", True)
        )
        await core.start()
        try:
            for _ in range(500):
                if chat.public() and source.poller.polls >= 12:
                    break
                await asyncio.sleep(0.01)
        finally:
            await core.stop()
    [told] = chat.public()  # many failed polls, one message
    assert "Watching r/selfhosted is interrupted" in told.text
    assert "blocked by network security" in told.text
