"""The LLMClient port on any OpenAI-compatible chat-completions server: llama.cpp server,
llama-cpp-python, Ollama, vLLM, LM Studio, or OpenAI itself.

Structured output is negotiated per server, best first, and remembered:
  1. `response_format: {"type": "json_schema", ...}` (OpenAI, vLLM, llama.cpp server, LM Studio);
  2. `{"type": "json_object", "schema": ...}` (llama-cpp-python, which answers 1. with a 500);
  3. no response_format, the schema in the prompt (servers that refuse both).
A server steps down only when it refuses a request with a 4xx or 5xx whose message names the
response format; the schema is in the prompt from step 2 on, and the analyser validates the
answer against it whatever the mode.

A self-hosted server usually generates one answer at a time. Requests from this client go one
at a time (`slots`), and a request it gave up waiting for is never sent again while the server
may still be generating it: the client stays away for as long as it waited (`busy` errors), so
a digest falls back at once instead of queueing behind an answer nobody will read.

The SDK's own retries are off. Every answer's usage is reported, also for answers that are
thrown away (malformed JSON), so the analyser counts every token spent.

Token budgets: where the server offers llama.cpp's `POST /tokenize` (`{"content": text}` →
`{"tokens": [...]}`, at the server's root beside `/v1`), the whole prompt is counted there once
per digest (see TokenCounter); the first count probes for it, and a server without one (a 404)
is not asked again. Everywhere else the analyser's calibrated estimate stands.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import openai

from digest.llm_port import LLMError, LLMOutputError, Spent, StructuredRequest, StructuredResponse
from digest.llm_schema import bounded_schema

MODES = ("json_schema", "json_object_schema", "prompt")
# Tokens a chat template adds per message around its text (role markers, separators):
# llama.cpp's /tokenize counts the text alone.
TEMPLATE_TOKENS_PER_MESSAGE = 8


def _not_offered(status: int) -> bool:
    """A refusal that will not change: no such endpoint (404, 405, 501), or one that speaks
    another dialect (vLLM's /tokenize wants a "prompt": 400 or 422). Busy or failing is not."""
    return status == 501 or (400 <= status < 500 and status not in (408, 429))


# A refusal that is about the response format (llama.cpp: "response_format type must be one of
# "text" or "json_object", but got: json_schema"; others name json_schema or the schema).
_NAMES_FORMAT = re.compile(r"response_format|json_schema|json_object|\bschema\b|grammar", re.I)


def _retry_after(exc: openai.APIStatusError) -> float | None:
    value = exc.response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _error_text(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            return " ".join(str(err.get(k) or "") for k in ("message", "param", "code"))
        return str(err)
    return str(exc.message)


class OpenAICompatibleClient:
    """Use as `async with OpenAICompatibleClient(base_url=..., api_key=...) as client`.

    `slots`: how many requests the server runs at once; None means 1 for a self-hosted server
    (a `base_url` is given) and no limit for OpenAI's own API."""

    name = "openai"

    def __init__(
        self,
        *,
        base_url: str | None,
        api_key: str | None,
        slots: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._base_url = base_url
        self._api_key = api_key or "not-needed"  # local servers ignore it; the SDK wants one
        self._client: openai.AsyncOpenAI | None = None
        self.mode = MODES[0]  # learnt from the server's refusals, kept for its lifetime
        self._slots = asyncio.Semaphore(slots or 1) if (slots or base_url) else None
        self._clock = clock
        self._busy_until = 0.0
        # Whether the server has POST /tokenize: None until the first count asks. OpenAI's own
        # API (no base_url) has none, so it is never asked.
        self.has_tokenize: bool | None = None if base_url else False

    def __repr__(self) -> str:
        return f"OpenAICompatibleClient(base_url={self._base_url!r})"

    async def __aenter__(self) -> OpenAICompatibleClient:
        self._client = openai.AsyncOpenAI(
            base_url=self._base_url, api_key=self._api_key, max_retries=0
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    def _messages(
        self, request: StructuredRequest, schema: dict[str, Any] | None
    ) -> list[dict[str, Any]]:
        parts = [b.text for b in request.blocks]
        parts.append(request.instructions)
        if schema is not None:
            parts.append(
                "Answer with one JSON object, and nothing else, that matches this JSON Schema "
                "(every key is required; use null where the schema allows it):\n"
                + json.dumps(schema)
            )
        if request.repair is not None:
            previous, problems = request.repair
            parts.append(f"Your previous answer:\n{previous}\n\n{problems}")
        return [
            {"role": "system", "content": request.system},
            {"role": "user", "content": "\n\n".join(parts)},
        ]

    def _params(self, request: StructuredRequest, mode: str) -> dict[str, Any]:
        # Beyond OpenAI's strict mode, a schema may bound lists and strings: llama.cpp turns it
        # into a grammar, and a small model then stops where the answer ends.
        bounded = bounded_schema(dict(request.item_limits)) if mode != "json_schema" else None
        params: dict[str, Any] = {
            "model": request.model,
            "messages": self._messages(request, bounded),
            "max_tokens": request.max_tokens,
            "temperature": 0.2,
        }
        if mode == "json_schema":
            params["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": request.schema_name,
                    "schema": dict(request.schema),
                    "strict": True,
                },
            }
        elif mode == "json_object_schema":
            params["response_format"] = {"type": "json_object", "schema": bounded}
        return params

    async def count_tokens(self, request: StructuredRequest, *, time_limit: float) -> int | None:
        """The request's input tokens by the server's own tokenizer (llama.cpp's /tokenize), or
        None when it has none or the count failed: the analyser then keeps its estimate. One
        call for the whole prompt as it would be sent now; it takes no generation slot."""
        if self._client is None:
            raise RuntimeError("OpenAICompatibleClient used outside `async with`")
        if self.has_tokenize is False or self._base_url is None:
            return None
        messages = self._params(request, self.mode)["messages"]
        text = "\n".join(str(m["content"]) for m in messages)
        url = self._base_url.rstrip("/").removesuffix("/v1") + "/tokenize"
        try:
            answer = await self._client.post(
                url, cast_to=object, body={"content": text}, options={"timeout": time_limit}
            )
        except openai.APIStatusError as exc:
            if _not_offered(exc.status_code):
                self.has_tokenize = False
            return None
        except openai.APIError:  # a timeout, a dropped connection: the estimate, this time
            return None
        tokens = answer.get("tokens") if isinstance(answer, dict) else None
        if not isinstance(tokens, list):  # something else answers at that path
            self.has_tokenize = False
            return None
        self.has_tokenize = True
        return len(tokens) + TEMPLATE_TOKENS_PER_MESSAGE * len(messages)

    async def structured(
        self, request: StructuredRequest, *, time_limit: float
    ) -> StructuredResponse:
        if self._client is None:
            raise RuntimeError("OpenAICompatibleClient used outside `async with`")
        started = self._clock()
        if started < self._busy_until:
            raise LLMError(
                "the model server may still be generating an answer this bot gave up waiting "
                f"for; not sending another for {self._busy_until - started:.0f}s",
                busy=True,
            )
        if self._slots is None:
            return await self._negotiate(request, time_limit)
        try:
            async with asyncio.timeout(time_limit):
                await self._slots.acquire()
        except TimeoutError:
            raise LLMError("the model server is busy with another digest", busy=True) from None
        try:
            left = time_limit - (self._clock() - started)
            return await self._negotiate(request, left)
        finally:
            self._slots.release()

    async def _negotiate(self, request: StructuredRequest, time_limit: float) -> StructuredResponse:
        assert self._client is not None
        started = self._clock()
        while True:
            mode = self.mode
            left = time_limit - (self._clock() - started)
            try:
                completion = await self._client.chat.completions.create(
                    **self._params(request, mode), timeout=max(left, 0.001)
                )
            except openai.APIStatusError as exc:
                names_format = _NAMES_FORMAT.search(_error_text(exc)) is not None
                step_down = exc.status_code >= 400 and exc.status_code != 429 and names_format
                if step_down and mode != MODES[-1]:
                    self.mode = MODES[MODES.index(mode) + 1]
                    continue
                raise self._status_error(exc) from exc
            except openai.APITimeoutError as exc:
                self._busy_until = self._clock() + (self._clock() - started)
                raise LLMError("the model server did not answer in time", busy=True) from exc
            except openai.APIConnectionError as exc:
                raise LLMError(
                    f"cannot reach the model server at {self._base_url}", retry_after=2.0
                ) from exc
            return self._parse(completion, request)

    def _status_error(self, exc: openai.APIStatusError) -> LLMError:
        if isinstance(exc, openai.RateLimitError):
            return LLMError("rate limited (429)", retry_after=_retry_after(exc) or 5.0)
        if isinstance(exc, openai.AuthenticationError):
            return LLMError("the model server rejected OPENAI_API_KEY (401)")
        if exc.status_code >= 500:
            return LLMError(
                f"model server error ({exc.status_code})", retry_after=_retry_after(exc) or 2.0
            )
        said = " ".join(_error_text(exc).split())[:160]  # e.g. "exceeds context window of 8192"
        return LLMError(f"the model server refused the request ({exc.status_code}: {said})")

    def _parse(self, completion: Any, request: StructuredRequest) -> StructuredResponse:
        usage = completion.usage
        cached = 0
        if usage is not None and usage.prompt_tokens_details is not None:
            cached = usage.prompt_tokens_details.cached_tokens or 0
        spent = Spent(
            input_tokens=(usage.prompt_tokens - cached) if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
            cache_read_tokens=cached,
            model=completion.model or request.model,
        )
        choice = completion.choices[0] if completion.choices else None
        content = choice.message.content if choice is not None else None
        if not content:
            raise LLMOutputError("the model returned no content", spent=spent)
        if choice is not None and choice.finish_reason == "length":
            raise LLMOutputError(
                f"the answer was cut at max_tokens ({request.max_tokens}); write less",
                spent=spent,
            )
        try:
            data = json.loads(_strip_fences(content))
        except ValueError as exc:
            raise LLMOutputError(
                f"the model's answer is not valid JSON ({exc})", spent=spent
            ) from exc
        return StructuredResponse(
            data=data,
            input_tokens=spent.input_tokens,
            output_tokens=spent.output_tokens,
            cache_read_tokens=spent.cache_read_tokens,
            model=spent.model,
        )


def _strip_fences(text: str) -> str:
    """Local models sometimes wrap JSON in ``` fences, or write a word before it."""
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.split("\n", 1)[1] if "\n" in stripped else ""
        stripped = stripped.rsplit("```", 1)[0]
    elif not stripped.startswith("{") and "{" in stripped and stripped.rstrip().endswith("}"):
        stripped = stripped[stripped.index("{") :]
    return stripped
