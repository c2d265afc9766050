"""Untrusted Reddit text cannot ping, break formatting or smuggle links into rendered output."""

from __future__ import annotations

import json
from typing import Any

from adapters.reddit_source.thread_json import thread_from_json
from digest.pipeline import DigestEngine
from digest.render.json_report import report_to_dict
from digest.render.markdown import ZWSP, escape_md, render_markdown, render_text
from digest.report import Depth
from tests.support.synthetic import thread_json

HOSTILE = (
    "@everyone look! **not bold** [click](https://evil.example/x) <script>x</script> "
    "# heading `code` | table | ~~strike~~ @here and _under_"
)


def _hostile_thread() -> list[dict[str, Any]]:
    raw = thread_json(30, seed=7)
    for i, kid in enumerate(raw[1]["data"]["children"]):
        kid["data"]["body"] = HOSTILE + f" number {i}."
        kid["data"]["score"] = 1000 - i
        kid["data"]["author"] = f"evil_{i}_user"
    raw[0]["data"]["title"] = "@everyone **Title** [x](https://evil.example/t)"
    return raw


def test_escape_md_neutralises_formatting_and_mentions() -> None:
    out = escape_md(HOSTILE)
    assert "@everyone" not in out
    assert "@here" not in out
    assert f"@{ZWSP}everyone" in out
    assert "**" not in out.replace("\\*\\*", "")
    assert "[click](" not in out
    assert "<script>" not in out


def test_rendered_reports_carry_no_live_mentions_or_markup() -> None:
    thread = thread_from_json(_hostile_thread())
    engine = DigestEngine()
    for depth in Depth:
        report = engine.digest_sync(thread, depth)
        md = render_markdown(report)
        text = render_text(report)
        for out in (md, text):
            assert "@everyone" not in out
            assert "@here" not in out
        assert "[click](" not in md
        assert "<script>" not in md
        assert "\\_" in md  # usernames with underscores are escaped, not italicised
        # The URL shared in the comments is listed as a link of its own, autolinked.
        assert "<https://evil.example/x>" in md


def test_json_keeps_the_original_text() -> None:
    thread = thread_from_json(_hostile_thread())
    report = DigestEngine().digest_sync(thread, Depth.DEEP)
    data = report_to_dict(report)
    quotes = [n["quote"] for n in data["top_comments"]]
    assert any("@everyone" in q for q in quotes)  # JSON is data, not a chat message
    json.dumps(data)
