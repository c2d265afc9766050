"""The discord.py client the adapter runs: its command tree, and the two gateway hooks it needs
(commands synced at login, every reaction handed on)."""

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
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self._on_login = on_login
        self._on_reaction = on_reaction
        self.tree: app_commands.CommandTree[BotClient] = app_commands.CommandTree(self)

    async def setup_hook(self) -> None:
        await self._on_login()

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self._on_reaction(payload)


Interaction: TypeAlias = discord.Interaction[BotClient]
