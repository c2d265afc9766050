"""Settings hide secrets; the layers only depend inward."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError, load_settings

REPO = Path(__file__).resolve().parents[1]


def test_secrets_never_show(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("REDDIT_CLIENT_SECRET", "s3cr3t-value")
    monkeypatch.setenv("REDDIT_CLIENT_ID", "id")
    monkeypatch.setenv("REDDIT_USER_AGENT", "linux:redigest:0.1 (by u/someone)")
    settings = load_settings(env_file=None)
    assert settings.reddit_configured
    logging.getLogger("t").warning("settings: %s", settings)
    assert "s3cr3t-value" not in repr(settings)
    assert "s3cr3t-value" not in str(settings)
    assert "s3cr3t-value" not in caplog.text
    assert settings.reddit_client_secret is not None
    assert settings.reddit_client_secret.get_secret_value() == "s3cr3t-value"


def test_env_file_is_read(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("REDIGEST_BRIEF_BUDGET=1234\nREDIGEST_LOG_LEVEL=info\n", encoding="utf-8")
    settings = load_settings(env_file=env)
    assert settings.brief_budget == 1234
    assert settings.log_level == "INFO"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("REDIGEST_BRIEF_BUDGET", "12"),
        ("REDIGEST_ANALYZER", "gpt"),
        ("REDIGEST_LOG_LEVEL", "loud"),
        ("REDDIT_USER_AGENT", "python"),
        ("REDIGEST_REDDIT_OAUTH_URL", "oauth.reddit.com"),
        ("REDIGEST_REDDIT_DEEP_REQUESTS", "0"),
        ("REDIGEST_LLM_PRICES", "notjson"),  # a JSON-valued one: once a 20-line traceback
    ],
)
def test_invalid_settings_name_the_key(
    monkeypatch: pytest.MonkeyPatch, key: str, value: str
) -> None:
    monkeypatch.setenv(key, value)
    with pytest.raises(SettingsError, match=key):
        load_settings(env_file=None)


def test_env_example_documents_every_setting() -> None:
    example = (REPO / ".env.example").read_text(encoding="utf-8")
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        assert isinstance(alias, str)
        assert f"\n{alias}=" in example, alias


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module.split(".")[0])
    return out


def test_dependencies_point_inward() -> None:
    platform_sdks = {"discord", "slack_bolt", "slack_sdk", "asyncpraw", "anthropic", "openai",
                     "aiosqlite", "aiohttp", "typer", "rich", "pydantic_settings"}  # fmt: skip
    for path in (REPO / "digest").rglob("*.py"):
        imports = _imports(path)
        assert not imports & {"bot", "adapters"}, path
        assert not imports & platform_sdks, path
    composition_roots = {"app.py", "cli.py"}
    for path in (REPO / "bot").rglob("*.py"):
        if path.name not in composition_roots:
            assert "adapters" not in _imports(path), path
    # Adapters may use the core's ports (bot, digest) but never each other.
    for path in (REPO / "adapters").rglob("*.py"):
        own = path.relative_to(REPO / "adapters").parts[0].removesuffix(".py")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("adapters.")
            ):
                assert node.module.split(".")[1] == own, (path, node.module)
