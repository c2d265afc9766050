"""Posting to Discord (the ChatPort's `post`): a channel message, a thread under one, or an
answer to one person through their interaction. Each part of a keyed post carries its mark
(footer and enforced nonce); a post cut short by a crash is completed, not repeated."""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from adapters.discord_chat.channels import Channels
from adapters.discord_chat.client import Sendable
from adapters.discord_chat.config import (
    GONE,
    NO_POST_PERMISSION,
    NO_PRIVATE_ANSWER,
    NO_PRIVATE_ANSWER_HERE,
    NO_THREAD_PERMISSION,
    DiscordConfig,
    DiscordPostError,
)
from adapters.discord_chat.escape import _cut
from adapters.discord_chat.interactions import Interactions
from adapters.discord_chat.layout import NO_MENTIONS, OutMessage, render, thread_name
from adapters.discord_chat.limits import MAX_CONTENT
from adapters.discord_chat.markers import nonce
from adapters.discord_chat.sdk import discord
from bot.chat import (
    Attachment,
    ChannelTarget,
    Delivery,
    EphemeralTarget,
    MessageRef,
    Target,
    ThreadTarget,
)
from bot.multipart import MultipartPosts

log = logging.getLogger(__name__)


MAX_DESCRIPTION = 1024  # an attachment's description (its alt text), in characters


def discord_files(files: Sequence[Attachment]) -> list[discord.File]:
    """The delivery's files as discord.py sends them (a new File per send: it is read once),
    each described by its alt text."""
    return [
        discord.File(
            io.BytesIO(f.data), filename=f.name, description=_cut(f.alt_text, MAX_DESCRIPTION)
        )
        for f in files
    ]


class DiscordPoster:
    """Everything that leaves the adapter as a Discord message."""

    def __init__(
        self,
        config: DiscordConfig,
        channels: Channels,
        interactions: Interactions,
        multipart: MultipartPosts,
    ) -> None:
        self.config = config
        self.channels = channels
        self.interactions = interactions
        self.multipart = multipart

    async def post(
        self, target: Target, delivery: Delivery, *, idempotency_key: str | None = None
    ) -> list[MessageRef]:
        """Send a delivery; returns a reference per message created, the main one first."""
        messages = render(delivery, idempotency_key)
        if isinstance(target, EphemeralTarget):
            return await self._post_ephemeral(target, messages)
        try:
            return await self._post_public(target, delivery, messages, idempotency_key)
        except (discord.Forbidden, discord.NotFound) as exc:
            refused = (
                NO_THREAD_PERMISSION if isinstance(target, ThreadTarget) else NO_POST_PERMISSION
            )
            reason = GONE if isinstance(exc, discord.NotFound) else refused
            where = (
                f"under message {target.parent.message_id} in channel {target.parent.channel_id}"
                if isinstance(target, ThreadTarget)
                else f"in channel {target.channel_id}"
            )
            log.warning(
                "Discord refused a post %s (%s %s): %s", where, exc.status, exc.code, reason
            )
            raise DiscordPostError(reason) from None

    @asynccontextmanager
    async def working(self, target: Target) -> AsyncIterator[None]:
        """Discord's typing indicator where the post will appear (discord.py renews it every
        5 s until the block ends): the channel, the thread, or (a thread not opened yet) the
        channel of the message it will open under."""
        if isinstance(target, EphemeralTarget):
            yield
            return
        if isinstance(target, ChannelTarget):
            where = int(target.channel_id)
        elif target.parent.thread_id is not None:
            where = int(target.parent.thread_id)
        else:
            opened = self.channels.client.get_channel(int(target.parent.message_id))
            where = (
                opened.id if isinstance(opened, discord.Thread) else int(target.parent.channel_id)
            )
        channel = await self.channels.sendable(where)
        async with channel.typing():
            yield

    async def _post_public(
        self,
        target: ChannelTarget | ThreadTarget,
        delivery: Delivery,
        messages: list[OutMessage],
        idempotency_key: str | None,
    ) -> list[MessageRef]:
        dest: Sendable
        if isinstance(target, ThreadTarget):
            thread = await self.channels.thread(target.parent, thread_name(delivery), create=True)
            if thread is None:
                raise DiscordPostError(GONE)
            dest = thread
        else:
            dest = await self.channels.sendable(int(target.channel_id))
        sent_first: list[discord.Message] = []

        async def send_one(part: int, message: OutMessage) -> MessageRef:
            # With a key, an enforced nonce: a retry within minutes returns the message instead
            # of a twin (without one, discord.py picks a random nonce).
            keyed: dict[str, Any] = {}
            if idempotency_key is not None:
                keyed["nonce"] = nonce(idempotency_key, part)
            view = message.discord_view()  # a bundle's "Deep analysis of…" menu
            if view is not None:
                keyed["view"] = view
            if part == 1 and delivery.files:  # a deep report's chart, on its first message
                keyed["files"] = discord_files(delivery.files)
            sent = await dest.send(
                content=message.content,
                embeds=message.discord_embeds(),
                allowed_mentions=NO_MENTIONS,
                **keyed,
            )
            if part == 1:
                sent_first.append(sent)
            return self.channels.ref(sent.id, dest)

        # A part posted before a crash (find_posted saw it) is not posted again.
        refs = await self.multipart.send(idempotency_key or None, messages, send_one, first=1)
        first = next(iter(sent_first), None)
        await self._offer(delivery, first)
        if isinstance(target, ChannelTarget):
            await self._after_channel_post(target, delivery, first)
        return refs

    async def _offer(self, delivery: Delivery, first: discord.Message | None) -> None:
        """The server's flag under a brief digest, as the core said (in a channel, or in the
        thread a chat thread's digest went to)."""
        offer = delivery.offer_emoji
        if first is None or not (self.config.react_with_flag and offer):
            return
        try:
            await first.add_reaction(offer)
        except discord.HTTPException as exc:
            log.info("cannot add %s under %s: %s", offer, first.id, exc)

    async def _after_channel_post(
        self,
        target: ChannelTarget,
        delivery: Delivery,
        first: discord.Message | None,
    ) -> None:
        """Tell the person who asked where the digest went."""
        if first is None:
            return
        report = delivery.report
        # Which /digest this answers: the target names its reply token; failing that, the
        # oldest open /digest here that asked for this thread.
        here = [
            (t, p)
            for t, p in self.interactions.pending.items()
            if str(p.channel_id) == target.channel_id
        ]
        found = next((t for t, _ in here if t == target.reply_token), None)
        if found is None and report is not None:
            found = next((t for t, p in here if p.open and p.post_id == report.thread.id), None)
        pending = self.interactions.pending.pop(found) if found is not None else None
        if pending is None:
            return
        try:
            await self.interactions.answer(pending, [OutMessage(f"Posted: {first.jump_url}")])
        except discord.HTTPException as exc:
            log.info("cannot tell %s where the digest went: %s", pending.interaction.id, exc)

    async def _post_ephemeral(
        self, target: EphemeralTarget, messages: list[OutMessage]
    ) -> list[MessageRef]:
        token = target.reply_token
        pending = self.interactions.pending.get(token) if token else None  # None once expired
        if pending is not None and not pending.interaction.is_expired():
            return await self.interactions.answer(pending, messages)
        if target.private:  # for their eyes only: never in the channel instead
            post_only = self.config.post_only
            raise DiscordPostError(NO_PRIVATE_ANSWER_HERE if post_only else NO_PRIVATE_ANSWER)
        # The interaction is gone (a restart, or 15 minutes passed): say it in the channel,
        # addressed to the person (shown as a mention, never a ping).
        dest = await self.channels.sendable(int(target.channel_id))
        refs: list[MessageRef] = []
        for i, message in enumerate(messages):
            content = message.content
            if i == 0 and target.user_id.isdigit():
                content = f"<@{target.user_id}> {content or ''}".strip()
            sent = await dest.send(
                content=_cut(content or "", MAX_CONTENT) or None,
                embeds=message.discord_embeds(),
                allowed_mentions=NO_MENTIONS,
            )
            refs.append(self.channels.ref(sent.id, dest))
        return refs
