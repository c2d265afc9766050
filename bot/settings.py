"""All configuration, read once from the environment and `.env`. Nothing else reads os.environ.

Secrets are SecretStr: they never show in a repr, a log line or an error message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(Exception):
    """A missing or malformed setting; the message names the key and how to fix it."""


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
    analyzer: Literal["auto", "offline"] = Field("auto", validation_alias="REDIGEST_ANALYZER")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "WARNING", validation_alias="REDIGEST_LOG_LEVEL"
    )

    # Reddit API credentials (https://www.reddit.com/prefs/apps, a "script" app).
    reddit_client_id: str | None = Field(None, validation_alias="REDDIT_CLIENT_ID")
    reddit_client_secret: SecretStr | None = Field(None, validation_alias="REDDIT_CLIENT_SECRET")
    reddit_user_agent: str | None = Field(None, validation_alias="REDDIT_USER_AGENT")

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @property
    def reddit_configured(self) -> bool:
        return bool(self.reddit_client_id and self.reddit_client_secret and self.reddit_user_agent)

    def missing_reddit_settings(self) -> list[str]:
        names = {
            "REDDIT_CLIENT_ID": self.reddit_client_id,
            "REDDIT_CLIENT_SECRET": self.reddit_client_secret,
            "REDDIT_USER_AGENT": self.reddit_user_agent,
        }
        return [k for k, v in names.items() if not v]


def load_settings(env_file: Path | None = Path(".env")) -> Settings:
    """Read the settings, turning validation errors into one actionable sentence."""
    try:
        return Settings(_env_file=env_file)  # type: ignore[call-arg]
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "a setting"
        raise SettingsError(
            f"Setting {key} is invalid ({first['msg']}): fix it in .env or the environment "
            f"(every setting is described in .env.example)."
        ) from None
