"""Subreddit names as people type them."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.ports import InvalidSubreddit

_SUBREDDIT = r"[A-Za-z0-9][A-Za-z0-9_]{1,20}"


def validate_subreddits(names: Sequence[str] | str) -> list[str]:
    """`r/Foo`, `/r/foo`, `foo+bar` → ["Foo", "bar"]; InvalidSubreddit with an example otherwise."""
    items = [names] if isinstance(names, str) else list(names)
    out: list[str] = []
    for item in items:
        for part in item.replace(",", "+").split("+"):
            name = part.strip().strip("/")
            name = re.sub(r"^r/", "", name, flags=re.IGNORECASE)
            if not re.fullmatch(_SUBREDDIT, name):
                shown = part.strip() or "(empty)"
                raise InvalidSubreddit(
                    f"“{shown}” is not a subreddit name: use letters, digits and underscores, "
                    "like r/LocalLLaMA or selfhosted."
                )
            if name.lower() not in (o.lower() for o in out):
                out.append(name)
    if not out:
        raise InvalidSubreddit("Name at least one subreddit, like r/LocalLLaMA.")
    return out
