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
    # With the [postgres] extra: the same image runs one process on SQLite or a cluster on
    # PostgreSQL (compose.cluster.yaml).
    assert any("pip install --no-cache-dir '.[postgres]'" in args for args in _all(build, "RUN"))
    health = _all(final, "HEALTHCHECK")[-1]
    assert json.loads(health.split(" CMD ", 1)[1]) == ["redigest", "health"]
    command = json.loads(_all(final, "ENTRYPOINT")[-1]) + json.loads(_all(final, "CMD")[-1])
    assert command == ["redigest", "run"]
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["scripts"]["redigest"] == "bot.cli:main"
    assert any(
        d.startswith("asyncpg") for d in project["project"]["optional-dependencies"]["postgres"]
    )
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


def _services(compose: str) -> dict[str, str]:
    """Each service's block of a compose file, by name (top-level `services:` only)."""
    body = compose.split("\nservices:\n", 1)[1].split("\nvolumes:\n", 1)[0]
    blocks = re.split(r"^  (\w[\w-]*):\n", body, flags=re.M)
    return dict(zip(blocks[1::2], blocks[2::2], strict=True))


def test_the_cluster_compose_runs_postgres_a_gateway_two_workers_and_a_scheduler() -> None:
    from bot.roles import ROLES

    compose = (REPO / "compose.cluster.yaml").read_text(encoding="utf-8")
    single = (REPO / "compose.yaml").read_text(encoding="utf-8")
    services = _services(compose)
    assert set(services) == {"postgres", "gateway", "worker", "scheduler"}
    anchor = compose.split("x-redigest: &redigest\n", 1)[1].split("\nservices:\n", 1)[0]
    image = re.search(r"^\s+image: (\S+)$", single, re.M)
    assert image is not None
    assert re.search(rf"^  image: {re.escape(image.group(1))}$", anchor, re.M)  # the same image
    assert re.search(r"^  build: \.$", anchor, re.M)
    assert re.search(r"^  env_file: \.env$", anchor, re.M)
    assert re.search(r"^  restart: unless-stopped$", anchor, re.M)
    assert re.search(r'^    test: \["CMD", "redigest", "health"\]$', anchor, re.M)
    assert re.search(
        r"^    REDIGEST_DATABASE_URL: postgresql://\w+:\$\{PG_PASSWORD:\?[^}]*\}@postgres:5432/\w+$",
        anchor,
        re.M,
    )
    assert re.search(r"^    postgres:\n      condition: service_healthy$", anchor, re.M)
    # Each redigest service is the image's entrypoint (`redigest`) with its role.
    entrypoint = json.loads(_all(_stages()[-1], "ENTRYPOINT")[-1])
    assert entrypoint == ["redigest"]
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    assert "--role" in {o for p in commands["run"].params for o in p.opts}
    for name in ("gateway", "worker", "scheduler"):
        block = services[name]
        assert "<<: *redigest" in block, name
        command = re.search(r"^    command: (\[.*\])$", block, re.M)
        assert command is not None, name
        assert json.loads(command.group(1)) == ["run", "--role", name]
        assert name in ROLES
    assert re.search(r"^      replicas: 2$", services["worker"], re.M)
    assert re.search(r"^    stop_grace_period: \d+s", services["worker"], re.M)
    postgres = services["postgres"]
    assert re.search(r"^    image: postgres:\d+$", postgres, re.M)
    assert re.search(r'^      test: \["CMD", "pg_isready"', postgres, re.M)
    assert re.search(r"^      - pg-data:/var/lib/postgresql/data$", postgres, re.M)
    assert re.search(r"^volumes:\n  pg-data:$", compose, re.M)
    # The password is asked of .env, never written here.
    assert "${PG_PASSWORD:?" in compose
    assert not re.search(r"postgresql://\w+:(?!\$\{)", compose)


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
    scaling = readme.split("## Scaling out", 1)[1].split("\n## ", 1)[0]
    roles = scaling.split("### Roles", 1)[1].split("\n### ", 1)[0]
    for needed in ("--role", "gateway", "worker", "scheduler", "compose.cluster.yaml"):
        assert needed in roles, needed
