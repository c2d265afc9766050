"""`.env` and the REDIGEST_* environment, checked before the settings read them.

python-dotenv skips what it cannot parse and pydantic ignores keys it does not know, so a typo
would silently leave a setting at its default. Here each mistake becomes one sentence naming the
key and what to do: a line without `=`, a quote never closed, an unknown (misspelt) key, spaces in
an unquoted value that cannot have them. The settings raise it as a SettingsError (exit 2).
"""

from __future__ import annotations

import difflib
import io
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from dotenv.parser import parse_stream

# Variables the tests and benchmarks read themselves (tests/test_llm_v2.py, bench/).
NOT_SETTINGS = ("REDIGEST_BENCH_", "REDIGEST_REAL_")
# Prefixes of redigest's keys: an unknown key in .env with one of them and a close match is a typo.
OUR_PREFIXES = ("REDIGEST_", "REDDIT_", "DISCORD_", "SLACK_", "ANTHROPIC_", "OPENAI_")
# Settings whose values may hold spaces unquoted (a user agent, paths, JSON).
MAY_HAVE_SPACES = frozenset(
    {"REDDIT_USER_AGENT", "REDIGEST_SAVED_THREADS", "REDIGEST_DATABASE_PATH", "REDIGEST_LLM_PRICES"}
)
_KEY = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*(=?)\s*(.?)")
SEE = "every setting is described in .env.example"


@dataclass(frozen=True)
class EnvFile:
    """What `.env` sets: each key's line, for errors that say where."""

    name: str
    lines: Mapping[str, int]


def _suggest(key: str, known: Collection[str]) -> str | None:
    match = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.75)
    return match[0] if match else None


def _unknown(key: str, where: str, known: Collection[str]) -> str:
    match = _suggest(key, known)
    if match:
        return f"Unknown setting {key} in {where}: did you mean {match}?"
    return f"Unknown setting {key} in {where}: no redigest setting has that name ({SEE})."


def check_env_file(path: Path, known: Collection[str]) -> EnvFile | str:
    """The keys `path` sets with their lines, or the first mistake in it as one sentence."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return EnvFile(name, {})
    except UnicodeDecodeError:
        return f"{name} is not UTF-8 text: save it as UTF-8 ({SEE})."
    except OSError as exc:
        return f"Cannot read {name} ({exc.strerror or exc}): fix its permissions or remove it."
    lines: dict[str, int] = {}
    for binding in parse_stream(io.StringIO(text)):
        original = binding.original
        line = original.line
        head = _KEY.match(original.string)
        key = binding.key or (head.group(1) if head else None)
        if binding.error:
            if head and head.group(2) and head.group(3) in ("'", '"'):
                quote = head.group(3)
                return (
                    f"Setting {key} in {name} (line {line}) opens a quote it never closes: "
                    f"write {key}={quote}value{quote}."
                )
            return (  # its text is not repeated: it may be a secret
                f"Line {line} of {name} cannot be read: write each setting as KEY=value on its "
                f"own line ({SEE})."
            )
        if key is None:  # a comment or a blank line
            continue
        if binding.value is None:
            return f"Line {line} of {name} has {key} without '=': write {key}=value, or delete it."
        if key.startswith(OUR_PREFIXES) and key not in known:
            if key.startswith("REDIGEST_") and not key.startswith(NOT_SETTINGS):
                return _unknown(key, f"{name} (line {line})", known)
            if _suggest(key, known):
                return _unknown(key, f"{name} (line {line})", known)
        value = binding.value
        quoted = head is not None and head.group(3) in ("'", '"')
        if key in known and key not in MAY_HAVE_SPACES and not quoted and len(value.split()) > 1:
            return (
                f"Setting {key} in {name} (line {line}) has spaces in its value: remove them, "
                f'or quote the value ({key}="…") if they are meant.'
            )
        lines[key] = line
    return EnvFile(name, lines)


def check_environment(environ: Mapping[str, str], known: Collection[str]) -> str | None:
    """The first REDIGEST_* variable that is no setting (a typo), as one sentence."""
    for key in sorted(environ):
        if key.startswith("REDIGEST_") and key not in known and not key.startswith(NOT_SETTINGS):
            return _unknown(key, "the environment", known)
    return None
