"""🔍 on a scheduled bundle lets the person pick which thread (issue 16, scope 4): the console's
`:react 🔍 m5 2`, Discord's "Deep analysis of…" select menu, Slack's "Deep analysis" buttons;
a 🔍 that does not say which answers with the choice. Single-thread bundles and digests behave
as before."""

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
from tests.support.synthetic import post_data, thread_json

TITLES = {
    "aaa111": "Backups with restic: a year later",
    "bbb222": "Why I moved my Nextcloud to a NAS",
    "ccc333": "Tailscale or WireGuard for a small homelab?",
}


def _saved_threads(folder: Path, titles: dict[str, str] = TITLES) -> None:
    folder.mkdir(exist_ok=True)
    for i, (post_id, title) in enumerate(titles.items()):
        raw = thread_json(15, seed=i, post_id=post_id)
        raw[0]["data"]["children"][0]["data"] = post_data(post_id, 15, subreddit="selfhosted") | {
            "title": title,
            "score": 900 - 100 * i,  # listed in this order
        }
        (folder / f"{post_id}.json").write_text(json.dumps(raw), encoding="utf-8")


async def _session(out: io.StringIO, *tail: str) -> AsyncIterator[str]:
    """Subscribe, run once, wait for the bundle, then `tail` with {bundle} filled in."""
    yield "/subscribe r/selfhosted daily 09:00 top 3\n"
    yield ":run 1\n"
    for _ in range(400):  # the bundle is posted by a worker: wait for it
        if re.search(r"── \[m\d+\] #general ──\nTop of r/selfhosted", out.getvalue()):
            break
        await asyncio.sleep(0.05)
    bundle = re.findall(r"── \[(m\d+)\] #general ──\nTop of r/selfhosted", out.getvalue())[-1]
    for line in tail:
        yield line.format(bundle=bundle) + "\n"


async def _console_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *tail: str, titles: dict[str, str] = TITLES
) -> tuple[str, str]:
    _saved_threads(tmp_path / "saved", titles)
    monkeypatch.setenv("REDIGEST_DATABASE_PATH", str(tmp_path / "console.sqlite3"))
    monkeypatch.setenv("REDIGEST_SAVED_THREADS", str(tmp_path / "saved"))
    out = io.StringIO()
    await _console(load_settings(env_file=None), _session(out, *tail), out)
    text = out.getvalue()
    bundle = re.findall(r"── \[(m\d+)\] #general ──\nTop of r/selfhosted", text)[-1]
    return text, bundle


def _deep_reports(text: str, bundle: str) -> list[str]:
    """The posts made in the thread under the bundle (each up to the next post)."""
    parts = re.split(r"\n── \[m\d+\] ", text)
    return [p for p in parts if p.startswith(f"in the thread under {bundle} ──")]


async def test_console_pick_analyses_the_second_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text, bundle = await _console_run(tmp_path, monkeypatch, ":react 🔍 {bundle} 2")
    (report,) = _deep_reports(text, bundle)
    assert TITLES["bbb222"] in report
    assert "10. OTHER OBSERVATIONS" in report
    assert TITLES["aaa111"] not in report
    assert f"The deep analysis of “{TITLES['bbb222']}” will appear in a thread" in text


async def test_console_flag_without_a_number_lists_the_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text, bundle = await _console_run(
        tmp_path, monkeypatch, ":react 🔍 {bundle}", ":react 🔍 {bundle} 7"
    )
    assert _deep_reports(text, bundle) == []  # nothing analysed without a choice
    asked = text.split("only you see this", 1)[1]
    assert "That digest covers 3 threads: which one should I analyse?" in asked
    for i, post_id in enumerate(TITLES, 1):
        assert f"\n{i}. {TITLES[post_id]}\n" in asked
    assert f"React with `:react 🔍 {bundle} N` to pick one." in asked
    # A number out of range: one sentence.
    assert "That message covers 3 threads: pick a number from 1 to 3 (not 7).\n" in text


async def test_console_single_thread_bundle_flags_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = {"aaa111": TITLES["aaa111"]}
    text, bundle = await _console_run(tmp_path, monkeypatch, ":react 🔍 {bundle}", titles=one)
    (report,) = _deep_reports(text, bundle)
    assert TITLES["aaa111"] in report
    assert "which one should I analyse" not in text
