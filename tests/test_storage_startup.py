"""Start-up against a database that cannot be used: each case is one StorageError line naming the
file and what to do, which `redigest` prints as its only output before exiting with status 2
(shown once on a real process: the second bot on one database)."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.storage import Storage, StorageError

REPO = Path(__file__).resolve().parents[1]


def _console(db: Path, *, timeout: float = 60) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIGEST_", "DISCORD_"))}
    env |= {"REDIGEST_DATABASE_PATH": str(db), "REDIGEST_SAVED_THREADS": str(REPO / "examples")}
    env.pop("SLACK_BOT_TOKEN", None)
    done = subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()", "console"],
        input="",
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=timeout,
        check=False,
    )
    return done.returncode, done.stderr


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def _refusal(db: Path, busy_timeout_ms: int = 5000) -> str:
    async def start() -> None:
        async with Storage(db, busy_timeout_ms=busy_timeout_ms):
            pass

    with pytest.raises(StorageError) as refused:
        asyncio.run(start())
    line = str(refused.value)
    assert "\n" not in line
    return line


async def _make_database(path: Path, rows: int = 0) -> None:
    async with Storage(path) as db:
        for i in range(rows):
            await db.set_setting("p", f"server-{i}", "flag-emoji", "🔍" * 50)


def test_a_damaged_table_page_stops_start_up_in_one_line(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    asyncio.run(_make_database(db, rows=400))
    con = sqlite3.connect(db)
    page_size = con.execute("PRAGMA page_size").fetchone()[0]
    pages = con.execute("PRAGMA page_count").fetchone()[0]
    con.close()
    assert pages > 6
    # Scribble over a page of the table's rows: three quarters into the file, past the schema's
    # (empty) root pages, which grow with each migration that adds a table.
    with db.open("r+b") as f:
        f.seek(page_size * (pages * 3 // 4) + 16)
        f.write(os.urandom(page_size - 32))
    line = _refusal(db)
    assert "damaged" in line
    assert str(db) in line


def test_a_database_locked_by_another_program_stops_start_up_in_one_line(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    asyncio.run(_make_database(db))
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # e.g. an open sqlite3 shell in the middle of a change
    try:
        line = _refusal(db, busy_timeout_ms=100)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "locked by another program" in line


def test_a_second_bot_on_the_same_database_stops_in_one_line(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite3"
    code = (
        "import asyncio, sys\n"
        "from bot.storage import Storage\n"
        "async def main():\n"
        f"    async with Storage({str(db)!r}):\n"
        "        print('owner', flush=True)\n"
        "        sys.stdin.readline()\n"
        "asyncio.run(main())\n"
    )
    owner = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert owner.stdout is not None
        assert owner.stdout.readline().strip() == "owner"
        status, stderr = _console(db)
    finally:
        owner.communicate("\n", timeout=30)
    line = _one_line(stderr)
    assert status == 2
    assert f"process {owner.pid} " in line
    assert "REDIGEST_DATABASE_PATH" in line
    # Once the owner has gone, the next start works.
    status, stderr = _console(db)
    assert status == 0, stderr


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """A database file nobody may write, root included: immutable (as on a read-only mount)
    when we are root, else without write permission."""
    db = tmp_path / "bot.sqlite3"
    asyncio.run(_make_database(db))
    if os.geteuid() != 0:
        db.chmod(0o444)
        yield db
        return
    if shutil.which("chattr") is None:
        pytest.skip("running as root without chattr: no way to make a file read-only for root")
    made = subprocess.run(["chattr", "+i", str(db)], capture_output=True, text=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"chattr +i is not allowed here: {made.stderr.strip()}")
    try:
        yield db
    finally:
        subprocess.run(["chattr", "-i", str(db)], check=False)


def test_a_read_only_database_stops_start_up_in_one_line(read_only: Path) -> None:
    line = _refusal(read_only)
    assert "cannot be written" in line
    assert str(read_only) in line
