"""One process owns a database file.

Two bots on one SQLite file would each run the other's jobs and post twice, so the first one to
open the file takes an OS lock on `<database>.lock` beside it and keeps it while it runs. The
kernel drops the lock when the process ends, however it ends (a kill -9 included), so the next
start after a crash is never kept waiting by a dead owner; a second live process is refused with
one sentence naming the owner, read from the lock file.
"""

from __future__ import annotations

import fcntl  # POSIX: redigest runs on Linux and macOS
import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path


class DatabaseInUse(Exception):
    """Another live process owns the database; the message names it and says what to do."""


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


class DatabaseOwner:
    """Hold with `acquire()` / `release()` (blocking calls: run them off the event loop)."""

    def __init__(self, database: Path, owner_id: str) -> None:
        self.database = database
        self.path = lock_path(database)
        self.owner_id = owner_id
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise DatabaseInUse; OSError when the lock file cannot be made."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DatabaseInUse(
                f"The database {self.database} is in use by another redigest "
                f"({self._describe_owner()}): stop that one first, or give this one its own "
                "file with REDIGEST_DATABASE_PATH."
            ) from None
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        me = {
            "owner": self.owner_id,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)

    def _describe_owner(self) -> str:
        try:
            owner = json.loads(self.path.read_text(encoding="utf-8") or "{}")
            return f"process {owner['pid']} on {owner['host']}, running since {owner['since']}"
        except (OSError, ValueError, KeyError, TypeError):
            return "a process that is starting"

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        # The file stays: removing it could let a third process lock a new file while a
        # second one still holds the old one.
        os.ftruncate(fd, 0)
        os.close(fd)  # closing drops the lock
