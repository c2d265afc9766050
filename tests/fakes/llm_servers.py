"""Fake LLM API servers that the real ``anthropic`` and ``openai`` SDKs can talk to.

Both run on ``127.0.0.1`` (random free port) with :mod:`aiohttp.web`::

    async with FakeAnthropic() as server:
        server.script(Fail(429, headers={"retry-after-ms": "1"}), Reply({"verdict": "ok"}))
        async with AsyncAnthropic(base_url=server.base_url, api_key="test-key") as client:
            message = await client.messages.create(
                model="claude-haiku-4-5",
                max_tokens=512,
                messages=[{"role": "user", "content": "..."}],
                tools=[{"name": "emit", "input_schema": {"type": "object"}}],
                tool_choice={"type": "tool", "name": "emit"},
            )
        assert server.last_json["tool_choice"] == {"type": "tool", "name": "emit"}

    async with FakeOpenAI(supports_json_schema=False) as server:
        client = AsyncOpenAI(base_url=server.base_url + "/v1", api_key="x")

Every model call (``POST /v1/messages``, ``POST /v1/chat/completions``) that passes the
auth and request checks consumes one scripted step from the queue (:meth:`script`); when
the queue is empty :attr:`default` answers. Steps:

* :class:`Reply` - valid structured output (a JSON object). ``FakeAnthropic`` answers a
  forced tool (``tool_choice`` ``{"type": "tool", "name": N}`` or ``{"type": "any"}``)
  with a ``tool_use`` block whose ``input`` is the object, anything else (``output_config``
  ``format``, plain prompts) with one ``text`` block holding the JSON text. ``FakeOpenAI``
  puts the JSON text in ``choices[0].message.content`` (or in a ``tool_calls`` entry for a
  forced function ``tool_choice``).
* :class:`RawText` - arbitrary text (malformed JSON, prose) as a ``text`` block / content.
* :class:`Fail` - an error status with the provider's error JSON (or a given body) and
  headers such as ``retry-after`` / ``retry-after-ms``.
* :class:`Slow` - waits, then answers with another step (for client timeouts).
* :class:`RawBody` - any JSON body verbatim, for shapes the others do not cover.

Token usage comes from :class:`Usage` (per step, or server-wide ``usage=``); fields left
``None`` are estimated from the request/answer size (about 4 characters a token).
``FakeAnthropic`` also simulates prompt caching (``cache_control`` breakpoints on tools,
system blocks, message content blocks, or the top-level automatic ``cache_control``): the
first request writes the prefix (``cache_creation_input_tokens``), a later request with the
same prefix reads it (``cache_read_input_tokens``).

Every request that reaches the server is kept in :attr:`requests` (:class:`RecordedRequest`:
method, path, lower-cased headers, parsed JSON body, answer status), including rejected ones.

Knobs for what self-hosted servers do (both fakes):

* ``slots=1`` - one answer at a time, like llama.cpp's server with one slot: a model call that
  arrives while every slot is generating waits for one (:attr:`overlapped` counts them, and
  :attr:`RecordedRequest.queued` marks them). A slot stays busy until its answer is generated,
  even when the client stopped waiting.
* ``tokens_per_second`` - slow generation: an answer takes its output tokens / this many seconds.
* ``tokenizer`` - how input tokens are counted (usage, ``count_tokens``): a function of text;
  by default about 4 characters a token.

``FakeOpenAI(tokenize=True)`` also serves llama.cpp server's ``POST /tokenize``
(``{"content": text}`` → ``{"tokens": [...]}``, as many as ``tokenizer`` counts; at the root, not
under ``/v1``); ``tokenize_fails=N`` makes the next N such requests answer a 500.

``FakeOpenAI(json_schema_status=500)`` refuses ``response_format: json_schema`` the way
llama-cpp-python does (HTTP 500, "response_format type must be one of "text" or "json_object",
but got: json_schema") instead of with a 400; ``supports_json_object_schema=False`` refuses a
``json_object`` format that carries a ``schema``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import itertools
import json
import math
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.local_server import LocalServer

JSONDict = dict[str, Any]

CHARS_PER_TOKEN = 4
"""The fakes estimate one token per this many characters of JSON/text."""

MAX_CACHE_BREAKPOINTS = 4
"""Anthropic rejects requests with more ``cache_control`` breakpoints than this."""


# --------------------------------------------------------------------------- steps


@dataclass(frozen=True)
class Usage:
    """Token counts to report. ``None`` means "estimate from the request/answer size".

    For :class:`FakeOpenAI`, ``input_tokens`` is ``prompt_tokens``, ``output_tokens`` is
    ``completion_tokens`` and ``cache_read_input_tokens`` (when non-zero) is
    ``prompt_tokens_details.cached_tokens``; ``cache_creation_input_tokens`` is not reported.
    For :class:`FakeAnthropic` a ``None`` cache field means "as the cache simulation says".
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None


@dataclass(frozen=True)
class Reply:
    """A valid structured answer carrying ``obj`` (normally a dict; a callable is given the
    :class:`RecordedRequest` and returns the object, for an answer about the prompt's thread).

    ``stop_reason`` overrides the provider's reason (Anthropic ``stop_reason``, e.g.
    ``"max_tokens"``; OpenAI ``finish_reason``, e.g. ``"length"``). ``tool_name`` makes
    ``FakeAnthropic`` answer with a ``tool_use`` block of that name even when the request
    did not force a tool.
    """

    obj: Any
    usage: Usage | None = None
    stop_reason: str | None = None
    tool_name: str | None = None


@dataclass(frozen=True)
class RawText:
    """Arbitrary text as the answer (Anthropic: one ``text`` block, even if a tool was forced)."""

    text: str
    usage: Usage | None = None
    stop_reason: str | None = None


@dataclass(frozen=True)
class Fail:
    """An error answer. ``body=None`` sends the provider's error JSON for ``status``;
    a dict/list is sent as JSON, a str verbatim (``text/html`` if it starts with ``<``)."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    message: str | None = None
    """The ``error.message`` of the default body (ignored when ``body`` is given)."""


@dataclass(frozen=True)
class Slow:
    """Wait ``seconds`` (released at once when the server closes), then answer with
    ``then`` (``None``: the server's :attr:`default`)."""

    seconds: float
    then: Step | None = None


@dataclass(frozen=True)
class RawBody:
    """Send ``body`` as JSON verbatim with ``status`` and ``headers``."""

    body: Any
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)


Step = Reply | RawText | Fail | Slow | RawBody


# --------------------------------------------------------------------------- recording


@dataclass
class RecordedRequest:
    """One HTTP request as the fake saw it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    """Header names lower-cased."""
    body: bytes
    json: Any
    """The parsed JSON body (``None`` when the body is empty or not JSON)."""
    at: float
    """``time.monotonic()`` when the request arrived."""
    status: int | None = None
    """The status the fake answered with (``None`` while still being answered)."""
    step: Step | None = None
    """The scripted (or default) step used, if the request consumed one."""
    queued: bool = False
    """It arrived while every slot was generating (``slots``), and waited for one."""

    @property
    def api_key(self) -> str | None:
        """The credential sent as ``x-api-key`` or ``Authorization: Bearer``."""
        if "x-api-key" in self.headers:
            return self.headers["x-api-key"]
        auth = self.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        return token.strip() if scheme.lower() == "bearer" else None

    @property
    def model(self) -> Any:
        return self.json.get("model") if isinstance(self.json, dict) else None

    @property
    def system_text(self) -> str:
        """The system prompt as plain text (Anthropic ``system`` str/blocks, or the OpenAI
        ``system``/``developer`` messages), parts joined with blank lines."""
        if not isinstance(self.json, dict):
            return ""
        if "system" in self.json:
            return _text_of(self.json["system"])
        parts = [
            _text_of(m.get("content"))
            for m in self.json.get("messages") or []
            if isinstance(m, dict) and m.get("role") in ("system", "developer")
        ]
        return "\n\n".join(parts)

    @property
    def user_text(self) -> str:
        """The text of every ``user`` message, joined with blank lines."""
        if not isinstance(self.json, dict):
            return ""
        parts = [
            _text_of(m.get("content"))
            for m in self.json.get("messages") or []
            if isinstance(m, dict) and m.get("role") == "user"
        ]
        return "\n\n".join(parts)

    def cache_breakpoints(self) -> list[str]:
        """Where the Anthropic request puts ``cache_control``: ``"cache_control"`` (top-level,
        automatic), ``"tools[i]"``, ``"system[i]"``, ``"messages[i].content[j]"`` (and
        ``...content[j].content[k]`` inside tool results)."""
        return [path for path, _ in _cache_control_marks(self.json)]


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n\n".join(
            b["text"]
            for b in content
            if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
        )
    return ""


def _cache_control_marks(body: Any) -> list[tuple[str, Any]]:
    if not isinstance(body, dict):
        return []
    marks: list[tuple[str, Any]] = []
    if body.get("cache_control") is not None:
        marks.append(("cache_control", body["cache_control"]))
    for path, block in _prompt_blocks(body):
        if isinstance(block, dict) and block.get("cache_control") is not None:
            marks.append((path, block["cache_control"]))
    return marks


def _prompt_blocks(body: JSONDict) -> list[tuple[str, Any]]:
    """Anthropic's prompt in cache order (tools, system, messages) as (path, block) pairs."""
    blocks: list[tuple[str, Any]] = []
    tools = body.get("tools")
    if isinstance(tools, list):
        blocks.extend((f"tools[{i}]", tool) for i, tool in enumerate(tools))
    system = body.get("system")
    if isinstance(system, list):
        blocks.extend((f"system[{i}]", b) for i, b in enumerate(system))
    elif system is not None:
        blocks.append(("system", system))
    messages = body.get("messages")
    if isinstance(messages, list):
        for i, message in enumerate(messages):
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, list):
                for j, b in enumerate(content):
                    blocks.append((f"messages[{i}].content[{j}]", b))
                    inner = b.get("content") if isinstance(b, dict) else None
                    if isinstance(inner, list):  # tool_result blocks nest content blocks
                        blocks.extend(
                            (f"messages[{i}].content[{j}].content[{k}]", c)
                            for k, c in enumerate(inner)
                        )
            else:
                blocks.append((f"messages[{i}]", message))
    return blocks


def estimate_tokens(value: Any) -> int:
    """About one token per :data:`CHARS_PER_TOKEN` characters (at least 1)."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return max(1, math.ceil(len(text) / CHARS_PER_TOKEN))


def _without_cache_control(block: Any) -> Any:
    if isinstance(block, dict):
        return {k: _without_cache_control(v) for k, v in block.items() if k != "cache_control"}
    if isinstance(block, list):
        return [_without_cache_control(v) for v in block]
    return block


# --------------------------------------------------------------------------- base server


class _FakeLLMServer(LocalServer):
    """Lifecycle, step queue and request log shared by the fakes."""

    def __init__(
        self,
        *,
        api_key: str | None,
        default: Step | None = None,
        usage: Usage | None = None,
        slots: int | None = None,
        tokens_per_second: float | None = None,
        tokenizer: Callable[[str], int] | None = None,
    ) -> None:
        self.slots = slots
        """How many model calls are generated at once (``None``: no limit)."""
        self.tokens_per_second = tokens_per_second
        """Generation speed for answers (``None``: at once)."""
        self.tokenizer = tokenizer
        """Counts input tokens of a text (``None``: :func:`estimate_tokens`)."""
        self.overlapped = 0
        """Model calls that arrived while every slot was busy generating."""
        self.in_flight = 0
        """Model calls being generated now."""
        self._slot_free = asyncio.Condition()
        self.api_key = api_key
        """The accepted credential; ``None`` accepts any (or none)."""
        self.default: Step = default if default is not None else Reply({})
        """The step used when the script queue is empty."""
        self.usage = usage
        """Server-wide usage for steps that do not carry their own."""
        self.requests: list[RecordedRequest] = []
        self._queue: deque[Step] = deque()
        self._ids = itertools.count(1)
        self._closing = asyncio.Event()

    # ----------------------------------------------------------------- lifecycle

    shutdown_timeout = 2.0
    client_max_size = 64 * 1024 * 1024

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._handle)

    async def _started(self) -> None:
        self._closing.clear()

    async def _stopping(self) -> None:
        """Pending :class:`Slow` answers are released at once."""
        self._closing.set()

    # ----------------------------------------------------------------- scripting

    def script(self, *steps: Step) -> None:
        """Queue steps; each model call consumes the next one."""
        for step in steps:
            if not isinstance(step, Reply | RawText | Fail | Slow | RawBody):
                raise TypeError(f"not a step: {step!r}")
        self._queue.extend(steps)

    @property
    def pending(self) -> int:
        """How many scripted steps are still queued."""
        return len(self._queue)

    def reset(self) -> None:
        """Forget the queue and the request log (the cache simulation too)."""
        self._queue.clear()
        self.requests.clear()

    # ----------------------------------------------------------------- inspection

    @property
    def count(self) -> int:
        """How many requests arrived (including rejected ones)."""
        return len(self.requests)

    @property
    def last(self) -> RecordedRequest:
        if not self.requests:
            raise AssertionError(f"{type(self).__name__} received no request")
        return self.requests[-1]

    @property
    def last_json(self) -> Any:
        """The parsed JSON body of the latest request."""
        return self.last.json

    def calls(self, path: str | None = None) -> list[RecordedRequest]:
        """Requests that consumed a step (model calls), optionally only those to ``path``."""
        return [r for r in self.requests if r.step is not None and (path is None or r.path == path)]

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """Every request to ``path`` (token counts, rejected ones included)."""
        return [r for r in self.requests if r.path.rstrip("/") == path]

    # ----------------------------------------------------------------- plumbing

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):04d}{uuid.uuid4().hex[:20]}"

    def _next_step(self) -> Step:
        return self._queue.popleft() if self._queue else self.default

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        parsed: Any = None
        if raw:
            with contextlib.suppress(ValueError):
                parsed = json.loads(raw)
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=raw,
            json=parsed,
            at=time.monotonic(),
        )
        self.requests.append(record)
        response = await self._route(request, record)
        record.status = response.status
        return response

    async def _route(self, request: web.Request, record: RecordedRequest) -> web.StreamResponse:
        raise NotImplementedError

    async def until_in_flight(self, n: int) -> None:
        """Wait (at most 5 s) until exactly ``n`` model calls are being generated."""
        async with asyncio.timeout(5.0), self._slot_free:
            await self._slot_free.wait_for(lambda: self.in_flight == n)

    def count_text(self, text: str) -> int:
        """Input tokens of ``text`` as this server counts them."""
        return self.tokenizer(text) if self.tokenizer is not None else estimate_tokens(text)

    async def _run_step(self, record: RecordedRequest, step: Step) -> web.StreamResponse:
        """Answer a model call with ``step`` in a slot, generation time included. The slot is
        held in a task of its own, so a client that stops waiting does not free it early."""
        if self.slots is None:
            return await self._generate(record, step)
        task = asyncio.ensure_future(self._in_slot(record, step))
        return await asyncio.shield(task)

    async def _in_slot(self, record: RecordedRequest, step: Step) -> web.StreamResponse:
        assert self.slots is not None
        async with self._slot_free:
            if self.in_flight >= self.slots:
                self.overlapped += 1
                record.queued = True
            await self._slot_free.wait_for(lambda: self.in_flight < (self.slots or 1))
            self.in_flight += 1
            self._slot_free.notify_all()
        try:
            return await self._generate(record, step)
        finally:
            async with self._slot_free:
                self.in_flight -= 1
                self._slot_free.notify_all()

    async def _pause(self, seconds: float) -> None:
        """Wait, released at once when the server closes."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), timeout=seconds)

    def _output_tokens(self, step: Reply | RawText) -> int:
        scripted = self._usage_for(step).output_tokens
        if scripted is not None:
            return scripted
        return estimate_tokens(step.text if isinstance(step, RawText) else json.dumps(step.obj))

    async def _generate(self, record: RecordedRequest, step: Step) -> web.StreamResponse:
        """Answer a model call with ``step`` (``Slow`` unwraps to its ``then``)."""
        while isinstance(step, Slow):
            await self._pause(step.seconds)
            step = step.then if step.then is not None else self.default
        if isinstance(step, Reply) and callable(step.obj):  # an answer made from the request
            step = dataclasses.replace(step, obj=step.obj(record))
        if isinstance(step, Fail):
            return self._fail(step)
        if isinstance(step, RawBody):
            return web.json_response(
                step.body, status=step.status, headers=self._headers(step.headers)
            )
        if self.tokens_per_second:
            await self._pause(self._output_tokens(step) / self.tokens_per_second)
        return self._answer(record, step)

    def _fail(self, step: Fail) -> web.Response:
        headers = self._headers(step.headers)
        if step.body is None:
            return web.json_response(
                self._error_body(step.status, step.message), status=step.status, headers=headers
            )
        if isinstance(step.body, str):
            ctype = "text/html" if step.body.lstrip().startswith("<") else "text/plain"
            return web.Response(
                text=step.body, status=step.status, content_type=ctype, headers=headers
            )
        return web.json_response(step.body, status=step.status, headers=headers)

    def _headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return dict(extra or {})

    def _error_body(self, status: int, message: str | None) -> Any:
        raise NotImplementedError

    def _answer(self, record: RecordedRequest, step: Reply | RawText) -> web.Response:
        raise NotImplementedError

    def _usage_for(self, step: Reply | RawText) -> Usage:
        return step.usage or self.usage or Usage()


# --------------------------------------------------------------------------- Anthropic

_ANTHROPIC_ERROR_TYPES: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request"),
    401: ("authentication_error", "invalid x-api-key"),
    402: ("billing_error", "Your credit balance is too low to access the Anthropic API."),
    403: ("permission_error", "Your API key does not have permission to use this resource."),
    404: ("not_found_error", "Not found"),
    408: ("timeout_error", "Request timed out"),
    409: ("conflict_error", "Conflict"),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: (
        "rate_limit_error",
        "This request would exceed the rate limit for your organization of 50 requests per minute.",
    ),
    500: ("api_error", "Internal server error"),
    504: ("timeout_error", "Request timed out"),
    529: ("overloaded_error", "Overloaded"),
}


class FakeAnthropic(_FakeLLMServer):
    """The Anthropic Messages API (``POST /v1/messages``, ``POST /v1/messages/count_tokens``).

    ``api_key`` must arrive as ``Authorization: Bearer <key>`` (what anthropic 2.12 sends)
    or ``x-api-key: <key>`` (older releases); otherwise the answer is Anthropic's 401
    ``authentication_error``. Requests missing ``model``/``max_tokens``/``messages``,
    forcing a tool that is not in ``tools``, with a malformed ``output_config.format``, more
    than :data:`MAX_CACHE_BREAKPOINTS` ``cache_control`` marks, or ``stream: true`` get a
    400 ``invalid_request_error`` without consuming a step.

    ``simulate_cache`` (default on) fills the cache usage fields from the ``cache_control``
    breakpoints; prefixes shorter than ``min_cacheable_tokens`` are not cached.
    """

    def __init__(
        self,
        *,
        api_key: str | None = "test-key",
        default: Step | None = None,
        usage: Usage | None = None,
        simulate_cache: bool = True,
        min_cacheable_tokens: int = 0,
        slots: int | None = None,
        tokens_per_second: float | None = None,
        tokenizer: Callable[[str], int] | None = None,
    ) -> None:
        super().__init__(
            api_key=api_key,
            default=default,
            usage=usage,
            slots=slots,
            tokens_per_second=tokens_per_second,
            tokenizer=tokenizer,
        )
        self.simulate_cache = simulate_cache
        self.min_cacheable_tokens = min_cacheable_tokens
        self._cached_prefixes: set[str] = set()

    def reset(self) -> None:
        super().reset()
        self._cached_prefixes.clear()

    def _headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return {"request-id": self._next_id("req"), **(extra or {})}

    def _error_body(self, status: int, message: str | None) -> JSONDict:
        default_type = "api_error" if status >= 500 else "invalid_request_error"
        err_type, default_message = _ANTHROPIC_ERROR_TYPES.get(status, (default_type, "Error"))
        return {
            "type": "error",
            "error": {"type": err_type, "message": message or default_message},
            "request_id": self._next_id("req"),
        }

    def _reject(self, status: int, message: str) -> web.Response:
        return web.json_response(
            self._error_body(status, message), status=status, headers=self._headers()
        )

    async def _route(self, request: web.Request, record: RecordedRequest) -> web.StreamResponse:
        path = request.path.rstrip("/")
        if path not in ("/v1/messages", "/v1/messages/count_tokens"):
            return self._reject(404, f"Not found: {request.method} {request.path}")
        if request.method != "POST":
            return self._reject(405, f"Method {request.method} not allowed")
        if self.api_key is not None and record.api_key != self.api_key:
            return self._reject(401, "invalid x-api-key")
        body = record.json
        if not isinstance(body, dict):
            return self._reject(400, "There was an issue with your request body: not a JSON object")
        if "anthropic-version" not in record.headers:
            return self._reject(400, "anthropic-version: header is required")
        problem = self._validate(body, count_tokens=path.endswith("count_tokens"))
        if problem is not None:
            return self._reject(400, problem)
        if path.endswith("count_tokens"):
            return web.json_response(
                {"input_tokens": _prompt_tokens(body, self.tokenizer)}, headers=self._headers()
            )
        step = self._next_step()
        record.step = step
        return await self._run_step(record, step)

    @staticmethod
    def _validate(body: JSONDict, *, count_tokens: bool) -> str | None:
        required = ("model", "messages") if count_tokens else ("model", "max_tokens", "messages")
        for name in required:
            if name not in body:
                return f"{name}: Field required"
        if not isinstance(body["messages"], list) or not body["messages"]:
            return "messages: at least one message is required"
        if body.get("stream"):
            return "stream: streaming is not supported by FakeAnthropic"
        tools = body.get("tools") or []
        names = [t.get("name") for t in tools if isinstance(t, dict)]
        choice = body.get("tool_choice")
        if isinstance(choice, dict):
            if choice.get("type") == "tool" and choice.get("name") not in names:
                return f"tool_choice: Tool '{choice.get('name')}' not found in tools"
            if choice.get("type") == "any" and not names:
                return "tool_choice: 'any' requires at least one tool"
        for tool in tools:
            custom = isinstance(tool, dict) and tool.get("type") in (None, "custom")
            if custom and not isinstance(tool.get("input_schema"), dict):
                return f"tools.{tool.get('name')}.input_schema: Field required"
        output_config = body.get("output_config")
        if isinstance(output_config, dict) and output_config.get("format") is not None:
            fmt = output_config["format"]
            if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
                return "output_config.format.type: Input should be 'json_schema'"
            if not isinstance(fmt.get("schema"), dict):
                return "output_config.format.schema: Field required"
        marks = len(_cache_control_marks(body))
        if marks > MAX_CACHE_BREAKPOINTS:
            return (
                f"A maximum of {MAX_CACHE_BREAKPOINTS} blocks with cache_control may be "
                f"provided. Found {marks}."
            )
        return None

    def _forced_tool(self, body: JSONDict, step: Reply) -> str | None:
        if step.tool_name is not None:
            return step.tool_name
        choice = body.get("tool_choice")
        if not isinstance(choice, dict):
            return None
        if choice.get("type") == "tool":
            name = choice.get("name")
            return name if isinstance(name, str) else None
        if choice.get("type") == "any":
            for tool in body.get("tools") or []:
                if isinstance(tool, dict) and isinstance(tool.get("name"), str):
                    name = tool["name"]
                    assert isinstance(name, str)
                    return name
        return None

    def _answer(self, record: RecordedRequest, step: Reply | RawText) -> web.Response:
        body: JSONDict = record.json
        content: list[JSONDict]
        if isinstance(step, Reply) and (tool := self._forced_tool(body, step)) is not None:
            content = [
                {
                    "type": "tool_use",
                    "id": self._next_id("toolu"),
                    "name": tool,
                    "input": step.obj,
                }
            ]
            stop_reason = "tool_use"
            output = json.dumps(step.obj)
        else:
            output = step.text if isinstance(step, RawText) else json.dumps(step.obj)
            content = [{"type": "text", "text": output}]
            stop_reason = "end_turn"
        if step.stop_reason is not None:
            stop_reason = step.stop_reason
        message = {
            "id": self._next_id("msg"),
            "type": "message",
            "role": "assistant",
            "model": body.get("model"),
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": self._usage_json(body, step, output),
        }
        return web.json_response(message, headers=self._headers())

    def _usage_json(self, body: JSONDict, step: Reply | RawText, output: str) -> JSONDict:
        scripted = self._usage_for(step)
        total = _prompt_tokens(body, self.tokenizer)
        written, read = self._simulate_cache(body) if self.simulate_cache else (0, 0)
        if scripted.cache_creation_input_tokens is not None:
            written = scripted.cache_creation_input_tokens
        if scripted.cache_read_input_tokens is not None:
            read = scripted.cache_read_input_tokens
        input_tokens = scripted.input_tokens
        if input_tokens is None:
            input_tokens = max(1, total - written - read)
        output_tokens = scripted.output_tokens
        if output_tokens is None:
            output_tokens = estimate_tokens(output)
        one_hour = any(
            isinstance(cc, dict) and cc.get("ttl") == "1h" for _, cc in _cache_control_marks(body)
        )
        return {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_creation_input_tokens": written,
            "cache_read_input_tokens": read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": 0 if one_hour else written,
                "ephemeral_1h_input_tokens": written if one_hour else 0,
            },
            "service_tier": "standard",
        }

    def _simulate_cache(self, body: JSONDict) -> tuple[int, int]:
        """(written, read) tokens: the longest already-cached breakpoint prefix is read, the
        rest up to the last breakpoint is written."""
        blocks = _prompt_blocks(body)
        if not blocks:
            return 0, 0
        ends = [
            i
            for i, (_, b) in enumerate(blocks)
            if isinstance(b, dict) and b.get("cache_control") is not None
        ]
        if body.get("cache_control") is not None:
            ends.append(len(blocks) - 1)  # automatic caching: the last cacheable block
        if not ends:
            return 0, 0
        digest = hashlib.sha256()
        tokens = 0
        prefixes: dict[int, tuple[str, int]] = {}
        for i, (_, block) in enumerate(blocks):
            digest.update(json.dumps(_without_cache_control(block), sort_keys=True).encode())
            tokens += _block_tokens(block, self.tokenizer)
            if i in ends:
                prefixes[i] = (digest.copy().hexdigest(), tokens)
        eligible = [(key, n) for key, n in prefixes.values() if n >= self.min_cacheable_tokens]
        if not eligible:
            return 0, 0
        read = max((n for key, n in eligible if key in self._cached_prefixes), default=0)
        longest = max(n for _, n in eligible)
        self._cached_prefixes.update(key for key, _ in eligible)
        return longest - read, read


def _prompt_tokens(body: JSONDict, count: Callable[[str], int] | None = None) -> int:
    """Estimated prompt size: the blocks of :func:`_prompt_blocks`, cache marks left out."""
    return max(1, sum(_block_tokens(block, count) for _, block in _prompt_blocks(body)))


def _block_tokens(block: Any, count: Callable[[str], int] | None = None) -> int:
    """A block's tokens: the text of a text block, else its JSON, by ``count`` (or ~4 chars a
    token)."""
    if isinstance(block, dict) and count is not None:
        if block.get("type") == "text":
            return count(str(block.get("text", "")))
        if isinstance(block.get("content"), str):  # a message whose content is a string
            return count(block["content"])
    text = json.dumps(_without_cache_control(block), sort_keys=True)
    return count(text) if count is not None else math.ceil(len(text) / CHARS_PER_TOKEN)


# --------------------------------------------------------------------------- OpenAI-compatible

_OPENAI_ERROR_TYPES: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request"),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("permission_error", None, "Forbidden"),
    404: ("invalid_request_error", "not_found", "Not found"),
    429: ("rate_limit_exceeded", "rate_limit_exceeded", "Rate limit reached. Try again later."),
    500: ("server_error", None, "The server had an error while processing your request."),
    503: ("server_error", None, "The server is overloaded or not ready yet."),
}


class FakeOpenAI(_FakeLLMServer):
    """An OpenAI-compatible server (llama.cpp server, Ollama, vLLM, LM Studio):
    ``POST /v1/chat/completions`` and ``GET /v1/models`` (also without the ``/v1``), and with
    ``tokenize=True`` llama.cpp server's ``POST /tokenize`` (a 404 otherwise, as elsewhere).

    ``api_key=None`` (the default, like most local servers) accepts any key; otherwise it
    must arrive as ``Authorization: Bearer <key>`` or the answer is a 401. With
    ``supports_json_schema=False`` a ``response_format`` of type ``json_schema`` is answered
    with a 400, or with ``json_schema_status`` (500 and llama-cpp-python's message);
    ``supports_json_object=False`` does the same for ``json_object`` (like LM Studio), and
    ``supports_json_object_schema=False`` for a ``json_object`` that carries a ``schema``. Such
    rejections do not consume a step, so the client's fallback request gets it. ``slots``,
    ``tokens_per_second`` and ``tokenizer``: see the module's docstring.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        default: Step | None = None,
        usage: Usage | None = None,
        supports_json_schema: bool = True,
        supports_json_object: bool = True,
        supports_json_object_schema: bool = True,
        json_schema_status: int = 400,
        models: Iterable[str] = ("fake-model",),
        slots: int | None = None,
        tokens_per_second: float | None = None,
        tokenizer: Callable[[str], int] | None = None,
        tokenize: bool = False,
        tokenize_fails: int = 0,
    ) -> None:
        super().__init__(
            api_key=api_key,
            default=default,
            usage=usage,
            slots=slots,
            tokens_per_second=tokens_per_second,
            tokenizer=tokenizer,
        )
        self.tokenize = tokenize
        """Serve ``POST /tokenize`` like llama.cpp's server (it needs no slot)."""
        self.tokenize_fails = tokenize_fails
        """The next this many ``/tokenize`` requests answer a 500."""
        self.supports_json_schema = supports_json_schema
        self.supports_json_object = supports_json_object
        self.supports_json_object_schema = supports_json_object_schema
        self.json_schema_status = json_schema_status
        """The status of a refused ``json_schema`` format: 400, or 500 like llama-cpp-python."""
        self.models = list(models)

    def _error_body(self, status: int, message: str | None) -> JSONDict:
        err_type, code, default_message = _OPENAI_ERROR_TYPES.get(
            status, ("server_error" if status >= 500 else "invalid_request_error", None, "Error")
        )
        return {
            "error": {
                "message": message or default_message,
                "type": err_type,
                "param": None,
                "code": code,
            }
        }

    def _reject(self, status: int, message: str, *, param: str | None = None) -> web.Response:
        body = self._error_body(status, message)
        body["error"]["param"] = param
        return web.json_response(body, status=status)

    async def _route(self, request: web.Request, record: RecordedRequest) -> web.StreamResponse:
        path = request.path.rstrip("/").removeprefix("/v1")
        if self.api_key is not None and record.api_key != self.api_key:
            return self._reject(401, f"Incorrect API key provided: {record.api_key!r}.")
        if path == "/models" and request.method == "GET":
            data = [
                {"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.models
            ]
            return web.json_response({"object": "list", "data": data})
        if request.path == "/tokenize" and self.tokenize:
            return self._tokenize(request, record)
        if path != "/chat/completions":
            return self._reject(404, f"Not found: {request.method} {request.path}")
        if request.method != "POST":
            return self._reject(405, f"Method {request.method} not allowed")
        body = record.json
        if not isinstance(body, dict):
            return self._reject(400, "Invalid JSON body")
        problem = self._validate(body)
        if problem is not None:
            param, message = problem
            status = 400
            if param == "response_format" and "json_schema" in message:
                status = self.json_schema_status
            return self._reject(status, message, param=param)
        step = self._next_step()
        record.step = step
        return await self._run_step(record, step)

    def _tokenize(self, request: web.Request, record: RecordedRequest) -> web.Response:
        if request.method != "POST":
            return self._reject(405, f"Method {request.method} not allowed")
        if self.tokenize_fails:
            self.tokenize_fails -= 1
            return self._reject(500, "tokenizer failed")
        body = record.json
        content = body.get("content") if isinstance(body, dict) else None
        if not isinstance(content, str):
            return self._reject(400, '"content" must be provided')
        return web.json_response({"tokens": list(range(self.count_text(content)))})

    def _validate(self, body: JSONDict) -> tuple[str, str] | None:
        for name in ("model", "messages"):
            if name not in body:
                return name, f"Missing required parameter: '{name}'."
        if not isinstance(body["messages"], list) or not body["messages"]:
            return "messages", "'messages' must be a non-empty array"
        if body.get("stream"):
            return "stream", "streaming is not supported by FakeOpenAI"
        fmt = body.get("response_format")
        if fmt is None:
            return None
        kind = fmt.get("type") if isinstance(fmt, dict) else None
        if kind == "json_schema":
            if not self.supports_json_schema:
                if self.json_schema_status >= 500:  # llama-cpp-python's words
                    return (
                        "response_format",
                        'response_format type must be one of "text" or "json_object", but '
                        "got: json_schema",
                    )
                return (
                    "response_format",
                    "response_format type 'json_schema' is not supported by this server; "
                    "use 'json_object' or 'text'",
                )
            if not isinstance(fmt.get("json_schema"), dict):
                return "response_format.json_schema", "Missing required parameter: 'json_schema'."
        elif kind == "json_object":
            if not self.supports_json_object:
                return (
                    "response_format",
                    "'response_format.type' must be 'json_schema' or 'text'",
                )
            if "schema" in fmt and not self.supports_json_object_schema:
                return "response_format.schema", "Unrecognized request argument: 'schema'"
        elif kind != "text":
            return "response_format.type", f"Invalid response_format type: {kind!r}"
        return None

    def _answer(self, record: RecordedRequest, step: Reply | RawText) -> web.Response:
        body: JSONDict = record.json
        message: JSONDict = {"role": "assistant", "content": None, "refusal": None}
        finish_reason = "stop"
        choice = body.get("tool_choice")
        function = choice.get("function") if isinstance(choice, dict) else None
        if isinstance(step, Reply) and isinstance(function, dict) and "name" in function:
            output = json.dumps(step.obj)
            message["tool_calls"] = [
                {
                    "id": self._next_id("call"),
                    "type": "function",
                    "function": {"name": function["name"], "arguments": output},
                }
            ]
            finish_reason = "tool_calls"
        else:
            output = step.text if isinstance(step, RawText) else json.dumps(step.obj)
            message["content"] = output
        if step.stop_reason is not None:
            finish_reason = step.stop_reason
        scripted = self._usage_for(step)
        prompt = scripted.input_tokens
        if prompt is None:
            prompt = self.count_text(json.dumps([body.get("messages"), body.get("tools")]))
        completion = scripted.output_tokens
        if completion is None:
            completion = estimate_tokens(output)
        usage: JSONDict = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        if scripted.cache_read_input_tokens:
            usage["prompt_tokens_details"] = {"cached_tokens": scripted.cache_read_input_tokens}
        completion_json = {
            "id": self._next_id("chatcmpl"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model"),
            "choices": [
                {"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}
            ],
            "usage": usage,
        }
        return web.json_response(completion_json)


__all__ = [
    "CHARS_PER_TOKEN",
    "MAX_CACHE_BREAKPOINTS",
    "Fail",
    "FakeAnthropic",
    "FakeOpenAI",
    "RawBody",
    "RawText",
    "RecordedRequest",
    "Reply",
    "Slow",
    "Step",
    "Usage",
    "estimate_tokens",
]
