"""What was posted where (`posted_messages`, `posted_threads`): which thread a bot message is
about (for flags), and which threads a channel got lately (so a watch does not repeat them)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta

from bot.chat import MessageRef
from bot.storage.backend import Conn
from bot.storage.connection import Database
from bot.storage.values import iso, refs_from_text


async def record_posted(
    db: Conn,
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
            "INSERT INTO posted_messages (platform, channel_id, message_id,"
            " thread_id, post_id, focus_comment_id, job_key, posted_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
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
                "VALUES (?, ?, ?, ?) ON CONFLICT (platform, channel_id, post_id)"
                " DO UPDATE SET posted_at = excluded.posted_at",
                (refs[0].platform, refs[0].channel_id, pid, posted_at),
            )


# How far back (in jobs) a message is looked for among what jobs posted: a bundle older than
# that is not found (the core then goes by the links in its text).
LOOK_BACK_JOBS = 5000


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
        message, or None: which threads a bundle the bot posted was about, in its order.

        No index names a job's messages: the scan goes back over the newest LOOK_BACK_JOBS jobs
        only, newest first, and reads past the large report column only for this channel's
        `kind` jobs (their payload names it): under a millisecond for a recent bundle, about
        15 ms for a message that is none (5,000 jobs, a quarter of them 20 KB bundles)."""
        # The job names where it posts: the channel, or the thread the message sits in.
        where = [_like(json.dumps({"channel_id": c})[1:-1]) for c in (ref.channel_id,
                 ref.thread_id or ref.channel_id)]  # fmt: skip
        platform = _like(json.dumps({"platform": ref.platform})[1:-1])
        message = _like(json.dumps({"message_id": ref.message_id})[1:-1])  # as refs are written
        async with self.db.execute(
            "SELECT id, result FROM jobs WHERE id > (SELECT MAX(id) FROM jobs) - ? AND kind = ? "
            "AND payload LIKE ? ESCAPE '\\' AND (payload LIKE ? ESCAPE '\\' OR "
            "payload LIKE ? ESCAPE '\\') AND result LIKE ? ESCAPE '\\' ORDER BY id DESC LIMIT 1",
            (LOOK_BACK_JOBS, kind, platform, *where, message),
        ) as cur:
            rows = await cur.fetchall()
        for row in rows:
            refs = refs_from_text(row["result"]) or []
            if any(r.platform == ref.platform and r.channel_id == ref.channel_id
                   and r.message_id == ref.message_id for r in refs):  # fmt: skip
                async with self.db.execute(
                    "SELECT report FROM jobs WHERE id = ?", (row["id"],)
                ) as cur:
                    found = await cur.fetchone()
                return str(found["report"]) if found and found["report"] is not None else None
        return None

    async def recently_posted(self, platform: str, channel_id: str, days: int) -> set[str]:
        since = iso(self.now() - timedelta(days=days))
        async with self.db.execute(
            "SELECT post_id FROM posted_threads WHERE platform = ? AND channel_id = ? "
            "AND posted_at >= ?",
            (platform, channel_id, since),
        ) as cur:
            return {row["post_id"] for row in await cur.fetchall()}


def _like(text: str) -> str:
    """A LIKE pattern matching `text` anywhere (with ESCAPE '\\')."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
