"""Threads nested deeper than Python's recursion limit: a chain of 500 or 5,000 replies is read
and digested like any other thread (json.loads alone stops near 200 reply levels)."""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.reddit_source.saved import SavedThreadSource
from adapters.reddit_source.thread_json import (
    MAX_NESTING,
    NOT_A_THREAD,
    loads_iterative,
    post_from_data,
    thread_from_json,
    thread_from_json_text,
)
from bot.ports import ThreadRef
from digest import codec
from digest.errors import ThreadDataError
from digest.model import Comment, Thread
from digest.pipeline import DigestEngine
from digest.render.json_report import render_json
from digest.render.markdown import render_markdown, render_text
from digest.report import Depth, Report
from digest.sentiment import make_scorer
from tests.support.synthetic import T0, comment_data, post_data

ENGINE = DigestEngine(scorer=make_scorer())
_LISTING_OPEN = '{"kind": "Listing", "data": {"children": ['
_LISTING_CLOSE = "]}}"


def chain_thread_json(n: int, post_id: str = "deep") -> str:
    """Reddit's JSON for a thread whose comments are one chain of `n` replies, each answering
    the one before. Built as text: json.dumps recurses, so it cannot write this nesting."""
    heads: list[str] = []
    tails: list[str] = []
    parent = f"t3_{post_id}"
    for i in range(n):
        cid = f"d{i:x}"
        data = comment_data(
            cid,
            parent,
            author=f"user_{i % 7}",
            body=f"Reply {i}: the quantized model works great on one GPU, honestly.",
            score=(i * 37) % 101 - 10,
            created=T0 + i * 60,
            depth=i,
        )
        data["replies"] = "@REPLIES@"
        head, tail = json.dumps({"kind": "t1", "data": data}).split('"@REPLIES@"')
        heads.append(head)
        tails.append(tail)
        parent = f"t1_{cid}"
    parts: list[str] = []
    for i, head in enumerate(heads):
        parts.append(_LISTING_OPEN if i else "")
        parts.append(head)
    parts.append('""')
    for i in reversed(range(n)):
        parts.append(tails[i])
        parts.append(_LISTING_CLOSE if i else "")
    post = json.dumps(
        {"kind": "Listing", "data": {"children": [{"kind": "t3", "data": post_data(post_id, n)}]}}
    )
    return f"[{post}, {_LISTING_OPEN}{''.join(parts)}{_LISTING_CLOSE}]"


def _one_sentence(message: str) -> bool:
    return (
        message.endswith(".") and "\n" not in message and not re.search(r"[.!?]\s+[A-Z]", message)
    )


def _assert_chain(thread: Thread, n: int) -> None:
    assert len(thread.comments) == n
    assert [c.id for c in thread.comments] == [f"d{i:x}" for i in range(n)]
    assert [c.depth for c in thread.comments] == list(range(1, n + 1))
    assert [c.parent_id for c in thread.comments] == [None] + [f"d{i:x}" for i in range(n - 1)]
    assert thread.top_level_of(thread.comments[-1].id) == "d0"


def test_the_converter_reads_a_chain_exactly_as_the_plain_parser_does() -> None:
    """Below json.loads' limit both parsers are used on the same text: the same thread."""
    text = chain_thread_json(120)
    assert thread_from_json(loads_iterative(text)) == thread_from_json(json.loads(text))
    _assert_chain(thread_from_json_text(text), 120)


@pytest.mark.parametrize("n", [500, 5_000])
async def test_a_deep_chain_is_digested_brief_and_deep(n: int) -> None:
    thread = thread_from_json_text(chain_thread_json(n).encode(), source="deep.json")
    _assert_chain(thread, n)
    for depth in (Depth.BRIEF, Depth.DEEP):
        report = await ENGINE.digest(thread, depth)
        assert report.stats.comments_present == n
        assert report.stats.max_depth == n
        assert report.stats.top_level_comments == 1
        assert report.coverage.fetched == n
        assert 0 < report.coverage.analyzed <= n
        assert report.coverage.branches_fetched == 1
        assert "Synthetic thread" in render_markdown(report)
        assert render_text(report)
        assert json.loads(render_json(report))["thread"]["id"] == "deep"
        assert codec.loads(Report, codec.dumps(report)) == report


async def test_a_deep_saved_file_is_served_by_the_saved_source(tmp_path: Path) -> None:
    (tmp_path / "deep.json").write_text(chain_thread_json(500), encoding="utf-8")
    source = SavedThreadSource([tmp_path])
    thread = await source.fetch_thread(ThreadRef("deep"), Depth.BRIEF)
    _assert_chain(thread, 500)
    # Opened at a comment deep in the chain: that comment and everything under it.
    focused = await source.fetch_thread(ThreadRef("deep", "d1f3"), Depth.BRIEF)
    assert [c.id for c in focused.comments] == [f"d{i:x}" for i in range(0x1F3, 500)]
    report = await ENGINE.digest(focused, Depth.DEEP)
    assert report.focus_comment_id == "d1f3"


def test_json_nested_beyond_the_limit_is_one_clear_error() -> None:
    deep = "[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1)
    with pytest.raises(ThreadDataError) as err:
        thread_from_json_text(deep, source="deep.json")
    message = err.value.user_message
    assert message.startswith("deep.json is nested too deeply")
    assert _one_sentence(message)


def test_deep_json_that_is_not_a_thread_is_refused_as_such() -> None:
    with pytest.raises(ThreadDataError) as err:
        thread_from_json_text("[" * 5_000 + "]" * 5_000, source="brackets.json")
    assert err.value.user_message.startswith(f"brackets.json {NOT_A_THREAD}")
    assert _one_sentence(err.value.user_message)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 5_000 + "]" * 4_999, "truncated"),
        ("[" * 5_000 + "]" * 5_000 + "]", "not valid JSON"),
        ("[" * 5_000 + "1 2" + "]" * 5_000, "not valid JSON"),
        ('[{"a": ' * 2_000 + '"unterminated', "truncated"),
    ],
)
def test_broken_deep_json_is_one_clear_error(text: str, message: str) -> None:
    with pytest.raises(ThreadDataError) as err:
        thread_from_json_text(text, source="broken.json")
    assert message in err.value.user_message
    assert _one_sentence(err.value.user_message)


def _top_level_by_walking(thread: Thread, comment_id: str) -> str:
    """What `top_level_of` answered before it had a one-pass table: the last ancestor."""
    root = comment_id
    for a in thread.ancestors(comment_id):
        root = a.id
    return root


def test_top_level_table_matches_walking_the_ancestors_even_on_malformed_parents() -> None:
    """Random parent links, with duplicates, missing parents, self-parents and cycles."""
    post = post_from_data(post_data("p", 0))
    created = datetime(2025, 1, 1, tzinfo=UTC)
    rng = random.Random(7)
    for _ in range(2_000):
        ids = [f"c{i}" for i in range(rng.randint(1, 12))]
        comments = tuple(
            Comment(
                id=rng.choice(ids),
                parent_id=rng.choice([None, "gone", *ids]),
                author="a",
                body="b",
                score=1,
                created=created,
                depth=1,
            )
            for _ in range(rng.randint(1, 14))
        )
        thread = Thread(post=post, comments=comments)
        for cid in [*ids, "unknown"]:
            assert thread.top_level_of(cid) == _top_level_by_walking(thread, cid), comments
