"""Issue 18, scope 1: Reddit reads exactly as it always did.

A thread built the way the Reddit adapter builds it (no origin given) and the same thread with an
explicit Reddit origin render to the same bytes in every renderer and the same LLM prompt; and
what Reddit has (r/sub, u/names, points, the upvote ratio, the OP) is still said. The whole
real-data comparison against renders made before the change is a one-off (see the branch's
report); this keeps the cheap part of it.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from adapters.reddit_source.thread_json import thread_from_json, thread_from_json_text
from digest.llm import LLMAnalyzer, RetryPolicy
from digest.model import Thread
from digest.pipeline import DigestEngine
from digest.render.document import bundle_document, document
from digest.render.json_report import render_json
from digest.render.markdown import markdown_of, render_markdown, render_text
from digest.report import Depth, Report
from digest.sentiment import make_scorer
from digest.source import REDDIT, Origin, reddit
from tests.support.scripted_llm import ScriptedLLM, grounded_answer
from tests.support.synthetic import thread_json

SCORER = make_scorer()
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "reddit"
REAL = ("localllama/localllama_1miezct.json", "praw/funny_3hahrw_2016.json")
MODELS = {Depth.BRIEF: "claude-haiku-5-5", Depth.DEEP: "claude-sonnet-5-5"}


def _all(report: Report) -> tuple[str, ...]:
    return (
        render_markdown(report),
        render_text(report),
        render_json(report),
        repr(document(report)),
        markdown_of(bundle_document("Daily", [report], note="one")),
    )


def _renders(thread: Thread) -> list[tuple[str, ...]]:
    engine = DigestEngine(scorer=SCORER)
    out = []
    for depth in Depth:
        r = engine.digest_sync(thread, depth)
        out.append(_all(replace(r, usage=replace(r.usage, latency_ms=0))))
    return out


def _same_everywhere(thread: Thread) -> None:
    assert thread.origin == REDDIT
    explicit = replace(thread, origin=reddit(thread.post.subreddit))
    assert explicit.place == thread.place == f"r/{thread.post.subreddit}"
    default = _renders(thread)
    assert _renders(explicit) == default
    assert _renders(replace(thread, origin=Origin())) == default


def test_a_synthetic_reddit_thread_renders_the_same_with_an_explicit_reddit_origin() -> None:
    _same_everywhere(thread_from_json(thread_json(150, seed=11)))


def test_reddit_words_are_still_said_on_reddit() -> None:
    thread = thread_from_json(thread_json(150, seed=11))
    report = DigestEngine(scorer=SCORER).digest_sync(thread, Depth.DEEP)
    text = render_text(report)
    first = text.splitlines()[0]
    assert first.startswith("r/synthetic · Synthetic thread with 150 comments")
    assert " · 1,150 points · 90% upvoted · 150 comments · " in first
    assert "  Subreddit  r/synthetic" in text
    assert "  Score      1,150 (90% upvoted)" in text
    assert "(the top by score, with their parent comments" in text
    assert "Top-level comments by score" in text
    assert "u/user_" in text
    assert " points)" in text or " points, " in text
    assert "the OP wrote" in text
    assert "The post has a score of 1,150, 90% upvoted, and 150 comments." in text
    assert "source" not in json.loads(render_json(report))["thread"]  # the JSON is unchanged


@pytest.mark.parametrize("name", REAL)
def test_real_reddit_threads_render_the_same_with_an_explicit_reddit_origin(name: str) -> None:
    path = DATA / name
    if not path.exists():
        pytest.skip(f"{path} is not here (../shared/data)")
    _same_everywhere(thread_from_json_text(path.read_bytes(), source=f"file:{path.name}"))


async def test_the_reddit_prompt_is_the_same_with_an_explicit_reddit_origin() -> None:
    thread = thread_from_json(thread_json(80, seed=5))
    prompts = []
    for t in (thread, replace(thread, origin=reddit("synthetic"))):
        llm = ScriptedLLM(default=grounded_answer)
        analyzer = LLMAnalyzer(llm, models=MODELS, prices={}, policy=RetryPolicy())
        report = await DigestEngine(analyzer, scorer=SCORER).digest(t, Depth.DEEP)
        prompts.append(([(r.system, r.blocks, r.instructions) for r in llm.requests], report))
    (first, report_a), (second, report_b) = prompts
    assert first == second
    assert render_markdown(replace(report_a, usage=report_b.usage)) == render_markdown(report_b)
    system, blocks, _ = first[0]
    assert system.startswith("You analyse Reddit discussions")
    assert '"subreddit": "synthetic"' in blocks[0].text
    assert '"upvote_ratio": 0.9' in blocks[0].text
