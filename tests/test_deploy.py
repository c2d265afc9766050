"""The deployment files agree with the code: the Dockerfile, .dockerignore, compose.yaml and the
systemd unit (cheap checks; no Docker engine here: deploy/replay_image_steps.py replays the image's
steps in a clean virtualenv by hand, with network)."""

from __future__ import annotations

import configparser
import fnmatch
import json
import re
import tomllib
from pathlib import Path, PurePosixPath

import typer.main

from bot.cli import app
from bot.settings import known_keys

REPO = Path(__file__).resolve().parents[1]


def _stages() -> list[list[tuple[str, str]]]:
    text = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text(encoding="utf-8"))
    stages: list[list[tuple[str, str]]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word.upper() == "FROM":
            stages.append([])
        stages[-1].append((word.upper(), " ".join(rest.split())))
    return stages


def _all(stage: list[tuple[str, str]], op: str) -> list[str]:
    return [args for name, args in stage if name == op]


def _ignored(path: str) -> bool:
    """Whether .dockerignore leaves `path` out of the build context (its last match wins)."""
    ignored = False
    for raw in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.removeprefix("!").removeprefix("**/")
        parts = PurePosixPath(path).parts
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(
            fnmatch.fnmatch(p, pattern) or fnmatch.fnmatch(Path(p).name, pattern) for p in prefixes
        ):
            ignored = not negate
    return ignored


def test_the_image_is_slim_non_root_with_the_database_on_a_volume() -> None:
    stages = _stages()
    final = stages[-1]
    assert all(re.fullmatch(r"python:3\.1[1-3]-slim( AS \w+)?", s[0][1]) for s in stages)
    user = _all(final, "USER")
    assert user, "the image must name its user"
    assert user[-1] not in ("root", "0"), "the bot must not run as root"
    volumes = json.loads(_all(final, "VOLUME")[-1])
    env = dict(
        part.split("=", 1) for args in _all(final, "ENV") for part in args.split() if "=" in part
    )
    database = PurePosixPath(env["REDIGEST_DATABASE_PATH"])
    assert str(database.parent) in volumes
    assert {k for k in env if k.startswith("REDIGEST_")} <= known_keys()


def test_the_image_installs_the_package_and_runs_the_bot_with_a_health_check() -> None:
    build, final = _stages()[0], _stages()[-1]
    assert any("pip install --no-cache-dir ." in args for args in _all(build, "RUN"))
    health = _all(final, "HEALTHCHECK")[-1]
    assert json.loads(health.split(" CMD ", 1)[1]) == ["redigest", "health"]
    command = json.loads(_all(final, "ENTRYPOINT")[-1]) + json.loads(_all(final, "CMD")[-1])
    assert command == ["redigest", "run"]
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["scripts"]["redigest"] == "bot.cli:main"
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    assert {"run", "health"} <= set(commands)


def test_every_copied_file_exists_and_is_in_the_build_context() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    copied: set[str] = set()
    for stage in _stages():
        for args in _all(stage, "COPY"):
            if args.startswith("--from"):
                continue
            *sources, _ = args.split()
            for source in sources:
                assert (REPO / source).exists(), source
                assert not _ignored(source), f"{source} is in .dockerignore"
                copied.add(source)
    packages = project["tool"]["setuptools"]["packages"]["find"]["include"]
    needed = {p.rstrip("*") for p in packages} | {"pyproject.toml", project["project"]["readme"]}
    assert needed <= copied


def test_dockerignore_keeps_secrets_state_and_virtualenvs_out() -> None:
    for path in (
        ".git",
        ".venv",
        ".venv-ci",
        ".env",
        "redigest.sqlite3",
        "bot.db",
        "x.sqlite3-wal",
    ):
        assert _ignored(path), path
    for path in ("bot/cli.py", "digest", "examples/selfhosted_thread.json", "pyproject.toml"):
        assert not _ignored(path), path


def test_compose_runs_the_image_with_a_named_volume_env_file_restart_and_health_check() -> None:
    compose = (REPO / "compose.yaml").read_text(encoding="utf-8")
    assert re.search(r"^\s+env_file: \.env$", compose, re.M)
    assert re.search(r"^\s+restart: unless-stopped$", compose, re.M)
    assert re.search(r'^\s+test: \["CMD", "redigest", "health"\]$', compose, re.M)
    volume = re.search(r"^\s+- (\w[\w-]*):(/\S+)$", compose, re.M)
    assert volume is not None
    assert re.search(rf"^volumes:\n  {volume.group(1)}:$", compose, re.M)
    database = re.search(r"REDIGEST_DATABASE_PATH: (\S+)", compose)
    assert database is not None
    assert PurePosixPath(database.group(1)).parent == PurePosixPath(volume.group(2))


def test_the_systemd_unit_runs_as_its_own_user_hardened_writing_only_its_state() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(REPO / "deploy" / "redigest.service", encoding="utf-8")
    service = unit["Service"]
    assert service["User"] not in ("root", "0")
    assert service["ExecStart"].endswith("/redigest run")
    assert service["Restart"] == "on-failure"
    assert service["EnvironmentFile"]
    for key in ("NoNewPrivileges", "PrivateTmp", "ProtectHome"):
        assert service[key] == "true", key
    assert service["ProtectSystem"] == "strict"
    writable = service["ReadWritePaths"].split()
    database = PurePosixPath(service["Environment"].split("REDIGEST_DATABASE_PATH=", 1)[1])
    assert str(database.parent) in writable
    assert service["WorkingDirectory"] in writable
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_the_readme_explains_running_it_on_a_server() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Running it on a server", 1)[1].split("\n## ", 1)[0]
    for needed in (
        "compose.yaml",
        "deploy/redigest.service",
        "redigest health",
        "REDIGEST_LOG_FORMAT=json",
        ".backup",
    ):
        assert needed in section, needed
