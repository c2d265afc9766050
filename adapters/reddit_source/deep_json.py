"""JSON text of any depth: `json.loads` where it can, an iterative parser where it cannot.

A thread file nests five levels of JSON per reply level, so a long reply chain is deeper than
`json.loads` recurses; `loads` parses such text again without recursion, to the same values.
"""

from __future__ import annotations

import json
import json.decoder
import math
import re
from collections.abc import Callable
from typing import Any

# json.loads recurses once per nesting level and stops at the interpreter's recursion limit
# (about 1,000 levels); every reply level of a thread is five (thing, data, Listing, data,
# children), so a chain of ~200 replies is beyond it. Such files are parsed again iteratively, up
# to this many levels (20,000 replies).
MAX_NESTING = 100_000


class TooDeep(Exception):
    """The JSON nests more than MAX_NESTING levels."""


# The C string scanner json.loads uses (not in typeshed's json.decoder).
_scanstring: Callable[[str, int, bool], tuple[str, int]]
_scanstring = json.decoder.scanstring  # type: ignore[attr-defined]
_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"(-?(?:0|[1-9]\d*))(\.\d+)?([eE][-+]?\d+)?")
_CONSTANTS: tuple[tuple[str, Any], ...] = (
    ("null", None),
    ("true", True),
    ("false", False),
    ("NaN", math.nan),
    ("Infinity", math.inf),
    ("-Infinity", -math.inf),
)


def loads(text: str | bytes) -> Any:
    """`json.loads`, for any depth: what the C parser cannot nest is parsed again iteratively."""
    try:
        return json.loads(text)
    except RecursionError:
        pass
    if isinstance(text, bytes):  # decoded as json.loads decodes bytes
        text = text.decode(json.detect_encoding(text), "surrogatepass")
    return loads_iterative(text)


def loads_iterative(s: str) -> Any:
    """What `json.loads(s)` returns (the same values, the same JSONDecodeErrors), parsed with an
    explicit stack of open containers instead of recursion, so any depth parses; beyond
    MAX_NESTING levels it gives up (with an exception that thread_from_json_text turns into a
    ThreadDataError). Slower than json.loads: only for what json.loads cannot nest."""
    if s.startswith("\ufeff"):
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", s, 0)
    ws = _skip_ws
    # Each open container with, for an object, the key its next value goes under.
    stack: list[tuple[list[Any] | dict[str, Any], str]] = []
    pos = ws(s, 0)
    while True:
        value: Any
        ch = s[pos : pos + 1]
        if ch == '"':
            value, pos = _scanstring(s, pos + 1, True)
        elif ch in ("{", "["):
            if len(stack) >= MAX_NESTING:
                raise TooDeep
            pos = ws(s, pos + 1)
            if s[pos : pos + 1] == ("}" if ch == "{" else "]"):
                value, pos = ({} if ch == "{" else []), pos + 1
            elif ch == "{":
                key, pos = _object_key(s, pos)
                stack.append(({}, key))
                continue
            else:
                stack.append(([], ""))
                continue
        else:
            value, pos = _scalar(s, pos)
        # A value is complete: put it in its container; close the containers it completes.
        while True:
            if not stack:
                end = ws(s, pos)
                if end != len(s):
                    raise json.JSONDecodeError("Extra data", s, end)
                return value
            container, key = stack[-1]
            if isinstance(container, list):
                container.append(value)
            else:
                container[key] = value
            pos = ws(s, pos)
            ch = s[pos : pos + 1]
            if ch == ",":
                pos = ws(s, pos + 1)
                if isinstance(container, dict):
                    key, pos = _object_key(s, pos)
                    stack[-1] = (container, key)
                break
            if ch == ("]" if isinstance(container, list) else "}"):
                stack.pop()
                value, pos = container, pos + 1
                continue
            raise json.JSONDecodeError("Expecting ',' delimiter", s, pos)


def _object_key(s: str, pos: int) -> tuple[str, int]:
    """An object's `"key":` at pos; returns the key and where its value starts."""
    if s[pos : pos + 1] != '"':
        raise json.JSONDecodeError("Expecting property name enclosed in double quotes", s, pos)
    key, pos = _scanstring(s, pos + 1, True)
    pos = _skip_ws(s, pos)
    if s[pos : pos + 1] != ":":
        raise json.JSONDecodeError("Expecting ':' delimiter", s, pos)
    return key, _skip_ws(s, pos + 1)


def _skip_ws(s: str, pos: int) -> int:
    m = _WS.match(s, pos)
    return m.end() if m else pos


def _scalar(s: str, pos: int) -> tuple[Any, int]:
    """A number or a constant at pos, as json.loads reads it."""
    m = _NUMBER.match(s, pos)
    if m:
        integer, frac, exp = m.groups()
        if frac or exp:
            return float(integer + (frac or "") + (exp or "")), m.end()
        return int(integer), m.end()
    for word, value in _CONSTANTS:
        if s.startswith(word, pos):
            return value, pos + len(word)
    raise json.JSONDecodeError("Expecting value", s, pos)
