"""The discord.py client the adapter runs: its command tree, and the gateway hooks it needs
(commands synced at login, every reaction handed on, a bundle menu's picks handed on)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

from adapters.discord_chat.sdk import app_commands, discord

Sendable: TypeAlias = (
    discord.TextChannel | discord.Thread | discord.VoiceChannel | discord.StageChannel
)


class BotClient(discord.Client):
    def __init__(
        self,
        *,
        on_login: Callable[[], Awaitable[None]],
        on_reaction: Callable[[discord.RawReactionActionEvent], Awaitable[None]],
        on_component: Callable[[Interaction], Awaitable[None]] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self._on_login = on_login
        self._on_reaction = on_reaction
        self._on_component = on_component
        self.tree: app_commands.CommandTree[BotClient] = app_commands.CommandTree(self)

    async def setup_hook(self) -> None:
        await self._on_login()

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self._on_reaction(payload)

    async def on_interaction(self, interaction: Interaction) -> None:
        """Every interaction; commands are the tree's, components (a bundle's menu) ours."""
        if self._on_component is not None and interaction.type is discord.InteractionType.component:
            await self._on_component(interaction)


Interaction: TypeAlias = discord.Interaction[BotClient]
