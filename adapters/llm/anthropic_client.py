"""The LLMClient port on Anthropic's Messages API (AsyncAnthropic).

Structured output through a forced tool whose input schema is the report schema. The system
prompt and the thread blocks carry `cache_control`, so a second channel (or a deep analysis after
a brief one) reads the thread from Anthropic's prompt cache. The SDK's own retries are off: the
analyser owns the policy (and caps `retry-after`, which the SDK would not). Token budgets are
checked with `messages.count_tokens` on the exact request (Claude's tokenizer is not public).
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import anthropic

from digest.llm_port import LLMError, LLMOutputError, Spent, StructuredRequest, StructuredResponse

EPHEMERAL = {"type": "ephemeral"}


def _retry_after(exc: anthropic.APIStatusError) -> float | None:
    headers = exc.response.headers
    for key in ("retry-after-ms", "retry-after"):
        value = headers.get(key)
        if value is None:
            continue
        try:
            seconds = float(value)
        except ValueError:
            continue
        return seconds / 1000 if key.endswith("-ms") else seconds
    return None


def _message_content(request: StructuredRequest) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = []
    for block in request.blocks:
        item: dict[str, Any] = {"type": "text", "text": block.text}
        if block.cache:
            item["cache_control"] = EPHEMERAL
        content.append(item)
    content.append({"type": "text", "text": request.instructions})
    if request.repair is not None:
        previous, problems = request.repair
        content.append({"type": "text", "text": f"Your previous answer:\n{previous}\n\n{problems}"})
    return content


class AnthropicClient:
    """Use as `async with AnthropicClient(api_key=...) as client` (one per process)."""

    name = "anthropic"

    def __init__(self, *, api_key: str, base_url: str | None = None) -> None:
        self._api_key = api_key
        self._base_url = base_url
        self._client: anthropic.AsyncAnthropic | None = None

    def __repr__(self) -> str:  # the key never shows
        return f"AnthropicClient(base_url={self._base_url!r})"

    async def __aenter__(self) -> AnthropicClient:
        self._client = anthropic.AsyncAnthropic(
            api_key=self._api_key, base_url=self._base_url, max_retries=0
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

    def _params(self, request: StructuredRequest) -> dict[str, Any]:
        """What both the call and its token count send."""
        tool = {
            "name": request.schema_name,
            "description": "Record the analysis of the thread.",
            "input_schema": dict(request.schema),
        }
        return {
            "model": request.model,
            "system": [{"type": "text", "text": request.system, "cache_control": EPHEMERAL}],
            "tools": [tool],
            "tool_choice": {"type": "tool", "name": request.schema_name},
            "messages": [{"role": "user", "content": _message_content(request)}],
        }

    async def count_tokens(self, request: StructuredRequest, *, time_limit: float) -> int | None:
        """The request's input tokens by Anthropic's own count (free, rate-limited)."""
        if self._client is None:
            raise RuntimeError("AnthropicClient used outside `async with`")
        try:
            counted = await self._client.messages.count_tokens(
                **self._params(request), timeout=time_limit
            )
        except anthropic.APIError as exc:
            raise LLMError(f"Anthropic could not count the prompt's tokens ({exc})") from exc
        return counted.input_tokens

    async def structured(
        self, request: StructuredRequest, *, time_limit: float
    ) -> StructuredResponse:
        if self._client is None:
            raise RuntimeError("AnthropicClient used outside `async with`")
        try:
            params = {**self._params(request), "max_tokens": request.max_tokens}
            message: anthropic.types.Message = await self._client.messages.create(
                **params, timeout=time_limit
            )
        except anthropic.RateLimitError as exc:
            raise LLMError(
                "Anthropic rate limit (429)", retry_after=_retry_after(exc) or 5.0
            ) from exc
        except anthropic.InternalServerError as exc:
            raise LLMError(
                f"Anthropic server error ({exc.status_code})", retry_after=_retry_after(exc) or 2.0
            ) from exc
        except anthropic.APITimeoutError as exc:
            # Anthropic runs many requests at once: trying again does not queue behind this one.
            raise LLMError("Anthropic did not answer in time", retry_after=0.0) from exc
        except anthropic.APIConnectionError as exc:
            raise LLMError("cannot reach Anthropic", retry_after=2.0) from exc
        except anthropic.AuthenticationError as exc:
            raise LLMError("Anthropic rejected ANTHROPIC_API_KEY (401)") from exc
        except anthropic.APIStatusError as exc:
            raise LLMError(f"Anthropic refused the request ({exc.status_code})") from exc
        usage = message.usage
        spent = Spent(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_write_tokens=usage.cache_creation_input_tokens or 0,
            cache_read_tokens=usage.cache_read_input_tokens or 0,
            model=message.model,
        )
        for block in message.content:
            if block.type == "tool_use" and block.name == request.schema_name:
                data = block.input
                break
        else:
            raise LLMOutputError("the model did not call the analysis tool", spent=spent)
        if message.stop_reason == "max_tokens":
            raise LLMOutputError(
                f"the answer was cut at max_tokens ({request.max_tokens})", spent=spent
            )
        return StructuredResponse(
            data=data,
            input_tokens=spent.input_tokens,
            output_tokens=spent.output_tokens,
            cache_write_tokens=spent.cache_write_tokens,
            cache_read_tokens=spent.cache_read_tokens,
            model=spent.model,
        )
