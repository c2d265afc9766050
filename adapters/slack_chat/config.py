"""Slack's settings: tokens, where HTTP mode listens, pacing and limits (SlackConfig). Secrets
stay out of repr() and so out of logs and tracebacks; a bad one is one sentence naming it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from digest.errors import DigestError

if TYPE_CHECKING:
    from bot.settings import Settings

PLATFORM: Final = "slack"
DEFAULT_API_URL: Final = "https://slack.com/api/"
DEFAULT_HOST: Final = "127.0.0.1"  # HTTP mode: a reverse proxy (TLS, a public name) fronts it


class SlackConfigError(DigestError, ValueError):
    """A Slack setting is missing or wrong; the message names the setting and the fix (one
    sentence, like every DigestError, so the CLI shows it as it shows a bad setting)."""


@dataclass(frozen=True, slots=True)
class SlackConfig:
    """How to reach Slack. Secrets are kept out of repr() (and so out of logs and tracebacks)."""

    bot_token: str = field(repr=False)
    app_token: str | None = field(default=None, repr=False)  # xapp-…: Socket Mode
    signing_secret: str | None = field(default=None, repr=False)  # HTTP mode
    port: int = 3000
    host: str = DEFAULT_HOST  # REDIGEST_SLACK_HOST: where HTTP mode listens
    api_url: str | None = None  # REDIGEST_SLACK_API_URL: another Web API base (tests, proxies)
    admin_group: str | None = None  # a user group (S…) whose members may manage the bot
    flag_emoji: str = "mag"  # 🔍, as Slack names it
    shortcut_callback_id: str = "deep_analysis"
    thread_callback_id: str = "digest_thread"  # the "Digest this thread" message shortcut
    post_interval: float = 1.0  # seconds between chat.postMessage calls in one channel
    rate_limit_retries: int = 2  # 429s retried (after Retry-After) per Web API call
    admin_cache_seconds: float = 300.0
    history_scan: int = 1000  # messages find_posted reads back in a channel at most
    concurrency: int = 8  # commands, reactions and shortcuts worked on at once (after the ack)
    startup_timeout: float = 15.0  # seconds for the token checks at start-up, all together
    # Post only (a worker or scheduler process, bot/roles.py): the Web API client, no Socket
    # Mode connection and no HTTP listener (the gateway process receives).
    post_only: bool = False

    def __post_init__(self) -> None:
        if not self.bot_token.strip():
            raise SlackConfigError("SLACK_BOT_TOKEN is empty: copy the bot token (xoxb-…).")
        if not self.app_token and not self.signing_secret and not self.post_only:
            raise SlackConfigError(
                "Slack needs SLACK_APP_TOKEN (Socket Mode, no public URL needed) or "
                "SLACK_SIGNING_SECRET (HTTP mode): set one in .env (see .env.example)."
            )
        if self.app_token and not self.app_token.startswith("xapp-"):
            raise SlackConfigError(
                "SLACK_APP_TOKEN must be an app-level token starting with xapp- "
                "(Basic Information → App-Level Tokens, scope connections:write)."
            )
        if self.api_url and not self.api_url.startswith(("http://", "https://")):
            raise SlackConfigError(
                "REDIGEST_SLACK_API_URL must be an http(s) URL, like https://slack.com/api/"
            )
        if not self.host.strip():
            raise SlackConfigError(
                "REDIGEST_SLACK_HOST is empty: set the address HTTP mode listens on, like "
                "127.0.0.1 behind a reverse proxy."
            )

    @property
    def socket_mode(self) -> bool:
        return bool(self.app_token)

    @property
    def web_api_url(self) -> str:
        base = self.api_url or DEFAULT_API_URL
        return base if base.endswith("/") else base + "/"

    @classmethod
    def from_settings(cls, settings: Settings, *, post_only: bool = False) -> SlackConfig | None:
        """The Slack part of the settings; None when no bot token is configured."""
        if settings.slack_bot_token is None:
            return None
        secret = settings.slack_signing_secret
        app_token = settings.slack_app_token
        return cls(
            bot_token=settings.slack_bot_token.get_secret_value(),
            app_token=app_token.get_secret_value() if app_token else None,
            signing_secret=secret.get_secret_value() if secret else None,
            port=settings.slack_port,
            host=settings.slack_host,
            api_url=settings.slack_api_url,
            admin_group=settings.slack_admin_group,
            post_only=post_only,
        )
