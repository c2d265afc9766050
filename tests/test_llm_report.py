"""What the LLM writes reaches the report, checked (issue 14, LLM path v2): the mood label that
heads its reading, its link notes (in every renderer), and the tokens of an attempt that fell
back to the offline analyser (in the report, in `--show-usage` and in the bot's spend cap).
The providers run through the real SDKs against tests/fakes/llm_servers.py."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from adapters.llm.openai_client import OpenAICompatibleClient
from adapters.reddit_source.thread_json import thread_from_json
from bot.chat import Request
from bot.cli import app
from bot.core import Core, CoreConfig, Engines
from bot.storage import Storage
from digest import codec
from digest.analysis import NarrativeResult
from digest.llm import LLMAnalyzer, LLMClient, RetryPolicy, StructuredRequest
from digest.model import Thread
from digest.pipeline import DigestEngine, assemble, ground
from digest.render.document import condensed_lines
from digest.render.json_report import report_to_dict
from digest.render.markdown import render_markdown, render_text
from digest.report import Depth, LinkNote, Narrative, Report
from digest.sentiment import make_scorer
from tests.fakes.llm_servers import FakeOpenAI, RawText, Usage
from tests.support.fake_chat import FakeChat
from tests.support.fake_source import FakeSource
from tests.support.harness import Clock
from tests.support.scripted_llm import ScriptedLLM, grounded_answer
from tests.support.synthetic import comment_data, post_data

SCORER = make_scorer()
MODELS = {Depth.BRIEF: "claude-haiku-5-5", Depth.DEEP: "claude-sonnet-5-5"}
LOCAL = {Depth.BRIEF: "smollm2", Depth.DEEP: "smollm2"}
PRICES = {"smollm2": (1.0, 5.0, 0.0, 0.0)}  # US$ per million tokens, so the spend is not zero
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "selfhosted_thread.json"
DOCS = "https://example.org/docs/page?x=1&y=2"
CODE = "https://github.com/example/project/"  # as written: a trailing slash


def _thread() -> Thread:
    post = post_data("mdl", 3)
    post.update(selftext="Which local model do you run for coding?", score=900)
    t0 = post["created_utc"]
    c1 = comment_data("m1", "t3_mdl", author="alice", body=f"Docs: {DOCS} are good, and the code is at {CODE} too.", score=250, created=t0 + 60, depth=0)  # fmt: skip
    c2 = comment_data("m2", "t3_mdl", author="bob", body="Terrible, broken and slow. I hate it.", score=40, created=t0 + 120, depth=0)  # fmt: skip
    c3 = comment_data("m3", "t3_mdl", author="carol", body="Works fine for me.", score=12, created=t0 + 180, depth=0)  # fmt: skip
    children = [{"kind": "t1", "data": c} for c in (c1, c2, c3)]
    return thread_from_json(
        [
            {"kind": "Listing", "data": {"children": [{"kind": "t3", "data": post}]}},
            {"kind": "Listing", "data": {"children": children}},
        ]
    )


def _engine(client: LLMClient, models: dict[Depth, str] = MODELS) -> DigestEngine:
    analyzer = LLMAnalyzer(client, models=models, prices=PRICES, policy=RetryPolicy())
    return DigestEngine(analyzer, scorer=SCORER)


def _computed_label(thread: Thread) -> str:
    return DigestEngine(scorer=SCORER).prepare(thread, Depth.BRIEF).sentiment.label


def _other_mood(label: str) -> str:
    return "positive" if label != "positive" else "negative"


def _answer(**changes: Any) -> Any:
    def write(request: StructuredRequest) -> dict[str, Any]:
        return grounded_answer(request) | changes

    return write


# --------------------------------------------------------------------------- (a) the mood label


async def test_the_llm_mood_heads_the_reading_it_wrote() -> None:
    thread = _thread()
    computed = _computed_label(thread)
    mood = _other_mood(computed)
    llm = ScriptedLLM(default=_answer(mood=mood, tldr=""))
    report = await _engine(llm).digest(thread, Depth.BRIEF)
    assert report.analyzer == "scripted"
    assert report.notes == ()
    assert (report.sentiment.label, report.computed_mood) == (mood, computed)
    sentiment = report_to_dict(report)["sentiment"]
    assert (sentiment["label"], sentiment["computed_label"]) == (mood, computed)
    # Every place that names the mood names the reading's: a scheduled digest's line, and the
    # TL;DR a brief composes when the model wrote none.
    mood_line = "".join(s.text for s in condensed_lines(report)[-1])
    assert mood_line.startswith(f"Mood: {mood} ·")
    assert codec.loads(Report, codec.dumps(report)) == report


async def test_the_offline_analyser_keeps_its_own_label() -> None:
    thread = _thread()
    report = await DigestEngine(scorer=SCORER).digest(thread, Depth.BRIEF)
    assert (report.sentiment.label, report.computed_mood) == (_computed_label(thread), "")
    sentiment = report_to_dict(report)["sentiment"]
    assert sentiment["label"] == sentiment["computed_label"] == _computed_label(thread)


async def test_a_mood_that_is_not_a_label_is_dropped_with_a_note() -> None:
    """Twice "ecstatic": the repair round is asked for, then the computed label stays and the
    reader is told part of the analysis was left out."""
    thread = _thread()
    llm = ScriptedLLM(default=_answer(mood="ecstatic"))
    report = await _engine(llm).digest(thread, Depth.BRIEF)
    assert len(llm.requests) == 2
    assert llm.requests[1].repair is not None
    assert "mood: 'ecstatic' is not one of" in llm.requests[1].repair[1]
    assert (report.sentiment.label, report.computed_mood) == (_computed_label(thread), "")
    assert report.notes == (
        "1 part of the model's analysis did not match the thread and was left out.",
    )


def test_grounding_keeps_only_a_label_with_its_reading() -> None:
    """Whatever wrote the narrative, the pipeline lets through only a label of MOODS, and only
    over a reading."""
    thread = _thread()
    engine = DigestEngine(scorer=SCORER)
    inp = engine.prepare(thread, Depth.BRIEF)
    base = Narrative((), (), "Upbeat overall.", {}, (), (), mood="positive")
    clean, problems = ground(thread, replace(base, mood="Positive!"))
    assert clean.mood is None
    assert problems == ["mood: 'Positive!' is not one of positive, negative, neutral, mixed"]
    report = assemble(inp, NarrativeResult(replace(base, mood="Positive!")), "llm")
    assert report.sentiment.label == inp.sentiment.label
    assert report.notes == ("1 item of the analysis did not match the thread and was left out.",)
    clean, problems = ground(thread, replace(base, sentiment_reading=" ", mood="mixed"))
    assert (clean.mood, problems) == (None, [])
    report = assemble(inp, NarrativeResult(replace(base, mood="mixed")), "llm")
    assert report.sentiment.label == "mixed"


# --------------------------------------------------------------------------- (b) link notes


def test_link_notes_are_scrubbed_like_any_model_text() -> None:
    thread = _thread()
    notes = (
        LinkNote(DOCS, "the project's\n  documentation"),  # one line
        LinkNote(DOCS, "a second note on the same link"),  # the first stays
        LinkNote("https://github.com/example/project", "the code, says alice"),
        LinkNote("https://invented.example/x", "made up"),
        LinkNote(DOCS, "mirror at https://evil.example/x"),
        LinkNote(DOCS, "mirror at www.evil.example"),
        LinkNote(DOCS, "ping @everyone about it"),
        LinkNote(DOCS, "ask <@12345> about it"),
        LinkNote(DOCS, "x" * 201),
        LinkNote(DOCS, "   "),
    )
    base = Narrative((), (), "", {}, (), (), links=notes)
    clean, problems = ground(thread, base)
    assert [(n.url, n.note) for n in clean.links] == [
        (DOCS, "the project's documentation"),
        ("https://github.com/example/project", "the code, says alice"),
    ]
    assert problems == [
        "links[3]: a note on a link the thread does not hold",
        "links[4]: the note holds a URL of its own",
        "links[5]: the note holds a URL of its own",
        "links[6]: the note holds a mention",
        "links[7]: the note holds a mention",
        "links[8]: the note is 201 characters, over 200",
        "links[9]: the note is empty",
    ]


async def test_link_notes_reach_every_renderer() -> None:
    thread = _thread()
    links = [
        {"url": DOCS, "note": "the project's documentation"},
        {"url": "https://github.com/example/project", "note": "the `project` source code"},
    ]  # the second without the slash it was written with
    llm = ScriptedLLM(default=_answer(links=links))
    engine = _engine(llm)
    brief = await engine.digest(thread, Depth.BRIEF)
    deep = await engine.digest(thread, Depth.DEEP)
    for report in (brief, deep):
        assert report.notes == ()
        # Under the URL of the listed link, however the model wrote an equivalent one.
        assert report.link_notes == {
            DOCS: "the project's documentation",
            CODE: "the `project` source code",
        }
        assert codec.loads(Report, codec.dumps(report)) == report
        assert report_to_dict(report)["link_notes"] == [  # in the order of stats.links
            {"url": DOCS, "note": "the project's documentation"},
            {"url": CODE, "note": "the `project` source code"},
        ]
    markdown = render_markdown(brief)
    top_links = markdown.split("## Top links", 1)[1]
    assert f"<{DOCS}> — the project's documentation *—" in top_links
    assert f"<{CODE}> — the \\`project\\` source code *—" in top_links  # escaped like any text
    assert f"{DOCS} — the project's documentation — " in render_text(brief)
    deep_md = render_markdown(deep)
    links_section = deep_md.split("## 6. Links and references", 1)[1].split("## 7.", 1)[0]
    assert f"<{CODE}> — the \\`project\\` source code *— shared by u/alice" in links_section
    assert f"{DOCS} — the project's documentation — shared by" in render_text(deep)


async def test_an_offline_report_has_no_link_notes() -> None:
    report = await DigestEngine(scorer=SCORER).digest(_thread(), Depth.DEEP)
    assert report.link_notes == {}
    assert report_to_dict(report)["link_notes"] == []
    assert " — shared by u/alice" in render_text(report)


# --------------------------------------------------------------------------- (c) spent, then fell back


def _malformed_twice(server: FakeOpenAI) -> None:
    server.script(
        RawText("Sure! {oops", usage=Usage(5000, 700)), RawText("{again", usage=Usage(5100, 710))
    )


async def test_a_fallback_report_carries_what_the_llm_spent() -> None:
    thread = _thread()
    async with (
        FakeOpenAI() as server,
        OpenAICompatibleClient(base_url=server.base_url + "/v1", api_key=None) as client,
    ):
        _malformed_twice(server)
        report = await _engine(client, LOCAL).digest(thread, Depth.BRIEF)
    assert report.analyzer == "offline"
    assert any("gave invalid output twice" in n for n in report.notes)
    u = report.usage
    assert (u.input_tokens, u.output_tokens, u.model) == (10_100, 1_410, "smollm2")
    assert u.cost_usd == pytest.approx((10_100 * 1.0 + 1_410 * 5.0) / 1_000_000)
    assert u.latency_ms >= 0
    assert report_to_dict(report)["usage"]["input_tokens"] == 10_100


async def test_the_spend_cap_counts_what_a_fallback_spent(tmp_path: Path) -> None:
    """The bot core charges the server for the tokens of answers it threw away."""
    async with (
        FakeOpenAI() as server,
        OpenAICompatibleClient(base_url=server.base_url + "/v1", api_key=None) as client,
        AsyncExitStack() as stack,
    ):
        clock, chat, source = Clock(), FakeChat(), FakeSource()
        source.add(_thread())
        storage = await stack.enter_async_context(Storage(tmp_path / "bot.sqlite3", clock=clock))
        engines = Engines(
            {"offline": DigestEngine(scorer=SCORER), "openai": _engine(client, LOCAL)},
            default="openai",
        )
        core = Core(storage=storage, source=source, engines=engines, chats={"fake": chat},
                    clock=clock, config=CoreConfig(workers=1))  # fmt: skip
        _malformed_twice(server)
        await core.handle_request(_request("https://redd.it/mdl"))
        while await core.run_one_job() is not None:
            pass
        [post] = chat.public()
        assert post.delivery.report is not None
        assert post.delivery.report.analyzer == "offline"
        spent = await storage.spent_today("fake", "S1")
    assert len(server.calls()) == 2
    assert spent == pytest.approx((10_100 * 1.0 + 1_410 * 5.0) / 1_000_000)


def _request(text: str) -> Request:
    return Request(platform="fake", server_id="S1", channel_id="C1", user_id="U1",
                   command="digest", text=text, can_manage=True, reply_token="t1")  # fmt: skip


@pytest.fixture
def threaded_openai(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    """A FakeOpenAI on its own event loop in a thread: the CLI runs its own asyncio.run()."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = FakeOpenAI()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url + "/v1")
    monkeypatch.setenv("REDIGEST_BRIEF_MODEL", "smollm2")
    monkeypatch.setenv("REDIGEST_DEEP_MODEL", "smollm2")
    monkeypatch.setenv("REDIGEST_LLM_PRICES", json.dumps(PRICES))
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_show_usage_prints_what_a_fallback_spent(threaded_openai: FakeOpenAI) -> None:
    _malformed_twice(threaded_openai)
    result = CliRunner().invoke(
        app, ["digest", str(EXAMPLE), "--analyzer", "openai", "--show-usage"]
    )
    assert result.exit_code == 0, result.stderr
    assert len(threaded_openai.calls()) == 2
    usage = next(line for line in result.stderr.splitlines() if line.startswith("usage:"))
    assert "analyser=offline model=smollm2 input=10100 output=1410" in usage
    assert "≈ $0.017" in usage  # (10,100 × $1 + 1,410 × $5) per million


# --------------------------------------------------------------------------- notes say one as one


async def test_notes_count_one_comment_and_one_part_in_the_singular() -> None:
    post = post_data("one", 1)
    comment = comment_data("o1", "t3_one", author="dana", body="Runs well on my laptop.", score=5, created=post["created_utc"] + 60, depth=0)  # fmt: skip
    thread = thread_from_json(
        [
            {"kind": "Listing", "data": {"children": [{"kind": "t3", "data": post}]}},
            {"kind": "Listing", "data": {"children": [{"kind": "t1", "data": comment}]}},
        ]
    )
    counts = iter([10**6, 1])

    class Counting(ScriptedLLM):
        async def count_tokens(
            self, request: StructuredRequest, *, time_limit: float
        ) -> int | None:
            return next(counts)

    report = await _engine(Counting(default=_answer(tldr="9,999 readers."))).digest(
        thread, Depth.BRIEF
    )
    assert report.analyzer == "scripted"
    assert report.notes == (
        "To fit the model's token budget, 1 comment of the 1 chosen for analysis was left out "
        "of its prompt.",
        "1 part of the model's analysis did not match the thread and was left out.",
    )
