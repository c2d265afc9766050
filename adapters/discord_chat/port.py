"""Discord as the core's ChatPort: `post` (a channel message, a thread under one, or an answer to
one person through their interaction), `find_posted` (a keyed post's parts, by the mark in their
footers) and `read_message`."""

from __future__ import annotations

import logging
from typing import Any

from adapters.discord_chat.channels import Channels
from adapters.discord_chat.client import BotClient, Sendable
from adapters.discord_chat.config import (
    GONE,
    NO_POST_PERMISSION,
    NO_THREAD_PERMISSION,
    DiscordConfig,
    DiscordPostError,
)
from adapters.discord_chat.escape import _cut
from adapters.discord_chat.events import TEXT_CACHE, message_text
from adapters.discord_chat.interactions import Interactions
from adapters.discord_chat.layout import NO_MENTIONS, OutMessage, render, thread_name
from adapters.discord_chat.limits import MAX_CONTENT
from adapters.discord_chat.markers import marker, nonce, read_marker
from adapters.discord_chat.sdk import discord
from bot.chat import (
    ChannelTarget,
    Delivery,
    EphemeralTarget,
    LookupUnavailable,
    MessageRef,
    MessageText,
    Target,
    ThreadTarget,
)
from bot.multipart import MultipartPosts
from bot.ttl_map import TTLMap

log = logging.getLogger(__name__)

HISTORY_LIMIT = 100  # how far back find_posted looks, per channel or thread


class DiscordPort:
    """Posts and looks up on the core's behalf."""

    def __init__(
        self,
        config: DiscordConfig,
        client: BotClient,
        channels: Channels,
        interactions: Interactions,
        own: TTLMap[int, None],
    ) -> None:
        self.config = config
        self.client = client
        self.channels = channels
        self.interactions = interactions
        self.own = own  # the bot's own reacted messages (readable without the intent)
        self.multipart = MultipartPosts()
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
        if isinstance(target, ChannelTarget):
            await self._after_channel_post(target, delivery, next(iter(sent_first), None))
        return refs

    async def _after_channel_post(
        self,
        target: ChannelTarget,
        delivery: Delivery,
        first: discord.Message | None,
    ) -> None:
        """Offer the flag under a brief digest; tell the person who asked where it went."""
        if first is None:
            return
        report = delivery.report
        offer = delivery.offer_emoji
        if self.config.react_with_flag and offer:  # the server's flag, as the core said
            try:
                await first.add_reaction(offer)
            except discord.HTTPException as exc:
                log.info("cannot add %s under %s: %s", offer, first.id, exc)
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
