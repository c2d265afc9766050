"""An in-process LLM provider that answers from a script (a fake, not a mock): tests say what
the model "says" and read back every request it got."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from digest.llm import LLMError, LLMOutputError, StructuredRequest, StructuredResponse

_URL = re.compile(r"https?://[^\s\"<>()\[\]]+[\w/]")

Step = Any  # dict (an answer), LLMError / LLMOutputError (raised), or a callable(request) -> Step


@dataclass
class ScriptedLLM:
    steps: list[Step] = field(default_factory=list)
    default: Step = None
    name: str = "scripted"
    requests: list[StructuredRequest] = field(default_factory=list)
    usage: tuple[int, int, int, int] = (1000, 200, 0, 0)

    async def structured(
        self, request: StructuredRequest, *, time_limit: float
    ) -> StructuredResponse:
        self.requests.append(request)
        step = self.steps.pop(0) if self.steps else self.default
        while callable(step) and not isinstance(step, type):
            step = step(request)
        if isinstance(step, LLMError | LLMOutputError):
            raise step
        if step is None:
            raise LLMOutputError("no answer scripted")
        i, o, cw, cr = self.usage
        return StructuredResponse(step, i, o, cw, cr, request.model)


def short_ids(request: StructuredRequest) -> dict[str, dict[str, Any]]:
    """The comments of a prompt by their short id (parsed back from the thread block)."""
    out: dict[str, dict[str, Any]] = {}
    for block in request.blocks:
        for line in block.text.splitlines():
            if line.startswith('{"id": '):  # a line of the thread data
                obj = json.loads(line)
                out[obj["id"]] = obj
    return out


def grounded_answer(request: StructuredRequest) -> dict[str, Any]:
    """A valid answer built from what the prompt holds (quotes copied from real bodies)."""
    comments = {k: v for k, v in short_ids(request).items() if k != "post" and v["body"][:1] != "["}
    ids = sorted(
        comments, key=lambda k: -(s if isinstance(s := comments[k].get("score"), int) else 0)
    )

    def pick(i: int) -> str:
        return ids[i % len(ids)]

    def first_words(cid: str) -> str:
        return " ".join(comments[cid]["body"].split()[:6])

    links: list[dict[str, str]] = []
    for obj in short_ids(request).values():
        for url in _URL.findall(obj.get("body", "") + " " + obj.get("link", "")):
            if url not in [link["url"] for link in links]:
                links.append({"url": url, "note": "a page someone shared"})
    if not ids:
        return {"summary": [{"text": "Nobody has commented yet.", "quote": None}], "themes": [],
                "mood": "neutral", "sentiment_reading": "No comments to read.", "stances": [],
                "notable": [], "takeaways": [], "links": links[:2], "observations": [],
                "tldr": "A post nobody has answered yet."}  # fmt: skip
    return {
        "summary": [
            {"text": "People discuss the post.", "quote": {"comment_id": pick(0), "text": first_words(pick(0))}},
            {"text": "Another view is shared.", "quote": None},
        ],
        "themes": [{"name": "the main question", "summary": "Most replies address it.", "comment_ids": ids[:3]}],
        "mood": "positive",
        "sentiment_reading": "The mood is broadly positive.",
        "stances": [{"comment_id": c, "stance": "supportive"} for c in ids[:5]],
        "notable": [{"comment_id": pick(0), "quote": first_words(pick(0)), "reason": "the most upvoted comment"}],
        "takeaways": [{"text": "Someone recommends checking first.", "quote": {"comment_id": pick(1), "text": first_words(pick(1))}}],
        "links": links[:3],
        "observations": ["The discussion stays on topic."],
        "tldr": "People discuss the post, broadly positive.",
    }  # fmt: skip
