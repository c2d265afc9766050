"""Leader leases (`leaders`): which process holds a role that must run once across the processes
sharing a database (the scheduler and the watcher), until when, and for which term.

A lease is taken when the role is free or its lease has lapsed, and renewed by its holder; each
change of holder increases the term. A holder that stops renewing (it died, hung, or lost the
database) loses the role when its lease lapses, and the next process asking takes it over. On a
SQLite file this process owns alone (bot/ownership.py) the role is always its own: whoever held
it before is gone.
"""

from __future__ import annotations

from datetime import timedelta

from bot.storage.connection import Database
from bot.storage.values import iso

# One statement, both engines (SQLite ≥ 3.35 has the upsert's WHERE and RETURNING): a row back
# means this owner holds the role (for that term); none, that another one does.
ACQUIRE = (
    "INSERT INTO leaders (role, owner, term, until) VALUES (?, ?, 1, ?)"
    " ON CONFLICT (role) DO UPDATE SET owner = excluded.owner, until = excluded.until,"
    " term = leaders.term + CASE WHEN leaders.owner = excluded.owner THEN 0 ELSE 1 END"
    " WHERE leaders.owner = excluded.owner OR leaders.until <= ? OR ? = 1"
    " RETURNING term"
)


class LeadersTable(Database):
    async def acquire_leadership(
        self, role: str, lease: timedelta, owner: str | None = None
    ) -> int | None:
        """Take `role` if it is free or its lease has lapsed, or renew it if it is this process's
        (`owner`, by default this Storage's owner id): its lease then runs until now + `lease`.
        The term this process leads for, or None while another process holds the role."""
        now = self.now()
        sole = int(self._owner is not None)  # this process owns the SQLite file: no one else
        async with self.transaction() as db:
            rows = list(
                await db.execute_fetchall(
                    ACQUIRE, (role, owner or self.owner_id, iso(now + lease), iso(now), sole)
                )
            )
        return int(rows[0][0]) if rows else None

    async def resign_leadership(self, role: str, owner: str | None = None) -> bool:
        """A clean stop: the lease of `role`, if it is this process's, lapses now (the next
        process asking takes it over at once). True when it was this process's."""
        now = iso(self.now())
        async with self.transaction() as db:
            cur = await db.execute(
                "UPDATE leaders SET until = ? WHERE role = ? AND owner = ? AND until > ?",
                (now, role, owner or self.owner_id, now),
            )
            return cur.rowcount == 1

    async def leader(self, role: str) -> tuple[str, int, str] | None:
        """Who holds `role` (or held it last), for which term, until when (ISO text)."""
        async with self.db.execute(
            "SELECT owner, term, until FROM leaders WHERE role = ?", (role,)
        ) as cur:
            row = await cur.fetchone()
        return (str(row[0]), int(row[1]), str(row[2])) if row else None
