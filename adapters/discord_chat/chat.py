"""The Discord adapter itself: DiscordChat logs in, syncs the commands and runs the gateway, and
wires the parts: `interactions` and `commands` (slash commands and the menu in), `events`
(reactions in), `port` (posts out, lookups), `ack` (deferring straight from the gateway event).

    async with DiscordChat(config) as chat:   # logs in, syncs the commands (or raises one line)
        await chat.run(inbox)                  # the gateway, until cancelled
"""

from __future__ import annotations

import contextlib
import logging
import re
from contextlib import AbstractAsyncContextManager

import aiohttp
import yarl

from adapters.discord_chat.ack import EarlyAcks
from adapters.discord_chat.channels import Channels
from adapters.discord_chat.client import BotClient
from adapters.discord_chat.commands import register_commands
from adapters.discord_chat.config import (
    API_VERSION,
    BAD_TOKEN,
    NO_INTENT,
    PLATFORM,
    DiscordConfig,
    DiscordStartupError,
)
from adapters.discord_chat.escape import escape, safe_url, ulen
from adapters.discord_chat.events import ReactionEvents
from adapters.discord_chat.interactions import Interactions
from adapters.discord_chat.layout import NO_MENTIONS, render
from adapters.discord_chat.limits import MAX_CONTENT
from adapters.discord_chat.lookups import DiscordLookups
from adapters.discord_chat.posting import DiscordPoster
from adapters.discord_chat.sdk import discord
from adapters.discord_chat.thread_reader import DiscordThreadReader
from bot.chat import Delivery, Inbox, MessageRef, MessageText, Target
from bot.chat_threads import ChatHistory, ChatThreadRef
from bot.multipart import MultipartPosts
from bot.shards import ShardStates

log = logging.getLogger(__name__)

# Imported from here before the adapter was split by concern: still importable from here.
__all__ = [
    "MAX_CONTENT",
    "DiscordChat",
    "DiscordConfig",
    "DiscordStartupError",
    "escape",
    "render",
    "safe_url",
    "ulen",
]

INVITE_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    embed_links=True,
    create_public_threads=True,
    send_messages_in_threads=True,
    read_message_history=True,
    add_reactions=True,
)
INVITE_SCOPES = ("bot", "applications.commands")


class DiscordChat:
    """The Discord side of redigest (implements `bot.chat.ChatPort`, and
    `bot.chat_threads.ChatThreadReader`: it reads its own threads)."""

    platform = PLATFORM

    def __init__(self, config: DiscordConfig) -> None:
        self.config = config
        intents = discord.Intents.none()
        intents.guilds = True
        intents.guild_reactions = True
        intents.message_content = config.message_content
        self.invite_url: str | None = None
        self._inbox: Inbox | None = None
        self._saved: tuple[str, yarl.URL] | None = None
        self.client = BotClient(
            on_login=self._after_login,
            on_reaction=self._on_reaction,
            on_component=self._on_component,
            intents=intents,
            allowed_mentions=NO_MENTIONS,
            max_messages=None,  # nothing here reads the message cache
            guild_ready_timeout=config.guild_ready_timeout,
            shard_ids=list(config.shards.ids) if config.shards else None,
            shard_count=config.shards.count if config.shards else None,
            identify_interval=config.identify_interval,
        )
        self._acks = EarlyAcks(
            base_url=lambda: discord.http.Route.BASE, user_agent=self.client.http.user_agent
        )
        channels = Channels(self.client)
        self.interactions = Interactions(config, self._acks, lambda: self._inbox)
        self.events = ReactionEvents(self.client, channels, lambda: self._inbox)
        multipart = MultipartPosts()
        self.poster = DiscordPoster(config, channels, self.interactions, multipart)
        self.lookups = DiscordLookups(config, self.client, channels, self.events.own, multipart)
        self.threads = DiscordThreadReader(self.client, channels)
        register_commands(self.client.tree, self.interactions)

    def __repr__(self) -> str:
        return f"DiscordChat({self.config!r})"

    # ------------------------------------------------------------------ the ChatPort

    async def post(
        self, target: Target, delivery: Delivery, *, idempotency_key: str | None = None
    ) -> list[MessageRef]:
        """Send a delivery; returns a reference per message created, the main one first."""
        return await self.poster.post(target, delivery, idempotency_key=idempotency_key)

    async def find_posted(self, target: Target, idempotency_key: str) -> list[MessageRef] | None:
        """The messages a post with this key created, or None (see `DiscordLookups.find_posted`)."""
        return await self.lookups.find_posted(target, idempotency_key)

    async def read_message(self, ref: MessageRef) -> MessageText | None:
        """Everything readable in a message (content and embeds); someone else's message only
        with the Message Content intent."""
        return await self.lookups.read_message(ref)

    async def read_thread(self, ref: ChatThreadRef, *, limit: int) -> ChatHistory:
        """The Discord thread `ref` starts or sits in (`bot.chat_threads.ChatThreadReader`;
        which messages that is: see `thread_reader`). REST only: a post-only worker reads too.
        Raises ThreadUnreadable with one sentence when Discord will not let the bot read it."""
        return await self.threads.read_thread(ref, limit=limit)

    def command_text(self, words: str) -> str:
        return f"/{words}"  # every command is its own slash command

    def working(self, target: Target) -> AbstractAsyncContextManager[None]:
        """The typing indicator where a long-awaited post will go (see `DiscordPoster.working`)."""
        return self.poster.working(target)

    async def _on_reaction(self, payload: discord.RawReactionActionEvent) -> None:
        await self.events.on_reaction(payload)

    async def _on_component(self, interaction: discord.Interaction[BotClient]) -> None:
        await self.interactions.component(interaction)

    # ------------------------------------------------------------------ lifecycle

    def _apply_overrides(self) -> None:
        route, gateway = discord.http.Route, discord.gateway.DiscordWebSocket
        self._saved = (route.BASE, gateway.DEFAULT_GATEWAY)
        if self.config.api_base:
            base = self.config.api_base.rstrip("/")
            if not re.search(r"/api/v\d+$", base):
                base += f"/api/v{API_VERSION}"
            route.BASE = base
        if self.config.gateway_url:
            gateway.DEFAULT_GATEWAY = yarl.URL(self.config.gateway_url)

    def _restore_overrides(self) -> None:
        if self._saved is not None:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = self._saved
            self._saved = None

    async def __aenter__(self) -> DiscordChat:
        """Log in and sync the commands; raises DiscordStartupError with one line if Discord
        refuses (bad token, commands not allowed) or cannot be reached."""
        self._apply_overrides()
        base = discord.http.Route.BASE
        try:
            await self.client.__aenter__()
            await self.client.login(self.config.token)  # REST only: no gateway yet
            if not self.config.post_only:
                await self._acks.open()
        except BaseException as exc:
            await self._shutdown()
            if isinstance(exc, discord.LoginFailure):
                raise DiscordStartupError(BAD_TOKEN) from None
            if isinstance(exc, aiohttp.ClientError | OSError):
                raise DiscordStartupError(
                    f"Discord's API at {base} cannot be reached "
                    f"({type(exc).__name__}): check the network or REDIGEST_DISCORD_API_BASE."
                ) from None
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._shutdown()

    async def _shutdown(self) -> None:
        with contextlib.suppress(Exception):
            await self.client.close()
        with contextlib.suppress(Exception):
            await self._acks.close()
        self._restore_overrides()

    async def run(self, inbox: Inbox) -> None:
        """Connect to the gateway and hand commands and reactions to `inbox` until cancelled.
        discord.py reconnects and resumes by itself, and waits out rate limits."""
        if self.config.post_only:
            raise RuntimeError("a post-only DiscordChat does not receive (no gateway)")
        self._inbox = inbox
        # Every command defers first: acknowledge them from the gateway event (see ack.py).
        self._acks.install(
            getattr(self.client._connection, "parsers", None),
            {command.name for command in self.client.tree.get_commands()},
        )
        try:
            await self.client.ask_shard_count()  # when REDIGEST_DISCORD_SHARDS is unset
            await self.client.connect(reconnect=True)
        except discord.PrivilegedIntentsRequired:
            raise DiscordStartupError(NO_INTENT) from None
        except discord.ConnectionClosed as exc:
            if exc.code == 4004:
                raise DiscordStartupError(BAD_TOKEN) from None
            if exc.code in (4013, 4014):
                raise DiscordStartupError(NO_INTENT) from None
            raise DiscordStartupError(
                f"Discord closed the connection (code {exc.code}: {exc.reason or 'no reason'}); "
                "check DISCORD_TOKEN and the bot's settings in the developer portal."
            ) from None

    async def is_connected(self) -> bool:
        """Logged in with every shard of this process connected (False while one reconnects);
        post-only: logged in (the REST API is all it uses)."""
        if self.config.post_only:
            return self.client.user is not None and not self.client.is_closed()
        states = self.client.shard_states()
        ready = self.client.is_ready() and not self.client.is_closed()
        return ready and states is not None and not states.down

    def shard_states(self) -> ShardStates | None:
        """This process's shards and which are down (None until Discord said how many, and
        when post-only: no shard runs here)."""
        if self.config.post_only:
            return None
        return self.client.shard_states()

    def startup_lines(self) -> list[str]:
        """What start-up shows whatever the log level: the invite link, the shards run here."""
        if self.config.post_only:
            return ["Discord: post-only in this process (REST API, no gateway connection)."]
        invite = [f"invite the bot to a Discord server with {self.invite_url}"]
        return [*(invite if self.invite_url else []), self.client.shards_line()]

    async def wait_until_ready(self) -> None:
        await self.client.wait_until_ready()

    async def _after_login(self) -> None:
        if not self.config.post_only:  # the gateway process syncs them
            await self._sync_commands()

    async def _sync_commands(self) -> None:
        """Once, at login: to the configured guilds (instant) or globally."""
        app_id = self.client.application_id
        if app_id is not None:
            self.invite_url = discord.utils.oauth_url(
                app_id, permissions=INVITE_PERMISSIONS, scopes=INVITE_SCOPES
            )
            log.info("invite redigest to a server with: %s", self.invite_url)
        tree = self.client.tree
        try:
            if self.config.guild_ids:
                for gid in self.config.guild_ids:
                    guild = discord.Object(id=gid)
                    tree.copy_global_to(guild=guild)
                    await tree.sync(guild=guild)
            else:
                await tree.sync()
        except discord.HTTPException as exc:
            where = "REDIGEST_DISCORD_GUILD_IDS" if self.config.guild_ids else "the application"
            raise DiscordStartupError(
                f"Discord refused redigest's slash commands ({exc.status} {exc.text or ''}): "
                f"check {where} and invite the bot with the applications.commands scope"
                f"{': ' + self.invite_url if self.invite_url else ''}."
            ) from None
        log.info(
            "synced %d commands %s",
            len(tree.get_commands()),
            f"to guilds {list(self.config.guild_ids)}" if self.config.guild_ids else "globally",
        )
