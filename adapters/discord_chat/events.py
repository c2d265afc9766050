"""Inbound reactions: every reaction in a server becomes the core's Reaction (the core decides
whether it flags), and what a message says, for finding thread links in it."""

from __future__ import annotations

import logging
from collections.abc import Callable

from adapters.discord_chat.channels import Channels, nsfw
from adapters.discord_chat.client import BotClient
from adapters.discord_chat.picker import PICK_HINT
from adapters.discord_chat.sdk import discord
from bot.chat import Inbox, Reaction
from bot.ttl_map import TTLMap

log = logging.getLogger(__name__)

TEXT_CACHE = 512  # reacted messages whose text we keep (several people flag the same one)


def message_text(message: discord.Message) -> str:
    """Everything readable in a message (content and embeds), for finding thread links."""
    parts = [message.content]
    for embed in message.embeds:
        parts += [embed.title or "", embed.url or "", embed.description or ""]
        parts += [f.value or "" for f in embed.fields]
    return "\n".join(p for p in parts if p)


class ReactionEvents:
    """Hands reactions to the core; remembers which reacted messages are the bot's own."""

    def __init__(
        self, client: BotClient, channels: Channels, inbox: Callable[[], Inbox | None]
    ) -> None:
        self.client = client
        self.channels = channels
        self.inbox = inbox
        # Reacted messages the bot may read without the Message Content intent (its own), as
        # the reaction event said: read_message reads only these, unless the intent is on.
        self.own: TTLMap[int, None] = TTLMap(size=TEXT_CACHE)

    async def on_reaction(self, payload: discord.RawReactionActionEvent) -> None:
        """Every reaction goes to the core, which decides whether it flags (and reads the
        message through `read_message` only when it needs to)."""
        try:
            inbox = self.inbox()
            me = self.client.user
            if inbox is None or me is None or payload.guild_id is None:
                return
            by_bot = payload.user_id == me.id
            emoji = payload.emoji
            name = (emoji.name or "") if emoji.is_unicode_emoji() else str(emoji)
            channel = await self.channels.get(payload.channel_id, fetch=not by_bot)
            if payload.message_author_id == me.id:  # readable without the privileged intent
                self.own.put(payload.message_id, None)
            await inbox.on_reaction(
                Reaction(
                    message=self.channels.ref(payload.message_id, channel or payload.channel_id),
                    emoji=name,
                    user_id=str(payload.user_id),
                    server_id=str(payload.guild_id),
                    by_bot=by_bot,
                    channel_nsfw=nsfw(channel),
                    pick_hint=PICK_HINT,  # a bundle of several: its menu says which thread
                )
            )
        except Exception:
            log.exception(
                "reaction %s by %s on message %s in channel %s failed",
                payload.emoji,
                payload.user_id,
                payload.message_id,
                payload.channel_id,
            )
