"""`redigest console`: the real core driven from text lines, on saved threads, offline."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.cli import _console
from bot.settings import load_settings

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
    await _console(
        load_settings(env_file=None),
        _lines(
            f"/digest {EXAMPLE / 'selfhosted_thread.json'} brief",
            ":say have you seen https://www.reddit.com/r/selfhosted/comments/rdg001/x/ ?",
            ":react 🔍 m1",
            ":jobs",
            "/frobnicate",
        ),
        out2,
    )
    text2 = out2.getvalue()
    assert "What do you use to bring Reddit discussions" in text2
    assert "in the thread under m1" in text2
    assert "10. OTHER OBSERVATIONS" in text2
    assert "frobnicate" in text2
    assert bundle_id
