"""bench/cluster.py's child: `redigest run --role ROLE`, the real CLI (`bot.cli.main`, so the
same composition as `redigest run`), with a timer around the storage's claim.

The code keeps no timer of its own on claims, so `JobClaims.claim_job` (the one call a worker
makes to take a job: its SELECT … FOR UPDATE SKIP LOCKED, the UPDATE and the commit, plus the
read of the claimed row) is wrapped here: each claim's start (wall clock), its duration and
whether it got a job are kept in memory and written to the file named by $BENCH_CLAIMS when the
process ends (bench/cluster.py stops it with SIGTERM, which the CLI takes as a graceful stop).

Run by bench/cluster.py as `python -m bench.cluster_child ROLE`.
"""

from __future__ import annotations

import atexit
import os
import sys
import time
from pathlib import Path
from typing import Any

from bot.storage.claims import JobClaims


def _time_claims(path: Path) -> None:
    timed: list[str] = []
    original = JobClaims.claim_job

    async def claim_job(self: JobClaims, **kwargs: Any) -> Any:
        started, clock = time.time(), time.perf_counter()
        row = await original(self, **kwargs)
        timed.append(
            f"{started:.6f} {(time.perf_counter() - clock) * 1000:.3f} {int(row is not None)}"
        )
        return row

    JobClaims.claim_job = claim_job  # type: ignore[method-assign]
    atexit.register(lambda: path.write_text("".join(f"{line}\n" for line in timed)))


def main() -> None:
    _time_claims(Path(os.environ["BENCH_CLAIMS"]))
    from bot.cli import main as cli

    sys.argv = ["redigest", "run", "--role", sys.argv[1]]
    cli()


if __name__ == "__main__":
    main()
