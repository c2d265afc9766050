"""Round-trip our frozen dataclasses through JSON (for the report cache and persisted jobs).

Driven by the type hints, so a field added to a dataclass is stored without touching this code.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from functools import cache
from typing import Any, TypeVar, Union, get_args, get_origin

T = TypeVar("T")


def to_jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | frozenset | set):
        items = sorted(obj) if isinstance(obj, frozenset | set) else obj
        return [to_jsonable(v) for v in items]
    return obj


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_jsonable(tp: Any, data: Any) -> Any:
    """Rebuild a value of type `tp` from `to_jsonable` output."""
    if tp is Any:
        return data
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if data is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return from_jsonable(arg, data)
            except (TypeError, ValueError, KeyError):
                continue
        raise ValueError(f"{data!r} fits none of {tp}")
    if origin is tuple:
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_jsonable(args[0], v) for v in data)
        return tuple(from_jsonable(a, v) for a, v in zip(args, data, strict=True))
    if origin in (frozenset, set):
        (arg,) = get_args(tp)
        return origin(from_jsonable(arg, v) for v in data)
    if origin is list:
        (arg,) = get_args(tp)
        return [from_jsonable(arg, v) for v in data]
    if origin in (dict, Mapping) or tp is dict:
        args = get_args(tp) or (str, Any)
        return {from_jsonable(args[0], k): from_jsonable(args[1], v) for k, v in data.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(data, dict):
            raise TypeError(f"{tp.__name__} needs an object, got {type(data).__name__}")
        hints = _hints(tp)
        kwargs = {
            f.name: from_jsonable(hints[f.name], data[f.name])
            for f in dataclasses.fields(tp)
            if f.name in data and f.init
        }
        return tp(**kwargs)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return tp(data)
    if tp is datetime:
        if not isinstance(data, str):
            raise TypeError("a datetime is stored as text")
        return datetime.fromisoformat(data)
    if tp is float and isinstance(data, int | float) and not isinstance(data, bool):
        return float(data)
    if (
        tp in (int, str, bool)
        and isinstance(data, tp)
        and not (tp is int and isinstance(data, bool))
    ):
        return data
    if tp is type(None) and data is None:
        return None
    raise TypeError(f"cannot read {data!r} as {tp}")


def dumps(obj: Any) -> str:
    return json.dumps(to_jsonable(obj), ensure_ascii=False, separators=(",", ":"))


def loads(tp: type[T], text: str) -> T:
    value: T = from_jsonable(tp, json.loads(text))
    return value
