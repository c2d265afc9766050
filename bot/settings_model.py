"""Every setting: its name in `.env` and the environment, its type, default and checks, and
what the rest of the bot derives from them. Read through `bot.settings.load_settings`, which
turns mistakes into one sentence; nothing else reads os.environ.

Secrets are SecretStr: they never show in a repr, a log line or an error message.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal, TypedDict
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.shards import ShardSpec
from bot.status import status_path
from digest.i18n import LANGUAGES, valid
from digest.pricing import DEFAULT_PRICES, Pricing, parse_default_price


class SettingsError(Exception):
    """A missing or malformed setting; the message names the key and how to fix it."""


class Leases(TypedDict):
    job_lease: timedelta
    heartbeat_seconds: float
    leader_lease: timedelta


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=False,
        hide_input_in_errors=True,
    )

    # Digest budgets: how many (estimated) tokens of the thread an analyser reads.
    brief_budget: int = Field(8_000, ge=500, le=200_000, validation_alias="REDIGEST_BRIEF_BUDGET")
    deep_budget: int = Field(24_000, ge=500, le=400_000, validation_alias="REDIGEST_DEEP_BUDGET")
    analyzer: Literal["auto", "offline", "anthropic", "openai"] = Field(
        "auto", validation_alias="REDIGEST_ANALYZER"
    )
    brief_model: str | None = Field(None, validation_alias="REDIGEST_BRIEF_MODEL")
    deep_model: str | None = Field(None, validation_alias="REDIGEST_DEEP_MODEL")
    llm_deadline: float = Field(90.0, gt=1, le=600, validation_alias="REDIGEST_LLM_DEADLINE")
    llm_max_retry_after: float = Field(
        30.0, ge=0, le=300, validation_alias="REDIGEST_LLM_MAX_RETRY_AFTER"
    )
    llm_prices: dict[str, tuple[float, float, float, float]] = Field(
        default_factory=dict, validation_alias="REDIGEST_LLM_PRICES"
    )
    # US$ per million input,output tokens for a model REDIGEST_LLM_PRICES does not list: "3,15".
    llm_default_price: Annotated[tuple[float, float] | None, NoDecode] = Field(
        None, validation_alias="REDIGEST_LLM_DEFAULT_PRICE"
    )
    anthropic_api_key: SecretStr | None = Field(None, validation_alias="ANTHROPIC_API_KEY")
    anthropic_base_url: str | None = Field(None, validation_alias="ANTHROPIC_BASE_URL")
    openai_api_key: SecretStr | None = Field(None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(None, validation_alias="OPENAI_BASE_URL")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "WARNING", validation_alias="REDIGEST_LOG_LEVEL"
    )
    # text: one readable line per record; json: one JSON object per line, for log collectors.
    log_format: Literal["text", "json"] = Field("text", validation_alias="REDIGEST_LOG_FORMAT")

    # The bot
    database_path: Path = Field(Path("redigest.sqlite3"), validation_alias="REDIGEST_DATABASE_PATH")
    # postgresql://user:password@host:port/database: PostgreSQL instead of the SQLite file (the
    # [postgres] extra); a secret, as it may hold the password.
    database_url: SecretStr | None = Field(None, validation_alias="REDIGEST_DATABASE_URL")
    # The status file this process writes and `redigest health` reads (bot/status.py); unset:
    # beside the SQLite file, or on PostgreSQL redigest.status.json in REDIGEST_DATABASE_PATH's
    # folder (the state folder: the working directory, /data in the image).
    status_path: Path | None = Field(None, validation_alias="REDIGEST_STATUS_PATH")
    saved_threads: Annotated[list[Path], NoDecode] = Field(
        default_factory=lambda: [Path("examples")], validation_alias="REDIGEST_SAVED_THREADS"
    )
    timezone: str = Field("UTC", validation_alias="REDIGEST_TIMEZONE")
    # Digests' language until a server sets its own (`settings language …`).
    language: str = Field("en", validation_alias="REDIGEST_LANGUAGE")
    workers: int = Field(4, ge=1, le=64, validation_alias="REDIGEST_WORKERS")
    # Where the bot's offline digests compute: one worker process (its own GIL: commands are
    # acknowledged as fast while big threads are digested) or the CPU lane thread.
    cpu_lane: Literal["process", "thread"] = Field("process", validation_alias="REDIGEST_CPU_LANE")
    daily_spend_cap: float = Field(
        1.0, ge=0, le=10_000, validation_alias="REDIGEST_DAILY_SPEND_CAP"
    )
    # How long a job's claim and the scheduler's leader lease last unless renewed (each is
    # renewed every quarter of it): another process takes over this long after its holder died.
    job_lease_seconds: float = Field(
        60.0, ge=2, le=3600, validation_alias="REDIGEST_JOB_LEASE_SECONDS"
    )
    leader_lease_seconds: float = Field(
        30.0, ge=2, le=3600, validation_alias="REDIGEST_LEADER_LEASE_SECONDS"
    )

    # Discord
    discord_token: SecretStr | None = Field(None, validation_alias="DISCORD_TOKEN")
    discord_api_base: str | None = Field(None, validation_alias="REDIGEST_DISCORD_API_BASE")
    discord_gateway_url: str | None = Field(None, validation_alias="REDIGEST_DISCORD_GATEWAY_URL")
    discord_guild_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list, validation_alias="REDIGEST_DISCORD_GUILD_IDS"
    )
    discord_message_content: bool = Field(
        False, validation_alias="REDIGEST_DISCORD_MESSAGE_CONTENT"
    )
    # The gateway shards this process runs, like 0-3/8; unset: all, as many as Discord says.
    discord_shards: Annotated[ShardSpec | None, NoDecode] = Field(
        None, validation_alias="REDIGEST_DISCORD_SHARDS"
    )

    # Slack
    slack_bot_token: SecretStr | None = Field(None, validation_alias="SLACK_BOT_TOKEN")
    slack_app_token: SecretStr | None = Field(None, validation_alias="SLACK_APP_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, validation_alias="SLACK_SIGNING_SECRET")
    slack_port: int = Field(3000, ge=1, le=65535, validation_alias="REDIGEST_SLACK_PORT")
    slack_host: str = Field("127.0.0.1", validation_alias="REDIGEST_SLACK_HOST")
    slack_api_url: str | None = Field(None, validation_alias="REDIGEST_SLACK_API_URL")
    slack_admin_group: str | None = Field(None, validation_alias="REDIGEST_SLACK_ADMIN_GROUP")

    # How Reddit is reached: auto = OAuth when its credentials are set, else the public endpoints;
    # saved = only the saved thread files (no network).
    reddit_mode: Literal["auto", "oauth", "public", "saved"] = Field(
        "auto", validation_alias="REDIGEST_REDDIT_MODE"
    )
    reddit_public_url: str = Field(
        "https://www.reddit.com", validation_alias="REDIGEST_REDDIT_PUBLIC_URL"
    )
    reddit_public_rpm: int = Field(10, ge=1, le=600, validation_alias="REDIGEST_REDDIT_PUBLIC_RPM")
    reddit_public_brief_requests: int = Field(
        1, ge=1, le=20, validation_alias="REDIGEST_REDDIT_PUBLIC_BRIEF_REQUESTS"
    )
    reddit_public_deep_requests: int = Field(
        4, ge=1, le=50, validation_alias="REDIGEST_REDDIT_PUBLIC_DEEP_REQUESTS"
    )

    # Reddit API credentials (https://www.reddit.com/prefs/apps, a "script" app).
    reddit_client_id: str | None = Field(None, validation_alias="REDDIT_CLIENT_ID")
    reddit_client_secret: SecretStr | None = Field(None, validation_alias="REDDIT_CLIENT_SECRET")
    reddit_user_agent: str | None = Field(None, validation_alias="REDDIT_USER_AGENT")
    reddit_username: str | None = Field(None, validation_alias="REDDIT_USERNAME")
    reddit_password: SecretStr | None = Field(None, validation_alias="REDDIT_PASSWORD")
    reddit_oauth_url: str | None = Field(None, validation_alias="REDIGEST_REDDIT_OAUTH_URL")
    reddit_auth_url: str | None = Field(None, validation_alias="REDIGEST_REDDIT_AUTH_URL")
    reddit_brief_requests: int = Field(
        2, ge=1, le=50, validation_alias="REDIGEST_REDDIT_BRIEF_REQUESTS"
    )
    reddit_deep_requests: int = Field(
        12, ge=1, le=100, validation_alias="REDIGEST_REDDIT_DEEP_REQUESTS"
    )
    reddit_timeout: float = Field(16.0, gt=0, le=120, validation_alias="REDIGEST_REDDIT_TIMEOUT")
    reddit_requests_per_minute: int = Field(
        100, ge=1, le=1000, validation_alias="REDIGEST_REDDIT_REQUESTS_PER_MINUTE"
    )
    # Hacker News: the official API, and Algolia's items endpoint (one request a tree; empty: off).
    hn_api_url: str = Field(
        "https://hacker-news.firebaseio.com/v0", validation_alias="REDIGEST_HN_API_URL"
    )
    hn_search_url: str = Field(
        "https://hn.algolia.com/api/v1", validation_alias="REDIGEST_HN_SEARCH_URL"
    )
    hn_brief_requests: int = Field(
        100, ge=1, le=2000, validation_alias="REDIGEST_HN_BRIEF_REQUESTS"
    )
    hn_deep_requests: int = Field(400, ge=1, le=5000, validation_alias="REDIGEST_HN_DEEP_REQUESTS")
    thread_cache_seconds: int = Field(
        600, ge=0, le=86_400, validation_alias="REDIGEST_THREAD_CACHE_SECONDS"
    )

    @field_validator("reddit_user_agent")
    @classmethod
    def _descriptive_user_agent(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if len(value) < 10 or not (":" in value or "u/" in value):
            raise ValueError(
                "Reddit wants a descriptive user agent, like 'linux:redigest:0.1 (by u/yourname)'"
            )
        return value

    @field_validator("slack_host", mode="before")
    @classmethod
    def _blank_host_is_default(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip() or "127.0.0.1"
        return value

    @field_validator("status_path", mode="before")
    @classmethod
    def _blank_path_is_default(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("database_url", mode="before")
    @classmethod
    def _postgres_url(cls, value: object) -> object:
        if isinstance(value, str):
            if not value.strip():
                return None
            if not value.strip().startswith(("postgresql://", "postgres://")):
                raise ValueError("use a URL like postgresql://user:password@host:5432/redigest")
            return value.strip()
        return value

    def database(self) -> Path | str:
        """Where the state lives: the PostgreSQL URL when one is set, else the SQLite file."""
        return self.database_url.get_secret_value() if self.database_url else self.database_path

    def leases(self) -> Leases:
        """The core's leases (CoreConfig): each renewed every quarter of it."""
        job = self.job_lease_seconds
        lease = timedelta(seconds=self.leader_lease_seconds)
        return Leases(
            job_lease=timedelta(seconds=job), heartbeat_seconds=job / 4, leader_lease=lease
        )

    def status_file(self) -> Path:
        """Where this process's status is written, and where `redigest health` reads it."""
        if self.status_path is not None:
            return self.status_path
        if self.database_url:
            return self.database_path.parent / "redigest.status.json"
        return status_path(self.database_path)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("use an IANA timezone name like Europe/Berlin or UTC") from None
        return value

    @field_validator("language")
    @classmethod
    def _catalogue_language(cls, value: str) -> str:
        code = valid(value)
        if code is None:
            raise ValueError(f"use one of {', '.join(LANGUAGES)}")
        return code

    @field_validator("saved_threads", "discord_guild_ids", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        """`a, b; c` → ["a", "b", "c"] (folders, guild ids)."""
        if isinstance(value, str):
            return [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]
        return value

    @field_validator("llm_default_price", mode="before")
    @classmethod
    def _default_price(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_default_price(value) if value.strip() else None
        return value

    @field_validator("discord_shards", mode="before")
    @classmethod
    def _shards(cls, value: object) -> object:
        if isinstance(value, str):
            return ShardSpec.parse(value) if value.strip() else None
        return value

    @field_validator(
        "brief_model",
        "deep_model",
        "anthropic_base_url",
        "openai_base_url",
        "discord_api_base",
        "discord_gateway_url",
        "slack_api_url",
        "slack_admin_group",
    )
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value.strip() or None if isinstance(value, str) else value

    @field_validator(
        "anthropic_api_key",
        "openai_api_key",
        "reddit_password",
        "reddit_client_secret",
        "discord_token",
        "slack_bot_token",
        "slack_app_token",
        "slack_signing_secret",
    )
    @classmethod
    def _blank_secret_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        return value if value is not None and value.get_secret_value().strip() else None

    def resolved_analyzer(self, override: str | None = None) -> str:
        """offline, anthropic or openai; `auto` picks the first provider configured."""
        choice = override or self.analyzer
        if choice == "auto":
            if self.anthropic_api_key is not None:
                return "anthropic"
            if self.openai_base_url is not None:
                return "openai"
            return "offline"
        if choice == "anthropic" and self.anthropic_api_key is None:
            raise SettingsError(
                "The anthropic analyser needs ANTHROPIC_API_KEY: set it in .env or the "
                "environment (see .env.example), or choose another analyser."
            )
        if choice == "openai" and self.openai_base_url is None and self.openai_api_key is None:
            raise SettingsError(
                "The openai analyser needs OPENAI_BASE_URL (your llama.cpp, Ollama, vLLM or "
                "LM Studio server, e.g. http://localhost:11434/v1) or OPENAI_API_KEY."
            )
        if choice == "openai" and not (self.brief_model and self.deep_model):
            raise SettingsError(
                "The openai analyser needs REDIGEST_BRIEF_MODEL and REDIGEST_DEEP_MODEL: the "
                "model names your server serves (e.g. llama3.1:8b)."
            )
        return choice

    @field_validator("reddit_public_url", mode="before")
    @classmethod
    def _public_url(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return "https://www.reddit.com"
        return value

    @field_validator("reddit_oauth_url", "reddit_auth_url", "reddit_public_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL, like https://oauth.reddit.com")
        return value.rstrip("/")

    @field_validator("hn_api_url", "hn_search_url")
    @classmethod
    def _hn_url(cls, value: str) -> str:
        value = value.strip()
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL, like https://hacker-news.firebaseio.com/v0")
        return value.rstrip("/")

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    def pricing(self) -> Pricing:
        """What LLM tokens cost: the built-in prices, REDIGEST_LLM_PRICES over them, and
        REDIGEST_LLM_DEFAULT_PRICE for a model neither lists."""
        return Pricing({**DEFAULT_PRICES, **self.llm_prices}, self.llm_default_price)

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def reddit_configured(self) -> bool:
        return bool(self.reddit_client_id and self.reddit_client_secret and self.reddit_user_agent)

    def resolved_reddit_mode(self) -> Literal["oauth", "public", "saved"]:
        """oauth, public or saved; `auto` is OAuth when the app's credentials are set."""
        if self.reddit_mode == "auto":
            return "oauth" if self.reddit_configured else "public"
        if self.reddit_mode == "oauth" and not self.reddit_configured:
            raise SettingsError(
                f"REDIGEST_REDDIT_MODE=oauth needs {', '.join(self.missing_reddit_settings())}: "
                "set them (an approved Reddit app), or use REDIGEST_REDDIT_MODE=auto to read "
                "Reddit's public pages without an app."
            )
        return self.reddit_mode

    def secret_values(self) -> list[str]:
        """Every secret set (tokens, keys, passwords): masked in whatever the bot says."""
        return [
            value.get_secret_value()
            for value in self.__dict__.values()
            if isinstance(value, SecretStr) and value.get_secret_value()
        ]

    def missing_reddit_settings(self) -> list[str]:
        names = {
            "REDDIT_CLIENT_ID": self.reddit_client_id,
            "REDDIT_CLIENT_SECRET": self.reddit_client_secret,
            "REDDIT_USER_AGENT": self.reddit_user_agent,
        }
        return [k for k, v in names.items() if not v]
