"""`redigest digest <url>` shows what it is doing on standard error when that is a terminal
(fetching, expanding "more comments", analysing, with the time each takes) and says nothing of it
otherwise: the real asyncpraw against the fake Reddit, the CLI as a person runs it."""

from __future__ import annotations

import asyncio
import io
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

import bot.cli
from bot import progress
from tests.fakes.reddit_server import FakeReddit, generate_comment_tree, make_post

REPO = Path(__file__).resolve().parents[1]
URL = "https://www.reddit.com/r/selfhosted/comments/abc12/a_thread/"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeReddit]:
    """The fake runs on its own event loop in a thread: the CLI runs its own asyncio.run()."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = FakeReddit(ratelimit_budget=10_000_000)
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
    monkeypatch.setenv("REDIGEST_REDDIT_MODE", "auto")  # OAuth: its credentials are set
    monkeypatch.setenv("REDIGEST_ANALYZER", "offline")
    monkeypatch.setenv("REDDIT_CLIENT_ID", "id")
    monkeypatch.setenv("REDDIT_CLIENT_SECRET", "secret")
    monkeypatch.setenv("REDDIT_USER_AGENT", "linux:redigest-tests:0.1 (by u/redigest)")
    monkeypatch.setenv("REDIGEST_REDDIT_OAUTH_URL", server.base_url)
    monkeypatch.setenv("REDIGEST_REDDIT_AUTH_URL", server.base_url)
    fake = server
    fake.add_full_thread(make_post("abc12", num_comments=900), generate_comment_tree("abc12", 900))
    try:
        yield fake
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.mark.parametrize("mode", ["oauth", "public"])
def test_a_terminal_sees_the_fetch_the_expansion_and_the_analysis(
    fake: FakeReddit, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    if mode == "public":  # Reddit's public pages, no credentials: the other source
        for key in ("REDDIT_CLIENT_ID", "REDDIT_CLIENT_SECRET"):
            monkeypatch.delenv(key)
        monkeypatch.setenv("REDIGEST_REDDIT_PUBLIC_URL", fake.base_url)
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=120, color_system=None)
    monkeypatch.setattr(bot.cli, "_progress_console", lambda: terminal)
    result = CliRunner().invoke(bot.cli.app, ["digest", URL, "--depth", "deep", "-f", "json"])
    assert result.exit_code == 0, result.stderr
    shown = screen.getvalue()
    assert "Fetching thread with id abc12 from Reddit…" in shown
    assert "Expanding “more comments”: 1 request, " in shown
    assert "comments so far…" in shown
    assert re.search(r"Analysing [\d,]+ comments \(offline\)…", shown)
    assert "0:00:0" in shown  # the time each stage took
    # The report itself is on stdout, untouched; the progress lines were for the terminal only.
    assert "Fetching" not in result.stdout
    assert "Fetching" not in result.stderr


def test_a_pipe_sees_no_progress(fake: FakeReddit) -> None:
    result = CliRunner().invoke(bot.cli.app, ["digest", URL, "--depth", "deep", "-f", "json"])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert json.loads(result.stdout)["thread"]["id"] == "abc12"


def test_nobody_listening_costs_nothing() -> None:
    """Outside the CLI (the bot's workers, the tests) the port is a no-op."""
    progress.current().step("ignored")
    progress.current().update("ignored")
    assert isinstance(progress.current(), progress.NoProgress)


def test_an_offline_digest_into_a_pipe_never_loads_the_live_display(tmp_path: Path) -> None:
    probe = (
        "import sys, bot.cli\n"
        "sys.argv = ['redigest', 'digest', sys.argv[1], '-f', 'json']\n"
        "try:\n    bot.cli.main()\nexcept SystemExit:\n    pass\n"
        "print('LOADED', sorted(m for m in sys.modules if m in ('rich.progress', 'rich.live',"
        " 'bot.terminal_progress')), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(REPO / "examples" / "selfhosted_thread.json")],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "REDIGEST_ANALYZER": "offline"},
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert "LOADED []" in done.stderr, done.stderr


def test_an_llm_is_waited_for_by_name() -> None:
    assert progress.analysing_line("anthropic", 412) == (
        "Waiting for the model (anthropic) to analyse 412 comments…"
    )
    assert progress.analysing_line("offline", 1) == "Analysing 1 comment (offline)…"
