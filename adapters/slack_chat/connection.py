"""What the Slack adapter's parts share once it has logged in: the Web API client and its HTTP
session, and who the bot is (from auth.test)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from adapters.slack_chat.config import SlackConfig

if TYPE_CHECKING:
    import aiohttp
    from slack_sdk.web.async_client import AsyncWebClient


@dataclass
class SlackConnection:
    """Filled in by `SlackChat.__aenter__`; the parts read it when they need it."""

    config: SlackConfig
    session: aiohttp.ClientSession | None = None
    client: AsyncWebClient | None = None
    bot_user_id: str | None = None
    bot_id: str | None = None
    team_id: str | None = None

    @property
    def web(self) -> AsyncWebClient:
        if self.client is None:
            raise RuntimeError("use `async with SlackChat(config) as chat:` first")
        return self.client
