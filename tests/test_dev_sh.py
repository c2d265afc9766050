"""`bash dev.sh` says what it is doing while it sets up: the virtualenv, the first install (which
takes a while), an update when pyproject.toml changed; silent when there is nothing to do. Run
for real with a stand-in Python (PYTHON=…) whose venv and pip only record what they were asked."""

from __future__ import annotations

import contextlib
import os
import pty
import shutil
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

STUB = """#!/usr/bin/env bash
# A stand-in python for dev.sh: `-c` (the version check) passes, `-m venv DIR` makes a venv of
# stand-ins, `-m pip …` is recorded in $PIP_LOG.
if [ "$1" = "-c" ]; then exit 0; fi
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
  mkdir -p "$3/bin"
  cp "$0" "$3/bin/python"
  printf '#!/usr/bin/env bash\\necho "redigest $*"\\n' > "$3/bin/redigest"
  chmod +x "$3/bin/python" "$3/bin/redigest"
  exit 0
fi
if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then
  echo "$*" >> "$PIP_LOG"
  exit 0
fi
exit 3
"""


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(REPO / "dev.sh", project / "dev.sh")
    shutil.copy(REPO / "pyproject.toml", project / "pyproject.toml")
    stub = tmp_path / "python"
    stub.write_text(STUB, encoding="utf-8")
    stub.chmod(0o755)
    return project


def _dev_sh(
    project: Path, tmp_path: Path, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("CI", "VENV", "PYTHON")}
    return subprocess.run(
        ["bash", str(project / "dev.sh"), *args],
        capture_output=True,  # stderr is not a terminal here
        text=True,
        env=base | {"PYTHON": str(tmp_path / "python"), "PIP_LOG": str(tmp_path / "pip.log")} | env,
        timeout=60,
        check=False,
    )


def test_the_first_run_says_what_it_installs_and_later_runs_say_nothing(tmp_path: Path) -> None:
    project = _project(tmp_path)
    first = _dev_sh(project, tmp_path, "demo")
    assert first.returncode == 0, first.stderr
    lines = first.stderr.splitlines()
    assert lines[0] == "dev.sh: creating a virtualenv in .venv…"
    assert lines[1] == (
        "dev.sh: installing redigest and its dependencies into .venv (first time: a few minutes)…"
    )
    assert lines[2].startswith("dev.sh: installed in ")
    assert first.stdout.startswith("redigest digest examples/selfhosted_thread.json --depth deep")
    (pip,) = (tmp_path / "pip.log").read_text(encoding="utf-8").splitlines()
    assert pip.startswith("-m pip install --quiet ")  # not a terminal: pip itself is quiet

    again = _dev_sh(project, tmp_path, "demo")
    assert again.returncode == 0
    assert again.stderr == ""  # nothing to do, nothing said

    later = time.time() + 5
    os.utime(project / "pyproject.toml", (later, later))
    changed = _dev_sh(project, tmp_path, "demo")
    assert changed.stderr.splitlines()[0] == (
        "dev.sh: pyproject.toml changed: updating redigest's dependencies in .venv…"
    )


def test_ci_keeps_pip_quiet_but_says_what_is_happening(tmp_path: Path) -> None:
    project = _project(tmp_path)
    done = _dev_sh(project, tmp_path, "demo", "-q", CI="true", VENV=".venv-ci")
    assert done.returncode == 0, done.stderr
    assert len(done.stderr.splitlines()) == 3
    assert "into .venv-ci (first time" in done.stderr
    assert "--quiet" in (tmp_path / "pip.log").read_text(encoding="utf-8")


def test_on_a_terminal_pip_shows_its_own_progress(tmp_path: Path) -> None:
    project = _project(tmp_path)
    main, terminal = pty.openpty()
    try:
        base = {k: v for k, v in os.environ.items() if k not in ("CI", "VENV", "PYTHON")}
        done = subprocess.run(
            ["bash", str(project / "dev.sh"), "demo"],
            stdout=subprocess.PIPE,
            stderr=terminal,
            text=True,
            env=base | {"PYTHON": str(tmp_path / "python"), "PIP_LOG": str(tmp_path / "pip.log")},
            timeout=60,
            check=False,
        )
        os.close(terminal)
        terminal = -1
        shown = b""
        with contextlib.suppress(OSError):  # EIO once everything written was read
            while chunk := os.read(main, 4096):
                shown += chunk
    finally:
        os.close(main)
        if terminal >= 0:
            os.close(terminal)
    assert done.returncode == 0
    assert "first time: a few minutes" in shown.decode()
    assert "--quiet" not in (tmp_path / "pip.log").read_text(encoding="utf-8")
