"""The mark a keyed post carries (a short hash of its idempotency key, and its page): in the last
embed's footer or the content's last line, and as an enforced nonce, so `find_posted` can find
every part of it after a crash."""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from adapters.discord_chat.sdk import discord


def marker(key: str) -> str:
    """The short, stable mark of an idempotency key (in footers and nonces)."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def nonce(key: str, part: int) -> str:
    return f"rd{marker(key)}{part:03d}"  # ≤ 25 characters, as Discord wants


_MARK = re.compile(r"(?:page (\d+)/(\d+) · )?ref ([0-9a-f]{12})$")


def _stamp(text: str, part: int, parts: int, key: str | None) -> str:
    bits = [text] if text else []
    if parts > 1:
        bits.append(f"page {part}/{parts}")
    if key is not None:
        bits.append(f"ref {marker(key)}")
    return " · ".join(bits)


def read_marker(message: discord.Message) -> tuple[str, int, int] | None:
    """(marker, part, parts) of a message this adapter posted with a key, else None."""
    texts = [e.footer.text or "" for e in message.embeds]
    texts += [line.removeprefix("-# ") for line in message.content.splitlines()[-1:]]
    for text in texts:
        match = _MARK.search(text)
        if match:
            part, parts = int(match.group(1) or 1), int(match.group(2) or 1)
            return match.group(3), part, parts
    return None
