"""bench/kill_soak.py's parent: child processes started, watched and SIGKILLed at random moments,
the queue refilled when it ran dry, and what each start-up took."""

from __future__ import annotations

import contextlib
import queue
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from bench.common import REPO
from bench.kill_soak_setup import (
    FINAL_TIMEOUT_S,
    FIRST_BATCH,
    KILL_DELAY_MS,
    LEASE_WAIT_MAX_S,
    READY_TIMEOUT_S,
    REFILL_BATCH,
    STARTUP_KILL_MS,
    STARTUP_KILL_SHARE,
)


class Child:
    """A child process whose stdout lines arrive on a queue (a reader thread per child)."""

    def __init__(self, db: Path, log: Path, errors: IO[str], mode: str, *extra: str) -> None:
        self.mode = mode
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.kill_soak", "--child", str(db), str(log),
             "--mode", mode, *extra],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )  # fmt: skip
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.all: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, prefix: str, timeout: float) -> str | None:
        """The first stdout line starting with `prefix` (None: the child ended or timed out)."""
        deadline = time.perf_counter() + timeout
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                return None
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                return None
            if line is None:
                return None
            self.all.append(line)
            if line.startswith(prefix):
                return line

    def collect(self) -> list[str]:
        """Every stdout line (call after the process ended)."""
        while True:
            try:
                line = self.lines.get(timeout=5)
            except queue.Empty:
                return self.all
            if line is None:
                return self.all
            self.all.append(line)


def _field(line: str, name: str) -> str | None:
    for part in line.split():
        if part.startswith(name + "="):
            return part.split("=", 1)[1]
    return None


@dataclass
class Soak:
    kills: int = 0
    kills_in_startup: int = 0
    starts: int = 0
    lease_waits: list[float] = field(default_factory=list)  # s, per start-up that got through
    lease_tries: list[int] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    crashed: list[str] = field(default_factory=list)  # children that died without our kill
    enqueued: int = 0
    refills: int = 0
    found: list[str] = field(default_factory=list)  # find_posted hits (job keys)
    final: str | None = None
    wall_s: float = 0.0


def _open_jobs(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
        row = conn.execute(
            "SELECT COUNT(*) FROM jobs WHERE status IN ('pending', 'running', 'posting')"
        ).fetchone()
    return int(row[0])


def _started(child: Child, soak: Soak, line: str | None) -> None:
    if line is None:
        return
    if line.startswith("READY"):
        soak.lease_waits.append(float(_field(line, "waited") or 0))
        soak.lease_tries.append(int(_field(line, "tries") or 1))


def _end(child: Child, soak: Soak, errors_path: Path, killed: bool) -> None:
    lines = child.collect()
    soak.found += [line.split(" ", 1)[1] for line in lines if line.startswith("FOUND ")]
    soak.refused += [line for line in lines if line.startswith("REFUSED")]
    rc = child.proc.returncode
    if (killed and rc != -signal.SIGKILL) or (not killed and rc != 0):
        tail = errors_path.read_text(encoding="utf-8", errors="replace")[-1500:]
        soak.crashed.append(f"{child.mode} child exited {rc}; stderr tail: {tail!r}")


def _run_child(db: Path, log: Path, errors: IO[str], errors_path: Path, soak: Soak,
               mode: str, *extra: str) -> Child:  # fmt: skip
    """Start a child and let it run to its own end."""
    child = Child(db, log, errors, mode, *extra)
    soak.starts += 1
    _started(child, soak, child.wait_for("READY", READY_TIMEOUT_S + LEASE_WAIT_MAX_S))
    child.proc.wait(timeout=FINAL_TIMEOUT_S + 60)
    _end(child, soak, errors_path, killed=False)
    return child


def _enqueue(db: Path, log: Path, errors: IO[str], errors_path: Path, soak: Soak,
             count: int, seed: int) -> None:  # fmt: skip
    _run_child(db, log, errors, errors_path, soak, "enqueue",
               "--first", str(soak.enqueued), "--count", str(count), "--seed", str(seed))  # fmt: skip
    soak.enqueued += count


def run_soak(tmp: Path, kills: int, seed: int) -> Soak:
    db, log, errors_path = tmp / "bot.sqlite3", tmp / "platform.jsonl", tmp / "stderr.txt"
    rng = random.Random(seed)
    soak = Soak()
    started = time.perf_counter()
    with errors_path.open("a", encoding="utf-8") as errors:
        _enqueue(db, log, errors, errors_path, soak, FIRST_BATCH, seed)
        while soak.kills < kills and not soak.refused and len(soak.crashed) < 3:
            if _open_jobs(db) == 0:
                _enqueue(db, log, errors, errors_path, soak, REFILL_BATCH, seed)
                soak.refills += 1
            child = Child(db, log, errors, "work", "--seed", str(seed))
            soak.starts += 1
            early = rng.random() < STARTUP_KILL_SHARE
            delay = rng.uniform(*(STARTUP_KILL_MS if early else KILL_DELAY_MS)) / 1000
            if early:
                time.sleep(delay)
                ready = None
                if child.proc.poll() is None:
                    soak.kills_in_startup += 1
            else:
                ready = child.wait_for("READY", READY_TIMEOUT_S + LEASE_WAIT_MAX_S)
                _started(child, soak, ready)
                if ready is not None:
                    time.sleep(delay)
            alive = child.proc.poll() is None
            if alive:
                child.proc.send_signal(signal.SIGKILL)
                soak.kills += 1
            child.proc.wait()
            if early and child.lines.qsize():  # it got through start-up before the kill
                _started(child, soak, child.wait_for("READY", 0.5))
            _end(child, soak, errors_path, killed=alive)
        final = _run_child(db, log, errors, errors_path, soak, "final", "--seed", str(seed))
        soak.final = next((line for line in final.all if line.startswith("FINAL")), None)
    soak.wall_s = time.perf_counter() - started
    return soak
