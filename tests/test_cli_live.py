"""`redigest digest <url>` with credentials: the real asyncpraw against the fake Reddit."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from bot.cli import app
from tests.conftest import NO_DATA_REASON, REDDIT_DATA
from tests.fakes.reddit_server import (
    FakeReddit,
    generate_comment_tree,
    load_cassette_continue_responses,
    load_morechildren_pairs,
    make_post,
)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeReddit]:
    """The fake runs on its own event loop in a thread: the CLI runs its own asyncio.run()."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = FakeReddit(ratelimit_budget=10_000_000)
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
    monkeypatch.setenv("REDIGEST_REDDIT_MODE", "auto")  # OAuth: its credentials are set
    monkeypatch.setenv("REDDIT_CLIENT_ID", "id")
    monkeypatch.setenv("REDDIT_CLIENT_SECRET", "secret")
    monkeypatch.setenv("REDDIT_USER_AGENT", "linux:redigest-tests:0.1 (by u/redigest)")
    monkeypatch.setenv("REDIGEST_REDDIT_OAUTH_URL", server.base_url)
    monkeypatch.setenv("REDIGEST_REDDIT_AUTH_URL", server.base_url)
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_deep_digest_of_a_recorded_thread_stays_within_budget(fake: FakeReddit) -> None:
    base = REDDIT_DATA / "praw"
    if not (base / "announcements_n49rw_2016.json").exists():
        pytest.skip(NO_DATA_REASON)
    raw = json.loads((base / "announcements_n49rw_2016.json").read_text(encoding="utf-8"))
    pairs = load_morechildren_pairs(base / "announcements_n49rw_2016_morechildren.json")
    cassette = REDDIT_DATA / "cassettes" / "praw" / "TestCommentForest.test_replace__all_large.json"
    fake.add_thread(raw, pairs, load_cassette_continue_responses(cassette, "n49rw"))
    url = "https://www.reddit.com/r/announcements/comments/n49rw/were_back/"
    result = CliRunner().invoke(app, ["digest", url, "--depth", "deep", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    api = [r for r in fake.requests if r.path != "/api/v1/access_token"]
    assert len(api) <= 12
    fetched: set[str] = set()
    for r in api:
        body = r.response_body
        text = body if isinstance(body, str) else json.dumps(body)
        data = json.loads(text)
        stack = [data]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                if node.get("kind") == "t1":
                    fetched.add(node["data"]["id"])
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)
    assert report["stats"]["comments_fetched"] == len(fetched)
    assert report["coverage"]["fetched"] == len(fetched)
    assert report["stats"]["comments_analyzed"] == report["coverage"]["analyzed"]
    assert report["thread"]["id"] == "n49rw"


def test_brief_digest_by_short_link(fake: FakeReddit) -> None:
    fake.add_full_thread(make_post("abc12", num_comments=120), generate_comment_tree("abc12", 120))
    result = CliRunner().invoke(app, ["digest", "https://redd.it/abc12", "--format", "text"])
    assert result.exit_code == 0, result.stderr
    assert "Post abc12" in result.stdout or "abc12" in result.stdout


def test_reddit_errors_are_one_line(fake: FakeReddit) -> None:
    result = CliRunner().invoke(app, ["digest", "https://www.reddit.com/r/x/comments/zzz99/gone/"])
    assert result.exit_code == 2
    assert "no thread" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    result = CliRunner().invoke(app, ["digest", "https://www.reddit.com/r/x/wiki/index"])
    assert result.exit_code == 2
    assert "is not a Reddit thread link" in result.stderr


def test_bad_credentials_are_named(fake: FakeReddit) -> None:
    fake.token_failure = "unauthorized"
    result = CliRunner().invoke(app, ["digest", "https://redd.it/abc12"])
    assert result.exit_code == 2
    assert "REDDIT_CLIENT_ID" in result.stderr
    assert "secret" not in result.stderr.replace("REDDIT_CLIENT_SECRET", "")
