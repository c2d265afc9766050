"""Channels, threads and message references as the core sees them: a message in a thread is
(parent channel, message, thread), like a Slack reply."""

from __future__ import annotations

from typing import Any

from adapters.discord_chat.client import BotClient, Sendable
from adapters.discord_chat.config import PLATFORM
from adapters.discord_chat.sdk import discord
from bot.chat import MessageRef
from digest.errors import DigestError

ALREADY_HAS_THREAD = 160004  # Discord's code: "a thread has already been created for this message"


def nsfw(channel: object) -> bool:
    if isinstance(
        channel,
        discord.TextChannel
        | discord.VoiceChannel
        | discord.StageChannel
        | discord.ForumChannel
        | discord.CategoryChannel
        | discord.Thread,
    ):
        return channel.is_nsfw()
    return False


class Channels:
    """Finds channels and threads (from discord.py's cache, else the API)."""

    def __init__(self, client: BotClient) -> None:
        self.client = client

    async def get(self, channel_id: int, *, fetch: bool = True) -> Any:
        channel: Any = self.client.get_channel(channel_id)
        if channel is None and fetch:
            channel = await self.client.fetch_channel(channel_id)
        return channel

    async def sendable(self, channel_id: int) -> Sendable:
        channel = await self.get(channel_id)
        if not isinstance(channel, Sendable):
            raise DigestError(f"redigest cannot post in channel {channel_id} (not a text channel).")
        return channel

    @staticmethod
    def ref(message_id: int, channel: object) -> MessageRef:
        """A message in a thread is (parent channel, message, thread), like a Slack reply."""
        if isinstance(channel, discord.Thread) and channel.parent_id is not None:
            return MessageRef(PLATFORM, str(channel.parent_id), str(message_id), str(channel.id))
        channel_id = channel if isinstance(channel, int) else getattr(channel, "id", channel)
        return MessageRef(PLATFORM, str(channel_id), str(message_id))

    async def thread(self, parent: MessageRef, name: str, *, create: bool) -> Sendable | None:
        """The thread under `parent` (Discord gives it the message's id), created when asked.
        A message that sits in a thread already gets its answer in that thread."""
        if parent.thread_id is not None:
            return await self.sendable(int(parent.thread_id))
        thread_id = int(parent.message_id)
        existing = self.client.get_channel(thread_id)
        if isinstance(existing, discord.Thread):
            return existing
        if create:
            channel = await self.sendable(int(parent.channel_id))
            if isinstance(channel, discord.TextChannel):
                try:
                    return await channel.get_partial_message(thread_id).create_thread(
                        name=name, auto_archive_duration=1440
                    )
                except discord.HTTPException as exc:
                    if exc.code != ALREADY_HAS_THREAD:
                        raise
            else:  # no threads here (voice chat, a thread): answer beside the message
                return channel
        try:
            found = await self.client.fetch_channel(thread_id)
        except discord.NotFound:
            return None
        return found if isinstance(found, discord.Thread) else None
