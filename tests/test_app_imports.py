"""Cold paths stay cold: importing the CLI, `redigest --help` and an offline `redigest digest FILE`
load no LLM or chat SDK (each in a fresh interpreter, as a person at the terminal runs them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TypedDict

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((REPO / "examples").glob("*.json"))

# The SDKs behind the adapters (and the HTTP client they share): built only where they are used.
SDKS = (
    "anthropic",
    "openai",
    "discord",
    "slack_sdk",
    "slack_bolt",
    "asyncpraw",
    "asyncprawcore",
    "aiohttp",
    # Not an SDK, but heavy (~0.4 s, ~30 MB with numpy): only a deep report's chart draws.
    "matplotlib",
    "numpy",
)

# Runs bot.cli's main with the given arguments, then reports what it printed, its exit status and
# every SDK that is in sys.modules.
PROBE = """
import contextlib, io, json, sys
argv, sdks = json.loads(sys.argv[1]), json.loads(sys.argv[2])
out = io.StringIO()
status = 0
import bot.cli
if argv:
    sys.argv = ["redigest", *argv]
    with contextlib.redirect_stdout(out):
        try:
            bot.cli.main()
        except SystemExit as exc:
            status = exc.code if isinstance(exc.code, int) else 1
loaded = sorted(name for name in sys.modules if name.split(".")[0] in sdks)
print(json.dumps({"status": status, "out": out.getvalue(), "loaded": loaded}))
"""


class Probe(TypedDict):
    status: int
    out: str
    loaded: list[str]


def _probe(tmp_path: Path, *argv: str, **extra_env: str) -> Probe:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("REDIGEST_", "DISCORD_", "SLACK_", "REDDIT_", "ANTHROPIC_", "OPENAI_"))
    }
    env |= {"PYTHONPATH": str(REPO), "REDIGEST_REDDIT_MODE": "auto"}  # the default: Reddit on
    env |= extra_env
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(argv), json.dumps(SDKS)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,  # no .env of the developer's
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: Probe = json.loads(done.stdout.splitlines()[-1])
    return result


def test_importing_the_cli_loads_no_sdk(tmp_path: Path) -> None:
    assert _probe(tmp_path)["loaded"] == []


@pytest.mark.parametrize("argv", [("--help",), ("digest", "--help"), ("run", "--help")])
def test_help_loads_no_sdk(tmp_path: Path, argv: tuple[str, ...]) -> None:
    result = _probe(tmp_path, *argv)
    assert result["status"] == 0
    assert "Usage" in result["out"]
    assert result["loaded"] == []


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
@pytest.mark.parametrize("fmt", ["markdown", "json"])
def test_an_offline_digest_loads_no_sdk(tmp_path: Path, example: Path, fmt: str) -> None:
    result = _probe(tmp_path, "digest", str(example), "--format", fmt)
    assert result["status"] == 0
    title = json.loads(example.read_text(encoding="utf-8"))[0]["data"]["children"][0]["data"]
    assert title["title"][:30] in result["out"]
    assert result["loaded"] == []


def test_the_probe_sees_an_sdk_when_one_is_built(tmp_path: Path) -> None:
    """The checks above can fail: with an LLM key, a digest builds the Anthropic client (and
    stops at the missing file before any request)."""
    result = _probe(
        tmp_path,
        "digest",
        str(tmp_path / "missing.json"),
        "--analyzer",
        "anthropic",
        ANTHROPIC_API_KEY="sk-ant-test-not-a-key",
    )
    assert result["status"] == 2
    assert "anthropic" in result["loaded"]
