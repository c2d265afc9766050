"""What was posted where (`posted_messages`, `posted_threads`): which thread a bot message is
about (for flags), and which threads a channel got lately (so a watch does not repeat them)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta

import aiosqlite

from bot.chat import MessageRef
from bot.storage.connection import Database
from bot.storage.values import iso, refs_from_text


async def record_posted(
    db: aiosqlite.Connection,
    job_key: str,
    refs: Sequence[MessageRef],
    *,
    post_id: str | None,
    focus_comment_id: str | None,
    thread_posts: Sequence[str],
    posted_at: str,
) -> None:
    """Inside the transaction that finishes a job: its messages and the threads it covered."""
    for ref in refs:
        if post_id is None:
            continue
        await db.execute(
            "INSERT OR IGNORE INTO posted_messages (platform, channel_id, message_id,"
            " thread_id, post_id, focus_comment_id, job_key, posted_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                ref.platform,
                ref.channel_id,
                ref.message_id,
                ref.thread_id,
                post_id,
                focus_comment_id,
                job_key,
                posted_at,
            ),
        )
    for pid in thread_posts:
        if refs:
            await db.execute(
                "INSERT INTO posted_threads (platform, channel_id, post_id, posted_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET posted_at = excluded.posted_at",
                (refs[0].platform, refs[0].channel_id, pid, posted_at),
            )


class PostedTable(Database):
    async def posted_thread_for(self, ref: MessageRef) -> tuple[str, str | None] | None:
        """(post id, focus comment id) of the thread a bot message was about."""
        async with self.db.execute(
            "SELECT post_id, focus_comment_id FROM posted_messages "
            "WHERE platform = ? AND channel_id = ? AND message_id = ?",
            (ref.platform, ref.channel_id, ref.message_id),
        ) as cur:
            row = await cur.fetchone()
        return (row["post_id"], row["focus_comment_id"]) if row else None

    async def job_report_for(self, ref: MessageRef, kind: str) -> str | None:
        """The report a `kind` job saved (a scheduled run's bundle) when that job posted this
        message, or None: which threads a bundle the bot posted was about, in its order."""
        needle = json.dumps({"message_id": ref.message_id})[1:-1]  # as refs are written
        pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        async with self.db.execute(
            "SELECT report, result FROM jobs WHERE kind = ? AND report IS NOT NULL "
            "AND result LIKE ? ESCAPE '\\' ORDER BY id DESC",
            (kind, pattern),
        ) as cur:
            rows = await cur.fetchall()
        for row in rows:
            for r in refs_from_text(row["result"]) or ():
                if (r.platform, r.channel_id, r.message_id) == (
                    ref.platform, ref.channel_id, ref.message_id,
                ):  # fmt: skip
                    return str(row["report"])
        return None

    async def recently_posted(self, platform: str, channel_id: str, days: int) -> set[str]:
        since = iso(self.now() - timedelta(days=days))
        async with self.db.execute(
            "SELECT post_id FROM posted_threads WHERE platform = ? AND channel_id = ? "
            "AND posted_at >= ?",
            (platform, channel_id, since),
        ) as cur:
            return {row["post_id"] for row in await cur.fetchall()}
