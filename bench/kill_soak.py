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

The scenario is in kill_soak_setup.py, the child in kill_soak_child.py, the kills in
kill_soak_parent.py, the checks and the table's rows in kill_soak_verdict.py.
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.common import print_table
from bench.kill_soak_parent import _field, run_soak
from bench.kill_soak_setup import (
    FETCH_MS,
    KILL_DELAY_MS,
    KILLS,
    POST_WINDOW_MS,
    SEED,
    STARTUP_KILL_SHARE,
    THREADS,
    WORKERS,
)
from bench.kill_soak_verdict import _bad_posts, _lost, check_jobs, report


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
        from bench.kill_soak_child import _child_main  # the child's own imports

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
    print_table(rows)
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
