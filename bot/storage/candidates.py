"""Watch candidates (`candidates`): new threads a watch keeps checking until they take off
(queued), or age out (expired)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.storage.backend import Row
from bot.storage.connection import Database
from bot.storage.values import iso, time_or_none


@dataclass(frozen=True, slots=True)
class CandidateRow:
    subscription_id: int
    post_id: str
    created_at: datetime
    last_score: int
    last_comments: int
    checks: int
    next_check_at: datetime
    state: str


def candidate_row(r: Row) -> CandidateRow:
    return CandidateRow(
        subscription_id=r["subscription_id"],
        post_id=r["post_id"],
        created_at=datetime.fromisoformat(r["created_at"]),
        last_score=r["last_score"],
        last_comments=r["last_comments"],
        checks=r["checks"],
        next_check_at=datetime.fromisoformat(r["next_check_at"]),
        state=r["state"],
    )


class CandidatesTable(Database):
    async def add_candidate(
        self, subscription_id: int, post_id: str, created_at: datetime, next_check_at: datetime
    ) -> bool:
        async with self.transaction() as db:
            cur = await db.execute(
                "INSERT INTO candidates (subscription_id, post_id, created_at, next_check_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (subscription_id, post_id, iso(created_at), iso(next_check_at)),
            )
            return cur.rowcount == 1

    async def due_candidates(self, now: datetime, limit: int = 100) -> list[CandidateRow]:
        async with self.db.execute(
            "SELECT * FROM candidates WHERE state = 'waiting' AND next_check_at <= ? "
            "ORDER BY next_check_at LIMIT ?",
            (iso(now), limit),
        ) as cur:
            rows = await cur.fetchall()
        return [candidate_row(r) for r in rows]

    async def update_candidate(
        self, subscription_id: int, post_id: str, *, score: int, comments: int,
        next_check_at: datetime | None, state: str,
    ) -> None:  # fmt: skip
        async with self.transaction() as db:
            await db.execute(
                "UPDATE candidates SET last_score = ?, last_comments = ?, checks = checks + 1, "
                "next_check_at = COALESCE(?, next_check_at), state = ? "
                "WHERE subscription_id = ? AND post_id = ?",
                (
                    score,
                    comments,
                    iso(next_check_at) if next_check_at else None,
                    state,
                    subscription_id,
                    post_id,
                ),
            )

    async def earliest_candidate_check(self) -> datetime | None:
        async with self.db.execute(
            "SELECT MIN(next_check_at) FROM candidates WHERE state = 'waiting'"
        ) as cur:
            row = await cur.fetchone()
        return time_or_none(row[0]) if row else None
