"""The object the model writes: its JSON Schema, and a check of an answer against it.

One schema for both depths (a prompt-cache prefix must not change); the instructions say how
many items each depth wants. It stays inside OpenAI's strict-mode subset, which is also what
llama.cpp's grammar builder and Anthropic's tool schemas read well: every object closed
(`additionalProperties: false`) with every property required, "optional" written as a union
with null, no length or count keywords. tests/test_llm_v2.py checks those rules.

A model that ignores the schema (a local model in plain JSON mode, or one that does not
constrain its output) is caught by `schema_errors`, and its errors go to the repair round like
grounding errors do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from digest.report import MOODS

__all__ = ["MOODS", "REPORT_SCHEMA", "SCHEMA_NAME", "STANCES", "bounded_schema", "schema_errors"]

STANCES = ("supportive", "critical", "neutral", "question", "humorous", "informative", "mixed")
SCHEMA_NAME = "write_thread_analysis"


def _obj(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def _str(description: str | None = None) -> dict[str, Any]:
    return {"type": "string", **({"description": description} if description else {})}


def _list(items: dict[str, Any], description: str | None = None) -> dict[str, Any]:
    return {
        "type": "array",
        "items": items,
        **({"description": description} if description else {}),
    }


_QUOTE = _obj(
    {
        "comment_id": _str("c1, c2, … or 'post'"),
        "text": _str("words copied exactly from that comment"),
    }
)
_MAYBE_QUOTE = {"anyOf": [_QUOTE, {"type": "null"}]}

REPORT_SCHEMA: dict[str, Any] = _obj(
    {
        "summary": _list(
            _obj({"text": _str(), "quote": _MAYBE_QUOTE}),
            "Sentences summarising the thread, each backed by a quote or null.",
        ),
        "themes": _list(
            _obj(
                {
                    "name": _str("2-5 words, a topic a person would name"),
                    "summary": _str("one sentence"),
                    "comment_ids": _list(_str(), "the comments that carry it, best first"),
                }
            )
        ),
        "mood": {
            "type": "string",
            "enum": list(MOODS),
            "description": "The overall mood, as your sentiment_reading describes it.",
        },
        "sentiment_reading": _str("How the mood reads and how it shifts through the thread."),
        "stances": _list(
            _obj({"comment_id": _str(), "stance": {"type": "string", "enum": list(STANCES)}})
        ),
        "notable": _list(
            _obj(
                {
                    "comment_id": _str(),
                    "quote": _str("words copied exactly from it"),
                    "reason": _str("why it stands out"),
                }
            )
        ),
        "takeaways": _list(_obj({"text": _str(), "quote": _MAYBE_QUOTE})),
        "links": _list(
            _obj(
                {
                    "url": _str("copied exactly from the thread data"),
                    "note": _str("what this link is, in the thread's own words, one line"),
                }
            )
        ),
        "observations": _list(_str()),
        "tldr": _str("the whole thread in one line"),
    }
)

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}
MAX_SCHEMA_ERRORS = 20


def _type_ok(value: Any, kind: str) -> bool:
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES.get(kind, ()))


def _describe(value: Any) -> str:
    for kind in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _type_ok(value, kind):
            return kind
    return type(value).__name__


def schema_errors(
    value: Any, schema: Mapping[str, Any] = REPORT_SCHEMA, where: str = "answer"
) -> list[str]:
    """Where `value` breaks `schema` (the subset above: type, properties, required,
    additionalProperties, items, enum, anyOf), as sentences a model can act on."""
    errors: list[str] = []
    _check(value, schema, where, errors)
    return errors[:MAX_SCHEMA_ERRORS]


def _check(value: Any, schema: Mapping[str, Any], where: str, errors: list[str]) -> None:
    if len(errors) >= MAX_SCHEMA_ERRORS:
        return
    if "anyOf" in schema:
        options = schema["anyOf"]
        for option in options:
            trial: list[str] = []
            _check(value, option, where, trial)
            if not trial:
                return
        either = " or ".join(str(o.get("type")) for o in options)
        errors.append(f"{where}: must be {either}, not {_describe(value)}")
        return
    kinds = schema.get("type")
    allowed = [kinds] if isinstance(kinds, str) else list(kinds or [])
    if allowed and not any(_type_ok(value, k) for k in allowed):
        errors.append(f"{where}: must be {' or '.join(allowed)}, not {_describe(value)}")
        return
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} is not one of {', '.join(map(str, schema['enum']))}")
        return
    if isinstance(value, dict):
        properties: Mapping[str, Any] = schema.get("properties", {})
        for key in schema.get("required", ()):
            if key not in value:
                errors.append(f"{where}: the required key {key!r} is missing")
        if schema.get("additionalProperties") is False:
            for key in value:
                if key not in properties:
                    errors.append(f"{where}: unexpected key {key!r}")
        for key, sub in properties.items():
            if key in value:
                _check(value[key], sub, f"{where}.{key}" if where != "answer" else key, errors)
    elif isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            _check(item, schema["items"], f"{where}[{i}]", errors)


# How long each string may be where a server can enforce it (llama.cpp's grammars can; OpenAI's
# strict mode cannot, so REPORT_SCHEMA itself carries no lengths).
_MAX_CHARS = {
    "comment_id": 10,
    "name": 60,
    "tldr": 200,
    "note": 150,
    "url": 300,
    "sentiment_reading": 600,
}
_DEFAULT_MAX_CHARS = 300
_MAX_IDS = 5  # comment ids per theme


def bounded_schema(limits: Mapping[str, int]) -> dict[str, Any]:
    """REPORT_SCHEMA with maxItems per list (`limits`: key → how many the depth asks for) and a
    maxLength on every string: for servers that turn a schema into a grammar (llama.cpp), so a
    small model that would go on writing until max_tokens has to stop where the answer ends."""

    def bound(schema: Any, key: str) -> Any:
        if not isinstance(schema, dict):
            return schema
        out = dict(schema)
        if "anyOf" in out:
            out["anyOf"] = [bound(s, key) for s in out["anyOf"]]
        kind = out.get("type")
        if kind == "string" and "enum" not in out:
            out["maxLength"] = _MAX_CHARS.get(key, _DEFAULT_MAX_CHARS)
        if kind == "object":
            out["properties"] = {k: bound(v, k) for k, v in out["properties"].items()}
        if kind == "array":
            out["items"] = bound(out["items"], key)
            out["maxItems"] = limits.get(key, _MAX_IDS)
        return out

    bounded: dict[str, Any] = bound(REPORT_SCHEMA, "answer")
    return bounded
