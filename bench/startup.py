"""Start-up cost of the command line, as a person at the terminal pays it: whole-process wall time
and peak RSS of `redigest --help` and of an offline `redigest digest examples/<thread>.json`.

Each run is a fresh interpreter running what the `redigest` script runs (`from bot.cli import
main`), from an empty folder (no `.env`), with no LLM key, chat token or Reddit credential in its
environment (Reddit mode left at its default, auto). Wall time is taken around the process; CPU
time (user + system) and peak RSS come from the child's own rusage (`os.wait4`: its `ru_maxrss`
is what `resource.getrusage(RUSAGE_CHILDREN)` reports after that one child). Figures are the median of N runs, after one warm-up run (which
also writes the .pyc files); the load average is printed beside them.

With `--before PATH` (or REDIGEST_BENCH_BEFORE=PATH), a checkout of older code, or
`--before-ref REF` (a detached git worktree of REF, removed afterwards), the same commands run
on that code too, interleaved with the current code's runs so both see the same load.

Run it with `python -m bench startup` (or `python -m bench.startup --before-ref main`) from the
repository root. Target: the offline digest under 1.5 s whole-process.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "selfhosted_thread.json"
TARGET_SECONDS = 1.5
RUNS = 7
SDKS = ("anthropic", "openai", "discord", "slack_sdk", "slack_bolt", "asyncpraw", "aiohttp")
_SECRET_PREFIXES = ("REDIGEST_", "DISCORD_", "SLACK_", "REDDIT_", "ANTHROPIC_", "OPENAI_")
_MAIN = "import sys; from bot.cli import main; sys.exit(main())"


@dataclass
class Series:
    seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)
    rss_mib: list[float] = field(default_factory=list)

    def row(self, label: str, width: int) -> str:
        wall, rss = self.seconds, self.rss_mib
        return (
            f"{label:<{width}} {statistics.median(wall):6.2f} s  (min {min(wall):5.2f}, max "
            f"{max(wall):5.2f})  cpu {statistics.median(self.cpu_seconds):5.2f} s  "
            f"{statistics.median(rss):6.1f} MiB"
        )


def _env(repo: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SECRET_PREFIXES)}
    env["PYTHONPATH"] = str(repo)
    return env


def run_once(repo: Path, args: Sequence[str], cwd: Path) -> tuple[float, float, float]:
    """One whole process: (wall seconds, CPU seconds, peak RSS in MiB). Fails loudly on a
    non-zero exit."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", _MAIN, *args],
        cwd=cwd,
        env=_env(repo),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} in {repo} exited {proc.returncode}: {stderr}")
    # ru_maxrss is in KiB on Linux, in bytes on macOS.
    rss = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    return wall, usage.ru_utime + usage.ru_stime, rss


def import_facts(repo: Path, cwd: Path) -> str:
    """How many modules `import bot.cli` loads, and which SDKs among them."""
    code = (
        "import sys, bot.cli; "
        f"sdks = {SDKS!r}; "
        "print(len(sys.modules), ','.join(s for s in sdks if s in sys.modules) or 'none')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=_env(repo),
        capture_output=True,
        text=True,
        check=True,
    )
    count, sdks = done.stdout.split()
    return f"import bot.cli: {count} modules, SDKs loaded: {sdks}"


def _worktree(ref: str, into: Path) -> Path:
    path = into / "before"
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", str(path), ref],
        check=True,
        capture_output=True,
    )
    return path


def _remove_worktree(path: Path) -> None:
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "remove", "--force", str(path)],
        check=False,
        capture_output=True,
    )


def measure(
    trees: dict[str, Path], thread: Path, runs: int, cwd: Path
) -> dict[tuple[str, str], Series]:
    commands = {
        "redigest --help": ["--help"],
        f"redigest digest {thread.name}": ["digest", str(thread)],
    }
    results = {(tree, cmd): Series() for tree in trees for cmd in commands}
    for cmd, args in commands.items():
        for repo in trees.values():
            run_once(repo, args, cwd)  # warm-up: page cache, .pyc files
        for _ in range(runs):
            for tree, repo in trees.items():  # interleaved: both see the same load
                wall, cpu, rss = run_once(repo, args, cwd)
                results[tree, cmd].seconds.append(wall)
                results[tree, cmd].cpu_seconds.append(cpu)
                results[tree, cmd].rss_mib.append(rss)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__)
    parser.add_argument("--runs", type=int, default=RUNS, help=f"runs per figure ({RUNS})")
    parser.add_argument("--thread", type=Path, default=EXAMPLE, help="the saved thread to digest")
    before_group = parser.add_mutually_exclusive_group()
    before_group.add_argument("--before", type=Path, help="a checkout of older code to compare")
    before_group.add_argument("--before-ref", help="a git ref to check out and compare")
    args = parser.parse_args(argv)
    before: Path | None = args.before or (
        Path(os.environ["REDIGEST_BENCH_BEFORE"])
        if os.environ.get("REDIGEST_BENCH_BEFORE")
        else None
    )
    print(f"{platform.python_implementation()} {platform.python_version()} on {platform.machine()}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp) / "cwd"
        cwd.mkdir()
        made: Path | None = None
        try:
            if args.before_ref:
                before = made = _worktree(args.before_ref, Path(tmp))
            trees = {"after": REPO} if before is None else {"before": before, "after": REPO}
            for tree, repo in trees.items():
                print(f"{tree}: {repo} — {import_facts(repo, cwd)}")
            results = measure(trees, args.thread.resolve(), args.runs, cwd)
        finally:
            if made is not None:
                _remove_worktree(made)
    print(
        f"median of {args.runs} runs (after a warm-up), whole process: wall time, CPU time "
        "(user + system; what the load average does not inflate), peak RSS"
    )
    width = max(len(f"{tree}: {cmd}") for tree, cmd in results)
    for (tree, cmd), series in results.items():
        print(series.row(f"{tree}: {cmd}", width))
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    digest = statistics.median(results["after", f"redigest digest {args.thread.name}"].seconds)
    verdict = "met" if digest < TARGET_SECONDS else "NOT met"
    print(
        f"target: offline digest under {TARGET_SECONDS} s whole-process: {verdict} ({digest:.2f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
