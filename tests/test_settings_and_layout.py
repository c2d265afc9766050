"""Settings hide secrets; the layers only depend inward."""

from __future__ import annotations

import ast
import logging
import os
import subprocess
import sys
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


def _cli_with(tmp_path: Path, env_file: str | None, **environ: str) -> tuple[int, str]:
    """`redigest console` started in `tmp_path` with that `.env`: its exit code and stderr."""
    if env_file is not None:
        (tmp_path / ".env").write_text(env_file, encoding="utf-8")
    ours = ("REDIGEST_", "DISCORD_", "SLACK_", "REDDIT_", "ANTHROPIC_", "OPENAI_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    env |= {"PYTHONPATH": str(REPO), "REDIGEST_DATABASE_PATH": str(tmp_path / "bot.sqlite3")}
    done = subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()", "console"],
        input="",
        capture_output=True,
        text=True,
        env=env | environ,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stderr


@pytest.mark.parametrize(
    ("env_file", "expected"),
    [
        (
            "REDIGEST_WORKERS=2\nREDIGEST_BRIEF_BUDGET\n",
            "Line 2 of .env has REDIGEST_BRIEF_BUDGET without '=': write "
            "REDIGEST_BRIEF_BUDGET=value, or delete it.",
        ),
        (
            "REDIGEST_SPEND_CAPP=2\n",
            "Unknown setting REDIGEST_SPEND_CAPP in .env (line 1): did you mean "
            "REDIGEST_DAILY_SPEND_CAP?",
        ),
        ("DISCORD_TOKN=abc\n", "Unknown setting DISCORD_TOKN in .env (line 1): did you mean "),
        ("REDIGEST_FROBNICATE=1\n", "Unknown setting REDIGEST_FROBNICATE in .env (line 1): no "),
        (
            "REDIGEST_WORKERS=four\n",
            "Setting REDIGEST_WORKERS is invalid (a whole number is expected): fix it in .env, "
            "line 1",
        ),
        ("REDIGEST_DAILY_SPEND_CAP=lots\n", "REDIGEST_DAILY_SPEND_CAP is invalid (a number is"),
        (
            "REDIGEST_TIMEZONE=Europe Berlin\n",
            "Setting REDIGEST_TIMEZONE in .env (line 1) has spaces in its value: remove them, or "
            'quote the value (REDIGEST_TIMEZONE="…") if they are meant.',
        ),
        (
            'REDIGEST_LOG_LEVEL="INFO\nREDIGEST_WORKERS=2\n',
            "Setting REDIGEST_LOG_LEVEL in .env (line 1) opens a quote it never closes",
        ),
        (
            "REDIGEST_LLM_PRICES={not json}\n",
            "REDIGEST_LLM_PRICES is not valid JSON: fix it in .env",
        ),
        ("REDIGEST_LOG_FORMAT=xml\n", "Setting REDIGEST_LOG_FORMAT is invalid"),
    ],
)
def test_a_mistake_in_env_is_one_line_naming_the_key(
    tmp_path: Path, env_file: str, expected: str
) -> None:
    code, stderr = _cli_with(tmp_path, env_file)
    assert code == 2, stderr
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("redigest: ")
    assert expected in lines[0]
    assert not (tmp_path / "bot.sqlite3").exists()  # refused before anything started


def test_a_misspelt_variable_in_the_environment_is_refused(tmp_path: Path) -> None:
    code, stderr = _cli_with(tmp_path, None, REDIGEST_SPEND_CAPP="2")
    assert code == 2
    assert stderr.strip() == (
        "redigest: Unknown setting REDIGEST_SPEND_CAPP in the environment: did you mean "
        "REDIGEST_DAILY_SPEND_CAP?"
    )


def test_a_secret_on_a_line_that_cannot_be_read_is_not_repeated(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("REDIGEST_WORKERS=2\n  xoxb-123 secret stuff\n", encoding="utf-8")
    with pytest.raises(SettingsError) as refused:
        load_settings(env_file=env)
    assert str(refused.value).startswith("Line 2 of ")
    assert "xoxb" not in str(refused.value)


def test_what_env_files_legitimately_hold_is_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = tmp_path / ".env"
    env.write_text(
        "# a comment\n\n"
        "export REDIGEST_WORKERS=3\n"
        "REDIGEST_BRIEF_BUDGET=9000   # the default is 8000\n"
        "REDDIT_USER_AGENT=linux:redigest:0.1 (by u/someone)\n"
        'REDIGEST_BRIEF_MODEL="two words"\n'
        'REDIGEST_LLM_PRICES={"m": [1, 2, 0, 0]}\n'
        "REDIGEST_LOG_FORMAT=JSON\n"
        "COMPOSE_PROJECT_NAME=my bot\n"  # another tool's: not ours to judge
        "REDDIT_SOMETHING_ELSE=1\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("REDIGEST_BENCH_BEFORE", "/tmp/old")  # the benchmarks' own variable
    settings = load_settings(env_file=env)
    assert (settings.workers, settings.brief_budget) == (3, 9000)
    assert settings.reddit_user_agent == "linux:redigest:0.1 (by u/someone)"
    assert settings.brief_model == "two words"
    assert settings.llm_prices == {"m": (1, 2, 0, 0)}
    assert settings.log_format == "json"


def test_env_example_documents_every_setting() -> None:
    example = (REPO / ".env.example").read_text(encoding="utf-8")
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        assert isinstance(alias, str)
        assert f"\n{alias}=" in example, alias


def test_a_copy_of_env_example_is_valid(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text((REPO / ".env.example").read_text(encoding="utf-8"))
    assert load_settings(env_file=tmp_path / ".env").log_format == "text"


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
    composition_roots = {"app.py", "reddit_configs.py", "cli.py"}  # the root, split by concern
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
