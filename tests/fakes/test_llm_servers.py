"""The fake LLM servers, exercised with the real ``anthropic`` and ``openai`` SDKs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anthropic
import openai
import pydantic
import pytest
from anthropic import AsyncAnthropic
from anthropic.types import TextBlock, ToolParam, ToolUseBlock
from openai import AsyncOpenAI

from tests.fakes.llm_servers import (
    Fail,
    FakeAnthropic,
    FakeOpenAI,
    RawBody,
    RawText,
    Reply,
    Slow,
    Usage,
)

MODEL = "claude-haiku-4-5"
VERDICT = {"summary": "Mostly positive.", "points": ["fast", "cheap"], "score": 0.8}
TOOL: ToolParam = {
    "name": "emit_digest",
    "description": "Return the digest.",
    "input_schema": {
        "type": "object",
        "properties": {
            "summary": {"type": "string"},
            "points": {"type": "array", "items": {"type": "string"}},
            "score": {"type": "number"},
        },
        "required": ["summary", "points", "score"],
    },
}
FAST_RETRY = {"retry-after-ms": "1", "retry-after": "0"}
"""What a test's 429/529 should carry: the SDKs read ``retry-after-ms`` first (1 ms)."""


class Verdict(pydantic.BaseModel):
    summary: str
    points: list[str]
    score: float


@pytest.fixture(autouse=True)
def _no_sdk_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("ANTHROPIC_CUSTOM_HEADERS", "ANTHROPIC_BASE_URL", "OPENAI_BASE_URL"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
async def claude() -> AsyncIterator[FakeAnthropic]:
    async with FakeAnthropic() as server:
        yield server


@pytest.fixture
async def local_llm() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


def anthropic_client(server: FakeAnthropic, **kwargs: Any) -> AsyncAnthropic:
    options: dict[str, Any] = {"api_key": "test-key", "max_retries": 0, **kwargs}
    return AsyncAnthropic(base_url=server.base_url, **options)


def openai_client(server: FakeOpenAI, **kwargs: Any) -> AsyncOpenAI:
    options: dict[str, Any] = {"api_key": "x", "max_retries": 0, **kwargs}
    return AsyncOpenAI(base_url=server.base_url + "/v1", **options)


def retry_delays(
    client: AsyncAnthropic | AsyncOpenAI, monkeypatch: pytest.MonkeyPatch
) -> list[float]:
    """The seconds ``client`` decides to wait before each retry, in order: the SDKs compute
    them in ``_calculate_retry_timeout`` and sleep exactly that. Tests assert on these, not on
    how long the machine took between two requests."""
    delays: list[float] = []
    decide = client._calculate_retry_timeout

    def recording(*args: Any, **kwargs: Any) -> float:
        delay = decide(*args, **kwargs)
        delays.append(delay)
        return delay

    monkeypatch.setattr(client, "_calculate_retry_timeout", recording)
    return delays


# --------------------------------------------------------------------------- Anthropic


async def test_forced_tool_answers_with_the_scripted_object(claude: FakeAnthropic) -> None:
    claude.script(Reply(VERDICT))
    async with anthropic_client(claude) as client:
        message = await client.messages.create(
            model=MODEL,
            max_tokens=1024,
            system=[
                {
                    "type": "text",
                    "text": "You digest Reddit threads.",
                    "cache_control": {"type": "ephemeral"},
                }
            ],
            messages=[{"role": "user", "content": "Thread: ..."}],
            tools=[TOOL],
            tool_choice={"type": "tool", "name": "emit_digest"},
        )
    block = message.content[0]
    assert isinstance(block, ToolUseBlock)
    assert (block.name, block.input) == ("emit_digest", VERDICT)
    assert block.id.startswith("toolu_")
    assert message.stop_reason == "tool_use"
    assert message.model == MODEL
    assert message.type == "message"
    assert message.role == "assistant"

    sent = claude.last
    assert (sent.method, sent.path) == ("POST", "/v1/messages")
    assert sent.headers["authorization"] == "Bearer test-key"
    assert sent.api_key == "test-key"
    assert sent.headers["anthropic-version"]
    assert sent.json["max_tokens"] == 1024
    assert sent.model == MODEL
    assert sent.json["tool_choice"] == {"type": "tool", "name": "emit_digest"}
    assert sent.json["tools"][0]["input_schema"] == TOOL["input_schema"]
    assert sent.system_text == "You digest Reddit threads."
    assert sent.user_text == "Thread: ..."
    assert sent.cache_breakpoints() == ["system[0]"]
    assert sent.status == 200
    assert sent.step == Reply(VERDICT)
    assert claude.pending == 0


async def test_tool_choice_any_uses_the_first_tool(claude: FakeAnthropic) -> None:
    claude.script(Reply(VERDICT))
    async with anthropic_client(claude) as client:
        message = await client.messages.create(
            model=MODEL,
            max_tokens=64,
            messages=[{"role": "user", "content": "x"}],
            tools=[TOOL],
            tool_choice={"type": "any"},
        )
    block = message.content[0]
    assert isinstance(block, ToolUseBlock)
    assert block.name == "emit_digest"


async def test_output_config_format_answers_with_json_text(claude: FakeAnthropic) -> None:
    schema = Verdict.model_json_schema()
    claude.script(Reply(VERDICT), Reply(VERDICT))
    async with anthropic_client(claude) as client:
        message = await client.messages.create(
            model=MODEL,
            max_tokens=512,
            messages=[{"role": "user", "content": "x"}],
            output_config={"format": {"type": "json_schema", "schema": schema}},
        )
        parsed = await client.messages.parse(
            model=MODEL,
            max_tokens=512,
            messages=[{"role": "user", "content": "x"}],
            output_format=Verdict,
        )
    block = message.content[0]
    assert isinstance(block, TextBlock)
    assert Verdict.model_validate_json(block.text) == Verdict.model_validate(VERDICT)
    assert message.stop_reason == "end_turn"
    assert claude.requests[0].json["output_config"]["format"]["schema"] == schema

    assert parsed.parsed_output == Verdict.model_validate(VERDICT)
    fmt = claude.last_json["output_config"]["format"]
    assert fmt["type"] == "json_schema"
    assert set(fmt["schema"]["required"]) == {"summary", "points", "score"}
    assert claude.last.headers["x-stainless-helper"] == "messages.parse"


async def test_parse_of_malformed_json_raises_validation_error(claude: FakeAnthropic) -> None:
    claude.script(RawText('{"summary": "cut off'))
    async with anthropic_client(claude) as client:
        with pytest.raises(pydantic.ValidationError):
            await client.messages.parse(
                model=MODEL,
                max_tokens=64,
                messages=[{"role": "user", "content": "x"}],
                output_format=Verdict,
            )


async def test_raw_text_even_when_a_tool_is_forced(claude: FakeAnthropic) -> None:
    claude.script(RawText("Sorry, I can't do that.", stop_reason="refusal"))
    async with anthropic_client(claude) as client:
        message = await client.messages.create(
            model=MODEL,
            max_tokens=64,
            messages=[{"role": "user", "content": "x"}],
            tools=[TOOL],
            tool_choice={"type": "tool", "name": "emit_digest"},
        )
    assert [b.type for b in message.content] == ["text"]
    assert message.stop_reason == "refusal"


async def test_scripted_usage_including_cache_tokens(claude: FakeAnthropic) -> None:
    usage = Usage(
        input_tokens=11,
        output_tokens=7,
        cache_creation_input_tokens=300,
        cache_read_input_tokens=1200,
    )
    claude.script(Reply(VERDICT, usage=usage))
    async with anthropic_client(claude) as client:
        message = await client.messages.create(
            model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "x"}]
        )
    assert message.usage.input_tokens == 11
    assert message.usage.output_tokens == 7
    assert message.usage.cache_creation_input_tokens == 300
    assert message.usage.cache_read_input_tokens == 1200


async def test_default_usage_and_simulated_prompt_cache(claude: FakeAnthropic) -> None:
    system: Any = [
        {"type": "text", "text": "rules " * 400, "cache_control": {"type": "ephemeral"}},
    ]
    tools: Any = [{**TOOL, "cache_control": {"type": "ephemeral"}}]

    async def call(client: AsyncAnthropic, question: str) -> anthropic.types.Usage:
        message = await client.messages.create(
            model=MODEL,
            max_tokens=64,
            system=system,
            tools=tools,
            tool_choice={"type": "tool", "name": "emit_digest"},
            messages=[
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "text",
                            "text": "thread " * 200,
                            "cache_control": {"type": "ephemeral", "ttl": "1h"},
                        },
                        {"type": "text", "text": question},
                    ],
                }
            ],
        )
        return message.usage

    async with anthropic_client(claude) as client:
        first = await call(client, "first question")
        second = await call(client, "second question")

    assert claude.last.cache_breakpoints() == ["tools[0]", "system[0]", "messages[0].content[0]"]
    assert first.cache_read_input_tokens == 0
    assert first.cache_creation_input_tokens is not None
    assert first.cache_creation_input_tokens > 500
    assert first.cache_creation is not None
    assert first.cache_creation.ephemeral_1h_input_tokens == first.cache_creation_input_tokens
    assert 0 < first.input_tokens < 20  # only the uncached tail
    assert first.output_tokens > 0
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens
    assert second.cache_creation_input_tokens == 0


async def test_429_with_retry_after_ms_is_retried_fast(
    claude: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    claude.script(Fail(429, headers=FAST_RETRY), Reply(VERDICT))
    async with anthropic_client(claude, max_retries=2) as client:
        delays = retry_delays(client, monkeypatch)
        message = await client.messages.create(
            model=MODEL,
            max_tokens=64,
            messages=[{"role": "user", "content": "x"}],
            tools=[TOOL],
            tool_choice={"type": "tool", "name": "emit_digest"},
        )
    # 1 ms asked for, 1 ms waited; the SDK's own default backoff would be 0.375-0.5 s.
    assert delays == [0.001]
    block = message.content[0]
    assert isinstance(block, ToolUseBlock)
    assert block.input == VERDICT
    assert [r.status for r in claude.requests] == [429, 200]
    assert [r.headers["x-stainless-retry-count"] for r in claude.requests] == ["0", "1"]
    assert claude.requests[0].json == claude.requests[1].json


async def test_retry_after_zero_falls_back_to_exponential_backoff(
    claude: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``retry-after: 0`` is not a positive delay, so the SDK sleeps 0.5 s x jitter(0.75-1)."""
    claude.script(Fail(429, headers={"retry-after": "0"}), Reply(VERDICT))
    async with anthropic_client(claude, max_retries=1) as client:
        delays = retry_delays(client, monkeypatch)
        await client.messages.create(
            model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "x"}]
        )
    assert [r.status for r in claude.requests] == [429, 200]
    assert len(delays) == 1
    assert 0.375 <= delays[0] <= 0.5


async def test_overloaded_529_surfaces_when_retries_run_out(claude: FakeAnthropic) -> None:
    claude.script(Fail(529, headers=FAST_RETRY), Fail(529, headers=FAST_RETRY))
    async with anthropic_client(claude, max_retries=1) as client:
        with pytest.raises(anthropic.InternalServerError) as caught:
            await client.messages.create(
                model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "x"}]
            )
    error = caught.value
    assert isinstance(error, anthropic.OverloadedError)
    assert isinstance(error, anthropic.APIStatusError)
    assert error.status_code == 529
    assert error.type == "overloaded_error"
    assert error.request_id is not None
    assert error.request_id.startswith("req_")
    assert isinstance(error.body, dict)
    assert error.body["type"] == "error"
    assert error.body["error"] == {"type": "overloaded_error", "message": "Overloaded"}
    assert claude.count == 2


async def test_400_is_not_retried(claude: FakeAnthropic) -> None:
    claude.script(Fail(400, message="prompt is too long: 250000 tokens > 200000 maximum"))
    async with anthropic_client(claude, max_retries=3) as client:
        with pytest.raises(anthropic.BadRequestError) as caught:
            await client.messages.create(
                model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "x"}]
            )
    assert caught.value.api_message == "prompt is too long: 250000 tokens > 200000 maximum"
    assert caught.value.type == "invalid_request_error"
    assert claude.count == 1


async def test_slow_answer_times_out(claude: FakeAnthropic) -> None:
    claude.script(Slow(5.0, then=Reply(VERDICT)))
    async with anthropic_client(claude, timeout=0.2) as client:
        with pytest.raises(anthropic.APITimeoutError):
            await client.messages.create(
                model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "x"}]
            )
        # The client gave up at its own deadline, while the fake was still holding the answer.
        assert claude.count == 1
        assert claude.last.status is None
    assert claude.last.headers["x-stainless-read-timeout"] == "0.2"


async def test_slow_answer_within_the_timeout_succeeds(claude: FakeAnthropic) -> None:
    claude.script(Slow(0.05, then=Reply(VERDICT, tool_name="emit_digest")))
    async with anthropic_client(claude, timeout=2.0) as client:
        message = await client.messages.create(
            model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "x"}]
        )
    block = message.content[0]
    assert isinstance(block, ToolUseBlock)
    assert block.input == VERDICT


async def test_wrong_key_is_rejected_with_401(claude: FakeAnthropic) -> None:
    claude.script(Reply(VERDICT))
    async with anthropic_client(claude, api_key="wrong-key", max_retries=2) as client:
        with pytest.raises(anthropic.AuthenticationError) as caught:
            await client.messages.create(
                model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "x"}]
            )
    assert caught.value.status_code == 401
    assert caught.value.type == "authentication_error"
    assert claude.count == 1  # 401 is not retried
    assert claude.pending == 1  # and consumed no step


async def test_x_api_key_header_is_accepted(claude: FakeAnthropic) -> None:
    claude.script(Reply(VERDICT))
    body = {"model": MODEL, "max_tokens": 8, "messages": [{"role": "user", "content": "x"}]}
    async with aiohttp.ClientSession() as session:
        headers = {"x-api-key": "test-key", "anthropic-version": "2023-06-01"}
        async with session.post(
            claude.base_url + "/v1/messages", json=body, headers=headers
        ) as response:
            assert response.status == 200
            data = await response.json()
        async with session.post(claude.base_url + "/v1/messages", json=body) as response:
            assert response.status == 401
            error = await response.json()
    assert data["content"] == [
        {
            "type": "text",
            "text": '{"summary": "Mostly positive.", "points": ["fast", "cheap"], "score": 0.8}',
        }
    ]
    assert set(data["usage"]) >= {
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    }
    assert error["type"] == "error"
    assert error["error"]["type"] == "authentication_error"


async def test_bad_requests_are_rejected_without_consuming_a_step(claude: FakeAnthropic) -> None:
    claude.script(Reply(VERDICT))
    marked: Any = {"type": "text", "text": "x", "cache_control": {"type": "ephemeral"}}
    async with anthropic_client(claude) as client:
        with pytest.raises(anthropic.BadRequestError, match="not found in tools"):
            await client.messages.create(
                model=MODEL,
                max_tokens=64,
                messages=[{"role": "user", "content": "x"}],
                tools=[TOOL],
                tool_choice={"type": "tool", "name": "other"},
            )
        with pytest.raises(anthropic.BadRequestError, match="maximum of 4 blocks"):
            await client.messages.create(
                model=MODEL,
                max_tokens=64,
                system=[marked, marked],
                messages=[{"role": "user", "content": [marked, marked, marked]}],
            )
    assert claude.pending == 1
    assert claude.calls() == []
    assert [r.status for r in claude.requests] == [400, 400]


async def test_default_reply_when_the_script_is_empty(claude: FakeAnthropic) -> None:
    claude.default = Reply({"summary": "default"})
    claude.script(
        RawBody(
            {"type": "error", "error": {"type": "api_error", "message": "boom"}},
            status=500,
            headers=FAST_RETRY,
        )
    )
    async with anthropic_client(claude, max_retries=1) as client:
        first = await client.messages.create(
            model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "x"}]
        )
        second = await client.messages.count_tokens(
            model=MODEL, messages=[{"role": "user", "content": "hello there"}]
        )
    block = first.content[0]
    assert isinstance(block, TextBlock)
    assert block.text == '{"summary": "default"}'
    assert second.input_tokens > 0
    assert len(claude.calls("/v1/messages")) == 2  # the 500 and its retry


# --------------------------------------------------------------------------- OpenAI-compatible

SCHEMA_FORMAT: Any = {
    "type": "json_schema",
    "json_schema": {"name": "verdict", "schema": Verdict.model_json_schema(), "strict": True},
}


async def test_openai_json_schema_returns_the_scripted_json(local_llm: FakeOpenAI) -> None:
    local_llm.script(Reply(VERDICT, usage=Usage(input_tokens=42, output_tokens=9)))
    client = openai_client(local_llm)
    try:
        completion = await client.chat.completions.create(
            model="qwen2.5-7b-instruct",
            max_tokens=256,
            messages=[
                {"role": "system", "content": "You digest Reddit threads."},
                {"role": "user", "content": "Thread: ..."},
            ],
            response_format=SCHEMA_FORMAT,
        )
    finally:
        await client.close()
    content = completion.choices[0].message.content
    assert content is not None
    assert Verdict.model_validate_json(content) == Verdict.model_validate(VERDICT)
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "qwen2.5-7b-instruct"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (42, 9)
    assert completion.usage.total_tokens == 51
    sent = local_llm.last
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer x"
    assert sent.json["response_format"] == SCHEMA_FORMAT
    assert sent.json["max_tokens"] == 256
    assert sent.system_text == "You digest Reddit threads."


async def test_openai_without_json_schema_support_falls_back_to_json_object() -> None:
    async with FakeOpenAI(supports_json_schema=False) as server:
        server.script(Reply(VERDICT))
        client = openai_client(server, max_retries=2)
        try:
            with pytest.raises(openai.BadRequestError) as caught:
                await client.chat.completions.create(
                    model="m",
                    messages=[{"role": "user", "content": "x"}],
                    response_format=SCHEMA_FORMAT,
                )
            completion = await client.chat.completions.create(
                model="m",
                messages=[{"role": "user", "content": "x"}],
                response_format={"type": "json_object"},
            )
        finally:
            await client.close()
    assert caught.value.status_code == 400
    assert "json_schema" in str(caught.value)
    assert completion.choices[0].message.content == (
        '{"summary": "Mostly positive.", "points": ["fast", "cheap"], "score": 0.8}'
    )
    assert completion.usage is not None
    assert completion.usage.prompt_tokens > 0
    assert [r.status for r in server.requests] == [400, 200]
    assert server.pending == 0


async def test_openai_parse_and_malformed_text(local_llm: FakeOpenAI) -> None:
    local_llm.script(Reply(VERDICT), RawText("not json {"))
    client = openai_client(local_llm)
    try:
        parsed = await client.chat.completions.parse(
            model="m", messages=[{"role": "user", "content": "x"}], response_format=Verdict
        )
        raw = await client.chat.completions.create(
            model="m",
            messages=[{"role": "user", "content": "x"}],
            response_format={"type": "json_object"},
        )
    finally:
        await client.close()
    assert parsed.choices[0].message.parsed == Verdict.model_validate(VERDICT)
    assert local_llm.requests[0].json["response_format"]["type"] == "json_schema"
    assert raw.choices[0].message.content == "not json {"


async def test_openai_retries_429_and_refuses_long_retry_after(local_llm: FakeOpenAI) -> None:
    local_llm.script(Fail(429, headers=FAST_RETRY), Reply(VERDICT))
    local_llm.script(Fail(503, headers={"retry-after": "300"}))
    client = openai_client(local_llm, max_retries=2)
    try:
        ok = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}]
        )
        with pytest.raises(openai.InternalServerError):
            await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "x"}]
            )
    finally:
        await client.close()
    assert ok.choices[0].message.content is not None
    # 429 retried once; the 503 asking for 300 s (> the SDK's 120 s cap) is not retried
    assert [r.status for r in local_llm.requests] == [429, 200, 503]


async def test_openai_slow_answer_times_out(local_llm: FakeOpenAI) -> None:
    local_llm.script(Slow(5.0))
    client = openai_client(local_llm, timeout=0.2)
    try:
        with pytest.raises(openai.APITimeoutError):
            await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "x"}]
            )
    finally:
        await client.close()


async def test_openai_wrong_key_is_rejected() -> None:
    async with FakeOpenAI(api_key="secret") as server:
        client = openai_client(server, api_key="wrong")
        try:
            with pytest.raises(openai.AuthenticationError):
                await client.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": "x"}]
                )
        finally:
            await client.close()
        good = openai_client(server, api_key="secret")
        try:
            models = await good.models.list()
        finally:
            await good.close()
    assert [m.id for m in models.data] == ["fake-model"]


# --------------------------------------------------------------------------- self-hosted knobs

# llama-cpp-python's form (not in the SDK's types): JSON mode constrained by a schema.
JSON_OBJECT_WITH_SCHEMA: Any = {"type": "json_object", "schema": Verdict.model_json_schema()}


async def test_openai_json_schema_refused_with_500_like_llama_cpp_python() -> None:
    async with FakeOpenAI(supports_json_schema=False, json_schema_status=500) as server:
        server.script(Reply(VERDICT))
        client = openai_client(server)
        try:
            with pytest.raises(openai.InternalServerError) as caught:
                await client.chat.completions.create(
                    model="m",
                    messages=[{"role": "user", "content": "x"}],
                    response_format=SCHEMA_FORMAT,
                )
            completion = await client.chat.completions.create(
                model="m",
                messages=[{"role": "user", "content": "x"}],
                response_format=JSON_OBJECT_WITH_SCHEMA,
            )
        finally:
            await client.close()
    assert caught.value.status_code == 500
    assert 'must be one of "text" or "json_object", but got: json_schema' in str(caught.value)
    assert completion.choices[0].message.content is not None
    assert [r.status for r in server.requests] == [500, 200]
    assert server.pending == 0  # the refusal consumed no step


async def test_openai_json_object_with_a_schema_can_be_refused() -> None:
    async with FakeOpenAI(supports_json_object_schema=False) as server:
        client = openai_client(server)
        try:
            with pytest.raises(openai.BadRequestError) as caught:
                await client.chat.completions.create(
                    model="m",
                    messages=[{"role": "user", "content": "x"}],
                    response_format=JSON_OBJECT_WITH_SCHEMA,
                )
            await client.chat.completions.create(
                model="m",
                messages=[{"role": "user", "content": "x"}],
                response_format={"type": "json_object"},
            )
        finally:
            await client.close()
    assert "schema" in str(caught.value)
    assert [r.status for r in server.requests] == [400, 200]


async def test_one_slot_queues_the_second_call_until_the_first_is_generated() -> None:
    async with FakeOpenAI(slots=1, tokens_per_second=100.0) as server:
        server.script(Reply(VERDICT, usage=Usage(output_tokens=30)), Reply(VERDICT))
        client = openai_client(server)
        try:
            first = asyncio.create_task(
                client.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": "a"}]
                )
            )
            await server.until_in_flight(1)
            second = await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "b"}]
            )
            await first
        finally:
            await client.close()
    a, b = server.requests
    assert (a.queued, b.queued) == (False, True)
    assert server.overlapped == 1
    assert second.choices[0].message.content is not None


async def test_a_slot_stays_busy_after_the_client_gives_up() -> None:
    async with FakeOpenAI(slots=1, tokens_per_second=10.0) as server:
        server.script(Reply(VERDICT, usage=Usage(output_tokens=5)))  # 0.5 s of generation
        client = openai_client(server, timeout=0.1)
        try:
            with pytest.raises(openai.APITimeoutError):
                await client.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": "x"}]
                )
            assert server.in_flight == 1  # still generating for nobody
            await server.until_in_flight(0)
        finally:
            await client.close()
    assert server.overlapped == 0


async def test_count_tokens_uses_the_given_tokenizer() -> None:
    async with (
        FakeAnthropic(tokenizer=lambda text: 3 * len(text.split())) as server,
        anthropic_client(server) as client,
    ):
        counted = await client.messages.count_tokens(
            model=MODEL, messages=[{"role": "user", "content": "one two three"}]
        )
        message = await client.messages.create(
            model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "one two three"}]
        )
    assert counted.input_tokens == 9
    assert message.usage.input_tokens == 9
    assert server.requests[0].step is None  # a count is not a model call
