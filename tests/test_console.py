"""`redigest console`: the real core driven from text lines, on saved threads, offline."""

from __future__ import annotations

import asyncio
import io
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.cli import _console
from bot.settings import load_settings
from tests.support.synthetic import thread_json

EXAMPLE = Path(__file__).resolve().parents[1] / "examples"


async def _lines(*lines: str) -> AsyncIterator[str]:
    for line in lines:
        yield line + "\n"


async def test_a_newcomer_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIGEST_DATABASE_PATH", str(tmp_path / "console.sqlite3"))
    monkeypatch.setenv("REDIGEST_SAVED_THREADS", str(EXAMPLE))
    out = io.StringIO()
    await _console(
        load_settings(env_file=None),
        _lines(
            "/subscribe r/selfhosted daily 09:00 Europe/Berlin top 3",
            ":next",
            ":run 1",
        ),
        out,
    )
    text = out.getvalue()
    assert "Subscribed #1: r/selfhosted, daily at 09:00 (Europe/Berlin)" in text
    assert "#1 r/selfhosted: daily at 09:00 (Europe/Berlin) — next run" in text
    assert "Top of r/selfhosted today" in text
    bundle_id = re.findall(r"── \[(m\d+)\] #general ──\nTop of r/selfhosted", text)[0]

    out2 = io.StringIO()

    async def second_session() -> AsyncIterator[str]:
        yield f"/digest {EXAMPLE / 'selfhosted_thread.json'} brief\n"
        yield ":say have you seen https://www.reddit.com/r/selfhosted/comments/rdg001/x/ ?\n"
        said = re.findall(r"── \[(m\d+)\] you, in #general", out2.getvalue())[-1]
        yield f":react 🔍 {said}\n"
        yield ":jobs\n"
        yield "/frobnicate\n"

    await _console(load_settings(env_file=None), second_session(), out2)
    text2 = out2.getvalue()
    said = re.findall(r"── \[(m\d+)\] you, in #general", text2)[-1]
    assert "What do you use to bring Reddit discussions" in text2
    assert f"in the thread under {said}" in text2
    assert "10. OTHER OBSERVATIONS" in text2
    assert "frobnicate" in text2
    # References are never reused across sessions (the first session's m1 is not the second's).
    refs1 = re.findall(r"── \[(m\d+)\]", text)
    refs2 = re.findall(r"── \[(m\d+)\]", text2)
    assert refs1
    assert refs2
    assert not set(refs1) & set(refs2)
    assert bundle_id in refs1


async def test_a_restarted_console_never_reuses_requests_or_references(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a restart, a new /digest is not mistaken for the first session's (their request
    ids used to restart at r1, so it was silently dropped), and a 🔍 on the new digest flags
    the new thread (message ids used to restart at m1 and name the old digest)."""
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    for path, post_id, title in ((first, "aaa001", "First thread"), (second, "bbb002", "Second")):
        raw = thread_json(12, seed=len(title), post_id=post_id)
        raw[0]["data"]["children"][0]["data"]["title"] = f"{title} about backups"
        path.write_text(json.dumps(raw), encoding="utf-8")
    monkeypatch.setenv("REDIGEST_DATABASE_PATH", str(tmp_path / "console.sqlite3"))
    monkeypatch.setenv("REDIGEST_SAVED_THREADS", str(tmp_path / "none"))
    out1 = io.StringIO()
    await _console(load_settings(env_file=None), _lines(f"/digest {first}"), out1)
    assert "First thread about backups" in out1.getvalue()

    out2 = io.StringIO()

    async def second_session() -> AsyncIterator[str]:
        yield f"/digest {second}\n"
        for _ in range(200):  # the digest is posted by a worker: wait for it
            if "Second about backups" in out2.getvalue():
                break
            await asyncio.sleep(0.05)
        posted = re.findall(r"── \[(m\d+)\] #general ──\n", out2.getvalue())
        yield f":react 🔍 {posted[-1]}\n"

    await _console(load_settings(env_file=None), second_session(), out2)
    text2 = out2.getvalue()
    assert "Second about backups" in text2
    [deep] = re.findall(r"── \[m\d+\] in the thread under m\d+ ──\n(.*)", text2)
    assert "Second about backups" in deep
    assert "First thread" not in text2


async def test_run_on_a_paused_subscription_says_so_in_the_console(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIGEST_DATABASE_PATH", str(tmp_path / "console.sqlite3"))
    monkeypatch.setenv("REDIGEST_SAVED_THREADS", str(EXAMPLE))
    out = io.StringIO()
    await _console(
        load_settings(env_file=None),
        _lines("/subscribe r/selfhosted daily 09:00 top 3", "/pause 1", ":run 1"),
        out,
    )
    text = out.getvalue()
    assert "#1 is paused: /resume 1 first, then run it." in text
    assert "Top of r/selfhosted" not in text
