"""Replay the Dockerfile's steps without Docker: for machines where `docker build` cannot run.

    python3 deploy/replay_image_steps.py [--keep]

What it does, as the image would:
1. a build context with only the Dockerfile's COPY sources (the .dockerignore'd files left out);
2. a fresh virtualenv (no system site-packages) and the Dockerfile's `pip install` line in it,
   from the package index (network needed), timed;
3. the run stage: the Dockerfile's ENV, a new database directory standing for the /data volume,
   the working directory with the example threads; then `redigest health` with no bot (must exit
   1), the bot (`redigest run`: the console, as no chat token is set, on the saved threads) and
   `redigest health` again (must exit 0), then the bot stopped with SIGTERM.
It prints each step's figures (install time, the virtualenv's size, health's output).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV_IN_IMAGE = "/opt/redigest"


def stages(dockerfile: str) -> list[list[tuple[str, str]]]:
    """The Dockerfile's instructions, (INSTRUCTION, arguments), by stage; continuations joined."""
    text = re.sub(r"\\\n", " ", dockerfile)
    out: list[list[tuple[str, str]]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word.upper() == "FROM":
            out.append([])
        out[-1].append((word.upper(), rest.strip()))
    return out


def env_pairs(arguments: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in shlex.split(arguments))


def size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def main() -> int:
    keep = "--keep" in sys.argv
    build, run = stages((REPO / "Dockerfile").read_text(encoding="utf-8"))
    work = Path(tempfile.mkdtemp(prefix="redigest-image-"))
    context, venv, data, app = work / "src", work / "opt-redigest", work / "data", work / "app"
    try:
        context.mkdir()
        for op, args in build:
            if op == "COPY":
                *sources, dest = args.split()
                for source in sources:
                    target = (
                        context / Path(dest) / Path(source).name
                        if dest.endswith("/")
                        else context / dest
                    )
                    src = REPO / source
                    if src.is_dir():
                        shutil.copytree(src, target, ignore=shutil.ignore_patterns("__pycache__"))
                    else:
                        target.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(src, target)
        print(f"build context: {sorted(p.name for p in context.iterdir())}")
        for op, args in build:
            if op != "RUN":
                continue
            command = args.replace(VENV_IN_IMAGE, str(venv)).replace(
                "python -m venv", f"{sys.executable} -m venv"
            )
            started = time.monotonic()
            subprocess.run(["bash", "-euc", command], cwd=context, check=True)
            print(f"RUN done in {time.monotonic() - started:.0f} s: {args[:90]}…")
        print(f"virtualenv: {size_mb(venv):.0f} MB ({venv})")

        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(
                (
                    "REDIGEST_",
                    "DISCORD_",
                    "SLACK_",
                    "REDDIT_",
                    "ANTHROPIC_",
                    "OPENAI_",
                    "VIRTUAL_ENV",
                    "PYTHON",
                )
            )
        }
        env["PATH"] = f"{venv}/bin:/usr/bin:/bin"
        health, entry, cmd = None, "[]", "[]"
        for op, args in run:
            if op == "ENV":
                for key, value in env_pairs(args).items():
                    env[key] = (
                        value.replace(VENV_IN_IMAGE, str(venv))
                        .replace("$PATH", "/usr/bin:/bin")
                        .replace("/data", str(data))
                        .replace("/app", str(app))
                    )
            elif op == "COPY" and "--from" not in args:
                source, dest = args.split()
                shutil.copytree(REPO / source, str(app) + dest.removeprefix("/app"))
            elif op == "HEALTHCHECK":
                health = re.search(r"CMD (\[.*\])", args)
            elif op == "CMD":
                cmd = args
            elif op == "ENTRYPOINT":
                entry = args
        data.mkdir()
        app.mkdir(exist_ok=True)
        env["REDIGEST_REDDIT_MODE"] = "saved"  # no network for the bot's own start
        health_argv = json.loads(health.group(1)) if health else []
        run_argv = json.loads(entry) + json.loads(cmd)
        print(f"HEALTHCHECK {health_argv}, ENTRYPOINT+CMD {run_argv}")
        first = subprocess.run(health_argv, cwd=app, env=env, capture_output=True, text=True)
        print(f"health with no bot: exit {first.returncode}\n{first.stdout}{first.stderr}")
        bot = subprocess.Popen(
            run_argv,
            cwd=app,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                second = subprocess.run(
                    health_argv, cwd=app, env=env, capture_output=True, text=True
                )
                if second.returncode == 0 or time.monotonic() > deadline:
                    break
                time.sleep(1)
            print(
                f"health with the bot running: exit {second.returncode}\n{second.stdout}{second.stderr}"
            )
        finally:
            bot.send_signal(signal.SIGTERM)
            _, err = bot.communicate(timeout=60)
        print(f"bot stopped: exit {bot.returncode}; its stderr:\n{err}")
        ok = first.returncode == 1 and second.returncode == 0
        print("REPLAY OK" if ok else "REPLAY FAILED")
        return 0 if ok else 1
    finally:
        if keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
