"""bench/public_reddit.py's part 1: requests per digest, the public source against the OAuth one
(asyncpraw) on the same fake Reddit, over the recorded threads and a synthetic tree."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.reddit_source.live import DEFAULT_PLANS, RedditSource
from adapters.reddit_source.public import PublicConfig, PublicRedditSource
from bench.common import describe, progress, shared_data_dir
from bench.common import share_pct as _pct
from bench.public_reddit_setup import PLANS, SYNTHETIC_SIZE
from bench.reddit_common import (
    PRAW_RECORDINGS,
    TOP_N,
    RecordedSpec,
    Row,
    api_requests,
    fake_reddit_only,
    load_recording,
    oauth_config,
    top_share,
)
from bot.ports import ThreadRef
from digest.report import Depth
from tests.fakes.reddit_server import FakeReddit, generate_comment_tree, make_post

RECORDED = (
    *PRAW_RECORDINGS,
    RecordedSpec(
        "asyncpraw/announcements_n49rw_2020.json",
        "asyncpraw/announcements_n49rw_2020_morechildren.json",
    ),
    RecordedSpec(
        "ocaml-reddit-api/nfl_g7vyxy_2020.json",
        "ocaml-reddit-api/nfl_g7vyxy_2020_morechildren.json",
    ),
    RecordedSpec("localllama/localllama_1ibk9us.json"),
    RecordedSpec("localllama/localllama_1miezct.json"),
    RecordedSpec("localllama/localllama_1lpl656.json"),
)


@dataclass(slots=True)
class Got:
    requests: int = 0
    scores: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    self_count: int | None = None


def comment_scores(*nodes: Any) -> dict[str, int]:
    """Every t1 comment anywhere in these JSON values: id → score."""
    scores: dict[str, int] = {}
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            data = node.get("data")
            if node.get("kind") == "t1" and isinstance(data, dict) and data.get("id"):
                scores[str(data["id"])] = int(data.get("score") or 0)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return scores


async def _fetch(source: PublicRedditSource | RedditSource, post_id: str, depth: Depth) -> Got:
    got = Got()
    async with source:
        try:
            thread = await source.fetch_thread(ThreadRef(post_id), depth)
        except Exception as exc:  # reported, not raised
            got.error = describe(exc)
        else:
            got.scores = {c.id: c.score for c in thread.comments}
        got.self_count = source.requests_made
    return got


async def public_fetch(fake: FakeReddit, post_id: str, depth: Depth) -> Got:
    start = len(fake.requests)
    got = await _fetch(PublicRedditSource(PublicConfig(base_url=fake.base_url)), post_id, depth)
    got.requests = len(fake.requests) - start
    return got


async def oauth_fetch(fake: FakeReddit, post_id: str, depth: Depth) -> Got:
    start = len(fake.requests)
    got = await _fetch(RedditSource(oauth_config(fake)), post_id, depth)
    got.requests = api_requests(fake, start)  # after the token
    return got


def _cell(got: Got, text: str) -> str:
    return f"{text} (failed)" if got.error is not None else text


async def measure_case(
    fake: FakeReddit, name: str, post_id: str, size: int, reference: dict[str, int]
) -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    notes: list[str] = []
    n = f"{size:,}"
    for depth in (Depth.BRIEF, Depth.DEEP):
        progress(f"[bench publicreddit] {name}: {depth.value}")
        public = await public_fetch(fake, post_id, depth)
        oauth = await oauth_fetch(fake, post_id, depth)
        label = f"public vs OAuth: {name} · {depth.value} ·"
        budgets = f"budget {PLANS[depth].requests} / {DEFAULT_PLANS[depth].requests}"
        rows += [
            (f"{label} requests ({budgets})", n, _cell(public, f"{public.requests}"), "requests",
             _cell(oauth, f"{oauth.requests}")),
            (f"{label} comments fetched", n, _cell(public, f"{len(public.scores):,}"),
             "comments", _cell(oauth, f"{len(oauth.scores):,}")),
            (f"{label} top-{TOP_N} reached", n,
             _cell(public, _pct(top_share(reference, public.scores, TOP_N))), "of top 50",
             _cell(oauth, _pct(top_share(reference, oauth.scores, TOP_N)))),
        ]  # fmt: skip
        for way, got in (("public", public), ("OAuth", oauth)):
            if got.error is not None:
                notes.append(f"{name} ({depth.value}, {way}): FAILED: {got.error}")
            if way == "public" and got.self_count != got.requests:
                notes.append(
                    f"{name} ({depth.value}): the fake saw {got.requests} requests, the public "
                    f"source counted {got.self_count}"
                )
        if public.requests > PLANS[depth].requests:
            notes.append(f"{name} ({depth.value}): public mode went OVER its budget")
    return rows, notes


async def requests_per_digest(notes: list[str]) -> list[Row]:
    rows: list[Row] = []
    async with FakeReddit(ratelimit_budget=10**9, public_ratelimit_budget=10**9) as fake:
        if not fake.base_url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"the fake server is not on 127.0.0.1: {fake.base_url}")
        reddit_dir = shared_data_dir() / "reddit"
        if not reddit_dir.is_dir():
            notes.append(f"recorded threads: skipped — {reddit_dir} does not exist")
        else:
            for spec in RECORDED:
                missing = spec.missing(reddit_dir)
                name = Path(spec.thread).stem
                if missing:
                    notes.append(f"{name}: skipped — missing {', '.join(missing)}")
                    continue
                rec = load_recording(reddit_dir, spec)
                # Registered just before it is measured: two recordings share the id n49rw.
                fake.add_thread(rec.raw, rec.pairs, rec.continues)
                reference = comment_scores(rec.raw, rec.pairs, list((rec.continues or {}).values()))
                post_id, size = rec.post_id, rec.size
                case_rows, case_notes = await measure_case(fake, name, post_id, size, reference)
                rows += case_rows
                notes += case_notes
        post_id = "syn5k"
        comments = generate_comment_tree(
            post_id, SYNTHETIC_SIZE, seed=11, subreddit="bench", reply_decay=0.8
        )
        fake.add_full_thread(make_post(post_id, subreddit="bench"), comments)
        truth = {str(c["id"]): int(c["score"]) for c in comments}
        case_rows, case_notes = await measure_case(
            fake, f"synthetic {SYNTHETIC_SIZE:,}", post_id, SYNTHETIC_SIZE, truth
        )
        rows += case_rows
        notes += case_notes
    return rows


def part_one() -> tuple[list[Row], list[str]]:
    notes: list[str] = []
    with fake_reddit_only():
        rows = asyncio.run(requests_per_digest(notes))
    return rows, notes
