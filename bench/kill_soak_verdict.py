"""bench/kill_soak.py's verdict: every job checked against LOG and the database (posts per job,
lost, failed and told), and the table's rows and notes."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import Row
from bench.kill_soak_parent import Soak, _field
from bench.kill_soak_setup import digest_key, flag_key, flagged, read_log


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
