"""A scheduled run with nothing to post says why, and a paused subscription is not run on
demand (issue 16: a second `:run` said "nothing passed the filters" when the threads had only
been posted already; `:run` ran a paused subscription)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.cli import _console
from bot.core.answers import UserFacing
from bot.settings import load_settings
from tests.support.harness import Harness

EXAMPLE = Path(__file__).resolve().parents[1] / "examples"


async def _lines(*lines: str) -> AsyncIterator[str]:
    for line in lines:
        yield line + "\n"


async def _run_now(h: Harness) -> str:
    h.clock.advance(minutes=1)  # a manual run is one per moment
    assert await h.core.run_subscription_now(1)
    await h.run_jobs()
    bundle = h.chat.public()[-1].delivery.bundle
    assert bundle is not None
    return (bundle.empty_text or "") if not bundle.reports else ""


async def test_a_second_run_says_the_threads_were_already_posted(h: Harness) -> None:
    await h.core.handle_request(h.request("subscribe", "r/LocalLLaMA daily 09:00 top 5"))
    assert await _run_now(h) == ""  # the first run posts the threads
    why = await _run_now(h)
    assert "already posted here in the last 7 days" in why, why
    assert "passed the filters" not in why


async def test_a_run_whose_filters_pass_nothing_says_so(h: Harness) -> None:
    await h.core.handle_request(
        h.request("subscribe", "r/LocalLLaMA daily 09:00 top 5 min-score 1000000")
    )
    why = await _run_now(h)
    assert why.startswith("Nothing new in r/LocalLLaMA passed the filters"), why
    assert "threads looked at" in why


async def test_a_paused_subscription_is_not_run_on_demand(h: Harness) -> None:
    await h.core.handle_request(h.request("subscribe", "r/LocalLLaMA daily 09:00 top 5"))
    await h.core.handle_request(h.request("pause", "1"))
    with pytest.raises(UserFacing, match="#1 is paused: /resume 1 first"):
        await h.core.run_subscription_now(1)
    await h.run_jobs()
    assert h.chat.public() == []


async def test_the_console_shows_why_a_run_posted_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the channel reads: a run that found nothing new says why, in the console too."""
    monkeypatch.setenv("REDIGEST_DATABASE_PATH", str(tmp_path / "console.sqlite3"))
    monkeypatch.setenv("REDIGEST_SAVED_THREADS", str(EXAMPLE))
    out = io.StringIO()
    await _console(
        load_settings(env_file=None),
        _lines("/subscribe r/selfhosted daily 09:00 top 3 min-score 1000000", ":run 1"),
        out,
    )
    assert "Nothing new in r/selfhosted passed the filters today" in out.getvalue()
    out = io.StringIO()
    await _console(
        load_settings(env_file=None),
        _lines("/edit 1 no-min-score", ":run 1"),
        out,
    )
    assert "Top of r/selfhosted today" in out.getvalue()
    out = io.StringIO()
    await _console(load_settings(env_file=None), _lines(":run 1"), out)
    assert "already posted here in the last 7 days" in out.getvalue()
