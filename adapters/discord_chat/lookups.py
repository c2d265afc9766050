"""What the adapter looks up in Discord for the core: whether a keyed post is already there after
a crash (`find_posted`, by the mark in its footers), and what a message says (`read_message`)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from adapters.discord_chat.channels import Channels
from adapters.discord_chat.client import BotClient, Sendable
from adapters.discord_chat.config import DiscordConfig
from adapters.discord_chat.events import TEXT_CACHE, message_text
from adapters.discord_chat.markers import marker, read_marker
from adapters.discord_chat.sdk import discord
from bot.chat import EphemeralTarget, LookupUnavailable, MessageRef, MessageText, ThreadTarget
from bot.multipart import MultipartPosts
from bot.ttl_map import TTLMap

if TYPE_CHECKING:
    from bot.chat import Target

log = logging.getLogger(__name__)

HISTORY_LIMIT = 100  # how far back find_posted looks, per channel or thread


class DiscordLookups:
    """Reads from Discord on the core's behalf (the ChatPort's lookups)."""

    def __init__(
        self,
        config: DiscordConfig,
        client: BotClient,
        channels: Channels,
        own: TTLMap[int, None],
        multipart: MultipartPosts,
    ) -> None:
        self.config = config
        self.client = client
        self.channels = channels
        self.own = own  # the bot's own reacted messages (readable without the intent)
        self.multipart = multipart
        self._texts: TTLMap[tuple[int, int], str] = TTLMap(size=TEXT_CACHE, lru=True)

    async def read_message(self, ref: MessageRef) -> MessageText | None:
        """Everything readable in a message (content and embeds). Someone else's message only
        with the Message Content intent (without it Discord sends its text empty: no request)."""
        message_id = int(ref.message_id)
        if not (self.config.message_content or message_id in self.own):
            return None
        channel_id = int(ref.thread_id or ref.channel_id)
        key = (channel_id, message_id)
        known = self._texts.get(key)
        if known is not None:
            return MessageText(ref, known)
        channel = await self.channels.get(channel_id)
        if not isinstance(channel, Sendable):
            return None
        try:
            message = await channel.fetch_message(message_id)
        except discord.HTTPException as exc:
            log.info("cannot read message %s in %s: %s", message_id, channel_id, exc)
            return None
        text = message_text(message)
        self._texts.put(key, text)
        return MessageText(ref, text)

    async def find_posted(self, target: Target, idempotency_key: str) -> list[MessageRef] | None:
        """The messages a post with this key created (found by the footer mark in the channel's
        or thread's recent history), or None. When only some parts of a multi-message post are
        there, returns None and remembers them, so the next `post` sends only the rest."""
        if isinstance(target, EphemeralTarget):
            return None
        me = self.client.user
        if me is None:
            return None
        try:
            if isinstance(target, ThreadTarget):
                dest = await self.channels.thread(target.parent, "", create=False)
            else:
                dest = await self.channels.sendable(int(target.channel_id))
            if dest is None:
                return None
            wanted = marker(idempotency_key)
            found: dict[int, MessageRef] = {}
            parts = 0
            async for message in dest.history(limit=HISTORY_LIMIT):
                if message.author.id != me.id:
                    continue
                mark = read_marker(message)
                if mark is not None and mark[0] == wanted:
                    found[mark[1]] = self.channels.ref(message.id, dest)
                    parts = mark[2]
        except discord.NotFound:
            return None  # the channel or thread is gone: nothing of ours can be there
        except discord.Forbidden as exc:
            # Not "not posted": the post may be there. The core retries the lookup later.
            log.warning("cannot look for post %s: %s", idempotency_key, exc)
            raise LookupUnavailable(
                "I can't read this channel's history to check whether the digest was already "
                "posted: give redigest the Read Message History permission here."
            ) from None
        return self.multipart.settle(idempotency_key, found, parts)
