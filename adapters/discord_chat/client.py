"""The discord.py client the adapter runs: its command tree, and the gateway hooks it needs
(commands synced at login, every reaction handed on, a bundle menu's picks handed on, and which
shards are up).

It is an `AutoShardedClient`: every shard this process runs (REDIGEST_DISCORD_SHARDS, or all of
them, as many as Discord recommends) is one gateway connection, and a shard counts as up from its
READY (or RESUMED) until it disconnects."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias, cast

import aiohttp

from adapters.discord_chat.sdk import app_commands, discord
from bot.shards import ShardStates, span

log = logging.getLogger(__name__)

IDENTIFY_INTERVAL = 5.0  # Discord allows one IDENTIFY per 5 s (per max_concurrency bucket)

Sendable: TypeAlias = (
    discord.TextChannel | discord.Thread | discord.VoiceChannel | discord.StageChannel
)


class BotClient(discord.AutoShardedClient):
    def __init__(
        self,
        *,
        on_login: Callable[[], Awaitable[None]],
        on_reaction: Callable[[discord.RawReactionActionEvent], Awaitable[None]],
        on_component: Callable[[Interaction], Awaitable[None]] | None = None,
        identify_interval: float | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self._on_login = on_login
        self._on_reaction = on_reaction
        self._on_component = on_component
        self._identify_interval = identify_interval
        self._up: set[int] = set()
        self.tree: app_commands.CommandTree[BotClient] = app_commands.CommandTree(self)

    async def setup_hook(self) -> None:
        await self._on_login()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Discord allows one IDENTIFY per 5 seconds (per `max_concurrency` bucket): the shards
        after the first wait that long, as discord.py does (a test sets it lower)."""
        if not initial:
            interval = self._identify_interval
            await asyncio.sleep(IDENTIFY_INTERVAL if interval is None else interval)

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self._on_reaction(payload)

    async def on_interaction(self, interaction: Interaction) -> None:
        """Every interaction; commands are the tree's, components (a bundle's menu) ours."""
        if self._on_component is not None and interaction.type is discord.InteractionType.component:
            await self._on_component(interaction)

    # ------------------------------------------------------------------ shards

    async def on_shard_ready(self, shard_id: int) -> None:
        self._up.add(shard_id)
        log.info("Discord: shard %d of %s ready", shard_id, self.shard_count)

    async def on_shard_resumed(self, shard_id: int) -> None:
        self._up.add(shard_id)

    async def on_shard_disconnect(self, shard_id: int) -> None:
        self._up.discard(shard_id)

    @property
    def known_shard_count(self) -> int | None:
        """The shard count, None until Discord said it (discord.py types it `int`)."""
        return cast("int | None", self.shard_count)

    async def ask_shard_count(self) -> None:
        """Set the shard count Discord recommends (GET /gateway/bot), asking again with backoff
        while it cannot be reached, as discord.py retries its gateway (its own launch would give
        up at once). Connecting then uses the gateway URL in force, as an unsharded client does."""
        backoff = discord.backoff.ExponentialBackoff(integral=False)
        while self.known_shard_count is None:
            try:
                self.shard_count, _, _ = await self.http.get_bot_gateway()
            except (discord.GatewayNotFound, aiohttp.ClientError, OSError, TimeoutError) as exc:
                delay = backoff.delay()
                log.warning(
                    "Discord did not say how many shards to run (%s): asking again in %.1f s",
                    type(exc).__name__,
                    delay,
                )
                await asyncio.sleep(delay)

    def shard_states(self) -> ShardStates | None:
        """This process's shards and which are down; None before Discord said how many."""
        count = self.known_shard_count
        if count is None:
            return None
        ids = tuple(self.shard_ids) if self.shard_ids is not None else tuple(range(count))
        open_ = {sid for sid, info in self.shards.items() if not info.is_closed()}
        down = tuple(sid for sid in ids if sid not in self._up or sid not in open_)
        return ShardStates(count=count, ids=ids, down=down)

    def shards_line(self) -> str:
        """Which shards this process runs, in one line for start-up."""
        if self.shard_ids is None or self.known_shard_count is None:
            return "Discord: every shard in this process, as many as Discord recommends."
        noun = "shard" if len(self.shard_ids) == 1 else "shards"
        return f"Discord: {noun} {span(self.shard_ids)} of {self.shard_count} in this process."


Interaction: TypeAlias = discord.Interaction[BotClient]
