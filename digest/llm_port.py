"""The LLM client port: one structured call (schema in, parsed object out, usage out).

Providers are adapters (adapters/llm/); digest/ owns the prompts, the schema and the checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class PromptBlock:
    text: str
    cache: bool = False  # a stable prefix worth caching (the thread data)


@dataclass(frozen=True, slots=True)
class StructuredRequest:
    """One structured call. `system` and the schema are identical for both depths so that a
    provider's prompt cache can reuse the prefix; depth-specific text goes in `instructions`."""

    model: str
    system: str
    blocks: tuple[PromptBlock, ...]  # the thread data, in order
    instructions: str  # what to write (after the data)
    schema: Mapping[str, Any]  # JSON Schema of the object to return (OpenAI strict-mode valid)
    schema_name: str
    max_tokens: int
    repair: tuple[str, str] | None = None  # (previous answer, the errors found in it)
    item_limits: tuple[tuple[str, int], ...] = ()  # how many items each list may hold


@dataclass(frozen=True, slots=True)
class Spent:
    """Tokens a call used, as the provider reported them."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    model: str | None = None

    def __bool__(self) -> bool:
        return bool(
            self.input_tokens
            or self.output_tokens
            or self.cache_write_tokens
            or self.cache_read_tokens
        )


@dataclass(frozen=True, slots=True)
class StructuredResponse:
    data: Any  # the parsed JSON object, not yet validated against the schema or the thread
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    model: str | None = None

    @property
    def spent(self) -> Spent:
        return Spent(
            self.input_tokens,
            self.output_tokens,
            self.cache_write_tokens,
            self.cache_read_tokens,
            self.model,
        )


class LLMClient(Protocol):
    """A provider. Contract: returns the parsed object or raises one of the LLM* errors below;
    never retries on its own (the analyser owns the retry policy); whatever tokens a call spent
    before it failed travel on the error (`spent`), so they are counted and paid for."""

    name: str

    async def structured(
        self, request: StructuredRequest, *, time_limit: float
    ) -> StructuredResponse: ...


@runtime_checkable
class TokenCounter(Protocol):
    """A provider that can count a request's input tokens exactly, without running it
    (Anthropic's `messages.count_tokens`). Returns None when the count cannot be had."""

    async def count_tokens(
        self, request: StructuredRequest, *, time_limit: float
    ) -> int | None: ...


class LLMError(Exception):
    """The provider failed; `retry_after` is set when trying again may work.

    `busy`: the server may still be working on the request (the client gave up waiting), so
    sending another one now would queue behind it on a single-slot server: not retried.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        busy: bool = False,
        spent: Spent | None = None,
    ) -> None:
        super().__init__(message)
        self.retry_after = None if busy else retry_after
        self.busy = busy
        self.spent = spent or Spent()


class LLMOutputError(Exception):
    """The provider answered, but not with a parsable object (malformed JSON, no tool call).
    `spent` is what that answer cost."""

    def __init__(self, message: str, *, spent: Spent | None = None) -> None:
        super().__init__(message)
        self.spent = spent or Spent()
