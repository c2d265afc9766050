"""Synthetic Reddit threads in Reddit's own JSON shape, deterministic from a seed.

Used by tests (always available, unlike ../shared/data) and by the benchmarks (1k–50k comments).
"""

from __future__ import annotations

import random
from typing import Any

WORDS = (
    "model quantization gpu vram context window benchmark latency throughput llama server docker "
    "proxy backup storage raid zfs kubernetes cluster network firewall update release license "
    "open source weights dataset training inference cost price cheap expensive fast slow stable "
    "broken works great terrible love hate agree disagree honestly actually probably definitely "
    "the a of to and in is it that for on with as this was but be at by not are you have"
).split()
LINKS = (
    "https://github.com/example/project",
    "https://arxiv.org/abs/2401.00001",
    "https://huggingface.co/org/model-7b",
    "https://www.theverge.com/2025/1/1/news-story",
    "https://i.redd.it/abc123.png",
    "https://example.org/docs/page?x=1&y=2",
)
T0 = 1_735_689_600  # 2025-01-01 00:00 UTC


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(4, 18))]
    text = " ".join(words)
    return text[0].upper() + text[1:] + rng.choice(".!?.")


def _body(rng: random.Random) -> str:
    parts = [_sentence(rng) for _ in range(rng.randint(1, 4))]
    roll = rng.random()
    if roll < 0.08:
        parts.append(f"See [this]({rng.choice(LINKS)}) for details.")
    elif roll < 0.12:
        parts.append(f"Source: {rng.choice(LINKS)}")
    elif roll < 0.14:
        parts.insert(0, "> " + _sentence(rng) + "\n")
    return " ".join(parts)


def comment_data(
    cid: str,
    parent: str,
    *,
    author: str,
    body: str,
    score: int,
    created: int,
    depth: int,
    is_submitter: bool = False,
    controversiality: int = 0,
) -> dict[str, Any]:
    return {
        "id": cid,
        "name": f"t1_{cid}",
        "parent_id": parent,
        "link_id": "t3_syn",
        "author": author,
        "body": body,
        "score": score,
        "created_utc": created,
        "depth": depth,
        "is_submitter": is_submitter,
        "controversiality": controversiality,
        "edited": False,
        "stickied": False,
        "distinguished": None,
        "replies": "",
    }


def post_data(post_id: str, num_comments: int, *, subreddit: str = "synthetic") -> dict[str, Any]:
    return {
        "id": post_id,
        "name": f"t3_{post_id}",
        "subreddit": subreddit,
        "title": f"Synthetic thread with {num_comments} comments about model quantization",
        "author": "op_author",
        "selftext": "What do people think about running a quantized model on one GPU?",
        "score": 1000 + num_comments,
        "upvote_ratio": 0.9,
        "num_comments": num_comments,
        "created_utc": T0,
        "permalink": f"/r/{subreddit}/comments/{post_id}/synthetic/",
        "url": f"https://www.reddit.com/r/{subreddit}/comments/{post_id}/synthetic/",
        "is_self": True,
        "over_18": False,
        "edited": False,
    }


def flat_comments(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """`n` comment data dicts (no `replies` nesting), parents before children, with a
    realistic shape: heavy-tailed scores, most replies near the top, some deleted/removed."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    depth_of: dict[str, int] = {}
    authors = [f"user_{i}" for i in range(max(8, n // 3))]
    for i in range(n):
        cid = f"c{i:x}"
        if not out or rng.random() < 0.3:
            parent, depth = "t3_syn", 0
        else:
            # Replies favour recent and early comments: a mix of deep chains and wide fans.
            p = out[int(len(out) * rng.random() ** 2)] if rng.random() < 0.5 else out[-1]
            parent, depth = p["name"], depth_of[p["id"]] + 1
            if depth > 9:
                parent, depth = "t3_syn", 0
        score = int(rng.paretovariate(1.2)) - 1 - (rng.random() < 0.1) * rng.randint(1, 20)
        author = rng.choice(authors)
        body = _body(rng)
        roll = rng.random()
        if roll < 0.03:
            author, body = "[deleted]", "[deleted]"
        elif roll < 0.05:
            body = "[removed]"
        elif roll < 0.08:
            author = "op_author"
        out.append(
            comment_data(
                cid,
                parent,
                author=author,
                body=body,
                score=score,
                created=T0 + i * 7 + rng.randint(0, 60),
                depth=depth,
                is_submitter=author == "op_author",
                controversiality=int(rng.random() < 0.05),
            )
        )
        depth_of[cid] = depth
    return out


def nest(comments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Turn flat comment dicts into Reddit's nested `replies` listings; returns the top-level
    things (copies; the input is left alone)."""
    copies = {c["id"]: dict(c, replies="") for c in comments}
    top: list[dict[str, Any]] = []
    for c in comments:
        node = copies[c["id"]]
        parent = c["parent_id"]
        if parent.startswith("t1_") and parent[3:] in copies:
            holder = copies[parent[3:]]
            if holder["replies"] == "":
                holder["replies"] = {"kind": "Listing", "data": {"children": [], "after": None}}
            holder["replies"]["data"]["children"].append({"kind": "t1", "data": node})
        else:
            top.append({"kind": "t1", "data": node})
    return top


def thread_json(n: int, seed: int = 0, post_id: str = "syn") -> list[dict[str, Any]]:
    """A whole thread, every comment inline, as `/comments/{id}.json` would be without limits."""
    comments = flat_comments(n, seed)
    return [
        {"kind": "Listing", "data": {"children": [{"kind": "t3", "data": post_data(post_id, n)}]}},
        {"kind": "Listing", "data": {"children": nest(comments)}},
    ]
