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
    return _objects("\n".join(block.text for block in request.blocks))


def _objects(text: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for line in text.splitlines():
        if line.startswith('{"id": '):  # a line of the thread data
            obj = json.loads(line)
            out[obj["id"]] = obj
    return out


# What the model writes, in each language the scripted model speaks (English, and German when
# the prompt asks for it): the narrative in the reader's language, quotes as the thread has them.
_WORDS = {
    "en": {
        "nobody": "Nobody has commented yet.", "no_reading": "No comments to read.",
        "no_tldr": "A post nobody has answered yet.", "discuss": "People discuss the post.",
        "another": "Another view is shared.", "theme": "the main question",
        "theme_summary": "Most replies address it.", "reading": "The mood is broadly positive.",
        "reason": "the most upvoted comment", "takeaway": "Someone recommends checking first.",
        "link": "a page someone shared", "observation": "The discussion stays on topic.",
        "tldr": "People discuss the post, broadly positive.",
    },
    "de": {
        "nobody": "Noch hat niemand kommentiert.", "no_reading": "Keine Kommentare zum Lesen.",
        "no_tldr": "Ein Beitrag ohne Antworten.", "discuss": "Die Leute diskutieren den Beitrag.",
        "another": "Eine andere Sicht wird geteilt.", "theme": "die Hauptfrage",
        "theme_summary": "Die meisten Antworten gehen darauf ein.",
        "reading": "Die Stimmung ist überwiegend positiv.",
        "reason": "der Kommentar mit den meisten Stimmen",
        "takeaway": "Jemand rät, es zuerst zu prüfen.", "link": "eine geteilte Seite",
        "observation": "Die Diskussion bleibt beim Thema.",
        "tldr": "Die Leute diskutieren den Beitrag, überwiegend positiv.",
    },
}  # fmt: skip


def asked_language(request: StructuredRequest) -> str:
    """ "de" when the instructions ask for the narrative in German, else "en"."""
    return "de" if "in German" in request.instructions else "en"


def grounded_answer(request: StructuredRequest) -> dict[str, Any]:
    """A valid answer built from what the prompt holds (quotes copied from real bodies), its
    narrative in the language the instructions ask for (English or German)."""
    return grounded_from("\n".join(b.text for b in request.blocks), asked_language(request))


def grounded_from(thread_text: str, lang: str = "en") -> dict[str, Any]:
    """`grounded_answer` from the prompt's thread data as text (a fake server's request)."""
    w = _WORDS[lang]
    objs = _objects(thread_text)
    comments = {k: v for k, v in objs.items() if k != "post" and v["body"][:1] != "["}
    ids = sorted(
        comments, key=lambda k: -(s if isinstance(s := comments[k].get("score"), int) else 0)
    )

    def pick(i: int) -> str:
        return ids[i % len(ids)]

    def first_words(cid: str) -> str:
        return " ".join(comments[cid]["body"].split()[:6])

    links: list[dict[str, str]] = []
    for obj in objs.values():
        for url in _URL.findall(obj.get("body", "") + " " + obj.get("link", "")):
            if url not in [link["url"] for link in links]:
                links.append({"url": url, "note": w["link"]})
    if not ids:
        return {"summary": [{"text": w["nobody"], "quote": None}], "themes": [],
                "mood": "neutral", "sentiment_reading": w["no_reading"], "stances": [],
                "notable": [], "takeaways": [], "links": links[:2], "observations": [],
                "tldr": w["no_tldr"]}  # fmt: skip
    return {
        "summary": [
            {"text": w["discuss"], "quote": {"comment_id": pick(0), "text": first_words(pick(0))}},
            {"text": w["another"], "quote": None},
        ],
        "themes": [{"name": w["theme"], "summary": w["theme_summary"], "comment_ids": ids[:3]}],
        "mood": "positive",
        "sentiment_reading": w["reading"],
        "stances": [{"comment_id": c, "stance": "supportive"} for c in ids[:5]],
        "notable": [{"comment_id": pick(0), "quote": first_words(pick(0)), "reason": w["reason"]}],
        "takeaways": [{"text": w["takeaway"], "quote": {"comment_id": pick(1), "text": first_words(pick(1))}}],
        "links": links[:3],
        "observations": [w["observation"]],
        "tldr": w["tldr"],
    }  # fmt: skip
