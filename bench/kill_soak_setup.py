"""bench/kill_soak.py's scenario: its sizes and timings, and what the parent and the children agree
on (thread ids, channels and servers, job keys, which digests get flagged, LOG's lines)."""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Any

PLATFORM = "fake"
KILLS = 50
SEED = 20_260_327
KILL_DELAY_MS = (50, 800)  # after the child said it is working
STARTUP_KILL_SHARE = 0.10  # this share of kills land during start-up instead (0–400 ms in)
STARTUP_KILL_MS = (0, 400)
FIRST_BATCH = 240  # digest requests queued before the first start
REFILL_BATCH = 120  # queued again whenever the queue ran dry before the last kill
CHANNELS = 100
USERS = 300
SERVERS = 7
THREADS = 12  # synthetic threads of 60–280 comments
WORKERS = 4
FETCH_MS = (30, 150)  # the source's "network" latency per thread fetch
POST_LATENCY_MS = (5, 25)  # before the platform has the message
POST_WINDOW_MS = (0, 60)  # after the platform has it, before the core hears back
LEASE_WAIT_MAX_S = 30.0  # a child gives up when start-up is refused for this long
READY_TIMEOUT_S = 60.0
FINAL_TIMEOUT_S = 240.0
FEED_INTERVAL_S = 0.2

# ============================================================================ shared helpers


def _thread_ids() -> list[str]:
    return [f"ks{i:04d}" for i in range(THREADS)]


def _channel(i: int) -> str:
    return f"C{i % CHANNELS}"


def _server(channel: str) -> str:
    return f"S{int(channel[1:]) % SERVERS}"


def digest_key(i: int) -> str:
    """The job key `Core` gives the i-th digest request (see bot/core/requests.py)."""
    return f"digest:{PLATFORM}:{_channel(i)}:r{i}"


def flagged(job_key: str) -> bool:
    """Whether the soak's users flag the message a digest job posted (about half of them)."""
    return hashlib.sha256(job_key.encode()).digest()[0] % 2 == 0


def flag_key(channel: str, message_id: str) -> str:
    return f"flag:{PLATFORM}:{channel}:{message_id}:deep"


def read_log(path: Path) -> list[dict[str, Any]]:
    """LOG's lines (a torn last line, if a kill ever made one, is skipped)."""
    out: list[dict[str, Any]] = []
    with contextlib.suppress(FileNotFoundError), path.open(encoding="utf-8") as f:
        for line in f:
            with contextlib.suppress(json.JSONDecodeError):
                out.append(json.loads(line))
    return out
