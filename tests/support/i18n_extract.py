"""The msgids the code uses: string literals given to `N_`, `.tr`, `.cap` and `.ntr` (its two
forms) anywhere in digest/, adapters/ and bot/ — what every catalogue must translate (xgettext's
job, in a page). `chat_msgids`: those a catalogue must also translate in the "chat" context (a
chat thread's report speaks of messages and the first message where they say comments or post).

`python -m tests.support.i18n_extract` prints them as a .pot template."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("digest", "adapters", "bot")
Msgid = str | tuple[str, str]  # a phrase, or (singular, plural)


def _literal(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def msgids() -> dict[Msgid, str]:
    """Each msgid → where it is first used (`file:line`)."""
    out: dict[Msgid, str] = {}
    for path in sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")):
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            f = node.func
            name = (
                f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            )
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            first = _literal(node.args[0])
            if name in ("N_", "tr", "cap") and first is not None:
                out.setdefault(first, where)
            elif name == "ntr" and first is not None and len(node.args) > 1:
                second = _literal(node.args[1])
                if second is not None:
                    out.setdefault((first, second), where)
    return out


def chat_msgids() -> dict[Msgid, str]:
    """The msgids a chat thread's report says in other words: every one whose English
    `Origin.say` changes (comments, the post), and `digest.i18n.CHAT_ALSO`."""
    from digest.i18n import CHAT_ALSO
    from digest.source import chat

    said = chat("console", "").say
    return {
        m: where
        for m, where in msgids().items()
        if (m in CHAT_ALSO if isinstance(m, str) else False)
        or any(said(t) != t for t in ((m,) if isinstance(m, str) else m))
    }


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def pot() -> str:
    parts = ['msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n']
    for msgid, where in msgids().items():
        if isinstance(msgid, tuple):
            parts.append(
                f"#: {where}\nmsgid {_quoted(msgid[0])}\nmsgid_plural {_quoted(msgid[1])}\n"
                'msgstr[0] ""\nmsgstr[1] ""\n'
            )
        else:
            parts.append(f'#: {where}\nmsgid {_quoted(msgid)}\nmsgstr ""\n')
    for msgid, where in chat_msgids().items():
        head = f'#: {where}\nmsgctxt "chat"\n'
        if isinstance(msgid, tuple):
            parts.append(
                f"{head}msgid {_quoted(msgid[0])}\nmsgid_plural {_quoted(msgid[1])}\n"
                'msgstr[0] ""\nmsgstr[1] ""\n'
            )
        else:
            parts.append(f'{head}msgid {_quoted(msgid)}\nmsgstr ""\n')
    return "\n".join(parts)


if __name__ == "__main__":
    print(pot(), end="")
