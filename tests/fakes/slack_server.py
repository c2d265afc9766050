"""A fake Slack (Web API, Socket Mode, response_url) that the real slack_sdk / slack-bolt talk to.

It runs on ``127.0.0.1`` (random free port) with :mod:`aiohttp.web`::

    async with FakeSlack() as fake:
        client = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)
        app = AsyncApp(client=client, signing_secret=fake.signing_secret)
        handler = AsyncSocketModeHandler(app, fake.app_token)
        await handler.connect_async()
        envelope_id = await fake.socket_send(
            fake.envelope("slash_commands", fake.slash_command_payload("/digest", "abc"))
        )
        ack = await fake.wait_ack(envelope_id)
        call = await fake.wait_for_call("chat.postMessage")
        await handler.close_async()

How slack_sdk 3.47 talks to it (verified against the installed sources):

* Web API: ``{base_url}{method}`` where ``base_url`` must end with ``/`` (``fake.api_url`` is
  ``http://127.0.0.1:PORT/api/``). The token travels as ``Authorization: Bearer ...`` (the
  ``token`` argument is popped out of params/json by the SDK). Bodies come in three shapes and
  the fake merges them all into one ``args`` dict: ``GET`` with a query string
  (``conversations.history``, ``conversations.replies``, ``conversations.info``, ``users.info``,
  ``usergroups.users.list``, ``chat.getPermalink``), ``POST`` with a query string and an empty
  body (``auth.test``, ``reactions.add``, ``apps.connections.open``), ``POST`` with a JSON body
  (``chat.postMessage``, ``chat.postEphemeral``, ``chat.update``), and form bodies from
  ``api_call(..., data=...)``; JSON-valued form fields (``blocks``) are decoded.
* Socket Mode: ``apps.connections.open`` (app token ``xapp-...``) answers
  ``ws://127.0.0.1:PORT/socket?ticket=...``; the aiohttp-based ``SocketModeClient`` connects
  there, the fake sends ``{"type": "hello", ...}``, and every envelope the fake pushes is
  acknowledged with ``{"envelope_id": ..., "payload": {...}?}`` (``payload`` only when the
  listener's ``ack()`` carried content). ``{"type": "disconnect"}`` makes the client fetch a new
  URL and reconnect.
* ``response_url``: payload helpers point it at ``/response/{id}`` on this server; the SDK's
  ``AsyncWebhookClient`` POSTs JSON there (bolt's ``respond()``).

Whole threads: :meth:`FakeSlack.add_thread` seeds a ``conversations.replies``-shaped export, and
:func:`thread_export` builds one of N messages from a REAL Reddit thread's prose (fake members,
a CI app's and this bot's own messages among them); ``conversations.replies`` and
``conversations.members`` page with ``limit``/``cursor``; ``history_scope = False`` answers
``missing_scope`` as an app without channels:history/groups:history gets.

Slack's limits are enforced (50 blocks, 3000-char section text, 150-char header text, 40,000-char
message text, ...) so that bugs fail here the way they would against Slack. Faults:
:meth:`FakeSlack.rate_limit_next` (HTTP 429 + ``Retry-After``) and :meth:`FakeSlack.fail_next`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from aiohttp import WSMsgType, web

from tests.fakes.local_server import LocalServer

JSONDict = dict[str, Any]

MAX_BLOCKS = 50
"""Most blocks a message may carry (modals and App Home allow 100)."""
MAX_SECTION_TEXT = 3000
MAX_SECTION_FIELDS = 10
MAX_SECTION_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS_ELEMENTS = 25
MAX_BLOCK_ID = 255
MAX_MARKDOWN_BLOCK_TEXT = 12000
MAX_MESSAGE_TEXT = 40000
"""Longer ``text`` is rejected with ``msg_too_long``."""

_KNOWN_BLOCK_TYPES = frozenset(
    {
        "actions",
        "context",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "table",
        "video",
    }
)

_DEFAULT_SCOPES = (
    "commands,chat:write,chat:write.public,reactions:read,reactions:write,channels:history,"
    "groups:history,im:history,mpim:history,channels:read,groups:read,users:read,usergroups:read"
)


class SlackError(Exception):
    """Raised by a method handler: becomes ``{"ok": false, "error": ...}``."""

    def __init__(self, error: str, status: int = 200, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = extra


def sign(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Slack's v0 request signature headers for an HTTP-mode request body."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + ts.encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def form_body(fields: Mapping[str, str]) -> bytes:
    """``application/x-www-form-urlencoded`` body, as Slack POSTs slash commands."""
    return urlencode(dict(fields)).encode()


def interactive_form_body(payload: JSONDict) -> bytes:
    """Form body ``payload=<json>``, as Slack POSTs interactivity (shortcuts, actions)."""
    return urlencode({"payload": json.dumps(payload)}).encode()


@dataclass
class ApiCall:
    """One Web API request as the fake saw it."""

    method: str
    args: JSONDict
    headers: dict[str, str]
    token: str | None
    http_method: str
    content_type: str
    time: float
    status: int = 200
    response: JSONDict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.response.get("ok"))

    @property
    def error(self) -> str | None:
        err = self.response.get("error")
        return err if isinstance(err, str) else None


@dataclass
class Message:
    """A message in a channel (seeded by a test or posted through the API)."""

    channel: str
    ts: str
    text: str
    user: str
    blocks: list[JSONDict] | None = None
    thread_ts: str | None = None
    bot_id: str | None = None
    attachments: list[JSONDict] | None = None
    reactions: dict[str, list[str]] = field(default_factory=dict)
    edited: bool = False
    extra: JSONDict = field(default_factory=dict)

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    def to_slack(self, team_id: str, replies: list[Message] | None = None) -> JSONDict:
        data: JSONDict = {"type": "message", "user": self.user, "text": self.text, "ts": self.ts}
        data["team"] = team_id
        if self.bot_id is not None:
            data["bot_id"] = self.bot_id
            data["app_id"] = self.extra.get("app_id")
        if self.blocks is not None:
            data["blocks"] = self.blocks
        if self.attachments is not None:
            data["attachments"] = self.attachments
        if self.thread_ts is not None:
            data["thread_ts"] = self.thread_ts
        if replies:
            data["reply_count"] = len(replies)
            data["reply_users"] = sorted({r.user for r in replies})
            data["latest_reply"] = replies[-1].ts
        if self.is_reply:
            data["parent_user_id"] = self.extra.get("parent_user_id")
        if self.edited:
            data["edited"] = {"user": self.user, "ts": self.extra.get("edited_ts", self.ts)}
        for key in ("subtype", "user_profile", "username", "client_msg_id"):
            if key in self.extra:
                data[key] = self.extra[key]
        if self.reactions:
            data["reactions"] = [
                {"name": name, "users": list(users), "count": len(users)}
                for name, users in self.reactions.items()
            ]
        return data


@dataclass
class Ephemeral:
    """A message only ``user`` sees (chat.postEphemeral or an ephemeral response_url reply)."""

    channel: str
    user: str
    text: str
    blocks: list[JSONDict] | None
    thread_ts: str | None
    message_ts: str
    via: str


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool = False
    is_im: bool = False
    is_ext_shared: bool = False
    is_member: bool = True
    is_archived: bool = False
    created: int = 1_600_000_000
    members: list[str] = field(default_factory=list)  # conversations.members

    def to_slack(self) -> JSONDict:
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": not self.is_private and not self.is_im,
            "is_group": self.is_private,
            "is_im": self.is_im,
            "is_mpim": False,
            "is_private": self.is_private or self.is_im,
            "is_archived": self.is_archived,
            "is_general": self.name == "general",
            "is_shared": self.is_ext_shared,
            "is_ext_shared": self.is_ext_shared,
            "is_org_shared": False,
            "is_pending_ext_shared": False,
            "is_member": self.is_member,
            "created": self.created,
            "creator": "U0OWNER01",
            "name_normalized": self.name,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
        }


@dataclass
class User:
    id: str
    name: str
    is_admin: bool = False
    is_owner: bool = False
    is_primary_owner: bool = False
    is_bot: bool = False
    is_restricted: bool = False
    deleted: bool = False
    tz: str = "Europe/London"

    def to_slack(self, team_id: str) -> JSONDict:
        return {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "real_name": self.name.title(),
            "deleted": self.deleted,
            "tz": self.tz,
            "is_admin": self.is_admin,
            "is_owner": self.is_owner,
            "is_primary_owner": self.is_primary_owner,
            "is_restricted": self.is_restricted,
            "is_ultra_restricted": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "profile": {
                "real_name": self.name.title(),
                "display_name": self.name,
                "team": team_id,
            },
        }


@dataclass
class ResponseUrlPost:
    """A POST to a response_url (bolt's ``respond()``)."""

    response_id: str
    body: JSONDict
    headers: dict[str, str]
    time: float


@dataclass
class UploadedFile:
    """A file sent through files_upload_v2: asked for (files.getUploadURLExternal), its bytes
    POSTed to the upload URL, and shared (files.completeUploadExternal) into a channel/thread."""

    id: str
    filename: str
    length: int
    alt_txt: str | None
    data: bytes | None = None  # None until the bytes arrive at the upload URL
    title: str | None = None
    channel: str | None = None  # None until completed
    thread_ts: str | None = None
    initial_comment: str | None = None


@dataclass
class _ResponseTarget:
    channel: str
    user: str
    thread_ts: str | None = None


@dataclass
class _Fault:
    method: str
    error: str
    status: int
    headers: dict[str, str]
    extra: JSONDict
    times: int


_Handler = Callable[[ApiCall], JSONDict]


class FakeSlack(LocalServer):
    """An in-process Slack workspace on ``127.0.0.1``; see the module docstring."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-1111-2222-fakebottoken",
        app_token: str = "xapp-1-A0APP0001-3333-fakeapptoken",
        signing_secret: str = "fake-signing-secret",
        team_id: str = "T0FAKE001",
        team_domain: str = "redigest-test",
        bot_user_id: str = "U0BOT0001",
        bot_id: str = "B0BOT0001",
        app_id: str = "A0APP0001",
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.signing_secret = signing_secret
        self.team_id = team_id
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.extra_tokens: set[str] = set()
        """More bot/user tokens to accept (tokens not here nor ``bot_token`` → invalid_auth)."""

        self.calls: list[ApiCall] = []
        self.messages: list[Message] = []
        self.ephemerals: list[Ephemeral] = []
        self.responses: list[ResponseUrlPost] = []
        self.socket_received: list[JSONDict] = []
        self.acks: dict[str, JSONDict] = {}
        self.socket_connections_opened = 0
        self.channels: dict[str, Channel] = {}
        self.join_scope = True  # whether the app was given channels:join
        self.reactions_scope = True  # whether the app was given reactions:write
        self.history_scope = True  # channels:history/groups:history (conversations.replies)
        self.users: dict[str, User] = {}
        self.usergroups: dict[str, list[str]] = {}

        self._faults: list[_Fault] = []
        self._response_targets: dict[str, _ResponseTarget] = {}
        self._tickets: set[str] = set()
        self._sockets: list[web.WebSocketResponse] = []
        self._socket_tasks: set[asyncio.Task[Any]] = set()
        self._ids = itertools.count(1)
        self._last_ts = 0.0
        self._handlers: dict[str, _Handler] = {
            "api.test": self._api_test,
            "auth.test": self._auth_test,
            "apps.connections.open": self._apps_connections_open,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "conversations.info": self._conversations_info,
            "conversations.join": self._conversations_join,
            "conversations.members": self._conversations_members,
            "reactions.add": self._reactions_add,
            "reactions.remove": self._reactions_remove,
            "users.info": self._users_info,
            "usergroups.users.list": self._usergroups_users_list,
        }
        self._handlers.update(self._file_handlers())

        self.add_user(bot_user_id, "redigest", is_bot=True)
        self.add_user("U0OWNER01", "owner", is_admin=True, is_owner=True, is_primary_owner=True)
        self.add_user("U0ALICE01", "alice")
        self.add_channel("C0GENERAL", "general")

    # ----------------------------------------------------------------- lifecycle

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_get("/socket", self._handle_socket)
        app.router.add_post("/response/{response_id}", self._handle_response_url)
        app.router.add_post("/upload/v1/{file_id}", self._handle_upload)

    async def _stopping(self) -> None:
        """Close every socket-mode connection."""
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.close(code=1001, message=b"server shutting down")
        if self._socket_tasks:
            await asyncio.wait(self._socket_tasks, timeout=1.0)

    @property
    def api_url(self) -> str:
        """``http://127.0.0.1:PORT/api/``: pass as ``AsyncWebClient(base_url=...)``."""
        return f"{self.base_url}/api/"

    # ----------------------------------------------------------------- workspace state

    def add_channel(
        self,
        channel_id: str,
        name: str | None = None,
        *,
        is_private: bool = False,
        is_im: bool = False,
        is_ext_shared: bool = False,
        is_member: bool = True,
        is_archived: bool = False,
    ) -> Channel:
        """Create (or replace) a channel the bot can see."""
        channel = Channel(
            id=channel_id,
            name=name or channel_id.lower(),
            is_private=is_private,
            is_im=is_im,
            is_ext_shared=is_ext_shared,
            is_member=is_member,
            is_archived=is_archived,
        )
        self.channels[channel_id] = channel
        return channel

    def add_user(
        self,
        user_id: str,
        name: str | None = None,
        *,
        is_admin: bool = False,
        is_owner: bool = False,
        is_primary_owner: bool = False,
        is_bot: bool = False,
        is_restricted: bool = False,
        deleted: bool = False,
    ) -> User:
        """Create (or replace) a workspace member."""
        user = User(
            id=user_id,
            name=name or user_id.lower(),
            is_admin=is_admin,
            is_owner=is_owner,
            is_primary_owner=is_primary_owner,
            is_bot=is_bot,
            is_restricted=is_restricted,
            deleted=deleted,
        )
        self.users[user_id] = user
        return user

    def add_usergroup(self, usergroup_id: str, users: list[str]) -> None:
        """Create (or replace) a user group (``S...``) with these members."""
        self.usergroups[usergroup_id] = list(users)

    def add_message(
        self,
        channel: str,
        text: str,
        user: str = "U0ALICE01",
        ts: str | None = None,
        blocks: list[JSONDict] | None = None,
        *,
        thread_ts: str | None = None,
    ) -> str:
        """Seed a message (as if a human posted it); returns its ``ts``."""
        self._ensure_channel(channel)
        self._ensure_user(user)
        msg_ts = ts or self._next_ts()
        parent_user = None
        if thread_ts is not None:
            parent = self.find_message(channel, thread_ts)
            parent_user = parent.user if parent is not None else None
        self.messages.append(
            Message(
                channel=channel,
                ts=msg_ts,
                text=text,
                user=user,
                blocks=blocks,
                thread_ts=thread_ts,
                extra={"parent_user_id": parent_user},
            )
        )
        return msg_ts

    def add_thread(self, channel: str, export: JSONDict) -> str:
        """Seed a whole thread given as a ``conversations.replies`` export (see
        :func:`thread_export`): its members, messages (bots' included) and reactions; returns the
        first message's ``ts``."""
        self._ensure_channel(channel)
        for user_id, name in (export.get("users") or {}).items():
            if user_id not in self.users:
                self.add_user(user_id, name)
        root = export["messages"][0]["ts"]
        for m in export["messages"]:
            extra = {k: m[k] for k in ("subtype", "user_profile", "username", "client_msg_id")
                     if k in m}  # fmt: skip
            extra["parent_user_id"] = export["messages"][0].get("user")
            if m.get("bot_id"):
                extra["app_id"] = m.get("app_id")
            self.messages.append(
                Message(
                    channel=channel,
                    ts=m["ts"],
                    text=m["text"],
                    user=m.get("user") or "",
                    thread_ts=root,
                    bot_id=m.get("bot_id"),
                    reactions={r["name"]: list(r["users"]) for r in m.get("reactions") or ()},
                    extra=extra,
                )
            )
        return str(root)

    def find_message(self, channel: str, ts: str) -> Message | None:
        for msg in self.messages:
            if msg.channel == channel and msg.ts == ts:
                return msg
        return None

    def messages_in(self, channel: str, *, thread_ts: str | None = None) -> list[Message]:
        """Messages of a channel, oldest first (only one thread's when ``thread_ts`` is given)."""
        found = [m for m in self.messages if m.channel == channel]
        if thread_ts is not None:
            found = [m for m in found if m.ts == thread_ts or m.thread_ts == thread_ts]
        return sorted(found, key=lambda m: float(m.ts))

    @property
    def posted(self) -> list[Message]:
        """Messages the app posted (chat.postMessage / in_channel responses), in order."""
        return [m for m in self.messages if m.bot_id is not None]

    def calls_to(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method == method]

    # ----------------------------------------------------------------- faults

    def rate_limit_next(self, method: str, retry_after: int = 1, *, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` get HTTP 429 + ``Retry-After`` + ``ratelimited``.

        slack_sdk's ``AsyncRateLimitErrorRetryHandler`` sleeps ``Retry-After + random()`` seconds
        and retries once by default (``max_retry_count=1``); use ``retry_after=0`` in tests.
        """
        self._faults.append(
            _Fault(
                method=method,
                error="ratelimited",
                status=429,
                headers={"Retry-After": str(retry_after)},
                extra={},
                times=times,
            )
        )

    def fail_next(
        self, method: str, error: str, *, status: int = 200, times: int = 1, **extra: Any
    ) -> None:
        """The next ``times`` calls of ``method`` answer ``{"ok": false, "error": error, **extra}``."""
        self._faults.append(
            _Fault(method=method, error=error, status=status, headers={}, extra=extra, times=times)
        )

    # ----------------------------------------------------------------- waiting

    async def wait_until(
        self,
        predicate: Callable[[], bool],
        timeout: float = 2.0,  # noqa: ASYNC109
    ) -> None:
        """Poll until ``predicate()`` holds (listeners run after the ack, so tests poll)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout}s")
            await asyncio.sleep(0.005)

    async def wait_for_call(
        self,
        method: str,
        count: int = 1,
        timeout: float = 2.0,  # noqa: ASYNC109
    ) -> ApiCall:
        """Wait until ``method`` has been called ``count`` times; return the ``count``-th call."""
        try:
            await self.wait_until(lambda: len(self.calls_to(method)) >= count, timeout)
        except TimeoutError:
            seen = [c.method for c in self.calls]
            raise TimeoutError(
                f"{method} x{count} not called within {timeout}s; calls: {seen}"
            ) from None
        return self.calls_to(method)[count - 1]

    async def wait_ack(self, envelope_id: str, timeout: float = 2.0) -> JSONDict:  # noqa: ASYNC109
        """The client's ack frame for an envelope: ``{"envelope_id": ..., "payload"?: ...}``."""
        try:
            await self.wait_until(lambda: envelope_id in self.acks, timeout)
        except TimeoutError:
            raise TimeoutError(f"no ack for envelope {envelope_id} within {timeout}s") from None
        return self.acks[envelope_id]

    # ----------------------------------------------------------------- socket mode

    @property
    def socket_connected(self) -> bool:
        return any(not ws.closed for ws in self._sockets)

    def envelope(
        self,
        envelope_type: str,
        payload: JSONDict,
        *,
        accepts_response_payload: bool | None = None,
        envelope_id: str | None = None,
        retry_attempt: int = 0,
    ) -> JSONDict:
        """A Socket Mode envelope as Slack sends it (``slash_commands``/``events_api``/``interactive``)."""
        if accepts_response_payload is None:
            accepts_response_payload = envelope_type == "slash_commands" or (
                envelope_type == "interactive"
                and payload.get("type") in ("view_submission", "block_suggestion")
            )
        env: JSONDict = {
            "envelope_id": envelope_id or f"{secrets.token_hex(4)}-{next(self._ids):04d}-fake",
            "type": envelope_type,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        if envelope_type == "events_api":
            env["retry_attempt"] = retry_attempt
            env["retry_reason"] = "" if retry_attempt == 0 else "timeout"
        return env

    async def socket_send(self, envelope: JSONDict, timeout: float = 2.0) -> str:  # noqa: ASYNC109
        """Push an envelope to the newest socket connection; returns its ``envelope_id``."""
        if "envelope_id" not in envelope:
            envelope = {**envelope, "envelope_id": f"fake-{next(self._ids):06d}"}
        ws = await self._current_socket(timeout)
        await ws.send_str(json.dumps(envelope))
        return str(envelope["envelope_id"])

    async def socket_disconnect(
        self,
        reason: str = "refresh_requested",
        timeout: float = 2.0,  # noqa: ASYNC109
    ) -> None:
        """Send Slack's ``disconnect`` frame (the client then reconnects via apps.connections.open)."""
        ws = await self._current_socket(timeout)
        frame = {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}}
        await ws.send_str(json.dumps(frame))

    async def _current_socket(self, timeout: float) -> web.WebSocketResponse:  # noqa: ASYNC109
        await self.wait_until(lambda: self.socket_connected, timeout)
        return [ws for ws in self._sockets if not ws.closed][-1]

    async def _handle_socket(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            return web.json_response({"ok": False, "error": "invalid_auth"}, status=401)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        task = asyncio.current_task()
        if task is not None:
            self._socket_tasks.add(task)
        self._sockets.append(ws)
        self.socket_connections_opened += 1
        try:
            hello = {
                "type": "hello",
                "num_connections": sum(1 for s in self._sockets if not s.closed),
                "debug_info": {
                    "host": "applink-fake",
                    "build_number": 1,
                    "approximate_connection_time": 18060,
                },
                "connection_info": {"app_id": self.app_id},
            }
            await ws.send_str(json.dumps(hello))
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    frame = json.loads(msg.data)
                except ValueError:
                    continue
                if not isinstance(frame, dict):
                    continue
                self.socket_received.append(frame)
                envelope_id = frame.get("envelope_id")
                if isinstance(envelope_id, str):
                    self.acks[envelope_id] = frame
        finally:
            self._sockets.remove(ws)
            if task is not None:
                self._socket_tasks.discard(task)
        return ws

    # ----------------------------------------------------------------- payload helpers

    def new_response_url(self, channel: str, user: str, thread_ts: str | None = None) -> str:
        """A fresh response_url on this server bound to (channel, user)."""
        response_id = f"R{next(self._ids):08d}{secrets.token_hex(4)}"
        self._response_targets[response_id] = _ResponseTarget(channel, user, thread_ts)
        return f"{self.base_url}/response/{response_id}"

    def _trigger_id(self) -> str:
        return f"{next(self._ids)}.{int(time.time())}.{secrets.token_hex(16)}"

    def slash_command_payload(
        self,
        command: str,
        text: str = "",
        user_id: str = "U0ALICE01",
        channel_id: str = "C0GENERAL",
        *,
        user_name: str | None = None,
        channel_name: str | None = None,
        team_id: str | None = None,
    ) -> dict[str, str]:
        """Fields of a slash command (the form body in HTTP mode, the payload in Socket Mode)."""
        channel = self._ensure_channel(channel_id, channel_name)
        user = self._ensure_user(user_id, user_name)
        return {
            "token": "fake-verification-token",
            "team_id": team_id or self.team_id,
            "team_domain": self.team_domain,
            "channel_id": channel.id,
            "channel_name": channel.name,
            "user_id": user.id,
            "user_name": user.name,
            "command": command,
            "text": text,
            "api_app_id": self.app_id,
            "is_enterprise_install": "false",
            "response_url": self.new_response_url(channel.id, user.id),
            "trigger_id": self._trigger_id(),
        }

    def event_callback(self, event: JSONDict, *, team_id: str | None = None) -> JSONDict:
        """Wrap an event as Slack's ``event_callback`` body (HTTP body / events_api payload)."""
        team = team_id or self.team_id
        event_time = int(time.time())
        return {
            "token": "fake-verification-token",
            "team_id": team,
            "context_team_id": team,
            "context_enterprise_id": None,
            "api_app_id": self.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{next(self._ids):08d}FAKE",
            "event_time": event_time,
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": team,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-fake-{secrets.token_hex(8)}",
        }

    def reaction_added_event(
        self, user: str, reaction: str, channel: str, ts: str, *, item_user: str | None = None
    ) -> JSONDict:
        """``event_callback`` body for ``reaction_added`` on message ``(channel, ts)``."""
        self._ensure_channel(channel)
        self._ensure_user(user)
        if item_user is None:
            msg = self.find_message(channel, ts)
            item_user = msg.user if msg is not None else "U0ALICE01"
        event = {
            "type": "reaction_added",
            "user": user,
            "reaction": reaction,
            "item": {"type": "message", "channel": channel, "ts": ts},
            "item_user": item_user,
            "event_ts": self._next_ts(),
        }
        return self.event_callback(event)

    def message_shortcut_payload(
        self,
        callback_id: str,
        message: JSONDict | str,
        user: str = "U0ALICE01",
        channel: str = "C0GENERAL",
    ) -> JSONDict:
        """``message_action`` payload; ``message`` is a Slack message dict or a stored message's ts."""
        chan = self._ensure_channel(channel)
        member = self._ensure_user(user)
        if isinstance(message, str):
            stored = self.find_message(channel, message)
            if stored is None:
                raise KeyError(f"no message {message} in {channel}")
            message = stored.to_slack(self.team_id)
        return {
            "type": "message_action",
            "token": "fake-verification-token",
            "action_ts": f"{time.time():.6f}",
            "team": {"id": self.team_id, "domain": self.team_domain},
            "user": {
                "id": member.id,
                "username": member.name,
                "name": member.name,
                "team_id": self.team_id,
            },
            "channel": {"id": chan.id, "name": chan.name},
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": self._trigger_id(),
            "message_ts": message["ts"],
            "message": message,
            "response_url": self.new_response_url(chan.id, member.id, message.get("thread_ts")),
        }

    def block_actions_payload(
        self, channel: str, ts: str, action_id: str, user: str = "U0ALICE01"
    ) -> JSONDict:
        """``block_actions`` payload: ``user`` pressed the button ``action_id`` of the stored
        message ``(channel, ts)`` (it must be there, as a section's accessory or in an actions
        block), as Slack sends it for a message in a channel."""
        chan = self._ensure_channel(channel)
        member = self._ensure_user(user)
        stored = self.find_message(channel, ts)
        if stored is None:
            raise KeyError(f"no message {ts} in {channel}")
        found: tuple[str, JSONDict] | None = None
        for i, block in enumerate(stored.blocks or []):
            elements = [block.get("accessory"), *(block.get("elements") or [])]
            for element in elements:
                if isinstance(element, dict) and element.get("action_id") == action_id:
                    found = (str(block.get("block_id") or f"blk{i}"), element)
        if found is None:
            raise KeyError(f"message {ts} has no element {action_id}")
        block_id, element = found
        container: JSONDict = {
            "type": "message",
            "message_ts": ts,
            "channel_id": chan.id,
            "is_ephemeral": False,
        }
        if stored.thread_ts is not None:
            container["thread_ts"] = stored.thread_ts
        return {
            "type": "block_actions",
            "user": {
                "id": member.id,
                "username": member.name,
                "name": member.name,
                "team_id": self.team_id,
            },
            "api_app_id": self.app_id,
            "token": "fake-verification-token",
            "container": container,
            "trigger_id": self._trigger_id(),
            "team": {"id": self.team_id, "domain": self.team_domain},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": chan.id, "name": chan.name},
            "message": stored.to_slack(self.team_id),
            "state": {"values": {}},
            "response_url": self.new_response_url(chan.id, member.id, stored.thread_ts),
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": block_id,
                    "text": element.get("text"),
                    "value": element.get("value"),
                    "type": element.get("type"),
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }

    def _ensure_channel(self, channel_id: str, name: str | None = None) -> Channel:
        existing = self.channels.get(channel_id)
        if existing is not None:
            return existing
        return self.add_channel(channel_id, name)

    def _ensure_user(self, user_id: str, name: str | None = None) -> User:
        existing = self.users.get(user_id)
        if existing is not None:
            return existing
        return self.add_user(user_id, name)

    def _next_ts(self) -> str:
        now = max(time.time(), self._last_ts + 0.000001)
        self._last_ts = now
        return f"{now:.6f}"

    # ----------------------------------------------------------------- HTTP: response_url

    async def _handle_response_url(self, request: web.Request) -> web.StreamResponse:
        response_id = request.match_info["response_id"]
        target = self._response_targets.get(response_id)
        try:
            body = json.loads(await request.read() or b"{}")
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        if not isinstance(body, dict):
            return web.Response(status=400, text="invalid_payload")
        self.responses.append(
            ResponseUrlPost(response_id, body, dict(request.headers), time.time())
        )
        if target is None:
            return web.Response(status=404, text="no_service")
        blocks = body.get("blocks")
        if blocks is not None and _block_errors(blocks):
            return web.Response(status=400, text="invalid_blocks")
        text = str(body.get("text") or "")
        if len(text) > MAX_MESSAGE_TEXT:
            return web.Response(status=400, text="msg_too_long")
        ts = self._next_ts()
        if body.get("response_type") == "in_channel":
            self.messages.append(
                Message(
                    channel=target.channel,
                    ts=ts,
                    text=text,
                    user=self.bot_user_id,
                    blocks=blocks,
                    thread_ts=body.get("thread_ts") or target.thread_ts,
                    bot_id=self.bot_id,
                    extra={"app_id": self.app_id, "via": "response_url"},
                )
            )
        elif not body.get("delete_original"):
            self.ephemerals.append(
                Ephemeral(
                    channel=target.channel,
                    user=target.user,
                    text=text,
                    blocks=blocks,
                    thread_ts=target.thread_ts,
                    message_ts=ts,
                    via="response_url",
                )
            )
        return web.json_response({"ok": True})

    # ----------------------------------------------------------------- HTTP: Web API

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        args: JSONDict = dict(request.query)
        content_type = request.content_type
        if request.can_read_body:
            raw = await request.read()
            if content_type == "application/json":
                try:
                    loaded = json.loads(raw or b"{}")
                except ValueError:
                    return web.json_response({"ok": False, "error": "invalid_json"})
                if isinstance(loaded, dict):
                    args.update(loaded)
            elif content_type == "application/x-www-form-urlencoded":
                args.update(parse_qsl(raw.decode(), keep_blank_values=True))
        token: str | None = None
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            token = auth.removeprefix("Bearer ").strip()
        elif isinstance(args.get("token"), str):
            token = args.pop("token")
        call = ApiCall(
            method=method,
            args=args,
            headers=dict(request.headers),
            token=token,
            http_method=request.method,
            content_type=content_type,
            time=time.time(),
        )
        self.calls.append(call)

        headers = {"X-OAuth-Scopes": _DEFAULT_SCOPES, "X-Accepted-OAuth-Scopes": ""}
        fault = self._take_fault(method)
        if fault is not None:
            call.status = fault.status
            call.response = {"ok": False, "error": fault.error, **fault.extra}
            return web.json_response(
                call.response, status=fault.status, headers={**headers, **fault.headers}
            )
        try:
            handler = self._handlers.get(method)
            if handler is None:
                raise SlackError("unknown_method", req_method=method)
            self._check_token(method, token)
            body = {"ok": True, **handler(call)}
            status = 200
        except SlackError as err:
            body = {"ok": False, "error": err.error, **err.extra}
            status = err.status
        call.status = status
        call.response = body
        return web.json_response(body, status=status, headers=headers)

    def _take_fault(self, method: str) -> _Fault | None:
        for fault in self._faults:
            if fault.method == method:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _check_token(self, method: str, token: str | None) -> None:
        if method == "api.test":
            return
        if not token:
            raise SlackError("not_authed")
        is_app_token = token == self.app_token
        is_other = token == self.bot_token or token in self.extra_tokens
        if not is_app_token and not is_other:
            raise SlackError("invalid_auth")
        if (method == "apps.connections.open") != is_app_token:
            raise SlackError("not_allowed_token_type")

    # ----------------------------------------------------------------- Web API methods

    def _channel(self, args: JSONDict, key: str = "channel", *, post: bool = False) -> Channel:
        ref = args.get(key)
        if not ref or not isinstance(ref, str):
            raise SlackError("channel_not_found")
        channel: Channel | None = None
        if ref.startswith("#"):
            channel = next((c for c in self.channels.values() if c.name == ref[1:]), None)
        elif ref in self.users and post:
            channel = self._ensure_channel(f"D{ref[1:]}", ref)
            channel.is_im = True
        else:
            channel = self.channels.get(ref)
        if channel is None or (channel.is_private and not channel.is_member):
            raise SlackError("channel_not_found")
        if channel.is_archived and post:
            raise SlackError("is_archived")
        if not channel.is_member and not (post and not channel.is_private):
            # reading needs membership; chat:write.public lets the bot post in public channels
            raise SlackError("not_in_channel")
        return channel

    def _message(self, channel: Channel, ts: Any) -> Message:
        msg = self.find_message(channel.id, str(ts)) if ts else None
        if msg is None:
            raise SlackError("message_not_found")
        return msg

    def _api_test(self, call: ApiCall) -> JSONDict:
        return {"args": call.args} if call.args else {}

    def _auth_test(self, call: ApiCall) -> JSONDict:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": "Redigest Test",
            "user": self.users[self.bot_user_id].name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _apps_connections_open(self, call: ApiCall) -> JSONDict:
        ticket = secrets.token_hex(16)
        self._tickets.add(ticket)
        host = self.base_url.removeprefix("http://")
        return {"url": f"ws://{host}/socket?ticket={ticket}&app_id={self.app_id}"}

    def _content(self, args: JSONDict, *, require: bool = True) -> tuple[str, Any, Any]:
        text = args.get("text")
        text = "" if text is None else str(text)
        blocks = _json_field(args, "blocks")
        attachments = _json_field(args, "attachments")
        if blocks is not None:
            errors = _block_errors(blocks)
            if errors:
                raise SlackError(
                    "invalid_blocks",
                    errors=errors,
                    response_metadata={"messages": [f"[ERROR] {e}" for e in errors]},
                )
        if len(text) > MAX_MESSAGE_TEXT:
            raise SlackError("msg_too_long")
        if require and not text and not blocks and not attachments:
            raise SlackError("no_text")
        return text, blocks, attachments

    def _bot_message(
        self, channel: Channel, text: str, blocks: Any, attachments: Any, thread_ts: str | None
    ) -> Message:
        parent_user = None
        if thread_ts is not None:
            parent = self.find_message(channel.id, thread_ts)
            parent_user = parent.user if parent is not None else None
        msg = Message(
            channel=channel.id,
            ts=self._next_ts(),
            text=text,
            user=self.bot_user_id,
            blocks=blocks,
            thread_ts=thread_ts,
            bot_id=self.bot_id,
            attachments=attachments,
            extra={"app_id": self.app_id, "parent_user_id": parent_user},
        )
        self.messages.append(msg)
        return msg

    def _chat_post_message(self, call: ApiCall) -> JSONDict:
        args = call.args
        channel = self._channel(args, post=True)
        text, blocks, attachments = self._content(args)
        thread_ts = args.get("thread_ts") or None
        if thread_ts is not None:
            thread_ts = str(thread_ts)
            parent = self.find_message(channel.id, thread_ts)
            if parent is None:
                # Slack posts to the channel when the parent does not exist; keep it strict here.
                raise SlackError("thread_not_found")
            if parent.is_reply and parent.thread_ts is not None:
                thread_ts = parent.thread_ts
        msg = self._bot_message(channel, text, blocks, attachments, thread_ts)
        return {"channel": channel.id, "ts": msg.ts, "message": msg.to_slack(self.team_id)}

    def _chat_post_ephemeral(self, call: ApiCall) -> JSONDict:
        args = call.args
        channel = self._channel(args, post=True)
        user = args.get("user")
        if not isinstance(user, str) or user not in self.users:
            raise SlackError("user_not_found")
        text, blocks, _ = self._content(args)
        ts = self._next_ts()
        thread_ts = args.get("thread_ts") or None
        self.ephemerals.append(
            Ephemeral(
                channel=channel.id,
                user=user,
                text=text,
                blocks=blocks,
                thread_ts=None if thread_ts is None else str(thread_ts),
                message_ts=ts,
                via="chat.postEphemeral",
            )
        )
        return {"message_ts": ts}

    def _chat_update(self, call: ApiCall) -> JSONDict:
        args = call.args
        channel = self._channel(args)
        msg = self._message(channel, args.get("ts"))
        if msg.bot_id != self.bot_id:
            raise SlackError("cant_update_message")
        text, blocks, attachments = self._content(args, require=False)
        if not text and blocks is None and attachments is None:
            raise SlackError("no_text")
        if "text" in args:
            msg.text = text
        if blocks is not None:
            msg.blocks = blocks
        if attachments is not None:
            msg.attachments = attachments
        msg.edited = True
        msg.extra["edited_ts"] = self._next_ts()
        return {
            "channel": channel.id,
            "ts": msg.ts,
            "text": msg.text,
            "message": msg.to_slack(self.team_id),
        }

    def _chat_get_permalink(self, call: ApiCall) -> JSONDict:
        channel = self._channel(call.args)
        msg = self._message(channel, call.args.get("message_ts"))
        link = (
            f"https://{self.team_domain}.slack.com/archives/{channel.id}/p{msg.ts.replace('.', '')}"
        )
        if msg.is_reply:
            link += f"?thread_ts={msg.thread_ts}&cid={channel.id}"
        return {"channel": channel.id, "permalink": link}

    def _page(
        self, items: list[Message], args: JSONDict, default_limit: int
    ) -> tuple[list[Message], str]:
        try:
            limit = int(args.get("limit") or default_limit)
            start = int(args.get("cursor") or 0)
        except ValueError:
            raise SlackError("invalid_arguments") from None
        limit = max(1, min(limit, 999))
        page = items[start : start + limit]
        next_cursor = str(start + limit) if start + limit < len(items) else ""
        return page, next_cursor

    def _conversations_history(self, call: ApiCall) -> JSONDict:
        args = call.args
        channel = self._channel(args)
        inclusive = str(args.get("inclusive", "0")).lower() in ("1", "true")
        latest = _ts_arg(args, "latest")
        oldest = _ts_arg(args, "oldest")
        found: list[Message] = []
        for msg in reversed(self.messages_in(channel.id)):
            if msg.is_reply:
                continue
            ts = float(msg.ts)
            if latest is not None and (ts > latest or (ts == latest and not inclusive)):
                continue
            if oldest is not None and (ts < oldest or (ts == oldest and not inclusive)):
                continue
            found.append(msg)
        page, next_cursor = self._page(found, args, 100)
        return {
            "messages": [self._with_replies(m) for m in page],
            "has_more": bool(next_cursor),
            "pin_count": 0,
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _with_replies(self, msg: Message) -> JSONDict:
        replies = [m for m in self.messages_in(msg.channel, thread_ts=msg.ts) if m.ts != msg.ts]
        return msg.to_slack(self.team_id, replies)

    def _conversations_replies(self, call: ApiCall) -> JSONDict:
        args = call.args
        channel = self._channel(args)
        if not self.history_scope:
            needed = "groups:history" if channel.is_private else "channels:history"
            raise SlackError("missing_scope", needed=needed, provided="commands,chat:write")
        msg = self.find_message(channel.id, str(args.get("ts") or ""))
        if msg is None:
            raise SlackError("thread_not_found")
        root_ts = msg.thread_ts if msg.is_reply and msg.thread_ts is not None else msg.ts
        thread = self.messages_in(channel.id, thread_ts=root_ts)
        page, next_cursor = self._page(thread, args, 1000)
        return {
            "messages": [
                self._with_replies(m) if m.ts == root_ts else m.to_slack(self.team_id) for m in page
            ],
            "has_more": bool(next_cursor),
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _conversations_info(self, call: ApiCall) -> JSONDict:
        ref = call.args.get("channel")
        channel = self.channels.get(ref) if isinstance(ref, str) else None
        if channel is None or (channel.is_private and not channel.is_member):
            raise SlackError("channel_not_found")
        return {"channel": channel.to_slack()}

    def _conversations_members(self, call: ApiCall) -> JSONDict:
        """A channel's members, paged (limit/cursor) like every list."""
        channel = self._channel(call.args)
        try:
            limit = max(1, min(int(call.args.get("limit") or 100), 1000))
            start = int(call.args.get("cursor") or 0)
        except ValueError:
            raise SlackError("invalid_cursor") from None
        page = channel.members[start : start + limit]
        more = start + limit < len(channel.members)
        return {
            "members": page,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _conversations_join(self, call: ApiCall) -> JSONDict:
        """Join a public channel (needs the channels:join scope); private ones need an invite."""
        ref = call.args.get("channel")
        channel = self.channels.get(ref) if isinstance(ref, str) else None
        if channel is None or (channel.is_private and not channel.is_member):
            raise SlackError("channel_not_found")
        if not self.join_scope:
            raise SlackError("missing_scope", needed="channels:join", provided="chat:write")
        if channel.is_private or channel.is_im:
            raise SlackError("method_not_supported_for_channel_type")
        if channel.is_archived:
            raise SlackError("is_archived")
        channel.is_member = True
        return {"channel": channel.to_slack()}

    def _reactions_add(self, call: ApiCall) -> JSONDict:
        args = call.args
        self._reactions_allowed()
        channel = self._channel(args)
        msg = self._message(channel, args.get("timestamp"))
        name = str(args.get("name") or "").strip(":")
        if not name:
            raise SlackError("invalid_name")
        users = msg.reactions.setdefault(name, [])
        if self.bot_user_id in users:
            raise SlackError("already_reacted")
        users.append(self.bot_user_id)
        return {}

    def _reactions_allowed(self) -> None:
        if not self.reactions_scope:
            raise SlackError("missing_scope", needed="reactions:write", provided="chat:write")

    def _reactions_remove(self, call: ApiCall) -> JSONDict:
        """As Slack: only the caller's own reaction goes; `no_reaction` when it has none."""
        args = call.args
        self._reactions_allowed()
        channel = self._channel(args)
        msg = self._message(channel, args.get("timestamp"))
        name = str(args.get("name") or "").strip(":")
        if not name:
            raise SlackError("invalid_name")
        users = msg.reactions.get(name, [])
        if self.bot_user_id not in users:
            raise SlackError("no_reaction")
        users.remove(self.bot_user_id)
        if not users:
            del msg.reactions[name]
        return {}

    def _users_info(self, call: ApiCall) -> JSONDict:
        user = self.users.get(str(call.args.get("user") or ""))
        if user is None:
            raise SlackError("user_not_found")
        return {"user": user.to_slack(self.team_id)}

    def _usergroups_users_list(self, call: ApiCall) -> JSONDict:
        members = self.usergroups.get(str(call.args.get("usergroup") or ""))
        if members is None:
            raise SlackError("no_such_subteam")
        return {"users": list(members)}

    # ----------------------------------------------------------------- files (files_upload_v2)
    # slack_sdk 3.47's files_upload_v2: files.getUploadURLExternal (filename, length, alt_txt)
    # answers an upload_url and a file_id; the bytes are POSTed to that URL (any 200 is fine);
    # files.completeUploadExternal (files=[{"id", "title"}] as JSON, channel_id, thread_ts,
    # initial_comment) shares them. The message Slack posts to share a file is not modelled:
    # `uploads` records where each file went.

    def _file_handlers(self) -> dict[str, _Handler]:
        self.uploads: dict[str, UploadedFile] = {}
        self.files_scope = True  # whether the app was given files:write
        return {
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
        }

    def shared_files(self) -> list[UploadedFile]:
        """The files uploaded and shared into a channel, in order."""
        return [f for f in self.uploads.values() if f.channel is not None]

    def _files_get_upload_url(self, call: ApiCall) -> JSONDict:
        if not self.files_scope:
            raise SlackError("missing_scope", needed="files:write", provided="chat:write")
        args = call.args
        filename = str(args.get("filename") or "")
        try:
            length = int(args.get("length") or 0)
        except (TypeError, ValueError):
            raise SlackError("invalid_arguments") from None
        if not filename or length <= 0:
            raise SlackError("invalid_arguments")
        file_id = f"F{next(self._ids):08d}"
        alt = args.get("alt_txt")
        self.uploads[file_id] = UploadedFile(file_id, filename, length, alt and str(alt))
        return {"upload_url": f"{self.base_url}/upload/v1/{file_id}", "file_id": file_id}

    async def _handle_upload(self, request: web.Request) -> web.StreamResponse:
        upload = self.uploads.get(request.match_info["file_id"])
        if upload is None:
            return web.Response(status=404, text="unknown upload")
        upload.data = await request.read()
        return web.Response(text=f"OK - {len(upload.data)}")

    def _files_complete_upload(self, call: ApiCall) -> JSONDict:
        args = call.args
        files = _json_field(args, "files")
        if not isinstance(files, list) or not files:
            raise SlackError("invalid_arguments")
        channel = self._channel(args, "channel_id", post=True) if args.get("channel_id") else None
        thread_ts = str(args["thread_ts"]) if args.get("thread_ts") else None
        if thread_ts is not None and (
            channel is None or self.find_message(channel.id, thread_ts) is None
        ):
            raise SlackError("invalid_thread_ts")
        out = []
        for item in files:
            upload = self.uploads.get(str(item.get("id")))
            if upload is None or upload.channel is not None:
                raise SlackError("file_not_found")
            if upload.data is None or len(upload.data) != upload.length:
                raise SlackError("file_upload_size_mismatch")
            upload.title = item.get("title")
            if channel is not None:
                upload.channel, upload.thread_ts = channel.id, thread_ts
                upload.initial_comment = args.get("initial_comment") or None
            out.append({"id": upload.id, "name": upload.filename, "title": upload.title,
                        "size": upload.length})  # fmt: skip
        return {"files": out}


def _ts_arg(args: JSONDict, key: str) -> float | None:
    """A message-timestamp argument (``latest``, ``oldest``); Slack refuses one that is not."""
    value = args.get(key)
    if not value:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise SlackError(f"invalid_ts_{key}") from None


def _json_field(args: JSONDict, key: str) -> Any:
    value = args.get(key)
    if isinstance(value, str):
        if not value:
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise SlackError(f"invalid_{key}_format") from None
    return value


def _text_errors(obj: Any, pointer: str, max_len: int, *, plain_only: bool = False) -> list[str]:
    if not isinstance(obj, dict):
        return [f"must provide an object [json-pointer:{pointer}]"]
    kind = obj.get("type")
    allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
    if kind not in allowed:
        return [f"must be one of {list(allowed)} [json-pointer:{pointer}/type]"]
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        return [f"must be more than 0 characters [json-pointer:{pointer}/text]"]
    if len(text) > max_len:
        return [f"must be less than {max_len + 1} characters [json-pointer:{pointer}/text]"]
    return []


def _block_errors(blocks: Any) -> list[str]:
    """Slack's validation of a message's ``blocks`` (a subset: the limits that bite bots)."""
    if not isinstance(blocks, list):
        return ["must provide an array [json-pointer:/blocks]"]
    if len(blocks) > MAX_BLOCKS:
        return [f"no more than {MAX_BLOCKS} items allowed [json-pointer:/blocks]"]
    errors: list[str] = []
    for i, block in enumerate(blocks):
        at = f"/blocks/{i}"
        if not isinstance(block, dict):
            errors.append(f"must provide an object [json-pointer:{at}]")
            continue
        kind = block.get("type")
        if kind not in _KNOWN_BLOCK_TYPES:
            errors.append(f"unsupported type: {kind} [json-pointer:{at}/type]")
            continue
        block_id = block.get("block_id")
        if isinstance(block_id, str) and len(block_id) > MAX_BLOCK_ID:
            errors.append(
                f"must be less than {MAX_BLOCK_ID + 1} characters [json-pointer:{at}/block_id]"
            )
        if kind == "section" and block.get("accessory") is not None:
            errors += _element_errors(block["accessory"], f"{at}/accessory")
        if kind == "actions" and isinstance(block.get("elements"), list):
            for j, element in enumerate(block["elements"]):
                errors += _element_errors(element, f"{at}/elements/{j}")
        if kind == "section":
            text, fields = block.get("text"), block.get("fields")
            if text is None and fields is None:
                errors.append(f"must provide either text or fields [json-pointer:{at}]")
            if text is not None:
                errors += _text_errors(text, f"{at}/text", MAX_SECTION_TEXT)
            if fields is not None:
                if not isinstance(fields, list) or len(fields) > MAX_SECTION_FIELDS:
                    errors.append(
                        f"no more than {MAX_SECTION_FIELDS} items allowed [json-pointer:{at}/fields]"
                    )
                else:
                    for j, f in enumerate(fields):
                        errors += _text_errors(f, f"{at}/fields/{j}", MAX_SECTION_FIELD_TEXT)
        elif kind == "header":
            errors += _text_errors(
                block.get("text"), f"{at}/text", MAX_HEADER_TEXT, plain_only=True
            )
        elif kind in ("context", "actions"):
            limit = MAX_CONTEXT_ELEMENTS if kind == "context" else MAX_ACTIONS_ELEMENTS
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements:
                errors.append(f"must provide a non-empty array [json-pointer:{at}/elements]")
            elif len(elements) > limit:
                errors.append(f"no more than {limit} items allowed [json-pointer:{at}/elements]")
        elif kind == "image":
            if not block.get("image_url") and not block.get("slack_file"):
                errors.append(f"must provide image_url [json-pointer:{at}/image_url]")
            if not block.get("alt_text"):
                errors.append(f"must provide alt_text [json-pointer:{at}/alt_text]")
        elif kind == "markdown":
            text = block.get("text")
            if not isinstance(text, str) or not text:
                errors.append(f"must be more than 0 characters [json-pointer:{at}/text]")
            elif len(text) > MAX_MARKDOWN_BLOCK_TEXT:
                errors.append(
                    f"must be less than {MAX_MARKDOWN_BLOCK_TEXT + 1} characters [json-pointer:{at}/text]"
                )
        elif kind == "rich_text" and not isinstance(block.get("elements"), list):
            errors.append(f"must provide an array [json-pointer:{at}/elements]")
    return errors


_ELEMENT_TYPES = frozenset(
    {"button", "overflow", "static_select", "checkboxes", "datepicker", "image", "users_select"}
)
MAX_BUTTON_TEXT = 75
MAX_ACTION_ID = 255
MAX_BUTTON_VALUE = 2000


def _element_errors(element: Any, at: str) -> list[str]:
    """Slack's validation of an interactive element (a subset: buttons, as bots send them)."""
    if not isinstance(element, dict):
        return [f"must provide an object [json-pointer:{at}]"]
    kind = element.get("type")
    if kind not in _ELEMENT_TYPES:
        return [f"unsupported type: {kind} [json-pointer:{at}/type]"]
    action_id = element.get("action_id")
    if action_id is not None and (not isinstance(action_id, str) or len(action_id) > MAX_ACTION_ID):
        return [f"must be less than {MAX_ACTION_ID + 1} characters [json-pointer:{at}/action_id]"]
    if kind != "button":
        return []
    errors = _text_errors(element.get("text"), f"{at}/text", MAX_BUTTON_TEXT, plain_only=True)
    value = element.get("value")
    if value is not None and (not isinstance(value, str) or len(value) > MAX_BUTTON_VALUE):
        errors.append(
            f"must be less than {MAX_BUTTON_VALUE + 1} characters [json-pointer:{at}/value]"
        )
    label = element.get("accessibility_label")
    if label is not None and (not isinstance(label, str) or len(label) > MAX_BUTTON_TEXT):
        errors.append(
            f"must be less than {MAX_BUTTON_TEXT + 1} characters "
            f"[json-pointer:{at}/accessibility_label]"
        )
    return errors


# ----------------------------------------------------------------- threads built from real prose

_PEOPLE = (
    "ana", "bruno", "chen", "dara", "emeka", "farah", "goran", "hana", "ivo", "jun", "kemal",
    "lena", "mateo", "nadia", "omar", "priya", "quinn", "rosa", "sven", "tomas", "uma", "vera",
    "wen", "xavi", "yara", "zeno",
)  # fmt: skip


def _slack_escape(text: str) -> str:
    """Text as Slack's API carries it (&, < and > as entities)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def thread_export(
    reddit_file: Any,
    *,
    count: int = 300,
    channel: str = "product",
    private: bool = False,
    bot_id: str = "B0BOT0001",
    start_ts: int = 1_712_000_000,
) -> JSONDict:
    """A ``conversations.replies``-shaped thread of ``count`` messages (bots' messages included)
    whose people's text is a REAL Reddit thread's (``reddit_file``: a saved thread JSON): the post
    (title, then its text) is the first message, its comments in thread order the replies, each
    Reddit author attributed to one fake member (``U0P…``, named from a fixed list), a comment's
    score (when positive) as about its log2 in 👍 reactions (Reddit's 5,000 points → 13). Two messages come from bots: a
    CI app's notice, and an earlier digest by this bot (``bot_id``), which a digest must leave out.
    Returns ``{"channel": {...}, "users": {id: name}, "messages": [...]}``."""
    with open(reddit_file, encoding="utf-8") as f:
        listing = json.load(f)
    post = listing[0]["data"]["children"][0]["data"]
    bodies: list[tuple[str, str, int]] = []

    def walk(children: list[JSONDict]) -> None:
        for child in children:
            if child.get("kind") != "t1":
                continue
            data = child["data"]
            body, author = data.get("body") or "", data.get("author") or ""
            if body.strip() and body not in ("[deleted]", "[removed]") and author != "[deleted]":
                bodies.append((author, body, int(data.get("score") or 0)))
            replies = data.get("replies")
            if isinstance(replies, dict):
                walk(replies["data"]["children"])

    walk(listing[1]["data"]["children"])
    people: dict[str, str] = {}

    def member(author: str) -> str:
        if author not in people:
            people[author] = f"U0P{len(people) % len(_PEOPLE):03d}"
        return people[author]

    first = f"{post['title']}\n{post.get('selftext') or ''}".strip()
    rows = [(post.get("author") or "", first, int(post.get("score") or 0))]
    rows += bodies[: count - 3]
    if len(rows) < count - 2:
        raise ValueError(f"{reddit_file} has only {len(rows)} texts; {count} were asked for")
    root_ts = f"{start_ts}.000100"
    messages: list[JSONDict] = []
    for i, (author, text, score) in enumerate(rows):
        user = member(author)
        ts = f"{start_ts + 60 * i}.000100"
        msg: JSONDict = {
            "type": "message",
            "user": user,
            "text": _slack_escape(text),
            "ts": ts,
            "thread_ts": root_ts,
            "client_msg_id": f"{i:08d}-0000-4000-8000-000000000000",
            "team": "T0FAKE001",
        }
        if i == 0:
            msg["reply_count"] = count - 1
        else:
            msg["parent_user_id"] = messages[0]["user"]
        if score > 0:
            voters = [f"U0V{n:03d}" for n in range(score.bit_length())]
            msg["reactions"] = [{"name": "+1", "users": voters, "count": len(voters)}]
        messages.append(msg)
        if i == 40:  # a CI app says something in the thread
            messages.append({
                "type": "message", "subtype": "bot_message", "bot_id": "B0CIAPP01",
                "username": "ci-bot", "text": "Build #4812 passed on main (ci-bot notice 7f3a).",
                "ts": f"{start_ts + 60 * i + 30}.000100", "thread_ts": root_ts,
            })  # fmt: skip
        if i == 120:  # an earlier digest by this bot
            messages.append({
                "type": "message", "user": "U0BOT0001", "bot_id": bot_id, "app_id": "A0APP0001",
                "text": "Earlier digest of this thread: everyone agreed (digest marker 9c1e).",
                "ts": f"{start_ts + 60 * i + 30}.000100", "thread_ts": root_ts,
            })  # fmt: skip
    users = {uid: _PEOPLE[int(uid[3:]) % len(_PEOPLE)] for uid in sorted(set(people.values()))}
    return {
        "ok": True,
        "channel": {"name": channel, "is_private": private},
        "users": users,
        "messages": messages[:count],
        "has_more": False,
    }
