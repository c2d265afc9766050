"""Interactions: slash commands and the "Deep analysis" menu, answered within Discord's 3 seconds.

Every interaction defers first (usually straight from the gateway event, see `ack.py`); the core
returns its answer (`Reply`), which replaces the deferred "thinking…". Only a digest is answered
late: its interaction is kept (`pending`, by reply token) until "Posted: …" or its failure
arrives through `post`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from adapters.discord_chat.ack import EarlyAcks
from adapters.discord_chat.channels import Channels, nsfw
from adapters.discord_chat.client import Interaction
from adapters.discord_chat.config import PLATFORM, DiscordConfig
from adapters.discord_chat.escape import _cut, plain
from adapters.discord_chat.events import message_text
from adapters.discord_chat.layout import NO_MENTIONS, OutMessage, render_text
from adapters.discord_chat.limits import MAX_CHOICES
from adapters.discord_chat.picker import PICK_HINT, picked
from adapters.discord_chat.sdk import app_commands, discord
from bot.chat import Inbox, MessageRef, Reaction, Request
from bot.replies import READING_CHAT, SOMETHING_WENT_WRONG, acknowledgement
from bot.ttl_map import TTLMap
from digest.render.document import Span

log = logging.getLogger(__name__)

T = TypeVar("T")

INTERACTION_TTL = 14.5 * 60  # interaction tokens live 15 minutes
INTERACTION_ACKNOWLEDGED = 40060  # Discord's code: "Interaction has already been acknowledged."

message_ref = Channels.ref


@dataclass
class _Pending:
    """A deferred interaction the core may still answer (through its reply token)."""

    interaction: discord.Interaction[Any]
    channel_id: int
    post_id: str | None = None  # for /digest: the Reddit post asked for, when the link says it
    created: float = field(default_factory=time.monotonic)
    open: bool = True  # the deferred response still shows "thinking…"
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def _mark_deferred(interaction: discord.Interaction[Any]) -> None:
    """Tell discord.py the response is done, as its own defer() would have."""
    interaction.response._response_type = discord.InteractionResponseType.deferred_channel_message


class Interactions:
    """Defers, hands the request to the core, answers; keeps a digest's interaction for later."""

    def __init__(
        self, config: DiscordConfig, acks: EarlyAcks, inbox: Callable[[], Inbox | None]
    ) -> None:
        self.config = config
        self.acks = acks
        self.inbox = inbox
        self.pending: TTLMap[str, _Pending] = TTLMap(size=None)

    def remember(self, token: str, pending: _Pending) -> None:
        """Keep an interaction whose answer comes late (a digest: "Posted: …" or its failure)
        while it can still be answered; immediate answers need no bookkeeping."""
        self.pending.put(token, pending, until=pending.created + INTERACTION_TTL)

    def claim_ack(self, interaction: Interaction) -> bool:
        """True when the gateway hook already deferred this interaction (ack.py)."""
        if not self.acks.claim(interaction.id):
            return False
        _mark_deferred(interaction)
        return True

    async def defer(self, interaction: Interaction) -> bool:
        """Acknowledge at once (ephemeral "thinking"): nothing else happens before this.
        Usually done already, straight from the gateway event (see `adapters.discord_chat.ack`)."""
        if self.claim_ack(interaction):
            return True
        try:
            await interaction.response.defer(ephemeral=True, thinking=True)
        except discord.HTTPException as exc:
            if exc.code == INTERACTION_ACKNOWLEDGED:  # the early one got there after all
                _mark_deferred(interaction)
                return True
            log.warning(
                "could not acknowledge interaction %s (%s) in time: %s",
                interaction.id,
                interaction.command.name if interaction.command else "?",
                exc,
            )
            return False
        return True

    def request(self, interaction: Interaction, command: str, text: str, token: str) -> Request:
        return Request(
            platform=PLATFORM,
            server_id=str(interaction.guild_id or ""),
            channel_id=str(interaction.channel_id or ""),
            user_id=str(interaction.user.id),
            command=command,
            text=text,
            can_manage=interaction.permissions.manage_guild,
            channel_nsfw=nsfw(interaction.channel),
            reply_token=token,
            locale=getattr(interaction.locale, "value", None),
        )

    async def _ask(
        self,
        interaction: Interaction,
        ask: Callable[[], Awaitable[T]],
        failure: tuple[object, ...],
        post_id: str | None = None,
    ) -> tuple[_Pending, T] | None:
        """Defer, then `ask` the core; None when deferring failed, or when the core failed
        (logged as `failure`, a format and its arguments, and answered in one sentence)."""
        if not await self.defer(interaction):
            return None
        pending = _Pending(interaction, interaction.channel_id or 0, post_id)
        try:
            return pending, await ask()
        except Exception:
            log.exception(*failure)
            await self.answer(pending, [OutMessage(SOMETHING_WENT_WRONG)])
            return None

    async def command(
        self, interaction: Interaction, command: str, text: str, post_id: str | None = None
    ) -> None:
        token = secrets.token_hex(8)
        asked = await self._ask(
            interaction,
            lambda: self.require_inbox().on_request(
                self.request(interaction, command, text, token)
            ),
            ("/%s %r by %s in channel %s failed", command, text[:200], interaction.user.id,
             interaction.channel_id),
            post_id,
        )  # fmt: skip
        if asked is None:
            return
        pending, reply = asked
        said = acknowledgement(command, text)
        if reply is not None:  # answered now: it replaces "thinking…"
            await self.answer(pending, render_text(reply.text, channels=reply.channels))
        elif not self.config.late_answers and said:
            # Another process posts it: say so now, as Slack's acknowledgement does.
            await self.answer(pending, render_text(said))
        elif said == READING_CHAT:
            # A chat thread's digest goes in that thread, not here: say so now, as Slack's
            # acknowledgement does; a refusal, or where it went, follows (ephemeral).
            await self.answer(pending, render_text(said))
            self.remember(token, pending)
        else:  # "thinking…" until the digest is posted (a link to it) or fails (why)
            self.remember(token, pending)

    async def deep_analysis(
        self, interaction: Interaction, message: discord.Message, *, pick: str | None = None
    ) -> None:
        async def ask() -> str | None:
            channel = message.channel
            reaction = Reaction(
                message=message_ref(message.id, channel),
                emoji=self.config.flag_emoji,
                user_id=str(interaction.user.id),
                server_id=str(interaction.guild_id or ""),
                message_text=message_text(message) or None,
                channel_nsfw=nsfw(channel) or nsfw(interaction.channel),
                requested=True,  # asked for by name: the server's flag-emoji does not matter
                pick=pick,
                pick_hint=PICK_HINT,
            )
            return await self.require_inbox().on_reaction(reaction)

        asked = await self._ask(
            interaction,
            ask,
            ("Deep analysis of message %s by %s failed", message.id, interaction.user.id),
        )
        if asked is not None and asked[1]:
            await self.answer(asked[0], render_text(asked[1]))

    async def component(self, interaction: Interaction) -> None:
        """A thread picked in a bundle's "Deep analysis of…" menu (picker.py), from any message
        that ever carried it: what the menu "Deep analysis" does, for that thread."""
        if interaction.type is not discord.InteractionType.component:
            return
        post_id = picked(interaction.data)
        if post_id is None or interaction.message is None:
            return  # not redigest's menu
        await self.deep_analysis(interaction, interaction.message, pick=post_id)

    async def subscription_choices(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[int]]:
        inbox = self.inbox()
        if inbox is None or inbox.list_subscriptions is None or interaction.guild_id is None:
            return []
        try:
            found = await asyncio.wait_for(
                inbox.list_subscriptions(
                    PLATFORM, str(interaction.guild_id), str(interaction.channel_id or "")
                ),
                timeout=2.0,  # an autocomplete cannot be deferred
            )
        except Exception:
            log.exception("subscription choices for guild %s failed", interaction.guild_id)
            return []
        typed = current.strip().lstrip("#").lower()
        return [
            app_commands.Choice(name=_cut(plain((Span(label),)), 100) or f"#{sub_id}", value=sub_id)
            for sub_id, label in found
            if not typed or typed in label.lower() or typed == str(sub_id)
        ][:MAX_CHOICES]

    async def on_tree_error(
        self, interaction: Interaction, error: app_commands.AppCommandError
    ) -> None:
        name = interaction.command.name if interaction.command else "?"
        log.error(
            "command %s by %s in channel %s failed",
            name,
            interaction.user.id,
            interaction.channel_id,
            exc_info=error,
        )
        text = (
            "This command changed since your Discord loaded it; try again in a minute."
            if isinstance(
                error, app_commands.CommandSignatureMismatch | app_commands.CommandNotFound
            )
            else SOMETHING_WENT_WRONG
        )
        with contextlib.suppress(discord.HTTPException):
            if self.claim_ack(interaction):  # "thinking…" since the gateway event: replace it
                await interaction.edit_original_response(content=text, allowed_mentions=NO_MENTIONS)
            elif interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
            else:
                await interaction.response.send_message(
                    text, ephemeral=True, allowed_mentions=NO_MENTIONS
                )

    def require_inbox(self) -> Inbox:
        inbox = self.inbox()
        if inbox is None:
            raise RuntimeError("DiscordChat.run(inbox) has not been called")
        return inbox

    async def answer(
        self,
        pending: _Pending,
        messages: list[OutMessage],
        *,
        only_if_open: bool = False,
    ) -> list[MessageRef]:
        """Answer through the interaction: the first message replaces the deferred response
        ("thinking…") while it is still open, the rest are ephemeral follow-ups."""
        interaction = pending.interaction
        refs: list[MessageRef] = []
        async with pending.lock:
            if only_if_open and not pending.open:
                return refs
            for message in messages:
                embeds = message.discord_embeds()
                if pending.open:
                    sent: discord.Message = await interaction.edit_original_response(
                        content=message.content, embeds=embeds, allowed_mentions=NO_MENTIONS
                    )
                    pending.open = False
                else:
                    sent = await interaction.followup.send(
                        content=message.content or "",
                        embeds=embeds,
                        ephemeral=True,
                        allowed_mentions=NO_MENTIONS,
                        wait=True,
                    )
                refs.append(MessageRef(PLATFORM, str(pending.channel_id), str(sent.id)))
        return refs
