"""A kill -9 soak: the real core works a queue of digests and flags while it is killed with SIGKILL
at random moments, 50 times, and restarted each time; then it drains. Every job must end with
exactly one post (or, failed, with its asker told), and none may be lost.

The bot runs in a child process (`python -m bench.kill_soak --child DB LOG --mode MODE`): a real
`Core` on a SQLite file, the offline engine, a source over synthetic threads (a little network
latency added), and a chat platform that is a file: `post` appends one JSON line per message to
LOG (flush + fsync) before returning, and `find_posted` reads LOG. LOG is what the chat platform
shows after our crash. After a line is on disk the fake waits a few ms before answering: a kill
then lands between the platform accepting the post and the core recording it.

The parent (this module's `main`):
  1. an `enqueue` child queues digest requests through `Core.handle_request` (~300 users,
     ~100 channels);
  2. `work` children run `Core.start()` and the queue; they also deliver 🔍 reactions
     (`Core.handle_reaction`) on half the digests the bot posted, as the platform would while
     the bot is connected. Each is SIGKILLed after a random 50–800 ms (10 % of kills land
     during start-up); a new batch of digests is queued whenever the queue ran dry;
  3. a `final` child starts, delivers the remaining reactions and drains (`Core.drain()`).
Then it reads LOG and the database: posts per job (0 / 1 / >1), jobs lost (neither done nor
failed with the asker told), jobs failed, kills, start-ups, and how long start-up took and how
many tries it needed: a start-up refused because the database is still owned (the killed
process's lock) is retried every 0.1 s for up to 30 s.

Run: `python -m bench killsoak` (or `python -m bench.kill_soak [--kills N] [--seed S]`) from the
repository root; about 1–2 minutes. Exit status 1 when a job has more than one post, a done job
has none, or a job is lost.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import logging
import os
import platform
import queue
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

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

Row = tuple[str, int, str, str]
REPO = Path(__file__).resolve().parents[1]


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


# ============================================================================ the child


def _child_main(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    return asyncio.run(_child(args))


async def _child(args: argparse.Namespace) -> int:
    # Imported here: the parent does not need the bot, the child does (and pays for it once).
    from contextlib import AsyncExitStack

    from adapters.reddit_source.thread_json import thread_from_json
    from bot.app import open_core
    from bot.chat import (
        Delivery,
        EphemeralTarget,
        MessageRef,
        Reaction,
        Request,
        Target,
        ThreadTarget,
    )
    from bot.core import CoreConfig, Engines
    from bot.ports import ThreadRef
    from digest.model import Thread
    from digest.pipeline import DigestEngine
    from digest.report import Depth
    from tests.support.fake_source import FakeSource
    from tests.support.synthetic import thread_json

    db, log_path = Path(args.db), Path(args.log)
    rng = random.Random(f"{args.seed}:{os.getpid()}")

    class SlowSource(FakeSource):
        """Threads in memory, fetched with a network's latency."""

        async def fetch_thread(self, ref: ThreadRef, depth: Depth) -> Thread:
            await asyncio.sleep(rng.uniform(*FETCH_MS) / 1000)
            return await super().fetch_thread(ref, depth)

    class FileChat:
        """The chat platform as an append-only file that outlives the bot."""

        platform = PLATFORM

        def __init__(self, path: Path) -> None:
            self.path = path
            self._file = path.open("a", encoding="utf-8")
            self._n = 0
            self.found = 0

        async def post(
            self, target: Target, delivery: Delivery, *, idempotency_key: str | None = None
        ) -> list[MessageRef]:
            await asyncio.sleep(rng.uniform(*POST_LATENCY_MS) / 1000)
            self._n += 1
            mid = f"m{os.getpid()}x{self._n}"
            line: dict[str, Any] = {"key": idempotency_key, "message_id": mid, "pid": os.getpid()}
            if isinstance(target, ThreadTarget):
                ref = MessageRef(PLATFORM, target.parent.channel_id, mid, target.parent.message_id)
                line |= {"kind": "thread", "channel": ref.channel_id, "thread": ref.thread_id}
            elif isinstance(target, EphemeralTarget):
                ref = MessageRef(PLATFORM, target.channel_id, mid)
                line |= {"kind": "ephemeral", "channel": target.channel_id,
                         "user": target.user_id, "reply_token": target.reply_token,
                         "text": (delivery.text or "")[:200]}  # fmt: skip
            else:
                ref = MessageRef(PLATFORM, target.channel_id, mid)
                line |= {"kind": "public", "channel": target.channel_id,
                         "reply_token": target.reply_token}  # fmt: skip
            if delivery.report is not None:
                line["post_id"] = delivery.report.thread.id
            self._file.write(json.dumps(line) + "\n")
            self._file.flush()
            os.fsync(self._file.fileno())  # the platform has it, whatever happens to us now
            await asyncio.sleep(rng.uniform(*POST_WINDOW_MS) / 1000)
            return [ref]

        async def find_posted(
            self, target: Target, idempotency_key: str
        ) -> list[MessageRef] | None:
            refs = [
                MessageRef(PLATFORM, line["channel"], line["message_id"], line.get("thread"))
                for line in read_log(self.path)
                if line.get("key") == idempotency_key
            ]
            if refs:
                self.found += 1
                print(f"FOUND {idempotency_key}", flush=True)
            return refs or None

        async def read_message(self, ref: MessageRef) -> None:
            return None  # people's messages are not simulated: flags land on the bot's digests

    source = SlowSource()
    for i, pid in enumerate(_thread_ids()):
        source.add(thread_from_json(thread_json(60 + 20 * (i % 12), seed=i, post_id=pid)))
    chat = FileChat(log_path)
    config = CoreConfig(
        workers=WORKERS,
        user_limit=(1_000_000, 1.0),  # the limits are not what is soaked
        channel_limit=(1_000_000, 1.0),
    )

    # Start-up: the previous owner was killed, so its lease may still be in the database.
    started = time.perf_counter()
    tries = 0
    stack = AsyncExitStack()
    while True:
        tries += 1
        stack = AsyncExitStack()
        try:
            core = await open_core(
                stack,
                db,
                source=source,
                engines=Engines({"offline": DigestEngine()}, default="offline"),
                chats={PLATFORM: chat},
                config=config,
            )
            if args.mode != "enqueue":
                await core.start()
            break
        except Exception as exc:
            await stack.aclose()
            waited = time.perf_counter() - started
            if not _is_refusal(exc) or waited > LEASE_WAIT_MAX_S:
                print(f"REFUSED waited={waited:.3f} tries={tries} {exc!r}", flush=True)
                return 3
            await asyncio.sleep(0.1)
    waited = time.perf_counter() - started
    print(f"READY waited={waited:.3f} tries={tries}", flush=True)

    async with stack:
        if args.mode == "enqueue":
            return await _enqueue_requests(core, args.first, args.count, Request)
        issued: set[str] = set()

        async def feed() -> int:
            """Deliver the reactions of the soak's users on digests LOG shows as posted."""
            if not issued:
                async with core.storage.db.execute(
                    "SELECT key FROM jobs WHERE key LIKE 'flag:%'"
                ) as cur:
                    issued.update(row[0] for row in await cur.fetchall())
            new = 0
            for line in read_log(log_path):
                key = line.get("key")
                if line.get("kind") != "public" or not key or not key.startswith("digest:"):
                    continue
                if not flagged(key):
                    continue
                channel, mid = line["channel"], line["message_id"]
                fkey = flag_key(channel, mid)
                if fkey in issued:
                    continue
                await core.handle_reaction(
                    Reaction(
                        message=MessageRef(PLATFORM, channel, mid),
                        emoji="🔍",
                        user_id=f"F{mid}",
                        server_id=_server(channel),
                        message_text=f"https://redd.it/{line.get('post_id', '')}",
                    )
                )
                if await core.storage.job(fkey) is not None:
                    issued.add(fkey)
                    new += 1
            return new

        if args.mode == "work":
            print("WORKING", flush=True)
            while True:  # until killed
                await feed()
                await asyncio.sleep(FEED_INTERVAL_S)
        # final: deliver every remaining reaction, drain, until nothing new comes.
        drain_started = time.perf_counter()
        drained = False
        for _ in range(20):
            new = await feed()
            drained = await core.drain(FINAL_TIMEOUT_S / 2)
            new += await feed()
            if drained and not new:
                break
        await core.stop()
        print(
            f"FINAL drained={int(drained)} seconds={time.perf_counter() - drain_started:.3f} "
            f"found={chat.found}",
            flush=True,
        )
        return 0 if drained else 4


def _is_refusal(exc: BaseException) -> bool:
    """Start-up refused because another process owns the database (its lease is live)."""
    from bot.storage import StorageError

    text = f"{type(exc).__name__} {exc}".lower()
    return isinstance(exc, StorageError) or any(
        word in text for word in ("lease", "owner", "another process", "already running", "locked")
    )


async def _enqueue_requests(core: Any, first: int, count: int, request_type: Any) -> int:
    ids = _thread_ids()
    for i in range(first, first + count):
        channel = _channel(i)
        await core.handle_request(
            request_type(
                platform=PLATFORM,
                server_id=_server(channel),
                channel_id=channel,
                user_id=f"U{i % USERS}",
                command="digest",
                text=f"https://redd.it/{ids[i % len(ids)]}",
                reply_token=f"r{i}",
            )
        )
    missing = [
        i for i in range(first, first + count) if await core.storage.job(digest_key(i)) is None
    ]
    print(f"ENQUEUED {count - len(missing)} missing={len(missing)}", flush=True)
    return 0 if not missing else 5


# ============================================================================ the parent


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


# ---------------------------------------------------------------------------- the verdict


@dataclass
class JobCheck:
    key: str
    kind: str
    status: str  # "missing" when the job is not in the database
    attempts: int
    posts: int
    told: bool
    error: str | None


def check_jobs(db: Path, log: Path, enqueued: int) -> tuple[list[JobCheck], list[dict[str, Any]]]:
    lines = read_log(log)
    posts = Counter(
        line["key"] for line in lines if line.get("key") and line.get("kind") != "ephemeral"
    )
    ephemeral = [line for line in lines if line.get("kind") == "ephemeral"]
    expected = {digest_key(i) for i in range(enqueued)}
    expected |= {
        flag_key(line["channel"], line["message_id"])
        for line in lines
        if line.get("kind") == "public"
        and str(line.get("key", "")).startswith("digest:")
        and flagged(line["key"])
    }
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
        conn.row_factory = sqlite3.Row
        rows = {r["key"]: r for r in conn.execute("SELECT * FROM jobs")}
    checks: list[JobCheck] = []
    for key in sorted(expected | set(rows)):
        row = rows.get(key)
        if row is None:
            checks.append(
                JobCheck(key, key.split(":", 1)[0], "missing", 0, posts[key], False, None)
            )
            continue
        payload = json.loads(row["payload"])
        told = any(
            e.get("channel") == payload.get("channel_id")
            and e.get("user") == payload.get("user_id")
            and (row["kind"] != "digest" or e.get("reply_token") == payload.get("reply_token"))
            for e in ephemeral
        )
        checks.append(
            JobCheck(
                key, row["kind"], row["status"], row["attempts"], posts[key], told, row["error"]
            )
        )
    return checks, lines


def _lost(c: JobCheck) -> bool:
    return not (c.status == "done" or (c.status == "failed" and c.told))


def _bad_posts(c: JobCheck) -> bool:
    """More than one post; or none for a done job; or one for a job that failed."""
    return (
        c.posts > 1
        or (c.status == "done" and c.posts != 1)
        or (c.status == "failed" and c.posts > 0)
    )


def _dist(values: Sequence[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{ordered[len(ordered) // 2]:.0f} / {ordered[-1]:.0f}"


def report(
    soak: Soak, checks: list[JobCheck], lines: list[dict[str, Any]]
) -> tuple[list[Row], list[str]]:
    by_kind = Counter(c.kind for c in checks)
    hist = Counter(min(c.posts, 2) for c in checks)
    lost = [c for c in checks if _lost(c)]
    bad = [c for c in checks if _bad_posts(c)]
    failed = [c for c in checks if c.status == "failed"]
    attempts = [c.attempts for c in checks if c.status != "missing"]
    public = sum(1 for line in lines if line.get("kind") in ("public", "thread"))
    rows: list[Row] = [
        ("kills (SIGKILL)", soak.kills, str(soak.kills), f"kills ({soak.kills_in_startup} during start-up)"),
        ("child start-ups (enqueue + work + final)", soak.starts, str(soak.starts), "processes"),
        ("start-up: open (owner lock) + recover + start()", len(soak.lease_waits),
         _dist([w * 1000 for w in soak.lease_waits]), "ms p50 / max"),
        ("start-up tries until the database was ours", len(soak.lease_tries),
         str(max(soak.lease_tries, default=0)), "tries max"),
        ("jobs: digests", by_kind["digest"], str(by_kind["digest"]), f"jobs ({soak.refills} refills of the queue)"),
        ("jobs: flags", by_kind["flag"], str(by_kind["flag"]), "jobs"),
        ("posts per job = 0", len(checks), str(hist[0]), "jobs"),
        ("posts per job = 1", len(checks), str(hist[1]), "jobs"),
        ("posts per job > 1 (duplicates)", len(checks), str(hist[2]), "jobs (must be 0)"),
        ("jobs with a wrong number of posts", len(checks), str(len(bad)), "jobs (must be 0)"),
        ("jobs lost", len(checks), str(len(lost)), "jobs (must be 0)"),
        ("jobs failed, asker told", len(checks), str(sum(c.told for c in failed)), "jobs"),
        ("job attempts (claims), mean / max", len(attempts),
         f"{sum(attempts) / max(len(attempts), 1):.2f} / {max(attempts, default=0)}", "attempts"),
        ("posts found by find_posted after a kill", len(soak.found), str(len(set(soak.found))), "jobs not posted twice"),
        ("messages on the platform (public + thread)", public, str(public), "messages"),
        ("final drain", 1, f"{float(_field(soak.final or '', 'seconds') or 'nan'):.1f}", "s"),
        ("wall time", 1, f"{soak.wall_s:.0f}", "s"),
    ]  # fmt: skip
    notes: list[str] = []
    for c in bad[:20]:
        notes.append(f"wrong post count: {c.key} ({c.kind}) status={c.status} posts={c.posts} "
                     f"attempts={c.attempts} error={c.error!r}")  # fmt: skip
    for c in lost[:20]:
        notes.append(f"lost: {c.key} ({c.kind}) status={c.status} posts={c.posts} "
                     f"attempts={c.attempts} told={c.told} error={c.error!r}")  # fmt: skip
    for c in failed[:10]:
        notes.append(f"failed: {c.key} attempts={c.attempts} told={c.told} error={c.error!r}")
    notes += [f"start-up refused: {r}" for r in soak.refused]
    notes += [f"unexpected child exit: {r}" for r in soak.crashed]
    if soak.final is None or _field(soak.final, "drained") != "1":
        notes.append(f"the final child did not drain: {soak.final!r}")
    return rows, notes


def _print_table(rows: Sequence[Row]) -> None:
    widths = [max(len(r[0]) for r in rows), max(len(str(r[1])) for r in rows) + 1,
              max(len("figure"), *(len(r[2]) for r in rows))]  # fmt: skip
    print(f"{'what':<{widths[0]}}  {'n':>{widths[1]}}  {'figure':>{widths[2]}}  unit")
    print("-" * (sum(widths) + 16))
    for what, n, figure, unit in rows:
        print(f"{what:<{widths[0]}}  {n:>{widths[1]}}  {figure:>{widths[2]}}  {unit}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.kill_soak", description=__doc__.split("\n")[0] if __doc__ else None
    )
    parser.add_argument("--child", nargs=2, metavar=("DB", "LOG"), help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=("enqueue", "work", "final"), help=argparse.SUPPRESS)
    parser.add_argument("--first", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--kills", type=int, default=KILLS)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--keep", action="store_true", help="keep the database and LOG")
    args = parser.parse_args(argv)
    if args.child:
        args.db, args.log = args.child
        return _child_main(args)

    tmp = Path(tempfile.mkdtemp(prefix="redigest-kill-soak-"))
    soak = run_soak(tmp, args.kills, args.seed)
    checks, lines = check_jobs(tmp / "bot.sqlite3", tmp / "platform.jsonl", soak.enqueued)
    rows, notes = report(soak, checks, lines)
    print(
        f"machine: nproc={os.cpu_count()}, Python {platform.python_version()}, {platform.platform()}; "
        f"sqlite {sqlite3.sqlite_version}"
    )
    print(
        f"soak: seed {args.seed}, {WORKERS} workers, {THREADS} synthetic threads, offline engine; "
        f"kills {KILL_DELAY_MS[0]}–{KILL_DELAY_MS[1]} ms after start-up "
        f"({STARTUP_KILL_SHARE:.0%} during start-up); fetch {FETCH_MS[0]}–{FETCH_MS[1]} ms; "
        f"the platform answers {POST_WINDOW_MS[0]}–{POST_WINDOW_MS[1]} ms after it has the post"
    )
    print()
    _print_table(rows)
    print()
    for note in notes:
        print(f"note: {note}")
    ok = (
        not any(_lost(c) or _bad_posts(c) for c in checks) and not soak.refused and not soak.crashed
    )
    ok = ok and soak.final is not None and _field(soak.final, "drained") == "1"
    print(f"verdict: {'PASS' if ok else 'FAIL'}")
    if args.keep or not ok:
        print(f"(database and platform log kept in {tmp})")
    else:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
