"""Every real thread in ../shared/data/reddit goes through the CLI, and its counts match an
independent reading of the JSON; the deep report is grounded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from adapters.reddit_source.thread_json import thread_from_json_text
from bot.cli import app
from digest.grounding import check_quote, url_in_thread
from digest.pipeline import DigestEngine
from digest.render.markdown import render_markdown
from digest.report import Depth
from tests.conftest import thread_params
from tests.independent import count

DEEP_SECTIONS = [
    "## 1. Post details",
    "## 2. Summary",
    "## 3. Key themes",
    "## 4. Sentiment",
    "## 5. Comment analysis",
    "## 6. Links and references",
    "## 7. Notable comments",
    "## 8. Engagement insights",
    "## 9. Actionable takeaways",
    "## 10. Other observations",
]


@pytest.fixture(scope="module")
def engine() -> DigestEngine:
    return DigestEngine()


@pytest.mark.parametrize("path", thread_params())
def test_cli_json_counts_match_an_independent_count(path: Path) -> None:
    result = CliRunner().invoke(app, ["digest", str(path), "--format", "json", "--depth", "deep"])
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    expected = count(json.loads(path.read_bytes()))
    stats = out["stats"]
    got: dict[str, Any] = {k: stats[k] for k in expected if k in stats}
    got["num_comments"] = out["thread"]["num_comments"]
    assert got == expected
    assert out["schema"] == "redigest.report/1"
    assert out["depth"] == "deep"
    assert out["analyzer"] == "offline"
    # Coverage is stated and consistent with the counts.
    cov = out["coverage"]
    assert cov["fetched"] == expected["comments_fetched"]
    assert stats["comments_analyzed"] == cov["analyzed"] <= cov["fetched"]
    assert f"analysed {cov['analyzed']:,} of" in cov["text"]


@pytest.mark.parametrize("path", thread_params())
def test_deep_report_is_grounded(path: Path, engine: DigestEngine) -> None:
    thread = thread_from_json_text(path.read_bytes(), source=str(path))
    report = engine.digest_sync(thread, Depth.DEEP)
    markdown = render_markdown(report)
    positions = [markdown.find(s) for s in DEEP_SECTIONS]
    assert all(p >= 0 for p in positions), markdown[:500]
    assert positions == sorted(positions)
    for quote in report.quotes():
        assert check_quote(thread, quote) is None, quote
    for link in report.stats.links:
        assert url_in_thread(thread, link.url), link.url
    for line in markdown.splitlines():
        if line.startswith("- <http"):
            url = line[3 : line.index(">")]
            assert url_in_thread(thread, url), url
    # Every section says something, even when it has nothing to list.
    for start, end in zip(positions, [*positions[1:], markdown.find("\n---\n")], strict=True):
        body = markdown[start:end].split("\n", 1)[1].strip()
        assert body, f"empty section at {markdown[start : start + 40]!r}"


@pytest.mark.parametrize("path", thread_params())
def test_escaped_dumps_are_decoded_once(path: Path) -> None:
    raw = json.loads(path.read_bytes())
    thread = thread_from_json_text(path.read_bytes())
    text = " ".join(c.body for c in thread.comments) + thread.post.title + thread.post.body
    raw_text = json.dumps(raw)
    if "&amp;amp;" not in raw_text:
        # Decoding happened where it had to: no entity survives unless Reddit double-escaped it.
        assert "&amp;" not in text
        assert "&gt;" not in text
