"""Counts taken straight from Reddit's JSON, written apart from the converter and stats code, so
the tests compare two independent readings of the same file."""

from __future__ import annotations

from typing import Any

REMOVED = {"[removed]", "[ Removed by Reddit ]", "[ Removed by reddit ]"}


def _things(node: Any, level: int = 0) -> Any:
    """Yield (kind, data, nesting level) for every t1 and more object, anywhere in the tree."""
    if isinstance(node, list):
        for item in node:
            yield from _things(item, level)
    elif isinstance(node, dict):
        kind = node.get("kind")
        data = node.get("data")
        if kind in ("t1", "more") and isinstance(data, dict):
            yield kind, data, level + 1
            yield from _things(data.get("replies"), level + 1)
        elif kind == "Listing" and isinstance(data, dict):
            yield from _things(data.get("children"), level)


def count(raw: list[Any]) -> dict[str, Any]:
    post = raw[0]["data"]["children"][0]["data"]
    comments: dict[str, tuple[dict[str, Any], int]] = {}
    stubs = 0
    for kind, data, level in _things(raw[1] if len(raw) > 1 else []):
        if kind == "more":
            stubs += 1
        elif data["id"] not in comments:
            comments[data["id"]] = (data, level)
    bodies = [d.get("body") for d, _ in comments.values()]
    depths = [
        d["depth"] + 1 if isinstance(d.get("depth"), int) else lvl for d, lvl in comments.values()
    ]
    op = post.get("author")
    return {
        "num_comments": post.get("num_comments", 0),
        "comments_fetched": len(comments),
        "top_level_comments": sum(
            1 for d, _ in comments.values() if str(d.get("parent_id", "")).startswith("t3_")
        ),
        "max_depth": max(depths, default=0),
        "deleted_comments": sum(1 for b in bodies if b == "[deleted]"),
        "removed_comments": sum(1 for b in bodies if b in REMOVED),
        "unique_authors": len(
            {d.get("author") for d, _ in comments.values()} - {"[deleted]", None, ""}
        ),
        # A deleted OP's comments cannot be told from any other deleted account's: unknown.
        "op_comments": None
        if op in (None, "[deleted]", "")
        else sum(1 for d, _ in comments.values() if d.get("is_submitter") or d.get("author") == op),
        "unfetched_stubs": stubs,
    }
