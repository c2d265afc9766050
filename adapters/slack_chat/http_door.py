"""HTTP mode's door: what a request to /slack/events must be before its body is read, parsed or
handed to bolt.

Nothing reads a request's body before its v0 signature and 5-minute window are checked (over
the raw bytes, at most 1 MiB of them); a request that fails is answered 401 and counted in a log
line at most once a minute. Only a signed body is parsed, a replay of one is acknowledged
without doing anything again, and one that is not a Slack payload is answered 400.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final
from urllib.parse import parse_qsl

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.ttl_map import TTLMap

log = logging.getLogger(__name__)

EVENTS_PATH: Final = "/slack/events"
# HTTP mode: what a request must be before its body is read, parsed or handed to bolt.
MAX_BODY_BYTES: Final = 1024 * 1024  # Slack's payloads are a few KiB; larger is refused (413)
SIGNATURE_WINDOW: Final = 300  # seconds a signed request stays valid (Slack's 5 minutes)
REJECTED_LOG_SECONDS: Final = 60.0  # refused requests are counted in one line this often
REPLAYS_REMEMBERED: Final = 65_536  # signatures kept (for SIGNATURE_WINDOW) to spot replays


# The JSON payloads redigest takes at its request URL (besides slash commands and ssl_check,
# which are plain forms); Slack sends others only to apps that asked for them.
_PAYLOAD_TYPES: Final = frozenset(
    {"event_callback", "url_verification", "app_rate_limited", "message_action", "block_actions"}
)
_OBJECT_KEYS: Final = ("event", "message", "view", "container", "item", "previous_message")
_OBJECT_OR_TEXT_KEYS: Final = ("user", "channel", "team", "enterprise")
_TEXT_KEYS: Final = (
    "token", "team_id", "enterprise_id", "api_app_id", "callback_id", "trigger_id",
    "response_url", "message_ts", "action_ts", "challenge", "event_id",
)  # fmt: skip


_SLACK_TS: Final = re.compile(r"\d{1,12}\.\d{1,9}")  # a message's id in its channel


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _ts(value: Any) -> bool:
    return isinstance(value, str) and _SLACK_TS.fullmatch(value) is not None


def _shape_problem(obj: Mapping[str, Any]) -> str | None:
    for key in _OBJECT_KEYS:
        if obj.get(key) is not None and not isinstance(obj[key], dict):
            return f"{key} is not an object"
    for key in _OBJECT_OR_TEXT_KEYS:
        if obj.get(key) is not None and not isinstance(obj[key], dict | str):
            return f"{key} is neither an object nor text"
    for key in _TEXT_KEYS:
        if obj.get(key) is not None and not isinstance(obj[key], str):
            return f"{key} is not text"
    for key in ("authorizations", "actions", "attachments", "blocks"):
        value = obj.get(key)
        if value is not None and not (
            isinstance(value, list) and all(isinstance(v, dict) for v in value)
        ):
            return f"{key} is not a list of objects"
    return None


def payload_problem(body: Any) -> str | None:
    """Why a signed HTTP-mode body is not a payload Slack sends, in a few words; None when it
    is one. Checked before bolt and the listeners read it, so neither meets a surprise."""
    if not isinstance(body, dict) or not body:
        return "not an object"
    if "ssl_check" in body or "command" in body:  # plain forms: every field is text
        if not all(isinstance(v, str) for v in body.values()):
            return "a form field that is not text"
        if "ssl_check" in body:
            return None
        if not body["command"].startswith("/"):
            return "a command without a slash"
        missing = [k for k in ("team_id", "channel_id", "user_id") if not body.get(k)]
        return f"a command without {', '.join(missing)}" if missing else None
    kind = body.get("type")
    if not isinstance(kind, str) or kind not in _PAYLOAD_TYPES:
        return "no payload type redigest takes"
    problem = _shape_problem(body)
    if problem is not None:
        return problem
    if kind == "url_verification" and not _text(body.get("challenge")):
        return "url_verification without a challenge"
    if kind == "event_callback":
        event = body.get("event")
        if not isinstance(event, dict) or not _text(event.get("type")):
            return "an event without a type"
        problem = _shape_problem(event)
        if problem is not None:
            return f"event: {problem}"
        if event["type"] == "reaction_added":
            item = event.get("item")
            if not (isinstance(item, dict) and _text(item.get("channel")) and _ts(item.get("ts"))
                    and _text(event.get("user")) and _text(event.get("reaction"))):  # fmt: skip
                return "reaction_added without user, reaction or item"
    if kind == "message_action":
        channel, user, message = body.get("channel"), body.get("user"), body.get("message")
        if not (_text(body.get("callback_id"))
                and isinstance(channel, dict) and _text(channel.get("id"))
                and isinstance(user, dict) and _text(user.get("id"))
                and isinstance(message, dict) and _ts(message.get("ts"))
                and isinstance(body.get("team") or {}, dict)):  # fmt: skip
            return "message_action without channel, user, team or message"
        problem = _shape_problem(message)
        if problem is not None:
            return f"message: {problem}"
    if kind == "block_actions":  # a bundle's buttons
        container, user = body.get("container"), body.get("user")
        if not (isinstance(container, dict) and _text(container.get("channel_id"))
                and _ts(container.get("message_ts"))
                and isinstance(user, dict) and _text(user.get("id"))
                and body.get("actions")):  # fmt: skip
            return "block_actions without container, user or actions"
        problem = _shape_problem(body.get("message") or {})
        if problem is not None:
            return f"message: {problem}"
    return None


def timestamp_problem(timestamp: str, now: float) -> str | None:
    """Why X-Slack-Request-Timestamp rules a request out; None when it is within the window."""
    if not timestamp:
        return "no X-Slack-Request-Timestamp"
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        return "a malformed X-Slack-Request-Timestamp"
    if abs(now - int(timestamp)) > SIGNATURE_WINDOW:
        return "a timestamp outside the 5-minute window"
    return None


def signature_matches(secret: bytes, timestamp: str, body: bytes, signature: str) -> bool:
    """Slack's v0 signature over the raw body, compared in constant time."""
    base = b"v0:" + timestamp.encode("ascii") + b":" + body
    expected = "v0=" + hmac.new(secret, base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))


class CountedLog:
    """A log line at most every `seconds`, counting what happened in between: a flood of bad
    requests costs one line a minute, never one a request."""

    def __init__(self, message: str, seconds: float = REJECTED_LOG_SECONDS) -> None:
        self.message = message  # %d: how many since the last line, %s: the latest reason
        self.seconds = seconds
        self.count = 0
        self._next = 0.0

    def note(self, reason: str) -> None:
        self.count += 1
        now = time.monotonic()
        if now < self._next:
            return
        log.warning(self.message, self.count, reason)
        self.count = 0
        self._next = now + self.seconds


def _text_response(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text)


class HttpDoor:
    """POST /slack/events: checks a request, then hands what passed to `dispatch` (bolt)."""

    def __init__(
        self,
        signing_secret: str,
        shortcut_callback_ids: str | tuple[str, ...],
        dispatch: Callable[[AsyncBoltRequest], Awaitable[BoltResponse]],
    ) -> None:
        ids = shortcut_callback_ids
        self.shortcut_callback_ids = (ids,) if isinstance(ids, str) else tuple(ids)
        self.dispatch = dispatch
        self._signing_key = signing_secret.encode()
        # Signatures already seen, until their window closes (wall-clock time, as Slack's).
        self._seen: TTLMap[str, bool] = TTLMap(size=REPLAYS_REMEMBERED, clock=time.time)
        self.refused = CountedLog(
            f"Slack: refused %d request(s) to {EVENTS_PATH} since the last such line (the "
            "latest had %s); if Slack's own requests are refused, check SLACK_SIGNING_SECRET "
            "and this host's clock."
        )
        self.malformed = CountedLog(
            "Slack: answered 400 to %d signed request(s) that are not Slack payloads since the "
            "last such line (the latest: %s)."
        )
        self.rate_limited = CountedLog(
            "Slack: %d event delivery(ies) said Slack is dropping events to this app for a "
            "while (app_rate_limited, minute %s): it answers too slowly or gets too many."
        )

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """POST /slack/events: the signature over the raw bytes first, then the body.

        401 for a missing, stale or wrong signature (nothing is parsed), 413 for a body over
        MAX_BODY_BYTES, 200 and nothing else for a replay of a request already handled, 400
        for a signed body that is not a Slack payload; bolt sees only what passed.
        """
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        problem = timestamp_problem(timestamp, time.time())
        if problem is None and not signature.startswith("v0="):
            problem = "no v0 X-Slack-Signature"
        if problem is not None:
            self.refused.note(problem)
            return _text_response(401, "invalid request signature")
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            self.refused.note("a body over the size limit")
            return _text_response(413, "request body too large")
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            self.refused.note("a body over the size limit")
            return _text_response(413, "request body too large")
        if not signature_matches(self._signing_key, timestamp, raw, signature):
            self.refused.note("a signature that does not match its body")
            return _text_response(401, "invalid request signature")
        if self._replayed(signature, int(timestamp)):
            log.debug("Slack: a replayed request was acknowledged and ignored")
            return web.Response(status=200)
        bolt_request = self._bolt_request(raw, request)
        if bolt_request is None:
            return _text_response(400, "not a Slack payload")
        body = bolt_request.body
        if body.get("type") == "app_rate_limited":
            self.rate_limited.note(str(body.get("minute_rate_limited") or "?"))
            return web.Response(status=200)
        if body.get("type") == "event_callback" and body["event"]["type"] != "reaction_added":
            return web.Response(status=200)  # not subscribed to (by the manifest): acknowledged
        if (
            body.get("type") == "message_action"
            and body["callback_id"] not in self.shortcut_callback_ids
        ):
            self.malformed.note("a shortcut redigest does not have")
            return _text_response(400, "unknown shortcut")
        return await to_aiohttp_response(await self.dispatch(bolt_request))

    def _replayed(self, signature: str, timestamp: int) -> bool:
        """Whether this exact signed request came before (within its window): remembered
        until the window closes, at most REPLAYS_REMEMBERED of them."""
        if signature in self._seen:
            return True
        self._seen.put(signature, True, until=timestamp + SIGNATURE_WINDOW)
        return False

    def _bolt_request(self, raw: bytes, request: web.Request) -> AsyncBoltRequest | None:
        """The signed body as bolt reads it; None (counted in a log line) when it is not a
        payload Slack sends."""
        headers: dict[str, str | Sequence[str]] = dict(request.headers.items())
        try:
            bolt_request = AsyncBoltRequest(
                body=raw.decode("utf-8"), query=request.query_string, headers=headers
            )
        except Exception as exc:  # whatever bolt's parser trips on is junk
            self.malformed.note(f"a body that does not parse ({type(exc).__name__})")
            return None
        _read_form_as_is(bolt_request)
        problem = payload_problem(bolt_request.body)
        if problem is not None:
            self.malformed.note(problem)
            return None
        return bolt_request


def _read_form_as_is(bolt_request: AsyncBoltRequest) -> None:
    """bolt takes any form body containing the word "payload" for an interactive payload and,
    finding no `payload` field, reads it as empty: a slash command whose text says "payload"
    was lost. Such a form is read as the fields it has (the raw body, which bolt verifies,
    is untouched)."""
    raw = bolt_request.raw_body
    if bolt_request.body or raw.startswith("{") or "payload" not in raw:
        return
    fields = dict(parse_qsl(raw, keep_blank_values=True))
    if "payload" in fields:
        return  # a real (empty or broken) payload field: bolt's reading stands
    bolt_request.body = fields
    bolt_request.context = build_async_context(AsyncBoltContext({}), fields)
