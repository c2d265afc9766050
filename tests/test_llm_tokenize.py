"""Token budgets by a local server's own tokenizer (issue 14, LLM path v2): where an
OpenAI-compatible server offers llama.cpp's `POST /tokenize`, the whole prompt is counted there
once and trimmed to fit; a server without one is asked once, and the calibrated estimate stands.
The real openai SDK runs against tests/fakes/llm_servers.py."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from adapters.llm.openai_client import TEMPLATE_TOKENS_PER_MESSAGE, OpenAICompatibleClient
from adapters.reddit_source.thread_json import thread_from_json
from digest.llm import LLMAnalyzer, StructuredRequest
from digest.llm_port import PromptBlock
from digest.llm_tokens import count_tokens
from digest.pipeline import Budgets, DigestEngine
from digest.report import Depth
from digest.sentiment import make_scorer
from tests.fakes.llm_servers import FakeOpenAI, RawText, RecordedRequest, Reply
from tests.support.scripted_llm import grounded_answer
from tests.support.synthetic import thread_json

SCORER = make_scorer()
LOCAL = {Depth.BRIEF: "smollm2", Depth.DEEP: "smollm2"}


def llama_count(text: str) -> int:
    """A tokenizer that takes 30% more tokens than the local estimate allows for."""
    return int(count_tokens(text) * 1.3)


def _request_of(prompt: str) -> StructuredRequest:
    return StructuredRequest(model="m", system="", blocks=(PromptBlock(prompt),), instructions="",
                             schema={}, schema_name="", max_tokens=1)  # fmt: skip


class _Answering(FakeOpenAI):
    """A FakeOpenAI whose Reply({}) steps answer from the prompt they get."""

    def _answer(self, record: RecordedRequest, step: Reply | RawText) -> web.Response:
        if isinstance(step, Reply) and step.obj == {}:
            step = Reply(grounded_answer(_request_of(record.user_text)), usage=step.usage)
        return super()._answer(record, step)


def _engine(client: OpenAICompatibleClient) -> DigestEngine:
    return DigestEngine(LLMAnalyzer(client, models=LOCAL), scorer=SCORER)


def _sent_text(body: Any) -> str:
    return "\n".join(m["content"] for m in body["messages"])


async def test_the_prompt_fits_the_budget_by_the_servers_own_count() -> None:
    thread = thread_from_json(thread_json(800, seed=4))
    async with (
        _Answering(tokenize=True, tokenizer=llama_count) as server,
        OpenAICompatibleClient(base_url=server.base_url + "/v1", api_key=None) as client,
    ):
        engine = _engine(client)
        for depth in Depth:
            server.reset()
            report = await engine.digest(thread, depth)
            assert report.analyzer == "openai"
            assert any("left out of its prompt" in n for n in report.notes), report.notes
            counts = server.requests_to("/tokenize")
            assert 2 <= len(counts) <= 4  # the whole prompt, counted, trimmed, counted again
            [sent] = server.calls()
            # What was sent is what was counted last, and it fits by the server's count.
            assert counts[-1].json == {"content": _sent_text(sent.json)}
            framing = TEMPLATE_TOKENS_PER_MESSAGE * len(sent.json["messages"])
            assert llama_count(_sent_text(sent.json)) + framing <= Budgets().for_depth(depth)
            assert llama_count(counts[0].json["content"]) > Budgets().for_depth(depth)
    assert client.has_tokenize is True


async def test_a_server_without_tokenize_is_asked_once() -> None:
    thread = thread_from_json(thread_json(40, seed=2))
    async with (
        _Answering() as server,
        OpenAICompatibleClient(base_url=server.base_url + "/v1", api_key=None) as client,
    ):
        engine = _engine(client)
        first = await engine.digest(thread, Depth.BRIEF)
        second = await engine.digest(thread, Depth.DEEP)
    assert first.analyzer == second.analyzer == "openai"
    assert first.notes == second.notes == ()
    assert [(r.path, r.status) for r in server.requests] == [
        ("/tokenize", 404),
        ("/v1/chat/completions", 200),
        ("/v1/chat/completions", 200),
    ]
    assert client.has_tokenize is False


async def test_a_failing_tokenize_falls_back_to_the_estimate_and_is_tried_again() -> None:
    thread = thread_from_json(thread_json(40, seed=2))
    async with (
        _Answering(tokenize=True, tokenize_fails=1) as server,
        OpenAICompatibleClient(base_url=server.base_url + "/v1", api_key=None) as client,
    ):
        engine = _engine(client)
        first = await engine.digest(thread, Depth.BRIEF)
        assert client.has_tokenize is None  # a 500 says nothing about whether it exists
        second = await engine.digest(thread, Depth.BRIEF)
    assert first.analyzer == second.analyzer == "openai"
    assert first.notes == second.notes == ()
    assert [r.status for r in server.requests_to("/tokenize")] == [500, 200]
    assert client.has_tokenize is True


class _OtherAnswer(_Answering):
    """A server that answers 200 with something else at /tokenize (LM Studio's "Unexpected
    endpoint"), or speaks another dialect there."""

    def _tokenize(self, request: web.Request, record: RecordedRequest) -> web.Response:
        return web.json_response({"error": "Unexpected endpoint or method. (POST /tokenize)"})


async def test_a_server_answering_something_else_at_tokenize_is_not_asked_again() -> None:
    thread = thread_from_json(thread_json(40, seed=2))
    async with (
        _OtherAnswer(tokenize=True) as server,
        OpenAICompatibleClient(base_url=server.base_url + "/v1", api_key=None) as client,
    ):
        engine = _engine(client)
        await engine.digest(thread, Depth.BRIEF)
        await engine.digest(thread, Depth.BRIEF)
    assert len(server.requests_to("/tokenize")) == 1
    assert client.has_tokenize is False


async def test_openais_own_api_is_never_asked_to_tokenize() -> None:
    async with OpenAICompatibleClient(base_url=None, api_key="sk-test") as client:
        assert client.has_tokenize is False
        assert await client.count_tokens(_request_of("hello"), time_limit=1.0) is None
