"""The Discord adapter: `chat` translates between discord.py and the core's ports; `ack`
acknowledges slash commands straight from the gateway event."""

from adapters.discord_chat.chat import DiscordChat, DiscordConfig, DiscordStartupError

__all__ = ["DiscordChat", "DiscordConfig", "DiscordStartupError"]
