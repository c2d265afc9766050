"""How values are written in columns: times as ISO-8601 UTC text, message refs as JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from bot.chat import MessageRef


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat()


def iso_or_none(t: datetime | None) -> str | None:
    return iso(t) if t else None


def time_or_none(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def refs_from_text(text: str | None) -> list[MessageRef] | None:
    if text is None:
        return None
    return [MessageRef(**r) for r in json.loads(text)]


def refs_text(refs: Sequence[MessageRef]) -> str:
    return json.dumps(
        [
            {
                "platform": r.platform,
                "channel_id": r.channel_id,
                "message_id": r.message_id,
                "thread_id": r.thread_id,
            }
            for r in refs
        ]
    )
