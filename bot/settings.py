"""All configuration, read once from the environment and `.env` (`load_settings`), every mistake
turned into one actionable sentence naming the key. The settings themselves, their types and
checks, are in bot/settings_model.py (re-exported here: `from bot.settings import Settings`).

Secrets are SecretStr: they never show in a repr, a log line or an error message.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from pydantic import ValidationError
from pydantic_settings.exceptions import SettingsError as PydanticSettingsError

from bot.envfile import EnvFile, check_env_file, check_environment
from bot.settings_model import Leases, Settings, SettingsError

__all__ = ["Leases", "Settings", "SettingsError", "known_keys", "load_settings"]


def known_keys() -> frozenset[str]:
    """Every setting's name, as written in .env and the environment."""
    return frozenset(
        f.validation_alias
        for f in Settings.model_fields.values()
        if isinstance(f.validation_alias, str)
    )


_EXPECTED = {
    "int_parsing": "a whole number is expected",
    "int_from_float": "a whole number is expected",
    "float_parsing": "a number is expected",
    "bool_parsing": "true or false is expected",
}


def load_settings(env_file: Path | None = Path(".env")) -> Settings:
    """Read the settings, turning every mistake (a typo in `.env` included) into one actionable
    sentence naming the key (bot/envfile.py checks `.env` and the environment first)."""
    known = known_keys()
    problem = check_environment(os.environ, known)
    checked = check_env_file(env_file, known) if env_file is not None else EnvFile("", {})
    if isinstance(checked, str):
        problem = problem or checked
    if problem:
        raise SettingsError(problem)
    assert isinstance(checked, EnvFile)

    def where(key: str | None) -> str:
        if key in os.environ or key is None or key not in checked.lines:
            return ".env or the environment"
        return f"{checked.name}, line {checked.lines[key]}"

    try:
        return Settings(_env_file=env_file)  # type: ignore[call-arg]
    except PydanticSettingsError as exc:  # a JSON-valued setting that is not JSON
        field = re.search(r'field "(\w+)"', str(exc))
        info = Settings.model_fields.get(field.group(1)) if field else None
        key = info.validation_alias if info and isinstance(info.validation_alias, str) else None
        raise SettingsError(
            f"Setting {key or 'a JSON-valued setting'} is not valid JSON: fix it in {where(key)} "
            f"(every setting is described, with an example, in .env.example)."
        ) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "a setting"
        why = _EXPECTED.get(first["type"], first["msg"].removeprefix("Value error, "))
        raise SettingsError(
            f"Setting {key} is invalid ({why}): fix it in {where(key)} "
            f"(every setting is described in .env.example)."
        ) from None
