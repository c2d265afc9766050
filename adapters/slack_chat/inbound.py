"""Inbound: slash commands, the "Deep analysis" message shortcut, a bundle's "Deep analysis"
buttons and reactions, from bolt to the core's Inbox.

Each listener acks, hands its work to a task and returns: with process_before_response bolt
answers Slack as soon as the listener returns (no polling for the ack), and no I/O ever sits
between a request and its ack. Every reaction reaches the core, which decides whether it flags.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse

from adapters.slack_chat.commands import digest_command, request_from_command
from adapters.slack_chat.connection import SlackConnection
from adapters.slack_chat.events import reaction_from_event, reaction_from_shortcut
from adapters.slack_chat.http_door import CountedLog
from adapters.slack_chat.lookups import SlackLookups
from adapters.slack_chat.picker import PICK_ACTIONS, PICK_HINT, reaction_from_pick
from adapters.slack_chat.posting import SlackPoster
from bot.chat import Inbox, Reaction
from bot.replies import SOMETHING_WENT_WRONG, acknowledgement

log = logging.getLogger(__name__)


class SlackInbound:
    """Registers the listeners on bolt's app and works through what they hand over, a few at a
    time (a burst of commands is acked first, then worked through)."""

    def __init__(self, conn: SlackConnection, poster: SlackPoster, lookups: SlackLookups) -> None:
        self.conn = conn
        self.config = conn.config
        self.poster = poster
        self.lookups = lookups
        self.inbox: Inbox | None = None
        self.inflight: set[asyncio.Task[Any]] = set()
        self._work_slots = asyncio.Semaphore(conn.config.concurrency)
        self.bolt_failed = CountedLog(
            "Slack: %d request(s) failed inside slack-bolt since the last such line (the "
            "latest: %s)."
        )

    def register(self, app: AsyncApp) -> None:
        # Each listener acks, hands its work to a task and returns: with process_before_response
        # bolt answers Slack as soon as the listener returns (no polling for the ack), and no
        # I/O ever sits between a request and its ack. bolt reads parameter names: closures.

        async def on_command(ack: Any, command: dict[str, Any]) -> None:
            request = request_from_command(command)  # no I/O: the core says what the ack says
            await ack(text=acknowledgement(request.command, request.text))
            self._spawn(functools.partial(self._on_command, command))

        async def on_reaction(body: dict[str, Any]) -> None:
            self._spawn(functools.partial(self._on_reaction, body))  # bolt acks events itself

        async def on_shortcut(ack: Any, shortcut: dict[str, Any]) -> None:
            await ack()
            self._spawn(functools.partial(self._on_shortcut, shortcut))

        async def on_thread_shortcut(ack: Any, shortcut: dict[str, Any]) -> None:
            await ack()  # "Digest this thread": the digest is its answer, in that thread
            self._spawn(functools.partial(self._on_command, digest_command(shortcut)))

        async def on_pick(ack: Any, body: dict[str, Any]) -> None:
            await ack()
            self._spawn(functools.partial(self._on_pick, body))

        async def on_error(error: Exception) -> BoltResponse:
            # One counted line, no traceback: what reaches bolt has passed payload_problem(),
            # so this is a payload shape it did not foresee (or a bug in an ack).
            self.bolt_failed.note(f"{type(error).__name__}: {str(error)[:200]}")
            return BoltResponse(status=400, body="")

        app.command(re.compile(r"^/"))(on_command)
        app.event("reaction_added")(on_reaction)
        app.message_shortcut(self.config.shortcut_callback_id)(on_shortcut)
        app.message_shortcut(self.config.thread_callback_id)(on_thread_shortcut)
        app.block_action(PICK_ACTIONS)(on_pick)  # a bundle's "Deep analysis" buttons
        app.error(on_error)

    def _spawn(self, work: Callable[[], Awaitable[None]]) -> None:
        task = asyncio.get_running_loop().create_task(self._run_work(work))
        self.inflight.add(task)
        task.add_done_callback(self.inflight.discard)

    async def _run_work(self, work: Callable[[], Awaitable[None]]) -> None:
        # A few at a time: a burst of commands is acked first, then worked through.
        async with self._work_slots:
            try:
                await work()
            except Exception:  # each handler logs its own; this is the last line of defence
                log.exception("Slack: unexpected error in %r", work)

    # ------------------------------------------------------------------ inbound

    async def _on_command(self, command: Mapping[str, Any]) -> None:
        request = request_from_command(command)
        response_url = command.get("response_url")
        try:
            if request.command == "redigest":
                request = replace(
                    request, can_manage=await self.lookups.can_manage(request.user_id)
                )
            inbox = self.inbox
            if inbox is None:
                raise RuntimeError("a command arrived while the adapter was not running")
            reply = await inbox.on_request(request)
            if reply is None:  # the answer comes later (a digest's failure): keep the way back
                self.poster.remember_response_url(request.reply_token, response_url)
            else:
                await self.poster.reply_now(request.channel_id, request.user_id, response_url,
                                      reply.text, reply.channels)  # fmt: skip
        except Exception:
            log.exception(
                "Slack command %s %r from %s in %s failed",
                command.get("command"),
                request.text[:200],
                request.user_id,
                request.channel_id,
            )
            await self.poster.reply_now(request.channel_id, request.user_id, response_url,
                                  SOMETHING_WENT_WRONG)  # fmt: skip

    async def _on_reaction(self, body: Mapping[str, Any]) -> None:
        """Every reaction goes to the core, which decides whether it flags (and reads the
        message through `read_message` only when it needs to)."""
        reaction = reaction_from_event(body, bot_user_id=self.conn.bot_user_id)
        inbox = self.inbox
        if reaction is None or inbox is None:
            return
        try:
            await inbox.on_reaction(replace(reaction, pick_hint=PICK_HINT))
        except Exception:
            log.exception("Slack reaction %s by %s on %s failed", reaction.emoji,
                          reaction.user_id, reaction.message.key)  # fmt: skip

    async def _on_shortcut(self, payload: Mapping[str, Any]) -> None:
        reaction = reaction_from_shortcut(
            payload, emoji=self.config.flag_emoji, bot_user_id=self.conn.bot_user_id
        )
        await self._asked(replace(reaction, pick_hint=PICK_HINT), payload, "shortcut")

    async def _on_pick(self, payload: Mapping[str, Any]) -> None:
        """A bundle's "Deep analysis" button: the deep analysis of that thread, as the
        shortcut would; the answer to the presser alone."""
        reaction = reaction_from_pick(
            payload, emoji=self.config.flag_emoji, bot_user_id=self.conn.bot_user_id
        )
        if reaction is None:
            log.info("Slack: a Deep analysis button without a thread or message; ignored")
            return
        await self._asked(reaction, payload, "button")

    async def _asked(self, reaction: Reaction, payload: Mapping[str, Any], what: str) -> None:
        """A deep analysis asked for by name: the core's answer to the asker alone."""
        channel, user = reaction.message.channel_id, reaction.user_id
        response_url = payload.get("response_url")
        try:
            if self.inbox is None:
                raise RuntimeError(f"a {what} arrived while the adapter was not running")
            answer = await self.inbox.on_reaction(reaction)
            if answer:
                await self.poster.reply_now(channel, user, response_url, answer)
        except Exception:
            log.exception("Slack %s by %s on %s failed", what, user, reaction.message.key)
            await self.poster.reply_now(channel, user, response_url, SOMETHING_WENT_WRONG)
