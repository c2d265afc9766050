"""The Slack adapter itself: SlackChat, a ChatPort for the core and a bolt app feeding an Inbox.

It logs in (checking the tokens once, within a time limit), runs the transport (Socket Mode, or
HTTP mode behind `http_door`) and wires the parts: `inbound` (commands, shortcuts, reactions in),
`posting` (messages out), `lookups` (what the core asks Slack about).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack_chat.config import PLATFORM, SlackConfig, SlackConfigError
from adapters.slack_chat.connection import SlackConnection
from adapters.slack_chat.errors import _connection_reason, slack_error
from adapters.slack_chat.http_door import EVENTS_PATH, MAX_BODY_BYTES, CountedLog, HttpDoor
from adapters.slack_chat.inbound import SlackInbound
from adapters.slack_chat.lookups import SlackLookups
from adapters.slack_chat.posting import SlackPoster
from adapters.slack_chat.threads import SlackThreads
from bot.chat import Delivery, Inbox, MessageRef, MessageText, Target
from bot.chat_threads import ChatHistory, ChatThreadRef
from bot.multipart import MultipartPosts

log = logging.getLogger(__name__)


class _TokenFromEnvironment(logging.Filter):
    """bolt warns that SLACK_BOT_TOKEN in the environment goes unused when it is given a client:
    that is on purpose here (our client and `authorize` carry the configured token)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


bolt_log = logging.getLogger("adapters.slack_chat.bolt")  # slack-bolt logs through this one
bolt_log.addFilter(_TokenFromEnvironment())


class SlackChat:
    """The Slack side of redigest: a ChatPort for the core, and a bolt app feeding an Inbox."""

    platform = PLATFORM

    def __init__(self, config: SlackConfig) -> None:
        self.config = config
        self.conn = SlackConnection(config)
        self._app: AsyncApp | None = None
        self._runner: web.AppRunner | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._ready = asyncio.Event()
        self._http_port: int | None = None
        multipart = MultipartPosts()
        self._poster = SlackPoster(self.conn, multipart)
        self._lookups = SlackLookups(self.conn, multipart)
        self._inbound = SlackInbound(self.conn, self._poster, self._lookups)
        self._threads = SlackThreads(self.conn)
        self._door = HttpDoor(config.signing_secret or "",
                              (config.shortcut_callback_id, config.thread_callback_id),
                              self._dispatch)  # fmt: skip

    @property
    def bot_user_id(self) -> str | None:
        return self.conn.bot_user_id

    @property
    def bot_id(self) -> str | None:
        return self.conn.bot_id

    @property
    def team_id(self) -> str | None:
        return self.conn.team_id

    @property
    def _inflight(self) -> set[asyncio.Task[Any]]:
        return self._inbound.inflight

    @property
    def _refused(self) -> CountedLog:
        return self._door.refused

    # ------------------------------------------------------------------ the ChatPort

    async def post(
        self, target: Target, delivery: Delivery, *, idempotency_key: str | None = None
    ) -> list[MessageRef]:
        return await self._poster.post(target, delivery, idempotency_key=idempotency_key)

    async def find_posted(self, target: Target, idempotency_key: str) -> list[MessageRef] | None:
        """The messages posted with this key (their metadata carries it), or None.

        When only some parts of a multi-message post went out, returns None and remembers the
        parts, so the next `post` with this key sends only the missing ones.
        """
        return await self._lookups.find_posted(target, idempotency_key)

    async def read_message(self, ref: MessageRef) -> MessageText | None:
        """A message's text (links in attachments and blocks included), with the thread it
        sits in; None when it cannot be read."""
        return await self._lookups.read_message(ref)

    async def read_thread(self, ref: ChatThreadRef, *, limit: int) -> ChatHistory:
        """A Slack thread, for the core (the ChatThreadReader port; see threads.py)."""
        return await self._threads.read_thread(ref, limit=limit)

    def command_text(self, words: str) -> str:
        """/digest is its own slash command; the others are /redigest's subcommands."""
        return f"/{words}" if words.split()[0] == "digest" else f"/redigest {words}"

    def working(self, target: Target) -> AbstractAsyncContextManager[None]:
        """⏳ on a message while its deep analysis is made (see `SlackPoster.working`)."""
        return self._poster.working(target)

    async def can_manage(self, user_id: str) -> bool:
        """Workspace admins and owners, and members of the configured user group."""
        return await self._lookups.can_manage(user_id)

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> SlackChat:
        cfg = self.config
        self.conn.session = aiohttp.ClientSession()
        self.conn.client = AsyncWebClient(
            token=cfg.bot_token,
            base_url=cfg.web_api_url,
            session=self.conn.session,
            retry_handlers=self._retry_handlers(),
            timeout=30,
        )
        try:
            auth = await self._check_tokens()
        except BaseException:
            await self._close_session()
            raise
        self.conn.bot_user_id = auth.get("user_id")
        self.conn.bot_id = auth.get("bot_id")
        self.conn.team_id = auth.get("team_id")
        # bolt gets its own token-less client (same session and retries): it takes the token
        # from `authorize`, which answers from the auth.test above instead of calling it lazily
        # on the first request, before that request's ack.
        bolt_client = AsyncWebClient(
            base_url=cfg.web_api_url,
            session=self.conn.session,
            retry_handlers=self._retry_handlers(),
            timeout=30,
        )
        self._app = AsyncApp(
            logger=bolt_log,
            name="redigest",
            client=bolt_client,
            signing_secret=cfg.signing_secret or "",
            request_verification_enabled=not cfg.socket_mode,
            authorize=self._authorize_function(),
            process_before_response=True,
        )
        self._inbound.register(self._app)
        return self

    async def _check_tokens(self) -> Mapping[str, Any]:
        """auth.test with the bot token and, in Socket Mode, apps.connections.open with the app
        token: once, within `startup_timeout`. Whatever fails is one sentence (SlackConfigError)
        naming the setting, not a retry loop or a traceback. Returns auth.test's answer."""
        cfg = self.config
        web_client = self.web
        step = "auth.test"
        try:
            async with asyncio.timeout(cfg.startup_timeout):
                auth = await web_client.auth_test()
                if cfg.socket_mode and not cfg.post_only:
                    step = "apps.connections.open"
                    # The URL it answers is left unused: the socket handler asks for its own.
                    await web_client.apps_connections_open(app_token=cfg.app_token or "")
        except SlackApiError as exc:
            error = slack_error(exc)
            if step == "auth.test":
                raise SlackConfigError(
                    f"Slack refused the bot token ({error}): check SLACK_BOT_TOKEN "
                    "(OAuth & Permissions → Bot User OAuth Token, xoxb-…)."
                ) from None
            raise SlackConfigError(
                f"Slack refused the app token ({error}): check SLACK_APP_TOKEN (Basic "
                "Information → App-Level Tokens, an xapp- token with connections:write) and "
                "that Socket Mode is enabled for the app."
            ) from None
        except (aiohttp.ClientError, OSError) as exc:  # TimeoutError is an OSError
            if isinstance(exc, TimeoutError):
                reason = f"no answer to {step} within {cfg.startup_timeout:g} s"
            else:
                reason = f"{_connection_reason(exc)} on {step}"
            raise SlackConfigError(
                f"Slack's Web API at {cfg.web_api_url} cannot be reached ({reason}): check the "
                "network, or REDIGEST_SLACK_API_URL if it is set."
            ) from None
        return auth.data if isinstance(auth.data, dict) else {}

    def _retry_handlers(self) -> list[AsyncRetryHandler]:
        # A 429 is retried after its Retry-After; anything else is the caller's to handle.
        return [AsyncRateLimitErrorRetryHandler(max_retry_count=self.config.rate_limit_retries)]

    async def __aexit__(self, *exc_info: object) -> None:
        await self._stop_transport()
        if self._inflight:
            _, pending = await asyncio.wait(self._inflight, timeout=5.0)
            for task in pending:
                task.cancel()
        await self._close_session()

    async def _close_session(self) -> None:
        if self.conn.session is not None:
            await self.conn.session.close()
            self.conn.session = None

    async def run(self, inbox: Inbox) -> None:
        """Receive commands, shortcuts and reactions until cancelled."""
        if self._app is None:
            raise RuntimeError("use `async with SlackChat(config) as chat:` before chat.run()")
        if self.config.post_only:
            raise RuntimeError("a post-only SlackChat does not receive (no Socket Mode, no HTTP)")
        self._inbound.inbox = inbox
        try:
            await self._start_transport()
            self._ready.set()
            await asyncio.Event().wait()
        finally:
            self._ready.clear()
            self._inbound.inbox = None
            await self._stop_transport()

    async def is_connected(self) -> bool:
        """Socket Mode: its websocket is up; HTTP mode: listening; post-only: logged in."""
        if self.config.post_only:
            return self.conn.session is not None and not self.conn.session.closed
        if not self._ready.is_set():
            return False
        if self._socket is not None:
            return bool(await self._socket.client.is_connected())
        return self._runner is not None

    async def wait_ready(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Until run() is connected (Socket Mode) or listening (HTTP mode)."""
        await asyncio.wait_for(self._ready.wait(), timeout)

    @property
    def http_port(self) -> int | None:
        """The port HTTP mode listens on (the configured one, or the one picked for port 0)."""
        return self._http_port

    async def _start_transport(self) -> None:
        assert self._app is not None
        if self.config.socket_mode:
            assert self.config.app_token is not None
            self._socket = AsyncSocketModeHandler(self._app, self.config.app_token)
            await self._socket.connect_async()  # type: ignore[no-untyped-call]
            log.info("Slack: connected in Socket Mode as %s", self.bot_user_id)
            return
        # Our own handler, not bolt's web_app(): bolt parses a body before checking its
        # signature. A body larger than MAX_BODY_BYTES is refused while it is read.
        http_app = web.Application(client_max_size=MAX_BODY_BYTES)
        http_app.router.add_post(EVENTS_PATH, self._door.handle)
        runner = web.AppRunner(
            http_app, access_log=None, handle_signals=False, shutdown_timeout=2.0
        )
        await runner.setup()
        # A burst of commands opens many connections at once; aiohttp's default backlog (128)
        # drops the rest, and their retried SYN costs a second of Slack's three.
        site = web.TCPSite(runner, self.config.host, self.config.port, backlog=1024)
        await site.start()
        self._runner = runner
        address = runner.addresses[0] if runner.addresses else None
        self._http_port = int(address[1]) if isinstance(address, tuple) else self.config.port
        log.info("Slack: HTTP mode on %s:%s%s", self.config.host, self._http_port, EVENTS_PATH)

    @property
    def http_host(self) -> str | None:
        """The address HTTP mode listens on (None before it listens)."""
        address = self._runner.addresses[0] if self._runner and self._runner.addresses else None
        return str(address[0]) if isinstance(address, tuple) else None

    async def _stop_transport(self) -> None:
        if self._socket is not None:
            socket, self._socket = self._socket, None
            with contextlib.suppress(Exception):
                await socket.close_async()  # type: ignore[no-untyped-call]
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    @property
    def web(self) -> AsyncWebClient:
        return self.conn.web

    # ------------------------------------------------------------------ bolt wiring

    def _authorize_function(self) -> Callable[..., Awaitable[AuthorizeResult]]:
        token = self.config.bot_token

        async def authorize(
            enterprise_id: str | None, team_id: str | None, user_id: str | None
        ) -> AuthorizeResult:
            return AuthorizeResult(
                enterprise_id=enterprise_id,
                team_id=team_id or self.conn.team_id,
                bot_token=token,
                bot_id=self.conn.bot_id,
                bot_user_id=self.conn.bot_user_id,
                user_id=user_id,
            )

        return authorize

    async def _dispatch(self, request: AsyncBoltRequest) -> BoltResponse:
        assert self._app is not None
        return await self._app.async_dispatch(request)
