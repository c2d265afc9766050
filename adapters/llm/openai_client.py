"""The LLMClient port on any OpenAI-compatible chat-completions server: llama.cpp server,
Ollama, vLLM, LM Studio, or OpenAI itself.

JSON-schema output where the server supports it; otherwise JSON mode with the schema in the
prompt (the analyser validates either way). The SDK's own retries are off.
"""

from __future__ import annotations

import json
from types import TracebackType
from typing import Any

import openai

from digest.llm import LLMError, LLMOutputError, StructuredRequest, StructuredResponse


def _retry_after(exc: openai.APIStatusError) -> float | None:
    value = exc.response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class OpenAICompatibleClient:
    """Use as `async with OpenAICompatibleClient(base_url=..., api_key=...) as client`."""

    name = "openai"

    def __init__(self, *, base_url: str | None, api_key: str | None) -> None:
        self._base_url = base_url
        self._api_key = api_key or "not-needed"  # local servers ignore it; the SDK wants one
        self._client: openai.AsyncOpenAI | None = None
        self.json_schema_supported = True  # learnt from the server's first refusal

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

    def _messages(self, request: StructuredRequest, schema_in_prompt: bool) -> list[dict[str, Any]]:
        parts = [b.text for b in request.blocks]
        parts.append(request.instructions)
        if schema_in_prompt:
            parts.append(
                "Answer with one JSON object that matches this JSON Schema:\n"
                + json.dumps(dict(request.schema))
            )
        if request.repair is not None:
            previous, problems = request.repair
            parts.append(f"Your previous answer:\n{previous}\n\n{problems}")
        return [
            {"role": "system", "content": request.system},
            {"role": "user", "content": "\n\n".join(parts)},
        ]

    async def structured(
        self, request: StructuredRequest, *, time_limit: float
    ) -> StructuredResponse:
        if self._client is None:
            raise RuntimeError("OpenAICompatibleClient used outside `async with`")
        for _ in range(2):
            schema_mode = self.json_schema_supported
            response_format: dict[str, Any] = (
                {
                    "type": "json_schema",
                    "json_schema": {
                        "name": request.schema_name,
                        "schema": dict(request.schema),
                        "strict": True,
                    },
                }
                if schema_mode
                else {"type": "json_object"}
            )
            try:
                params: dict[str, Any] = {
                    "model": request.model,
                    "messages": self._messages(request, not schema_mode),
                    "response_format": response_format,
                    "max_tokens": request.max_tokens,
                    "temperature": 0.2,
                    "timeout": time_limit,
                }
                completion = await self._client.chat.completions.create(**params)
            except openai.BadRequestError as exc:
                if schema_mode and ("response_format" in str(exc) or "json_schema" in str(exc)):
                    self.json_schema_supported = False  # fall back to JSON mode, once
                    continue
                raise LLMError(f"the model server refused the request ({exc.status_code})") from exc
            except openai.RateLimitError as exc:
                raise LLMError("rate limited (429)", retry_after=_retry_after(exc) or 5.0) from exc
            except openai.InternalServerError as exc:
                raise LLMError(
                    f"model server error ({exc.status_code})", retry_after=_retry_after(exc) or 2.0
                ) from exc
            except openai.APITimeoutError as exc:
                raise LLMError("the model server did not answer in time", retry_after=0.0) from exc
            except openai.APIConnectionError as exc:
                raise LLMError(
                    f"cannot reach the model server at {self._base_url}", retry_after=2.0
                ) from exc
            except openai.AuthenticationError as exc:
                raise LLMError("the model server rejected OPENAI_API_KEY (401)") from exc
            except openai.APIStatusError as exc:
                raise LLMError(f"the model server refused the request ({exc.status_code})") from exc
            break
        else:  # pragma: no cover - the loop always breaks or raises
            raise LLMError("the model server refused both output modes")
        choice = completion.choices[0] if completion.choices else None
        content = choice.message.content if choice is not None else None
        if not content:
            raise LLMOutputError("the model returned no content")
        try:
            data = json.loads(_strip_fences(content))
        except ValueError as exc:
            raise LLMOutputError(f"the model's answer is not valid JSON ({exc})") from exc
        usage = completion.usage
        cached = 0
        if usage is not None and usage.prompt_tokens_details is not None:
            cached = usage.prompt_tokens_details.cached_tokens or 0
        return StructuredResponse(
            data=data,
            input_tokens=(usage.prompt_tokens - cached) if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
            cache_read_tokens=cached,
            model=completion.model or request.model,
        )


def _strip_fences(text: str) -> str:
    """Local models sometimes wrap JSON in ``` fences despite JSON mode."""
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.split("\n", 1)[1] if "\n" in stripped else ""
        stripped = stripped.rsplit("```", 1)[0]
    return stripped
