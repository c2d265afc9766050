"""What storage raises past its border."""

from __future__ import annotations

import sqlite3
from pathlib import Path


class StorageError(Exception):
    """The database cannot be used; the message says what to do (start-up stops on it)."""


class ClaimLost(Exception):
    """This run's claim on a job expired and another run took it: this one must stop and must
    not post (the other run does)."""


def database_error(path: Path, exc: sqlite3.DatabaseError) -> str:
    """One line a person can act on, for a database that cannot be opened or written."""
    message = str(exc).lower()
    if "not a database" in message or "malformed" in message:
        return (
            f"The database {path} is damaged or not a SQLite file: move it aside (redigest then "
            "starts a new one) or restore a backup."
        )
    if "locked" in message or "busy" in message:
        return (
            f"The database {path} is locked by another program (an open sqlite3 shell, a backup "
            "tool?): close it and start redigest again."
        )
    if "readonly" in message or "read-only" in message or "unable to open" in message:
        return (
            f"The database {path} cannot be written: give the user running redigest write "
            "access to the file and its folder, or set REDIGEST_DATABASE_PATH elsewhere."
        )
    return (
        f"The database {path} cannot be opened or written ({exc}): check the folder's "
        "permissions and free space, or set REDIGEST_DATABASE_PATH elsewhere."
    )
